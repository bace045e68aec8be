"""The op layer's hot paths on the C++ kernels (issue 11), through seqkernels' Tensor / functional front end
against torch, forward and backward, on awkward shapes: broadcasting both ways, size-0 dims, non-contiguous
inputs, odd lengths, NaN / inf. Tolerances: the element-wise results are one float32 operation per element
(compared exactly, or within a few ulps for the transcendental functions); gradients that sum over broadcast or
pooled dims add a few float32 terms in another order than torch (rtol 1e-5)."""
import numpy as np
import pytest

import seqkernels as sk
import seqkernels.functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional


def pair(x, requires_grad=True):
    """(sk tensor, torch tensor) of the same float32 values."""
    x = np.asarray(x)
    return sk.tensor(x, requires_grad=requires_grad), torch.tensor(x.copy(), requires_grad=requires_grad)


def close(ours, theirs, rtol=1e-6, atol=1e-6):
    ours = ours.numpy() if hasattr(ours, "numpy") else np.asarray(ours)
    theirs = theirs.detach().numpy()
    assert ours.shape == theirs.shape, (ours.shape, theirs.shape)
    assert ours.dtype == theirs.dtype, (ours.dtype, theirs.dtype)
    np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=atol, equal_nan=True)


def backward_both(ours, theirs, rng):
    g = rng.standard_normal(theirs.shape).astype(np.float32)
    (ours * sk.tensor(g)).sum().backward()
    (theirs * torch.tensor(g)).sum().backward()


BROADCASTS = [((3, 1, 5), (4, 1)), ((4, 1), (3, 1, 5)), ((7,), (2, 3, 7)), ((2, 1, 3), (1, 5, 1)), ((1,), (5, 1)),
              ((), (3, 2)), ((0, 3), (3,)), ((2, 0, 4), (1, 1, 4)), ((17, 33), (17, 33))]


@pytest.mark.parametrize("op", ["add", "sub", "mul", "div"])
@pytest.mark.parametrize("sa,sb", BROADCASTS)
def test_binary_broadcasting_forward_and_gradients(rng, op, sa, sb):
    a = rng.standard_normal(sa).astype(np.float32)
    b = rng.standard_normal(sb).astype(np.float32) + np.float32(3)  # away from 0 for div
    (xa, ta), (xb, tb) = pair(a), pair(b)
    fn = {"add": lambda u, v: u + v, "sub": lambda u, v: u - v, "mul": lambda u, v: u * v,
          "div": lambda u, v: u / v}[op]
    ours, theirs = fn(xa, xb), fn(ta, tb)
    close(ours, theirs, rtol=0, atol=0)  # one IEEE operation per element: exact
    backward_both(ours, theirs, rng)
    close(xa.grad, ta.grad, rtol=1e-5)
    close(xb.grad, tb.grad, rtol=1e-5)


def test_binary_non_contiguous_scalars_and_one_side_grad(rng):
    base = rng.standard_normal((6, 10)).astype(np.float32)
    a = base[:, ::3]                  # strided
    b = np.asfortranarray(base[:, :4])  # Fortran order
    (xa, ta), (xb, tb) = pair(a), pair(np.ascontiguousarray(b), requires_grad=False)
    for fn in (lambda u, v: u * v - 2.5, lambda u, v: 1.5 / (u + 4.0) * v, lambda u, v: (3 - u) / 2):
        ours, theirs = fn(xa, sk.tensor(b)), fn(ta, tb)
        close(ours, theirs)
        xa.grad, ta.grad = None, None
        backward_both(ours, theirs, rng)
        close(xa.grad, ta.grad, rtol=1e-5)
    assert (xa + np.float64(2.0)).dtype == np.float32  # numpy float64 scalars do not widen (torch's rule)
    assert (sk.tensor(np.arange(3)) + 0.5).dtype == np.float32  # integer arrays: numpy's path, torch's promotion


UNARY = [("relu", F.relu, TF.relu), ("tanh", F.tanh, torch.tanh), ("sigmoid", F.sigmoid, torch.sigmoid),
         ("silu", F.silu, TF.silu), ("softplus", lambda x: F.softplus(x, 2.0, 5.0), lambda x: TF.softplus(x, 2.0, 5.0)),
         ("leaky_relu", lambda x: F.leaky_relu(x, 0.2), lambda x: TF.leaky_relu(x, 0.2)),
         ("elu", lambda x: F.elu(x, 1.5), lambda x: TF.elu(x, 1.5)), ("exp", lambda x: x.exp(), torch.exp),
         ("log", lambda x: x.log(), torch.log)]


