"""_C's element-wise, reduction, softmax-over-any-dim, pooling and element-wise loss kernels, forward and backward,
against float64 numpy (and torch where installed), on awkward shapes (1, primes, non-multiples of the SIMD width),
at one and two threads."""
import numpy as np
import pytest

import seqkernels as sk
from seqkernels import _C

# Element-wise float32 results against float64: a few ulps (the vector exp is ~1 ulp, tanh/sigmoid a few more);
# reductions add up to ~1e5 terms of O(1) in float32: relative 1e-5 of the sum of magnitudes covers it.
RTOL, ATOL = 2e-6, 2e-6


def f64(x):
    return np.asarray(x, dtype=np.float64)


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def softplus(x, beta=1.0, threshold=20.0):
    return np.where(beta * x > threshold, x, np.logaddexp(0, beta * x) / beta)


UNARY = {  # name: (forward, backward(dy, x, y), params)
    "relu": (lambda x: np.maximum(x, 0), lambda g, x, y: g * (y > 0), {}),
    "tanh": (np.tanh, lambda g, x, y: g * (1 - y * y), {}),
    "sigmoid": (sigmoid, lambda g, x, y: g * y * (1 - y), {}),
    "silu": (lambda x: x * sigmoid(x), lambda g, x, y: g * sigmoid(x) * (1 + x * (1 - sigmoid(x))), {}),
    "softplus": (lambda x: softplus(x, 2.0, 15.0), lambda g, x, y: np.where(2 * x > 15, g, g * sigmoid(2 * x)),
                 dict(beta=2.0, threshold=15.0)),
    "leaky_relu": (lambda x: np.where(x > 0, x, 0.2 * x), lambda g, x, y: np.where(x > 0, g, 0.2 * g), dict(alpha=0.2)),
    "elu": (lambda x: np.where(x > 0, x, 1.5 * np.expm1(x)), lambda g, x, y: np.where(x > 0, g, 1.5 * g * np.exp(x)),
            dict(alpha=1.5)),
    "exp": (np.exp, lambda g, x, y: g * y, {}),
    "log": (np.log, lambda g, x, y: g / x, {}),
}


@pytest.mark.parametrize("n", [1, 7, 16, 33, 40_000])
@pytest.mark.parametrize("name", list(UNARY))
def test_unary(rng, threads, name, n):
    forward, backward, params = UNARY[name]
    x = rng.standard_normal(n).astype(np.float32) * 4
    if name == "log":
        x = np.abs(x) + np.float32(1e-3)
    g = rng.standard_normal(n).astype(np.float32)
    y = _C.unary_forward(x, name, **params)
    np.testing.assert_allclose(y, forward(f64(x)), rtol=4 * RTOL, atol=ATOL)
    dx = _C.unary_backward(g, input=x, output=y, op=name, **params)
    np.testing.assert_allclose(dx, backward(f64(g), f64(x), forward(f64(x))), rtol=1e-5, atol=1e-5)


def test_unary_extremes_and_nan():
    x = np.array([-1e4, -100, -20, 0, 20, 100, 1e4, np.nan], dtype=np.float32)
    np.testing.assert_allclose(_C.unary_forward(x, "sigmoid")[:7], [0, 0, sigmoid(-20.0), 0.5, sigmoid(20.0), 1, 1],
                               rtol=1e-6, atol=0)
    # (softplus(-100) = 3.7e-44 is subnormal in float32, where only an absolute tolerance means anything)
    np.testing.assert_allclose(_C.unary_forward(x, "softplus")[:7], softplus(f64(x[:7])), rtol=1e-6, atol=1e-38)
    for name in UNARY:
        if name != "log":
            assert np.isnan(_C.unary_forward(x, name)[-1]), name
    with pytest.raises(ValueError, match="unknown"):
        _C.unary_forward(x, "gelu2")
    with pytest.raises(ValueError, match="needs argument 'input'"):
        _C.unary_backward(x, output=x, op="silu")


BROADCASTS = [((5, 7), (5, 7)), ((3, 17), (17,)), ((17,), (3, 17)), ((4, 1, 6), (1, 5, 1)), ((2, 3, 37), (3, 1)),
              ((), (9,)), ((9,), ()), ((1,), (1,)), ((2, 1, 3, 1, 5), (1, 4, 1, 6, 1)), ((130, 33), (130, 1))]
NUMPY_OPS = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide}


