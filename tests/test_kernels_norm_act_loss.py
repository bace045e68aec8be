"""The fused kernels behind functional.linear / layer_norm / gelu / softmax / log_softmax / dropout /
cross_entropy: forward and every gradient against float64 references (the textbook formulas in
numpy_reference.py for layer_norm, gelu and softmax, which run without torch; torch autograd for the rest),
over row lengths that are 1, primes and non-multiples of the SIMD width (1, 3, 7, 17, 64, 100, 769), one row
and many, both thread counts.

Tolerances: our kernels compute in float32. Each comparison is against the float64 reference, with
rtol 1e-5 / atol 1e-5 for values of order 1 (float32 has 6e-8 relative precision; a length-769 reduction
accumulates at most ~1e-5 relative error, and the vector exp/erf/tanh are within 2 ulp), widened where a
quantity is a sum over rows (noted at the test).
"""
import numpy as np
import pytest


import seqkernels as sk
import seqkernels.functional as F

import numpy_reference
from helpers import assert_close

DIMS = [1, 3, 7, 17, 64, 100, 769]
ROWS = [1, 37]


def leaf(a):
    return sk.tensor(np.asarray(a, dtype=np.float32), requires_grad=True)


def ref(a):
    torch = pytest.importorskip("torch")
    return torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=True)


def close(ours, theirs, rtol=1e-5, atol=1e-5):
    assert_close(ours, theirs, atol=atol, rtol=rtol)


@pytest.mark.parametrize("dim", DIMS)
@pytest.mark.parametrize("rows", ROWS)
def test_linear_forward_and_grads(rng, threads, rows, dim):
    torch = pytest.importorskip("torch")
    x, w, b = rng.standard_normal((rows, dim)), rng.standard_normal((5, dim)), rng.standard_normal(5)
    g = rng.standard_normal((rows, 5))
    xs, ws, bs = leaf(x), leaf(w), leaf(b)
    xt, wt, bt = ref(x), ref(w), ref(b)
    y = F.linear(xs, ws, bs)
    yt = torch.nn.functional.linear(xt, wt, bt)
    # dot products of length dim (and rows for dW): float32 rounding grows ~ sqrt(dim) * 6e-8 * |x||w|.
    close(y, yt, rtol=1e-4, atol=1e-4)
    y.backward(g.astype(np.float32))
    yt.backward(torch.tensor(g))
    for ours, theirs in ((xs, xt), (ws, wt), (bs, bt)):
        close(ours.grad, theirs.grad, rtol=1e-4, atol=1e-4)


def test_linear_leading_dims_and_no_bias(rng):
    torch = pytest.importorskip("torch")
    x, w = rng.standard_normal((2, 3, 4, 6)), rng.standard_normal((7, 6))
    xs, ws, xt, wt = leaf(x), leaf(w), ref(x), ref(w)
    y = F.linear(xs, ws)
    assert y.shape == (2, 3, 4, 7)
    yt = torch.nn.functional.linear(xt, wt)
    close(y, yt, rtol=1e-5, atol=1e-5)
    y.sum().backward()
    yt.sum().backward()
    close(xs.grad, xt.grad)
    close(ws.grad, wt.grad, rtol=1e-5, atol=1e-4)  # summed over 24 rows


@pytest.mark.parametrize("dim", DIMS)
@pytest.mark.parametrize("rows", ROWS)
@pytest.mark.parametrize("affine", ["both", "weight", "none"])
def test_layer_norm(rng, threads, rows, dim, affine):
    x = rng.standard_normal((rows, dim)) * 3 + 1
    w, b = rng.standard_normal(dim), rng.standard_normal(dim)
    g = rng.standard_normal((rows, dim))
    xs = leaf(x)
    ws = leaf(w) if affine != "none" else None
    bs = leaf(b) if affine == "both" else None
    f64 = lambda a: np.asarray(a, np.float32).astype(np.float64)  # noqa: E731  (the inputs ours sees)
    y_ref, dx_ref, dw_ref, db_ref = numpy_reference.layer_norm(
        f64(x), f64(w) if ws is not None else None, f64(b) if bs is not None else None, g, eps=1e-5)
    y = F.layer_norm(xs, (dim,), ws, bs, eps=1e-5)
    close(y, y_ref, rtol=1e-4, atol=1e-4)
    y.backward(g.astype(np.float32))
    # dim = 1: x - mean is exactly 0 in both, but the gradient is then rstd*(g - mean g - 0) ~ 0 / sqrt(eps):
    # float32 vs float64 of 1/sqrt(1e-5) amplifies rounding; atol scaled by rstd there.
    atol = 1e-3 if dim > 1 else 1e-2
    close(xs.grad, dx_ref, rtol=1e-3, atol=atol)
    if ws is not None:
        close(ws.grad, dw_ref, rtol=1e-4, atol=1e-3)  # sums over rows
    if bs is not None:
        close(bs.grad, db_ref, rtol=1e-4, atol=1e-4)