@pytest.mark.parametrize("name,ours_fn,torch_fn", UNARY, ids=[u[0] for u in UNARY])
@pytest.mark.parametrize("shape", [(3, 7, 5), (1,), (0, 4), (2, 37)])
def test_unary_forward_and_gradients(rng, name, ours_fn, torch_fn, shape):
    x = rng.standard_normal(shape).astype(np.float32) * 3
    if name == "log":
        x = np.abs(x) + np.float32(0.1)
    x = np.ascontiguousarray(x.swapaxes(0, -1)).swapaxes(0, -1) if x.ndim > 1 else x  # non-contiguous
    (xs, xt) = pair(x)
    ours, theirs = ours_fn(xs), torch_fn(xt)
    close(ours, theirs, rtol=4e-6, atol=1e-6)
    backward_both(ours, theirs, rng)
    close(xs.grad, xt.grad, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name,ours_fn,torch_fn", UNARY, ids=[u[0] for u in UNARY])
def test_unary_nan_and_infinities_as_torch(name, ours_fn, torch_fn):
    x = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1e30, -1e30], np.float32)
    with np.errstate(all="ignore"):
        close(ours_fn(sk.tensor(x)), torch_fn(torch.tensor(x)), rtol=4e-6, atol=0)


def test_unary_float64_keeps_its_dtype():
    y = F.sigmoid(sk.tensor(np.array([0.0, 2.0]), dtype=np.float64))
    assert y.dtype == np.float64
    np.testing.assert_allclose(y.numpy(), 1 / (1 + np.exp(-np.array([0.0, 2.0]))), rtol=1e-6)


REDUCE_CASES = [((4, 5, 6), 1, False), ((4, 5, 6), -1, True), ((4, 5, 6), (0, 2), False), ((4, 5, 6), (2, 0), True),
                ((4, 5, 6), None, False), ((7,), 0, True), ((3, 0, 2), 1, False), ((3, 0, 2), 0, True)]


@pytest.mark.parametrize("shape,dim,keepdim", REDUCE_CASES)
@pytest.mark.parametrize("op", ["sum", "mean"])
def test_sum_mean(rng, op, shape, dim, keepdim):
    x = rng.standard_normal(shape).astype(np.float32)
    x = x.transpose(tuple(reversed(range(x.ndim)))).copy().transpose(tuple(reversed(range(x.ndim))))  # F order
    xs, xt = pair(x)
    if dim is None:
        ours, theirs = getattr(xs, op)(), getattr(xt, op)()
    else:
        ours, theirs = getattr(xs, op)(dim, keepdim=keepdim), getattr(xt, op)(dim, keepdim=keepdim)
    close(ours, theirs, rtol=1e-5)
    backward_both(ours, theirs, rng)
    close(xs.grad, xt.grad, rtol=1e-6)


@pytest.mark.parametrize("shape,dim,keepdim", [((4, 5, 6), 1, False), ((4, 5, 6), -1, True), ((9,), 0, False),
                                               ((3, 1), 1, True)])
@pytest.mark.parametrize("op", ["max", "min"])
def test_max_min_over_a_dim_with_ties_and_nan(rng, op, shape, dim, keepdim):
    x = rng.integers(-2, 3, shape).astype(np.float32)  # many ties: the first index wins, as torch
    x.reshape(-1)[-1] = np.nan
    xs, xt = pair(x)
    (ours, idx), (theirs, tidx) = getattr(xs, op)(dim, keepdim=keepdim), getattr(xt, op)(dim, keepdim=keepdim)
    close(ours, theirs, rtol=0, atol=0)
    np.testing.assert_array_equal(idx.numpy(), tidx.numpy())
    backward_both(ours, theirs, rng)
    close(xs.grad, xt.grad, rtol=0, atol=0)


@pytest.mark.parametrize("op", ["max", "min"])
def test_max_min_over_everything_share_ties(rng, op):
    x = rng.integers(-1, 2, (5, 7)).astype(np.float32)
    xs, xt = pair(x)
    ours, theirs = getattr(xs, op)(), getattr(xt, op)()
    close(ours, theirs, rtol=0, atol=0)
    ours.backward()
    theirs.backward()
    close(xs.grad, xt.grad)


@pytest.mark.parametrize("length,kernel,stride,padding,dilation,ceil_mode", [
    (31, 3, 2, 1, 1, False), (31, 3, 2, 1, 2, True), (10, 3, 2, 1, 2, True), (1, 3, 2, 1, 1, True),
    (17, 17, 17, 0, 1, False), (8, 2, 1, 1, 3, False)])
