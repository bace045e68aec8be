"""Tensor ops against torch: forward values, dtypes, shapes and gradients (for a random upstream
gradient), on awkward shapes — broadcasting over size-1 dims, 0-d tensors, negative and repeated indices.
The arithmetic tests are written with operators only and also run without torch, against float64 numpy
with finite-difference gradients (``check_operators``).

Tolerances: elementwise float32 ops differ from torch only by the last-bit rounding of libm (exp, log,
tanh: a few ulp), so rtol 1e-5 / atol 1e-6; products and reductions of length K accumulate in a
different order than torch, error ~K·2⁻²⁴ relative to Σ|terms|, covered by rtol 1e-4 / atol 1e-5 for
the K ≤ 13 used here."""
import importlib.util

import numpy as np
import pytest

import seqkernels as sk

from helpers import check as reference_check


ELEMENTWISE = dict(rtol=1e-5, atol=1e-6)
ACCUMULATED = dict(rtol=1e-4, atol=1e-5)


def _inputs(arrays, requires_grad):
    torch = pytest.importorskip("torch")
    sk_in, t_in = [], []
    for a in arrays:
        if isinstance(a, np.ndarray):
            grad = requires_grad and a.dtype.kind == "f"
            sk_in.append(sk.tensor(a, requires_grad=grad))
            t_in.append(torch.tensor(a, requires_grad=grad))
        else:
            sk_in.append(a)
            t_in.append(a)
    return sk_in, t_in


def check(sk_fn, torch_fn, *arrays, tol=ELEMENTWISE, grad=True, seed=0):
    """Compares sk_fn and torch_fn on the same inputs: value, dtype, shape and every input gradient."""
    torch = pytest.importorskip("torch")
    sk_in, t_in = _inputs(arrays, grad)
    out, ref = sk_fn(*sk_in), torch_fn(*t_in)
    ref_np = ref.detach().numpy()
    assert out.shape == ref_np.shape
    assert out.dtype == ref_np.dtype, (out.dtype, ref_np.dtype)
    np.testing.assert_allclose(out.numpy(), ref_np, **tol)
    if not grad:
        return out
    upstream = np.random.default_rng(seed).standard_normal(ref_np.shape).astype(np.float32)
    out.backward(upstream)
    ref.backward(torch.tensor(upstream))
    for s, t in zip(sk_in, t_in):
        if isinstance(t, torch.Tensor) and t.requires_grad:
            assert s.grad is not None and s.grad.shape == s.shape
            np.testing.assert_allclose(s.grad.numpy(), t.grad.numpy(), **tol)
    return out


def check_operators(fn, *arrays):
    """``fn`` is written with operators only, so it runs on numpy arrays too: checked against float64 numpy
    with finite-difference gradients everywhere, and against torch (values, dtypes, gradients) where installed."""
    reference_check(fn, fn, list(arrays), atol=1e-6, rtol=1e-5)
    if importlib.util.find_spec("torch") is not None:
        check(fn, fn, *arrays)


def randn(*shape, seed=1):
    return np.random.default_rng(seed + len(shape)).standard_normal(shape).astype(np.float32)


def positive(*shape, seed=2):
    return np.random.default_rng(seed).uniform(0.5, 2.0, shape).astype(np.float32)


BROADCAST_PAIRS = [((3, 1, 5), (4, 1)), ((1,), (2, 3)), ((), (2, 3)), ((2, 3), ()), ((7,), (7,)), ((1, 1), (1,))]


@pytest.mark.parametrize("op", ["add", "sub", "mul", "truediv"])
@pytest.mark.parametrize("shapes", BROADCAST_PAIRS, ids=str)
def test_binary_arithmetic_broadcasting(op, shapes):
    fn = getattr(__import__("operator"), op)
    a, b = randn(*shapes[0], seed=3), positive(*shapes[1]) if op == "truediv" else randn(*shapes[1], seed=4)
    check_operators(fn, a, b)


@pytest.mark.parametrize("op", ["add", "sub", "mul", "truediv", "pow"])
@pytest.mark.parametrize("scalar", [2, -1.5])
def test_python_scalars_both_orders(op, scalar):
    fn = getattr(__import__("operator"), op)
    x = positive(3, 4)
    check_operators(lambda t: fn(t, scalar), x)
    if op == "pow" and scalar < 0:
        return  # (-1.5) ** t is nan for real t in both libraries
    check_operators(lambda t: fn(scalar, t), x)