def test_layer_norm_large_mean_and_several_dims(rng):
    # A mean of 1e4 with unit spread: a one-pass E[x^2] - E[x]^2 in float32 would lose every digit.
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((3, 4, 5)) + 1e4
    w, b = rng.standard_normal((4, 5)), rng.standard_normal((4, 5))
    xs, ws, bs, xt, wt, bt = leaf(x), leaf(w), leaf(b), ref(x), ref(w), ref(b)
    y = F.layer_norm(xs, (4, 5), ws, bs)
    yt = torch.nn.functional.layer_norm(xt, (4, 5), wt, bt)
    # x itself is rounded to float32 (ulp(1e4) ~ 1e-3), so the normalised values carry ~1e-3 error.
    close(y, yt, rtol=0, atol=3e-3)
    y.sum().backward()
    yt.sum().backward()
    close(ws.grad, wt.grad, rtol=0, atol=1e-2)
    close(bs.grad, bt.grad)


def test_layer_norm_deterministic_over_runs(rng):
    x = leaf(rng.standard_normal((512, 64)))
    w = leaf(rng.standard_normal(64))
    grads = []
    for _ in range(2):
        w.grad = None
        F.layer_norm(x, 64, w).sum().backward()
        grads.append(w.grad.numpy().copy())
    np.testing.assert_array_equal(grads[0], grads[1])


@pytest.mark.parametrize("approximate", ["none", "tanh"])
@pytest.mark.parametrize("dim", DIMS)
def test_gelu(rng, threads, approximate, dim):
    x = rng.standard_normal((3, dim)) * 4
    x.flat[0] = -12.0  # deep in the tail: gelu ~ -x*phi(x), tiny
    g = rng.standard_normal((3, dim))
    xs = leaf(x)
    y_ref, dx_ref = numpy_reference.gelu(np.asarray(x, np.float32).astype(np.float64), g, approximate)
    y = F.gelu(xs, approximate=approximate)
    # erf (A&S 7.1.26, 1.5e-7 absolute) and tanh are vectorised approximations: absolute error ~2e-7 * |x|.
    close(y, y_ref, rtol=1e-5, atol=3e-6)
    y.backward(g.astype(np.float32))
    close(xs.grad, dx_ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("log", [False, True])
@pytest.mark.parametrize("dim", DIMS)
@pytest.mark.parametrize("rows", ROWS)
def test_softmax_last_dim(rng, threads, log, dim, rows):
    x = rng.standard_normal((rows, dim)) * 5
    x[0, 0] = 80.0  # extreme logits: max subtraction keeps exp finite
    x[-1, -1] = -80.0
    g = rng.standard_normal((rows, dim))
    xs = leaf(x)
    y_ref, dx_ref = numpy_reference.softmax(np.asarray(x, np.float32).astype(np.float64), g, -1, log)
    y = (F.log_softmax if log else F.softmax)(xs, dim=-1)
    close(y, y_ref, rtol=1e-5, atol=1e-6)
    y.backward(g.astype(np.float32))
    close(xs.grad, dx_ref, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("log", [False, True])
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_softmax_any_dim(rng, log, dim):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((4, 5, 6))
    g = rng.standard_normal((4, 5, 6))
    xs, xt = leaf(x), ref(x)
    fn, fn_t = (F.log_softmax, torch.log_softmax) if log else (F.softmax, torch.softmax)
    y = fn(xs, dim)
    yt = fn_t(xt, dim)
    close(y, yt, atol=1e-6)
    y.backward(g.astype(np.float32))
    yt.backward(torch.tensor(g))
    close(xs.grad, xt.grad, atol=1e-5)


def test_softmax_implicit_dim_and_scalar():
    torch = pytest.importorskip("torch")
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    close(F.softmax(sk.tensor(x)), torch.nn.functional.softmax(torch.tensor(x, dtype=torch.float64), dim=1))
    close(F.softmax(sk.tensor(np.float32(3.0)), 0), np.float64(1.0))


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_dropout_mask_scale_and_gradient(p):
    sk.manual_seed(7)
    n = 20000
    x = leaf(np.ones(n))
    y = F.dropout(x, p=p)
    kept = y.numpy() != 0
    np.testing.assert_allclose(y.numpy()[kept], 1.0 / (1.0 - p), rtol=1e-6)
    # the kept fraction is Binomial(n, 1-p): 5 standard deviations
    assert abs(kept.mean() - (1 - p)) < 5 * np.sqrt(p * (1 - p) / n)
    g = np.arange(n, dtype=np.float32)
    y.backward(g)
    np.testing.assert_allclose(x.grad.numpy(), np.where(kept, g / (1 - p), 0.0), rtol=1e-6)


def test_dropout_reproducible_and_thread_independent():
    x = sk.tensor(np.ones((300, 301), dtype=np.float32))
    masks = []
    for threads in (1, 2):
        old = sk.get_num_threads()
        sk.set_num_threads(threads)
        sk.manual_seed(3)
        masks.append(F.dropout(x, 0.3).numpy().copy())
        sk.set_num_threads(old)
    np.testing.assert_array_equal(masks[0], masks[1])
    assert not np.array_equal(F.dropout(x, 0.3).numpy(), masks[0])  # the next call draws a new seed


def test_dropout_eval_p0_p1():
    x = sk.tensor(np.ones(10, dtype=np.float32), requires_grad=True)
    assert F.dropout(x, 0.5, training=False) is x
    assert F.dropout(x, 0.0) is x
    y = F.dropout(x, 1.0)
    np.testing.assert_array_equal(y.numpy(), 0.0)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), 0.0)


