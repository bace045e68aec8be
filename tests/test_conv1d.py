"""conv1d kernels (_C.conv1d_forward / _C.conv1d_backward) against a float64 numpy reference of the convolution and
its gradients (itself checked against torch.nn.functional.conv1d and autograd where torch is installed), on
awkward configurations, with both thread counts; and every error case."""
import numpy as np
import pytest

from seqkernels import _C


U = 2.0 ** -24  # float32 unit roundoff


def conv1d_float64(x, w, b, dy, stride, padding, dilation, groups):
    """(y, dx, dw, db) in float64, written from the definition: tap k of output t reads the zero-padded input at
    t * stride + k * dilation; dx scatters dy back through the same taps; groups as independent channel blocks."""
    x, w, dy = (np.asarray(a, np.float64) for a in (x, w, dy))
    N, C, L = x.shape
    O, Cg, K = w.shape
    Og, lout = O // groups, dy.shape[2]
    xp = np.pad(x, ((0, 0), (0, 0), padding))
    y = np.zeros((N, O, lout)) + (0.0 if b is None else np.asarray(b, np.float64)[:, None])
    dxp, dw = np.zeros_like(xp), np.zeros(w.shape)
    for g in range(groups):
        cs, os_ = slice(g * Cg, (g + 1) * Cg), slice(g * Og, (g + 1) * Og)
        for k in range(K):
            taps = slice(k * dilation, k * dilation + stride * (lout - 1) + 1, stride)
            y[:, os_] += np.einsum("nct,oc->not", xp[:, cs, taps], w[os_, :, k])
            dxp[:, cs, taps] += np.einsum("not,oc->nct", dy[:, os_], w[os_, :, k])
            dw[os_, :, k] = np.einsum("not,nct->oc", dy[:, os_], xp[:, cs, taps])
    db = None if b is None else dy.sum((0, 2))
    return [y, dxp[:, :, padding[0]:padding[0] + L], dw, db]


def reference(x, w, b, dy, stride, padding, dilation, groups):
    """float64 results (y, dx, dw, db) and, computed the same way on |x|, |w|, |dy|, the magnitudes sum |terms|
    that bound each result's float32 rounding error."""
    return (conv1d_float64(x, w, b, dy, stride, padding, dilation, groups),
            conv1d_float64(np.abs(x), np.abs(w), None if b is None else np.abs(b), np.abs(dy), stride, padding,
                           dilation, groups))


def assert_close(got, want, magnitude, terms, what):
    # A float32 sum of `terms` products is within gamma ~ terms * u of the exact sum of their magnitudes; doubled
    # for the rounding of the products themselves and the bias add, plus a floor for exact zeros.
    bound = 2.0 * (terms + 2) * U * magnitude + 1e-30
    err = np.abs(got.astype(np.float64) - want)
    assert got.shape == want.shape, what
    assert np.all(err <= bound), f"{what}: max error {err.max():.3g}, worst ratio to bound {(err / bound).max():.3g}"