def test_pow_tensor_exponent_and_neg():
    check_operators(lambda a, b: a ** b, positive(2, 3), randn(3))
    check_operators(lambda a: -a, randn(4, 1))
    check(lambda a: a.pow(3), lambda a: a.pow(3), randn(5))


def test_integer_tensors_promote_like_torch():
    i = np.arange(6, dtype=np.int64).reshape(2, 3)
    f = randn(2, 3)
    check(lambda a, b: a + b, lambda a, b: a + b, i, f)
    check(lambda a: a / 4, lambda a: a / 4, i, grad=False)
    check(lambda a: a * 2.5, lambda a: a * 2.5, i, grad=False)
    check(lambda a: a + 1, lambda a: a + 1, i, grad=False)
    check(lambda a: a * np.float64(2.0), lambda a: a * 2.0, f)  # numpy float64 scalars do not widen


@pytest.mark.parametrize("name", ["exp", "tanh", "sigmoid", "relu", "abs"])
def test_unary(name):
    torch = pytest.importorskip("torch")
    x = randn(3, 7) * 3
    x[0, :3] = [0.0, 60.0, -100.0]  # relu at 0 (torch: gradient 0), sigmoid/tanh saturation, no overflow
    if name == "abs":
        x[0, 0] = 0.5
    check(lambda t: getattr(t, name)(), lambda t: getattr(t, name)(), x)
    check(getattr(sk, name), getattr(torch, name), np.array(0.3, np.float32))


def test_sigmoid_keeps_relative_precision_far_in_the_tail():
    torch = pytest.importorskip("torch")
    y = sk.tensor(np.array([-30.0, -80.0], np.float32)).sigmoid().numpy()
    np.testing.assert_allclose(y, torch.sigmoid(torch.tensor([-30.0, -80.0])).numpy(), rtol=1e-5)
    assert (y > 0).all()


@pytest.mark.parametrize("name", ["log", "sqrt"])
def test_unary_positive_domain(name):
    check(lambda t: getattr(t, name)(), lambda t: getattr(t, name)(), positive(5, 3))


MATMUL_SHAPES = [((5, 7), (7, 3)), ((7,), (7, 3)), ((5, 7), (7,)), ((7,), (7,)), ((2, 5, 7), (7, 3)),
                 ((2, 1, 5, 7), (3, 7, 4)), ((5, 7), (2, 7, 3)), ((1, 7), (7, 1)), ((3, 5, 13), (13,)),
                 ((13,), (2, 13, 3))]


@pytest.mark.parametrize("shapes", MATMUL_SHAPES, ids=str)
def test_matmul(shapes):
    check(lambda a, b: a @ b, lambda a, b: a @ b, randn(*shapes[0], seed=5), randn(*shapes[1], seed=6),
          tol=ACCUMULATED)


def test_matmul_of_transposed_views_and_numpy_inputs():
    a, b = randn(7, 5), randn(3, 7)
    check(lambda x, y: x.T @ y.transpose(0, 1), lambda x, y: x.T @ y.transpose(0, 1), a, b, tol=ACCUMULATED)
    out = sk.matmul(a.T, b.T)  # numpy in, numpy out (the foundation's contract)
    assert isinstance(out, np.ndarray)
    np.testing.assert_allclose(out, a.T @ b.T, **ACCUMULATED)
    assert isinstance(sk.matmul(sk.tensor(a.T), b.T), sk.Tensor)


def test_matmul_errors_name_both_shapes():
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(4, 5\)"):
        sk.tensor(randn(2, 3)) @ sk.tensor(randn(4, 5))
    with pytest.raises(TypeError, match="'other'.*int64"):
        sk.tensor(randn(2, 3)) @ sk.tensor(np.ones((3, 2), np.int64))


@pytest.mark.parametrize("dim,keepdim", [(None, False), (0, False), (-1, True), ((0, 2), False), ((2, 0), True),
                                         (1, False)])
@pytest.mark.parametrize("name", ["sum", "mean"])
def test_sum_mean(name, dim, keepdim):
    x = randn(3, 1, 5)
    if dim is None:
        check(lambda t: getattr(t, name)(), lambda t: getattr(t, name)(), x, tol=ACCUMULATED)
    else:
        check(lambda t: getattr(t, name)(dim=dim, keepdim=keepdim),
              lambda t: getattr(t, name)(dim=dim, keepdim=keepdim), x, tol=ACCUMULATED)