def _ce_check(x, target, rtol=1e-5, atol=1e-5, **kwargs):
    torch = pytest.importorskip("torch")
    xs, xt = leaf(x), ref(x)
    weight = kwargs.pop("weight", None)
    loss = F.cross_entropy(xs, sk.tensor(target), weight=None if weight is None else sk.tensor(weight), **kwargs)
    loss_t = torch.nn.functional.cross_entropy(xt, torch.tensor(target, dtype=torch.int64),
                                               weight=None if weight is None else torch.tensor(weight, dtype=torch.float64),
                                               **kwargs)
    assert loss.shape == tuple(loss_t.shape)
    close(loss, loss_t, rtol=rtol, atol=atol)
    g = np.random.default_rng(0).standard_normal(loss.shape)
    loss.backward(g.astype(np.float32))
    loss_t.backward(torch.tensor(g))
    close(xs.grad, xt.grad, rtol=rtol, atol=atol)


@pytest.mark.parametrize("classes", [1, 3, 7, 17, 64, 100, 769])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_against_torch(rng, threads, classes, reduction):
    x = rng.standard_normal((37, classes)) * 3
    t = rng.integers(0, classes, 37)
    _ce_check(x, t, reduction=reduction)


def test_cross_entropy_extreme_logits(rng):
    x = rng.standard_normal((8, 10)) * 80
    x[:, 3] = 80.0
    x[0] = -80.0
    _ce_check(x, rng.integers(0, 10, 8), reduction="none", rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("smoothing", [0.0, 0.1, 1.0])
@pytest.mark.parametrize("weighted", [False, True])
def test_cross_entropy_smoothing_ignore_weights(rng, reduction, smoothing, weighted):
    classes = 11
    x = rng.standard_normal((23, classes)) * 2
    t = rng.integers(0, classes, 23)
    t[[2, 5, 17]] = -100
    weight = rng.uniform(0.2, 3.0, classes) if weighted else None
    _ce_check(x, t, weight=weight, reduction=reduction, label_smoothing=smoothing)


def test_cross_entropy_spatial_targets_and_custom_ignore(rng):
    # (N, C, L) logits with (N, L) targets, as for tagging
    x = rng.standard_normal((3, 5, 7))
    t = rng.integers(0, 5, (3, 7))
    t[1, 2] = 4
    _ce_check(x, t, ignore_index=4, label_smoothing=0.2)
    _ce_check(rng.standard_normal((2, 4, 3, 5)), rng.integers(0, 4, (2, 3, 5)), reduction="none")


def test_cross_entropy_unbatched_and_int32_targets(rng):
    _ce_check(rng.standard_normal(6), np.array(2), reduction="mean")
    x = rng.standard_normal((4, 6))
    a = F.cross_entropy(sk.tensor(x.astype(np.float32)), sk.tensor(np.array([1, 2, 3, 0], dtype=np.int32)))
    b = F.cross_entropy(sk.tensor(x.astype(np.float32)), sk.tensor(np.array([1, 2, 3, 0], dtype=np.int64)))
    assert a.item() == b.item()


def test_cross_entropy_nan_propagates_and_all_ignored():
    torch = pytest.importorskip("torch")
    x = np.zeros((2, 3), dtype=np.float32)
    x[0, 1] = np.nan
    loss = F.cross_entropy(sk.tensor(x), sk.tensor(np.array([0, 2])), reduction="none")
    assert np.isnan(loss.numpy()[0]) and np.isfinite(loss.numpy()[1])
    logits = sk.tensor(np.zeros((2, 3), dtype=np.float32), requires_grad=True)
    all_ignored = F.cross_entropy(logits, sk.tensor(np.array([-100, -100])))
    assert np.isnan(all_ignored.item())
    all_ignored.backward()  # torch: zero gradient for ignored rows
    np.testing.assert_array_equal(logits.grad.numpy(), 0.0)


def test_cross_entropy_errors():
    x = sk.tensor(np.zeros((2, 3), dtype=np.float32))
    with pytest.raises(IndexError, match=r"target 3 .*3 classes"):
        F.cross_entropy(x, sk.tensor(np.array([0, 3])))
    with pytest.raises(IndexError, match=r"target -1"):
        F.cross_entropy(x, sk.tensor(np.array([-1, 0])))
    with pytest.raises(TypeError, match="class indices"):
        F.cross_entropy(x, sk.tensor(np.array([0.0, 1.0], dtype=np.float32)))
    with pytest.raises(TypeError, match="float32"):
        F.cross_entropy(sk.tensor(np.zeros((2, 3)), dtype=np.float64), sk.tensor(np.array([0, 1])))
    with pytest.raises(ValueError, match="target of shape"):
        F.cross_entropy(x, sk.tensor(np.array([0, 1, 2])))
    with pytest.raises(ValueError, match="reduction"):
        F.cross_entropy(x, sk.tensor(np.array([0, 1])), reduction="avg")
    with pytest.raises(ValueError, match="label_smoothing"):
        F.cross_entropy(x, sk.tensor(np.array([0, 1])), label_smoothing=1.5)
    with pytest.raises(ValueError, match="weight"):
        F.cross_entropy(x, sk.tensor(np.array([0, 1])), weight=sk.tensor(np.ones(4, dtype=np.float32)))


def test_vector_exp_accuracy_over_the_range():
    # softmax of rows (x, 0) is e^x / (e^x + 1): the SIMD exp over [-80, 80] within a few float32 ulps
    # (rtol 1e-6 ~ 8 ulp covers the exp's ~1 ulp plus the division and the sum's rounding).
    x = np.linspace(-80, 80, 4001).astype(np.float32)
    rows = np.stack([x, np.zeros_like(x)], axis=1)
    got = F.softmax(sk.tensor(rows), dim=1).numpy()[:, 0].astype(np.float64)
    want = 1.0 / (1.0 + np.exp(-x.astype(np.float64)))
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=0)


def test_masked_logits_give_exact_zeros():
    x = np.array([[0.5, -np.inf, 2.0, -np.inf], [-np.inf, 1.0, -np.inf, -np.inf]], dtype=np.float32)
    xs = leaf(x)
    y = F.softmax(xs, dim=1)
    assert np.all(y.numpy()[np.isinf(x)] == 0.0)
    np.testing.assert_allclose(y.numpy()[1, 1], 1.0)
    y.backward(np.ones_like(x))
    assert np.all(xs.grad.numpy()[np.isinf(x)] == 0.0)
    assert np.all(np.isneginf(F.log_softmax(sk.tensor(x), dim=1).numpy()[np.isinf(x)]))