def unbroadcast(g, shape):
    while g.ndim > len(shape):
        g = g.sum(0)
    for d, n in enumerate(shape):
        if n == 1 and g.shape[d] != 1:
            g = g.sum(d, keepdims=True)
    return g


@pytest.mark.parametrize("sa,sb", BROADCASTS)
@pytest.mark.parametrize("op", list(NUMPY_OPS))
def test_binary_broadcast(rng, threads, op, sa, sb):
    a = np.asarray(rng.standard_normal(sa), np.float32)
    b = np.asarray(rng.standard_normal(sb) + 3 * np.sign(rng.standard_normal(sb)), np.float32)  # away from 0 (div)
    y = _C.binary_forward(a, b, op)
    want = NUMPY_OPS[op](f64(a), f64(b))
    np.testing.assert_allclose(y, want, rtol=RTOL, atol=ATOL)
    g = rng.standard_normal(want.shape).astype(np.float32)
    da, db = _C.binary_backward(g, a, b, op)
    ga, gb = {"add": (g, g), "sub": (g, -f64(g)), "mul": (g * f64(b), g * f64(a)),
              "div": (g / f64(b), -g * f64(a) / f64(b) ** 2)}[op]
    np.testing.assert_allclose(da, unbroadcast(f64(ga), sa), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(db, unbroadcast(f64(gb), sb), rtol=1e-5, atol=1e-5)
    assert da.shape == a.shape and db.shape == b.shape
    if op in ("add", "sub"):  # shapes are enough for add and sub, and unwanted gradients are None
        da2, db2 = _C.binary_backward(g, sa, sb, op, need_a=False)
        assert da2 is None
        np.testing.assert_array_equal(db2, db)


def test_binary_bad_input():
    a = np.zeros((2, 3), np.float32)
    with pytest.raises(ValueError, match="broadcast"):
        _C.binary_forward(a, np.zeros((4,), np.float32), "add")
    with pytest.raises(TypeError, match="'b'"):
        _C.binary_forward(a, np.zeros((3,)), "add")
    with pytest.raises(ValueError, match="unknown"):
        _C.binary_forward(a, a, "pow")
    with pytest.raises(ValueError, match="grad_output"):
        _C.binary_backward(np.zeros((3, 2), np.float32), a, a, "mul")


REDUCE_SHAPES = [((1,), 0), ((7,), 0), ((5, 33), 1), ((5, 33), 0), ((3, 4, 17), 1), ((2, 3, 5), -1),
                 ((4, 70_000), 1), ((2, 300, 3), 1), ((600, 2), 0)]


@pytest.mark.parametrize("shape,dim", REDUCE_SHAPES)
def test_sum_mean(rng, threads, shape, dim):
    x = rng.standard_normal(shape).astype(np.float32)
    for mean in (False, True):
        y = _C.sum_forward(x, dim, mean=mean)
        want = f64(x).mean(dim) if mean else f64(x).sum(dim)
        bound = 1e-6 * np.abs(f64(x)).sum(dim) + 1e-6
        assert np.all(np.abs(y - want) <= bound)
        g = rng.standard_normal(y.shape).astype(np.float32)
        dx = _C.sum_backward(g, shape, dim, mean=mean)
        np.testing.assert_allclose(dx, np.broadcast_to(np.expand_dims(f64(g), dim), shape) / (shape[dim] if mean else 1),
                                   rtol=1e-6)


@pytest.mark.parametrize("shape,dim", REDUCE_SHAPES)
def test_max_amax(rng, threads, shape, dim):
    x = rng.integers(-20, 20, size=shape).astype(np.float32)  # many ties: the first maximum must win
    y, idx = _C.max_forward(x, dim)
    np.testing.assert_array_equal(y, x.max(dim))
    np.testing.assert_array_equal(idx, x.argmax(dim))
    g = rng.standard_normal(y.shape).astype(np.float32)
    dx = _C.max_backward(g, idx, shape, dim)
    want = np.zeros(shape)
    np.put_along_axis(want, np.expand_dims(idx, dim), np.expand_dims(g, dim), dim)
    np.testing.assert_array_equal(dx, want)
    ties = x == np.expand_dims(y, dim)
    np.testing.assert_allclose(_C.amax_backward(g, x, y, dim),
                               ties * np.expand_dims(f64(g) / ties.sum(dim), dim), rtol=1e-6)


def test_max_nan_and_infinities():
    x = np.array([[1, np.nan, 3, np.nan], [-np.inf, -np.inf, -np.inf, -np.inf], [1, np.inf, 2, np.inf]], np.float32)
    y, idx = _C.max_forward(x, 1)
    assert np.isnan(y[0]) and idx[0] == 1
    assert y[1] == -np.inf and idx[1] == 0
    assert y[2] == np.inf and idx[2] == 1
    with pytest.raises(IndexError, match="dim"):
        _C.max_forward(x, 2)
    with pytest.raises(ValueError, match="size 0"):
        _C.max_forward(np.zeros((2, 0), np.float32), 1)


@pytest.mark.parametrize("shape,dim", [((1, 1), 1), ((6, 33), 1), ((6, 33), 0), ((2, 5, 300), 1), ((3, 4, 17), -1),
                                       ((2, 1000), 1)])
@pytest.mark.parametrize("log", [False, True])
def test_softmax_any_dim(rng, threads, shape, dim, log):
    x = (rng.standard_normal(shape) * 5).astype(np.float32)
    y = _C.softmax_forward(x, log=log, dim=dim)
    z = f64(x) - f64(x).max(dim, keepdims=True)
    want = z - np.log(np.exp(z).sum(dim, keepdims=True)) if log else np.exp(z) / np.exp(z).sum(dim, keepdims=True)
    np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-6)
    g = rng.standard_normal(shape).astype(np.float32)
    dx = _C.softmax_backward(g, y, log=log, dim=dim)
    p = np.exp(want) if log else want
    want_dx = g - p * g.sum(dim, keepdims=True) if log else p * (g - (g * p).sum(dim, keepdims=True))
    np.testing.assert_allclose(dx, want_dx, rtol=1e-4, atol=1e-5)