def test_reductions_of_0d_tensors():
    x = np.array(2.5, np.float32)
    check(lambda t: t.sum(0), lambda t: t.sum(0), x)
    check(lambda t: t.mean(-1, keepdim=True), lambda t: t.mean(-1, keepdim=True), x)
    check(lambda t: t.max(), lambda t: t.max(), x)


@pytest.mark.parametrize("name", ["max", "min"])
def test_max_min_over_everything_shares_the_gradient_among_ties(name):
    x = np.array([[1.0, 3.0, 3.0], [-2.0, 0.5, 3.0]], np.float32)
    check(lambda t: getattr(t, name)(), lambda t: getattr(t, name)(), x if name == "max" else -x)


@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("name", ["max", "min"])
def test_max_min_along_a_dim_give_the_gradient_to_the_returned_index(name, dim, keepdim):
    torch = pytest.importorskip("torch")
    x = np.array([[1.0, 3.0, 3.0, 0.0], [2.0, 2.0, -1.0, 5.0], [0.0, 7.0, 7.0, 7.0]], np.float32)
    x = x if name == "max" else -x
    out = check(lambda t: getattr(t, name)(dim, keepdim=keepdim).values,
                lambda t: getattr(t, name)(dim, keepdim=keepdim).values, x)
    values, indices = getattr(sk.tensor(x), name)(dim=dim, keepdim=keepdim)
    ref = getattr(torch.tensor(x), name)(dim=dim, keepdim=keepdim)
    np.testing.assert_array_equal(indices.numpy(), ref.indices.numpy())
    assert indices.dtype == np.int64 and out.shape == values.shape


def test_argmax_argmin():
    torch = pytest.importorskip("torch")
    x = randn(4, 6)
    np.testing.assert_array_equal(sk.tensor(x).argmax(1).numpy(), torch.tensor(x).argmax(1).numpy())
    np.testing.assert_array_equal(sk.tensor(x).argmin(0, keepdim=True).numpy(),
                                  torch.tensor(x).argmin(0, keepdim=True).numpy())
    assert sk.tensor(x).argmax().item() == torch.tensor(x).argmax().item()


INDEX_KEYS = [
    1, -1, (slice(None), slice(1, 3)), (Ellipsis, None), (slice(None, None, -1) if False else slice(None, None, 2),),
    [0, 2, 0], np.array([-1, 0, -1]), (np.array([0, 1, 0]), np.array([2, 2, 2])), (slice(None), [1, 1, 3]),
    (1, -2), (np.array([[0], [2]]), np.array([[1, 3]])), (None, slice(0, 1), [3, 3]),
]


@pytest.mark.parametrize("key", INDEX_KEYS, ids=str)
def test_indexing(key):
    torch = pytest.importorskip("torch")
    x = randn(3, 4, 5)
    tkey = tuple(torch.tensor(k) if isinstance(k, np.ndarray) else k for k in key) if isinstance(key, tuple) else \
        (torch.tensor(key) if isinstance(key, np.ndarray) else key)
    check(lambda t: t[key], lambda t: t[tkey], x)


def test_indexing_with_tensors_and_masks():
    torch = pytest.importorskip("torch")
    x = randn(4, 3)
    idx = np.array([3, -4, 3], np.int64)
    check(lambda t: t[sk.tensor(idx)], lambda t: t[torch.tensor(idx)], x)
    mask = x[:, 0] > 0
    check(lambda t: t[sk.tensor(mask)], lambda t: t[torch.tensor(mask)], x)
    check(lambda t: t[sk.tensor(x > 0)], lambda t: t[torch.tensor(x > 0)], x)
    with pytest.raises(IndexError):
        sk.tensor(x)[np.array([4])]


def test_setitem_on_tensors_without_grad():
    t = sk.zeros(2, 3)
    t[:, 1] = 5.0
    t[sk.tensor(np.array([True, False]))] = sk.ones(3)
    np.testing.assert_array_equal(t.numpy(), [[1, 1, 1], [0, 5, 0]])
    with pytest.raises(RuntimeError, match="requires grad"):
        sk.zeros(2, requires_grad=True)[0] = 1.0


