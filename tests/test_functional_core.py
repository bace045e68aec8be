"""seqkernels.functional's numpy-vectorised losses (binary_cross_entropy_with_logits, mse_loss) against torch,
and the argument errors of every functional op in this family (raised before any compute).

Tolerances: these losses are float32 element-wise expressions compared with torch in float64: rtol 1e-5 /
atol 1e-6 covers a few float32 roundings per element (the reductions sum in float64).
"""
import numpy as np
import pytest


import seqkernels as sk
import seqkernels.functional as F


def leaf(a):
    return sk.tensor(np.asarray(a, dtype=np.float32), requires_grad=True)


def ref(a):
    torch = pytest.importorskip("torch")
    return torch.tensor(np.asarray(a, dtype=np.float32).astype(np.float64), requires_grad=True)


def close(ours, theirs, rtol=1e-5, atol=1e-6):
    np.testing.assert_allclose(np.asarray(ours.numpy(), dtype=np.float64), theirs.detach().numpy(), rtol=rtol,
                               atol=atol)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("pos_weighted", [False, True])
def test_bce_with_logits_matches_torch(rng, reduction, weighted, pos_weighted):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((6, 7)) * 5
    x[0, :3] = [90.0, -90.0, 0.0]  # saturated logits stay finite
    t = rng.uniform(0, 1, (6, 7))
    w = rng.uniform(0.5, 2, (6, 7)) if weighted else None
    pw = rng.uniform(0.5, 3, 7) if pos_weighted else None
    xs, ts, xt, tt = leaf(x), leaf(t), ref(x), ref(t)
    kw = dict(weight=None if w is None else sk.tensor(w.astype(np.float32)),
              pos_weight=None if pw is None else sk.tensor(pw.astype(np.float32)))
    kw_t = dict(weight=None if w is None else torch.tensor(w.astype(np.float32).astype(np.float64)),
                pos_weight=None if pw is None else torch.tensor(pw.astype(np.float32).astype(np.float64)))
    y = F.binary_cross_entropy_with_logits(xs, ts, reduction=reduction, **kw)
    yt = torch.nn.functional.binary_cross_entropy_with_logits(xt, tt, reduction=reduction, **kw_t)
    close(y, yt)
    g = rng.standard_normal(y.shape)
    y.backward(g.astype(np.float32))
    yt.backward(torch.tensor(g))
    close(xs.grad, xt.grad)
    close(ts.grad, tt.grad, atol=1e-5)  # d/dt contains x itself (up to 90)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_mse_loss_matches_torch(rng, reduction):
    torch = pytest.importorskip("torch")
    x, t = rng.standard_normal((5, 3)), rng.standard_normal((5, 3))
    xs, ts, xt, tt = leaf(x), leaf(t), ref(x), ref(t)
    y = F.mse_loss(xs, ts, reduction=reduction)
    yt = torch.nn.functional.mse_loss(xt, tt, reduction=reduction)
    close(y, yt)
    g = rng.standard_normal(y.shape)
    y.backward(g.astype(np.float32))
    yt.backward(torch.tensor(g))
    close(xs.grad, xt.grad)
    close(ts.grad, tt.grad)


def test_mse_loss_broadcast_target_gradient(rng):
    torch = pytest.importorskip("torch")
    x, t = rng.standard_normal((4, 3)), rng.standard_normal(3)
    xs, ts, xt, tt = leaf(x), leaf(t), ref(x), ref(t)
    F.mse_loss(xs, ts).backward()
    with pytest.warns(UserWarning):
        torch.nn.functional.mse_loss(xt, tt).backward()
    close(ts.grad, tt.grad)


def test_functional_names_follow_torch():
    torch = pytest.importorskip("torch")
    import inspect
    # torch's linear and gelu are builtins without a Python signature; their documented ones, by hand:
    assert str(inspect.signature(F.linear)) == "(input, weight, bias=None)"
    assert [(p.name, p.default) for p in inspect.signature(F.gelu).parameters.values()] == [
        ("input", inspect.Parameter.empty), ("approximate", "none")]
    for name in ["layer_norm", "dropout", "softmax", "log_softmax", "cross_entropy",
                 "binary_cross_entropy_with_logits", "mse_loss"]:
        ours = inspect.signature(getattr(F, name)).parameters
        theirs = inspect.signature(getattr(torch.nn.functional, name)).parameters
        shared = [p for p in ours if p in theirs]
        assert shared == list(ours), f"{name}: {list(ours)} vs torch {list(theirs)}"
        for p in ours:
            if theirs[p].default is not inspect.Parameter.empty and p != "dim":
                assert ours[p].default == theirs[p].default, f"{name}({p}=...)"