# (N, C_in, L, C_out, K, stride, (pad_left, pad_right), dilation, groups, bias)
CONFIGS = {
    "basic": (2, 3, 10, 4, 3, 1, (1, 1), 1, 1, True),
    "L1_K1": (3, 5, 1, 7, 1, 1, (0, 0), 1, 1, True),
    "L1_K3_pad1": (2, 5, 1, 3, 3, 1, (1, 1), 1, 1, True),
    "K_gt_L_padded": (2, 4, 2, 3, 5, 1, (2, 2), 1, 1, True),
    "stride2": (2, 6, 17, 5, 3, 2, (1, 1), 1, 1, True),
    "stride3_dilation2": (3, 4, 23, 6, 3, 3, (2, 2), 2, 1, False),
    "dilation3": (2, 5, 19, 4, 3, 1, (0, 0), 3, 1, True),
    "depthwise": (2, 8, 13, 8, 3, 1, (1, 1), 1, 8, True),
    "depthwise_multiplier": (2, 4, 11, 8, 5, 1, (2, 2), 1, 4, True),
    "depthwise_strided_dilated": (3, 6, 31, 12, 3, 2, (2, 1), 2, 6, True),
    "depthwise_large": (4, 64, 300, 64, 7, 1, (3, 3), 1, 64, False),  # rows split over threads
    "depthwise_K_gt_L": (2, 3, 2, 3, 5, 1, (2, 2), 1, 3, True),  # no output has all taps inside
    "groups2": (2, 6, 15, 10, 3, 1, (1, 1), 1, 2, False),
    "odd_channels_asymmetric_pad": (3, 17, 37, 19, 4, 1, (1, 2), 1, 1, True),
    "batch1": (1, 33, 50, 31, 5, 1, (2, 2), 1, 1, True),
    "K1_pure_gemm": (4, 64, 31, 48, 1, 1, (0, 0), 1, 1, True),
    "K1_stride2": (3, 9, 20, 5, 1, 2, (0, 0), 1, 1, True),
    "textcnn": (5, 64, 50, 100, 4, 1, (0, 0), 1, 1, True),
    # enough work (> 2M multiply-adds) for two threads: items split 1 + 2, partial dw sums reduced
    "batch3_uneven_split": (3, 64, 200, 48, 7, 1, (3, 3), 1, 1, True),
    # stride 1 (the text-CNN case): prime lengths and channel counts, output lengths that fill whole GEMM column
    # panels or leave one column over, 'same' padding with odd channels, three groups, padding as wide as K
    "primes": (3, 13, 97, 11, 5, 1, (0, 0), 1, 1, True),
    "same_pad_odd_channels": (2, 17, 41, 23, 4, 1, (1, 2), 1, 1, False),
    "whole_panels": (2, 8, 98, 9, 3, 1, (0, 0), 1, 1, True),  # L_out = 96: whole 16-, 24- and 32-wide panels
    "one_column_over": (2, 9, 99, 8, 3, 1, (0, 0), 1, 1, True),  # L_out = 97
    "groups3": (4, 12, 29, 9, 3, 1, (2, 2), 1, 3, True),
    "pad_as_wide_as_K": (2, 5, 12, 4, 2, 1, (2, 2), 1, 1, True),
    "textcnn_k5": (32, 64, 150, 64, 5, 1, (0, 0), 1, 1, True),  # the seqkernels train defaults
}