SHAPE_OPS = [
    ("reshape(-1)", lambda t: t.reshape(-1)), ("reshape(5,1,-1)", lambda t: t.reshape(5, 1, -1)),
    ("view((3,5))", lambda t: t.view((3, 5))), ("transpose(0,2)", lambda t: t.transpose(0, 2)),
    ("transpose(-1,-2)", lambda t: t.transpose(-1, -2)), ("permute(2,0,1)", lambda t: t.permute(2, 0, 1)),
    ("T", lambda t: t.reshape(3, 5).T), ("unsqueeze(0)", lambda t: t.unsqueeze(0)), ("unsqueeze(-1)", lambda t: t.unsqueeze(-1)),
    ("squeeze()", lambda t: t.squeeze()), ("squeeze(1)", lambda t: t.squeeze(1)), ("squeeze(0)", lambda t: t.squeeze(0)),
    ("flatten()", lambda t: t.flatten()), ("flatten(1)", lambda t: t.flatten(1)),
    ("expand(4,3,2,5)", lambda t: t.expand(4, 3, 1, 5).expand(4, 3, 2, 5)), ("expand(2,-1,3,-1)", lambda t: t.expand(2, -1, 3, -1)),
    ("contiguous of T", lambda t: t.reshape(3, 5).T.contiguous()), ("clone", lambda t: t.clone()),
]


@pytest.mark.parametrize("name,fn", SHAPE_OPS, ids=[n for n, _ in SHAPE_OPS])
def test_shape_ops(name, fn):
    check(fn, fn, randn(3, 1, 5))


def test_shape_op_errors():
    t = sk.tensor(randn(2, 3))
    with pytest.raises(ValueError, match=r"\(4,\).*\(2, 3\)"):
        t.reshape(4)
    with pytest.raises(IndexError, match=r"\[-2, 1\].*got 2"):
        t.transpose(0, 2)
    with pytest.raises(IndexError, match=r"\[-3, 2\]"):
        t.unsqueeze(3)
    with pytest.raises(ValueError, match="permutation"):
        t.permute(0, 0)
    with pytest.raises(ValueError, match="expand"):
        t.expand(4, 3)


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_cat_stack(dim):
    torch = pytest.importorskip("torch")
    a, b, c = randn(2, 3, seed=7), randn(2, 3, seed=8), randn(2, 3, seed=9)
    check(lambda *ts: sk.cat(ts, dim), lambda *ts: torch.cat(ts, dim), a, b, c)
    check(lambda *ts: sk.stack(ts, dim), lambda *ts: torch.stack(ts, dim), a, b, c)
    check(lambda x, y: sk.cat([x, y[:, :1]], dim=1), lambda x, y: torch.cat([x, y[:, :1]], dim=1), a, b)


def test_cat_stack_errors():
    with pytest.raises(ValueError, match="non-empty"):
        sk.cat([])
    with pytest.raises(ValueError, match="same shape"):
        sk.stack([sk.zeros(2), sk.zeros(3)])


@pytest.mark.parametrize("split_arg,dim", [(2, 0), (3, 1), ([1, 3, 1], 1), (5, -1)])
def test_split_and_chunk(split_arg, dim):
    torch = pytest.importorskip("torch")
    x = randn(5, 5)
    pieces = lambda t: t.split(split_arg, dim)  # noqa: E731
    n = len(pieces(torch.tensor(x)))
    assert len(pieces(sk.tensor(x))) == n
    weights = [float(i + 1) for i in range(n)]
    # every piece reaches the loss with its own weight, so each slot of the gradient is checked
    check(lambda t: sk.cat([p * w for p, w in zip(pieces(t), weights)], dim),
          lambda t: torch.cat([p * w for p, w in zip(pieces(t), weights)], dim), x)
    # an unused piece gets a zero gradient
    check(lambda t: pieces(t)[0] * 2, lambda t: pieces(t)[0] * 2, x)
    assert [p.shape for p in sk.tensor(x).chunk(2, dim)] == [tuple(p.shape) for p in torch.tensor(x).chunk(2, dim)]
    with pytest.raises(ValueError, match="sum to"):
        sk.tensor(x).split([1, 1], 0)


def test_where_and_masked_fill():
    torch = pytest.importorskip("torch")
    cond = randn(3, 1, 4) > 0
    a, b = randn(1, 5, 4, seed=10), randn(4, seed=11)
    check(lambda x, y: sk.where(sk.tensor(cond), x, y), lambda x, y: torch.where(torch.tensor(cond), x, y), a, b)
    check(lambda x: sk.where(sk.tensor(cond), x, 0.0), lambda x: torch.where(torch.tensor(cond), x, 0.0), a)
    mask = randn(1, 4) > 0
    check(lambda x: x.masked_fill(sk.tensor(mask), -1e9), lambda x: x.masked_fill(torch.tensor(mask), -1e9),
          randn(3, 4))
    with pytest.raises(TypeError, match="'condition' must be a bool"):
        sk.where(sk.ones(2), sk.ones(2), sk.zeros(2))
    with pytest.raises(ValueError, match=r"mask of shape \(2, 4\)"):
        sk.ones(1, 4).masked_fill(sk.tensor(np.ones((2, 4), bool)), 0.0)