def f32(*shape):
    return sk.tensor(np.zeros(shape, dtype=np.float32))


@pytest.mark.parametrize("call, error, message", [
    (lambda: F.linear(f32(2, 3), f32(4, 5)), ValueError, r"input of shape \(2, 3\) does not match weight"),
    (lambda: F.linear(f32(2, 3), f32(4, 3), f32(5)), ValueError, "'bias' must have shape"),
    (lambda: F.linear(sk.tensor(np.zeros((2, 3)), dtype=np.float64), f32(4, 3)), TypeError, "float32"),
    (lambda: F.linear([[1.0]], f32(1, 1)), TypeError, "Tensor or numpy array"),
    (lambda: F.layer_norm(f32(2, 3), (4,)), ValueError, "does not end with normalized_shape"),
    (lambda: F.layer_norm(f32(2, 3), (3,), f32(4)), ValueError, "'weight' must have shape"),
    (lambda: F.layer_norm(f32(2, 3), (0,)), ValueError, "normalized_shape"),
    (lambda: F.gelu(f32(3), approximate="fast"), ValueError, "approximate"),
    (lambda: F.gelu(sk.tensor(np.zeros(3, dtype=np.int64))), TypeError, "float32"),
    (lambda: F.softmax(f32(2, 3), 2), IndexError, "dimension out of range"),
    (lambda: F.log_softmax(f32(2, 3), 1.5), TypeError, "'dim' must be an int"),
    (lambda: F.dropout(f32(3), p=1.5), ValueError, "between 0 and 1"),
    (lambda: F.dropout(f32(3), p=-0.1), ValueError, "between 0 and 1"),
    (lambda: F.dropout(sk.tensor(np.zeros(3, dtype=np.int32)), 0.5), TypeError, "float32"),
    (lambda: F.binary_cross_entropy_with_logits(f32(3), f32(4)), ValueError, "must be the same as input size"),
    (lambda: F.binary_cross_entropy_with_logits(f32(3), f32(3), reduction="avg"), ValueError, "reduction"),
    (lambda: F.binary_cross_entropy_with_logits(f32(2, 3), f32(2, 3), pos_weight=f32(4)), ValueError,
     "cannot be broadcast"),
    (lambda: F.mse_loss(f32(3), f32(4)), ValueError, "cannot be broadcast"),
])
def test_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_kernel_bindings_reject_bad_arrays():
    from seqkernels import _C
    with pytest.raises(ValueError, match="2-D"):
        _C.layer_norm_forward(np.zeros(3, dtype=np.float32), None, None, 1e-5)
    with pytest.raises(ValueError, match="grad_output"):
        _C.softmax_backward(np.zeros((2, 2), dtype=np.float32), np.zeros((2, 3), dtype=np.float32))
    with pytest.raises(ValueError, match="C-contiguous"):
        _C.sgd_step(np.zeros((3, 2), dtype=np.float32).T, np.zeros((2, 3), dtype=np.float32), None, lr=0.1,
                    momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False, first_step=True)
    with pytest.raises(ValueError, match="momentum_buffer"):
        _C.sgd_step(np.zeros(3, dtype=np.float32), np.zeros(3, dtype=np.float32), None, lr=0.1, momentum=0.9,
                    dampening=0.0, weight_decay=0.0, nesterov=False, first_step=True)
    with pytest.raises(ValueError, match="step"):
        z = np.zeros(3, dtype=np.float32)
        _C.adam_step(z, z.copy(), z.copy(), z.copy(), None, step=0, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8,
                     weight_decay=0.0, decoupled_weight_decay=False)
    with pytest.raises(ValueError, match="features"):
        _C.linear_backward(np.zeros((2, 4), dtype=np.float32), np.zeros((2, 3), dtype=np.float32),
                           np.zeros((4, 5), dtype=np.float32), True, True, True)