def test_max_pool1d(rng, length, kernel, stride, padding, dilation, ceil_mode):
    x = rng.standard_normal((2, 3, length)).astype(np.float32)
    x[0, 0, length // 2] = np.nan
    xs, xt = pair(x[:, :, ::-1])  # negative strides
    opts = dict(stride=stride, padding=padding, dilation=dilation, ceil_mode=ceil_mode, return_indices=True)
    (ours, idx), (theirs, tidx) = F.max_pool1d(xs, kernel, **opts), TF.max_pool1d(xt, kernel, **opts)
    close(ours, theirs, rtol=0, atol=0)
    np.testing.assert_array_equal(idx.numpy(), tidx.numpy())
    backward_both(ours, theirs, rng)
    close(xs.grad, xt.grad, rtol=1e-6)


@pytest.mark.parametrize("length,out", [(23, 1), (24, 4), (23, 5), (5, 5)])
def test_adaptive_max_pool1d(rng, length, out):
    xs, xt = pair(rng.standard_normal((3, 4, length)).astype(np.float32))
    ours, theirs = F.adaptive_max_pool1d(xs, out), TF.adaptive_max_pool1d(xt, out)
    close(ours, theirs, rtol=0, atol=0)
    backward_both(ours, theirs, rng)
    close(xs.grad, xt.grad, rtol=0, atol=0)


@pytest.mark.parametrize("length,kernel,stride,padding,ceil_mode,include_pad", [
    (31, 3, 2, 1, False, True), (31, 4, 3, 2, True, False), (7, 7, 1, 3, True, True), (5, 2, 2, 0, True, False),
    (1, 1, 1, 0, False, True)])
def test_avg_pool1d(rng, length, kernel, stride, padding, ceil_mode, include_pad):
    xs, xt = pair(rng.standard_normal((2, 5, length)).astype(np.float32))
    opts = dict(stride=stride, padding=padding, ceil_mode=ceil_mode, count_include_pad=include_pad)
    ours, theirs = F.avg_pool1d(xs, kernel, **opts), TF.avg_pool1d(xt, kernel, **opts)
    close(ours, theirs, rtol=1e-6)
    backward_both(ours, theirs, rng)
    close(xs.grad, xt.grad, rtol=1e-6)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weights", ["none", "class", "row", "pos_class", "pos_row", "both"])
def test_bce_with_logits(rng, reduction, weights):
    x = rng.standard_normal((5, 7)).astype(np.float32) * 4
    x[0, 0], x[1, 1] = 60.0, -60.0  # saturated logits: stable, as torch
    t = rng.random((5, 7)).astype(np.float32)
    w = {"class": (7,), "row": (5, 1), "both": (7,)}.get(weights)
    pw = {"pos_class": (7,), "pos_row": (5, 1), "both": (1, 7)}.get(weights)
    w = None if w is None else rng.random(w).astype(np.float32) + np.float32(0.5)
    pw = None if pw is None else rng.random(pw).astype(np.float32) * 3
    (xs, xt), (ts, tt) = pair(x), pair(t)
    ours = F.binary_cross_entropy_with_logits(xs, ts, None if w is None else sk.tensor(w), reduction,
                                              None if pw is None else sk.tensor(pw))
    theirs = TF.binary_cross_entropy_with_logits(xt, tt, None if w is None else torch.tensor(w),
                                                 pos_weight=None if pw is None else torch.tensor(pw),
                                                 reduction=reduction)
    close(ours, theirs, rtol=2e-6, atol=1e-6)
    backward_both(ours, theirs, rng)
    close(xs.grad, xt.grad, rtol=1e-5, atol=1e-7)
    close(ts.grad, tt.grad, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("sx,st", [((6, 5), (6, 5)), ((6, 1), (6, 5)), ((5,), (3, 5)), ((0, 3), (0, 3))])
def test_mse_loss_broadcasting(rng, reduction, sx, st):
    (xs, xt), (ts, tt) = pair(rng.standard_normal(sx).astype(np.float32)), pair(rng.standard_normal(st).astype(np.float32))
    with pytest.warns(UserWarning) if sx != st else np.errstate():
        theirs = TF.mse_loss(xt, tt, reduction=reduction)
    ours = F.mse_loss(xs, ts, reduction)
    close(ours, theirs, rtol=2e-6)
    if theirs.numel():
        backward_both(ours, theirs, rng)
        close(xs.grad, xt.grad, rtol=1e-5)
        close(ts.grad, tt.grad, rtol=1e-5)