def pool_reference(x, k, stride, pad, dil, out_len, kind, include_pad=True, divisor=0):
    L = x.shape[-1]
    y = np.empty(x.shape[:-1] + (out_len,))
    for t in range(out_len):
        start = t * stride - pad
        taps = [start + j * dil for j in range(k)]
        inside = [p for p in taps if 0 <= p < L]
        if kind == "max":
            y[..., t] = x[..., inside].max(-1)
        else:
            count = divisor or (min(start + k, L + pad) - start if include_pad else len(inside))
            y[..., t] = x[..., inside].sum(-1) / count
    return y


@pytest.mark.parametrize("L,k,stride,pad,dil,out_len", [(1, 1, 1, 0, 1, 1), (13, 3, 2, 1, 1, 7), (14, 3, 2, 1, 1, 8),
                                                        (20, 4, 3, 2, 2, 6), (148, 148, 148, 0, 1, 1), (9, 2, 1, 0, 3, 6)])
def test_max_pool1d(rng, threads, L, k, stride, pad, dil, out_len):
    x = rng.standard_normal((3, 5, L)).astype(np.float32)
    y, idx = _C.max_pool1d_forward(x, k, stride, pad, dil, out_len)
    np.testing.assert_array_equal(y, pool_reference(f64(x), k, stride, pad, dil, out_len, "max"))
    np.testing.assert_array_equal(np.take_along_axis(x, idx, -1), y)
    g = rng.standard_normal(y.shape).astype(np.float32)
    dx = _C.max_pool1d_backward(g, idx, L)
    want = np.zeros(x.shape)
    for t in range(out_len):
        np.add.at(want.reshape(-1, L), (np.arange(15), idx.reshape(-1, out_len)[:, t]), g.reshape(-1, out_len)[:, t])
    np.testing.assert_allclose(dx, want, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("L,k,stride,pad,out_len", [(1, 1, 1, 0, 1), (13, 3, 2, 1, 7), (14, 3, 2, 1, 8), (20, 4, 3, 2, 7)])
@pytest.mark.parametrize("include_pad,divisor", [(True, 0), (False, 0), (True, 5)])
def test_avg_pool1d(rng, threads, L, k, stride, pad, out_len, include_pad, divisor):
    x = rng.standard_normal((2, 3, L)).astype(np.float32)
    y = _C.avg_pool1d_forward(x, k, stride, pad, out_len, include_pad, divisor)
    np.testing.assert_allclose(y, pool_reference(f64(x), k, stride, pad, 1, out_len, "avg", include_pad, divisor),
                               rtol=1e-6, atol=1e-6)
    g = rng.standard_normal(y.shape).astype(np.float32)
    dx = _C.avg_pool1d_backward(g, L, k, stride, pad, include_pad, divisor)
    # <dx, v> = <g, avg(v)> for every v: check against the forward on the basis vectors' sum with random weights
    v = rng.standard_normal(x.shape).astype(np.float32)
    lhs = (f64(dx) * v).sum()
    rhs = (f64(g) * pool_reference(f64(v), k, stride, pad, 1, out_len, "avg", include_pad, divisor)).sum()
    np.testing.assert_allclose(lhs, rhs, rtol=1e-5)


def test_pool_bad_input():
    x = np.zeros((2, 5), np.float32)
    with pytest.raises(ValueError, match="padding"):
        _C.max_pool1d_forward(x, 2, 1, 0, 1, 9)
    with pytest.raises(IndexError, match="index"):
        _C.max_pool1d_backward(np.zeros((2, 1), np.float32), np.full((2, 1), 7), 5)


@pytest.mark.parametrize("shape", [(1,), (7, 5), (3, 4, 33), (70_000,)])
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_bce_with_logits_and_mse(rng, threads, shape, reduction):
    x = (rng.standard_normal(shape) * 6).astype(np.float32)
    t = rng.random(shape).astype(np.float32)
    w = rng.random(shape).astype(np.float32)
    pw = (rng.random(shape[-1]) * 3).astype(np.float32)
    X, T, W, P = map(f64, (x, t, w, pw))
    log_weight = 1 + (P - 1) * T
    sp = np.logaddexp(0, -X)
    loss = W * ((1 - T) * X + log_weight * sp)
    reduce = {"none": lambda v: v, "mean": np.mean, "sum": np.sum}[reduction]
    got = _C.bce_with_logits_forward(x, t, w, pw, reduction)
    np.testing.assert_allclose(got, reduce(loss), rtol=1e-5, atol=1e-6)
    g = rng.standard_normal(shape).astype(np.float32) if reduction == "none" else np.float32(rng.standard_normal())
    G = f64(g) / (x.size if reduction == "mean" else 1)
    dx, dt = _C.bce_with_logits_backward(np.asarray(g, np.float32), x, t, w, pw, reduction, True, True)
    np.testing.assert_allclose(dx, G * W * (log_weight * sigmoid(X) - P * T), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(dt, G * W * ((P - 1) * sp - X), rtol=1e-5, atol=1e-5)
    got = _C.mse_forward(x, t, reduction)
    np.testing.assert_allclose(got, reduce((X - T) ** 2), rtol=1e-5, atol=1e-6)
    dx, dt = _C.mse_backward(np.asarray(g, np.float32), x, t, reduction, True, True)
    np.testing.assert_allclose(dx, 2 * (X - T) * G, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(dt, -dx)


def test_bce_matches_torch(rng):
    torch = pytest.importorskip("torch")
    x = torch.tensor((rng.standard_normal((6, 5)) * 4).astype(np.float32), requires_grad=True)
    t = torch.tensor(rng.random((6, 5)).astype(np.float32))
    pw = torch.tensor((rng.random(5) * 3).astype(np.float32))
    want = torch.nn.functional.binary_cross_entropy_with_logits(x, t, pos_weight=pw)
    want.backward()
    got = _C.bce_with_logits_forward(x.detach().numpy(), t.numpy(), None, pw.numpy(), "mean")
    dx, _ = _C.bce_with_logits_backward(np.ones((), np.float32), x.detach().numpy(), t.numpy(), None, pw.numpy(),
                                        "mean")
    np.testing.assert_allclose(got, want.item(), rtol=1e-6)
    np.testing.assert_allclose(dx, x.grad.numpy(), rtol=1e-5, atol=1e-7)


def test_deterministic_across_threads(rng):
    x = rng.standard_normal((3, 50_000)).astype(np.float32)
    b = rng.standard_normal((50_000,)).astype(np.float32)
    results = []
    old = sk.get_num_threads()
    try:
        for n in (1, 2):
            sk.set_num_threads(n)
            results.append((_C.sum_forward(x, 1), _C.sum_forward(x, 0), _C.binary_backward(x, x, b, "mul")[1],
                            _C.mse_forward(x, x[::-1].copy(), "sum")))
    finally:
        sk.set_num_threads(old)
    for a, c in zip(*results):
        np.testing.assert_array_equal(a, c)


def test_binary_empty_broadcast():
    a, b = np.ones((3, 1), np.float32), np.ones((3, 0), np.float32)
    assert _C.binary_forward(a, b, "mul").shape == (3, 0)
    da, db = _C.binary_backward(np.ones((3, 0), np.float32), a, b, "mul")
    np.testing.assert_array_equal(da, np.zeros((3, 1)))
    assert db.shape == (3, 0)