def check_against_reference(rng, name, x_layout=lambda a: a, dy_layout=lambda a: a):
    """Runs CONFIGS[name] with x and dy passed through the layout functions and checks y and every gradient
    against the float64 reference; returns (y, dx)."""
    N, C, L, O, K, stride, padding, dilation, groups, has_bias = CONFIGS[name]
    x = rng.standard_normal((N, C, L), dtype=np.float32)
    w = rng.standard_normal((O, C // groups, K), dtype=np.float32)
    b = rng.standard_normal(O, dtype=np.float32) if has_bias else None
    opts = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    y = _C.conv1d_forward(x_layout(x), w, b, **opts)
    dy = rng.standard_normal(y.shape, dtype=np.float32)
    dx, dw, db = _C.conv1d_backward(x_layout(x), w, dy_layout(dy), **opts, bias_grad=has_bias)
    (ry, rdx, rdw, rdb), (my, mdx, mdw, mdb) = reference(x, w, b, dy, stride, padding, dilation, groups)
    assert_close(y, ry, my, C // groups * K, "y")
    assert_close(dx, rdx, mdx, O // groups * K, "dx")
    assert_close(dw, rdw, mdw, N * y.shape[2], "dw")
    if has_bias:
        assert_close(db, rdb, mdb, N * y.shape[2], "db")
    else:
        assert db is None
    return y, dx


@pytest.mark.parametrize("name", list(CONFIGS))
def test_conv1d_matches_reference(rng, threads, name):
    check_against_reference(rng, name)


@pytest.mark.parametrize("name", list(CONFIGS))
def test_float64_reference_matches_torch(rng, name):
    torch = pytest.importorskip("torch")
    N, C, L, O, K, stride, padding, dilation, groups, has_bias = CONFIGS[name]
    x = rng.standard_normal((N, C, L))
    w = rng.standard_normal((O, C // groups, K))
    b = rng.standard_normal(O) if has_bias else None
    xt, wt = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    bt = None if b is None else torch.tensor(b, requires_grad=True)
    yt = torch.nn.functional.conv1d(torch.nn.functional.pad(xt, padding), wt, bt, stride=stride, dilation=dilation,
                                    groups=groups)
    dy = rng.standard_normal(yt.shape)
    yt.backward(torch.tensor(dy))
    want = [yt.detach().numpy(), xt.grad.numpy(), wt.grad.numpy(), None if bt is None else bt.grad.numpy()]
    for got, ref in zip(conv1d_float64(x, w, b, dy, stride, padding, dilation, groups), want):
        if ref is not None:
            np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-12)


def channels_last(a):
    """The same (N, C, L) values stored channels last: the transpose of a C-contiguous (N, L, C) array."""
    return np.ascontiguousarray(a.transpose(0, 2, 1)).transpose(0, 2, 1)


def stored_channels_last(a):
    return not a.flags.c_contiguous and a.transpose(0, 2, 1).flags.c_contiguous


@pytest.mark.parametrize("x_last,dy_last", [(True, True), (True, False), (False, True)])
@pytest.mark.parametrize("name", list(CONFIGS))
def test_channels_last_inputs_match_reference(rng, threads, name, x_last, dy_last):
    # Inputs stored channels last (torch code's embedding(ids).transpose(1, 2), Keras' layout) are read in place
    # on the stride-1 path; y and dx then keep the input's layout, as torch keeps a convolution's memory format.
    # Every other configuration reads them through a copy. The values are the channels-first ones either way.
    N, C, L, O, K, stride, padding, dilation, groups, has_bias = CONFIGS[name]
    y, dx = check_against_reference(rng, name, channels_last if x_last else (lambda a: a),
                                    channels_last if dy_last else (lambda a: a))
    windowed = stride == 1 and dilation == 1 and groups == 1 and K >= 2
    assert stored_channels_last(y) == (windowed and x_last and y.shape[1] > 1 and y.shape[2] > 1)
    assert stored_channels_last(dx) == (windowed and x_last and C > 1 and L > 1)


def test_infinite_weight_reaches_only_the_gradients_it_enters(rng, threads):
    # dx[n, c, i] sums w[o, c, k] * dy[n, o, i - k] over the t = i - k inside [0, L_out): an infinite w[0, 1, 0]
    # enters dx[:, 1, i] for i < L_out only. The last K - 1 positions must stay finite (a dx computed as the
    # correlation of a zero-padded dy would make them inf * 0 = NaN, terms the gradient does not have).
    x = rng.standard_normal((4, 3, 40), dtype=np.float32)
    w = rng.standard_normal((5, 3, 3), dtype=np.float32)
    w[0, 1, 0] = np.inf
    dy = rng.standard_normal((4, 5, 38), dtype=np.float32)
    for layout in (lambda a: a, channels_last):
        dx, dw, _ = _C.conv1d_backward(layout(x), w, layout(dy))
        assert np.all(np.isinf(dx[:, 1, :38])) and np.all(np.isfinite(dx[:, 1, 38:]))
        assert np.all(np.isfinite(dx[:, [0, 2]])) and np.all(np.isfinite(dw))
    y = _C.conv1d_forward(x, w)
    assert np.all(np.isinf(y[:, 0])) and np.all(np.isfinite(y[:, 1:]))


def test_non_finite_input_stays_inside_its_item(rng, threads):
    # The stride-1 path multiplies every item's windows in one product over the stacked batch, so windows that
    # straddle two items are computed too (and dropped): an inf at the end of item 0 must reach only item 0's
    # last outputs and the weight gradient, never item 1 or dx.
    x = rng.standard_normal((3, 4, 30), dtype=np.float32)
    x[0, 2, -1] = np.inf
    x[1, 1, 0] = np.nan
    w = rng.standard_normal((6, 4, 5), dtype=np.float32)
    y = _C.conv1d_forward(x, w)
    assert np.all(np.isfinite(y[0, :, :-1])) and not np.any(np.isfinite(y[0, :, -1]))
    assert not np.any(np.isfinite(y[1, :, 0])) and np.all(np.isfinite(y[1, :, 1:])) and np.all(np.isfinite(y[2]))
    dx, dw, db = _C.conv1d_backward(x, w, rng.standard_normal(y.shape, dtype=np.float32))
    assert np.all(np.isfinite(dx)) and np.all(np.isfinite(db)) and not np.all(np.isfinite(dw))


def test_backward_flags_skip_gradients_and_match(rng):
    x = rng.standard_normal((4, 6, 20), dtype=np.float32)
    w = rng.standard_normal((5, 6, 3), dtype=np.float32)
    dy = rng.standard_normal((4, 5, 18), dtype=np.float32)
    full = _C.conv1d_backward(x, w, dy)
    only_dx = _C.conv1d_backward(x, w, dy, weight_grad=False, bias_grad=False)
    only_dw = _C.conv1d_backward(x, w, dy, input_grad=False, bias_grad=False)
    assert only_dx[1] is None and only_dx[2] is None and only_dw[0] is None and only_dw[2] is None
    np.testing.assert_array_equal(only_dx[0], full[0])
    np.testing.assert_array_equal(only_dw[1], full[1])


def test_backward_is_deterministic(rng, threads):
    x = rng.standard_normal((7, 64, 100), dtype=np.float32)  # enough work to use two threads
    w = rng.standard_normal((48, 64, 5), dtype=np.float32)
    dy = rng.standard_normal((7, 48, 96), dtype=np.float32)
    first = _C.conv1d_backward(x, w, dy)
    for _ in range(3):
        for a, b in zip(first, _C.conv1d_backward(x, w, dy)):
            np.testing.assert_array_equal(a, b)


def test_empty_batch(rng):
    x = np.zeros((0, 3, 8), np.float32)
    w = rng.standard_normal((4, 3, 3), dtype=np.float32)
    assert _C.conv1d_forward(x, w).shape == (0, 4, 6)
    dx, dw, db = _C.conv1d_backward(x, w, np.zeros((0, 4, 6), np.float32))
    assert dx.shape == (0, 3, 8)
    np.testing.assert_array_equal(dw, 0)
    np.testing.assert_array_equal(db, 0)


def test_non_contiguous_input_is_read_correctly(rng):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((3, 20, 4), dtype=np.float32).transpose(0, 2, 1)  # (3, 4, 20), not C-contiguous
    w = rng.standard_normal((2, 4, 3), dtype=np.float32)
    want = torch.nn.functional.conv1d(torch.tensor(np.ascontiguousarray(x)), torch.tensor(w)).numpy()
    np.testing.assert_allclose(_C.conv1d_forward(x, w), want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kwargs,error,match", [
    (dict(x=np.zeros((2, 3, 8))), TypeError, "input.*float32.*float64"),
    (dict(w=np.zeros((4, 3, 3), np.int32)), TypeError, "weight.*float32"),
    (dict(x=np.zeros((3, 8), np.float32)), ValueError, "input.*3-D"),
    (dict(w=np.zeros((4, 3), np.float32)), ValueError, "weight.*3-D"),
    (dict(b=np.zeros(5, np.float32)), ValueError, "bias.*shape"),
    (dict(stride=0), ValueError, "stride"),
    (dict(dilation=0), ValueError, "dilation"),
    (dict(padding=(-1, 0)), ValueError, "padding"),
    (dict(groups=0), ValueError, "groups"),
    (dict(groups=2), ValueError, "divisible by groups"),
    (dict(w=np.zeros((4, 2, 3), np.float32)), ValueError, "input channels"),
    (dict(w=np.zeros((4, 3, 0), np.float32)), ValueError, "kernel size"),
    (dict(w=np.zeros((4, 3, 9), np.float32)), ValueError, "shorter than the dilated kernel"),
    (dict(dilation=4), ValueError, "shorter than the dilated kernel"),
])
def test_forward_errors(kwargs, error, match):
    x = kwargs.get("x", np.zeros((2, 3, 8), np.float32))
    w = kwargs.get("w", np.zeros((4, 3, 3), np.float32))
    b = kwargs.get("b", None)
    opts = {k: v for k, v in kwargs.items() if k in ("stride", "padding", "dilation", "groups")}
    with pytest.raises(error, match=match):
        _C.conv1d_forward(x, w, b, **opts)


def test_backward_grad_output_shape_error():
    x, w = np.zeros((2, 3, 8), np.float32), np.zeros((4, 3, 3), np.float32)
    with pytest.raises(ValueError, match="grad_output.*shape"):
        _C.conv1d_backward(x, w, np.zeros((2, 4, 7), np.float32))
    with pytest.raises(TypeError, match="grad_output"):
        _C.conv1d_backward(x, w, np.zeros((2, 4, 6)))