def test_comparisons_return_bool_tensors_without_grad():
    torch = pytest.importorskip("torch")
    x, y = randn(3, 4), randn(4)
    a, b = sk.tensor(x, requires_grad=True), sk.tensor(y)
    for op in ("lt", "le", "gt", "ge", "eq", "ne"):
        fn = getattr(__import__("operator"), op)
        out = fn(a, b)
        assert out.dtype == np.bool_ and not out.requires_grad
        np.testing.assert_array_equal(out.numpy(), fn(torch.tensor(x), torch.tensor(y)).numpy())
    np.testing.assert_array_equal((~(a > 0) & (a < 1) | (a == 0)).numpy(), (~(x > 0) & (x < 1)) | (x == 0))
    assert {a: 1}[a] == 1  # tensors hash by identity


def test_casts():
    torch = pytest.importorskip("torch")
    x = randn(2, 3) * 4
    check(lambda t: t.double() * 2, lambda t: t.double() * 2, x)
    check(lambda t: t.to(np.float64).float(), lambda t: t.to(torch.float64).float(), x)
    t = sk.tensor(x, requires_grad=True)
    assert t.float() is t and t.contiguous() is t
    long = t.long()
    assert long.dtype == np.int64 and not long.requires_grad
    np.testing.assert_array_equal(long.numpy(), torch.tensor(x).long().numpy())
    assert t.bool().dtype == np.bool_ and t.int().dtype == np.int32


def test_factories():
    torch = pytest.importorskip("torch")
    sk.manual_seed(0)
    assert sk.zeros(2, 3).dtype == np.float32 and sk.zeros((2, 3)).shape == (2, 3)
    assert sk.ones(4, dtype=sk.int64).numpy().tolist() == [1, 1, 1, 1]
    assert sk.full((2,), 7).dtype == np.int64 and sk.full((2,), 0.5).dtype == np.float32
    assert sk.full((1,), True).dtype == np.bool_
    np.testing.assert_array_equal(sk.arange(5).numpy(), torch.arange(5).numpy())
    assert sk.arange(5).dtype == np.int64 and sk.arange(0, 1, 0.25).dtype == np.float32
    np.testing.assert_allclose(sk.arange(1, 2, 0.25).numpy(), torch.arange(1, 2, 0.25).numpy())
    r, n = sk.rand(1000), sk.randn(3, 1000, requires_grad=True)
    assert 0 <= r.numpy().min() and r.numpy().max() < 1 and r.dtype == np.float32
    assert n.requires_grad and abs(float(n.numpy().mean())) < 0.1 and abs(float(n.numpy().std()) - 1) < 0.1
    assert sk.zeros_like(n).shape == n.shape and sk.ones_like(sk.arange(3)).dtype == np.int64
    ids = sk.randint(0, 10, (50,))
    assert ids.dtype == np.int64 and 0 <= ids.numpy().min() and ids.numpy().max() < 10
    sk.manual_seed(3)
    first = sk.randn(4).numpy()
    sk.manual_seed(3)
    np.testing.assert_array_equal(first, sk.randn(4).numpy())
    with pytest.raises(TypeError, match="sizes must be ints"):
        sk.zeros(2.5)


def test_scalar_conversions():
    t = sk.tensor([2.5])
    assert float(t) == 2.5 and int(t) == 2 and bool(t)
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(sk.ones(2))
    rows = list(sk.tensor(np.arange(6.0).reshape(3, 2)))
    assert len(rows) == 3 and rows[2].numpy().tolist() == [4.0, 5.0]
    with pytest.raises(TypeError, match="0-d"):
        list(sk.tensor(1.0))
    assert f"{sk.tensor(2.0 / 3):.3f}" == "0.667" and f"{sk.ones(2)}".startswith("tensor(")


@pytest.mark.parametrize("dim", [0, -1, 1])
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_methods_delegate_to_functional(name, dim):
    torch = pytest.importorskip("torch")
    x = randn(3, 5, 2) * 4
    check(lambda t: getattr(t, name)(dim), lambda t: getattr(t, name)(dim), x)
    check(lambda t: getattr(sk, name)(t, dim), lambda t: getattr(torch, name)(t, dim), x)
