"""_C.rnn_forward / _C.rnn_backward (one direction of one layer) against torch.nn.RNN/LSTM/GRU.

Each case builds a one-layer bidirectional torch module, runs both of its directions through our kernel
(writing the two halves of one output, accumulating dx), and compares the outputs, final states and every
gradient from a random upstream gradient. Tolerance: float32 through up to T = 9 recurrent steps; our
exp/tanh/sigmoid are within 2 ulp of libm and the GEMMs sum in a different order than oneDNN, so errors of a
few 1e-7 relative per step grow mildly with T; 2e-5 absolute + 1e-4 relative is two orders above what we see
and far below any real bug (a wrong gate or a missing term is O(0.1)).
"""
import numpy as np
import pytest

from seqkernels import _C

torch = pytest.importorskip("torch")

MODES = {"RNN_TANH": (torch.nn.RNN, dict(nonlinearity="tanh")), "RNN_RELU": (torch.nn.RNN, dict(nonlinearity="relu")),
         "LSTM": (torch.nn.LSTM, {}), "GRU": (torch.nn.GRU, {})}
ATOL, RTOL = 2e-5, 1e-4


def torch_reference(mode, x, lengths, h0, c0, dy, dh_n, dc_n, module, batch_first):
    """Outputs and gradients of the torch module on x (time-major or batch-first numpy)."""
    xt = torch.tensor(x, requires_grad=True)
    h0t = torch.tensor(h0, requires_grad=True)
    c0t = torch.tensor(c0, requires_grad=True) if mode == "LSTM" else None
    inp = xt
    if lengths is not None:
        inp = torch.nn.utils.rnn.pack_padded_sequence(xt, torch.tensor(lengths), batch_first=batch_first,
                                                      enforce_sorted=False)
    out, state = module(inp, (h0t, c0t) if mode == "LSTM" else h0t)
    if lengths is not None:
        out, _ = torch.nn.utils.rnn.pad_packed_sequence(out, batch_first=batch_first,
                                                        total_length=x.shape[1 if batch_first else 0])
    h_n, c_n = state if mode == "LSTM" else (state, None)
    loss = (out * torch.tensor(dy)).sum() + (h_n * torch.tensor(dh_n)).sum()
    if mode == "LSTM":
        loss = loss + (c_n * torch.tensor(dc_n)).sum()
    loss.backward()
    grads = {name: p.grad.numpy() for name, p in module.named_parameters()}
    grads["x"] = xt.grad.numpy()
    grads["h0"] = h0t.grad.numpy()
    if mode == "LSTM":
        grads["c0"] = c0t.grad.numpy()
    return out.detach().numpy(), h_n.detach().numpy(), None if c_n is None else c_n.detach().numpy(), grads


def run_ours(mode, x, lengths, h0, c0, dy, dh_n, dc_n, params, batch_first, bias):
    H = h0.shape[2]
    y = np.empty(x.shape[:2] + (2 * H,), np.float32)
    h_n, c_n, grads = np.empty_like(h0), np.empty_like(h0), {}
    dx = None
    for d, suffix in enumerate(["", "_reverse"]):
        w = [params[f"{n}_l0{suffix}"] for n in ("weight_ih", "weight_hh")]
        b = [params[f"{n}_l0{suffix}"] for n in ("bias_ih", "bias_hh")] if bias else [None, None]
        _, h_n[d], cn, saved = _C.rnn_forward(mode, x, *w, *b, h0[d], c0[d] if mode == "LSTM" else None, lengths,
                                              batch_first=batch_first, reverse=d == 1, out=y, out_column=d * H)
        if mode == "LSTM":
            c_n[d] = cn
        g = _C.rnn_backward(mode, x, *w, saved, dy, dy_column=d * H, dh_n=dh_n[d],
                            dc_n=dc_n[d] if mode == "LSTM" else None, lengths=lengths, batch_first=batch_first,
                            reverse=d == 1, bias=bias, dx_accumulate=dx)
        dx = g[0]
        grads.setdefault("h0", np.empty_like(h0))[d] = g[1]
        if mode == "LSTM":
            grads.setdefault("c0", np.empty_like(h0))[d] = g[2]
        grads[f"weight_ih_l0{suffix}"], grads[f"weight_hh_l0{suffix}"] = g[3], g[4]
        if bias:
            grads[f"bias_ih_l0{suffix}"], grads[f"bias_hh_l0{suffix}"] = g[5], g[6]
    grads["x"] = dx
    return y, h_n, c_n if mode == "LSTM" else None, grads


CASES = [  # (T, B, I, H, lengths, batch_first, bias)
    (5, 3, 4, 7, None, False, True),
    (9, 4, 6, 13, [9, 1, 4, 9], False, True),       # full length, length 1, unsorted
    (6, 5, 3, 17, [2, 6, 6, 1, 3], True, True),     # batch_first with lengths
    (1, 1, 5, 3, None, True, True),                 # single step, batch 1 (the cell case)
    (4, 2, 8, 16, [3, 4], False, False),            # no bias, H a multiple of the SIMD width
]


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("case", CASES)
def test_layer_matches_torch(mode, case):
    T, B, I, H, lengths, batch_first, bias = case
    rng = np.random.default_rng(10 * CASES.index(case) + list(MODES).index(mode))
    cls, kw = MODES[mode]
    torch.manual_seed(0)
    module = cls(I, H, bias=bias, batch_first=batch_first, bidirectional=True, **kw)
    params = {n: p.detach().numpy().copy() for n, p in module.named_parameters()}
    shape = (B, T) if batch_first else (T, B)
    x = rng.standard_normal(shape + (I,)).astype(np.float32)
    h0, c0, dh_n, dc_n = (rng.standard_normal((2, B, H)).astype(np.float32) for _ in range(4))
    dy = rng.standard_normal(shape + (2 * H,)).astype(np.float32)
    lengths = None if lengths is None else np.array(lengths, np.int64)
    if lengths is not None:  # torch's pad_packed_sequence zero-fills padding: our dy there must not matter
        pad = np.arange(T)[None, :] >= lengths[:, None]
        (dy.transpose(1, 0, 2) if not batch_first else dy)[pad] = 1e3
    ref = torch_reference(mode, x, lengths, h0, c0, dy, dh_n, dc_n, module, batch_first)
    got = run_ours(mode, x, lengths, h0, c0, dy, dh_n, dc_n, params, batch_first, bias)
    for name, r, g in zip(["output", "h_n", "c_n"], ref[:3], got[:3]):
        if r is not None:
            np.testing.assert_allclose(g, r, atol=ATOL, rtol=RTOL, err_msg=name)
    assert set(ref[3]) == set(got[3])
    for name in ref[3]:
        np.testing.assert_allclose(got[3][name], ref[3][name], atol=ATOL * 10, rtol=RTOL, err_msg=name)


def test_inference_matches_training_forward():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((4, 3, 5)).astype(np.float32)
    w_ih, w_hh = rng.standard_normal((12, 5)).astype(np.float32), rng.standard_normal((12, 4)).astype(np.float32)
    y1, h1, _, saved = _C.rnn_forward("GRU", x, w_ih, w_hh, training=True)
    y2, h2, c2, none = _C.rnn_forward("GRU", x, w_ih, w_hh, training=False)
    assert none is None and c2 is None and saved.shape == (12, 20)
    np.testing.assert_array_equal(y1, y2)
    np.testing.assert_array_equal(h1, h2)


def test_saved_activations_reuse_dead_blocks_without_aliasing():
    # `saved` arrays of 1 MiB and more come from a block cache: a dead one's block serves the next call
    # of the same shape, never one that is still alive, and backward reads the right values either way.
    rng = np.random.default_rng(2)
    x = rng.standard_normal((32, 32, 16)).astype(np.float32)  # saved: 1024 rows x 6*64 floats = 1.5 MiB
    w_ih = (0.2 * rng.standard_normal((256, 16))).astype(np.float32)
    w_hh = (0.2 * rng.standard_normal((256, 64))).astype(np.float32)
    dy = rng.standard_normal((32, 32, 64)).astype(np.float32)
    first = _C.rnn_forward("LSTM", x, w_ih, w_hh)[3]
    want = _C.rnn_backward("LSTM", x, w_ih, w_hh, first, dy)
    second = _C.rnn_forward("LSTM", 2.0 * x, w_ih, w_hh)[3]
    assert not np.shares_memory(first, second)
    address = first.__array_interface__["data"][0]
    del first
    third = _C.rnn_forward("LSTM", x, w_ih, w_hh)[3]
    assert third.__array_interface__["data"][0] == address  # the dead block, reused
    view = third[::2]  # a view keeps the block alive after its base array is gone
    del third
    fourth = _C.rnn_forward("LSTM", x, w_ih, w_hh)[3]
    assert not np.shares_memory(view, fourth)
    for got, expected in zip(_C.rnn_backward("LSTM", x, w_ih, w_hh, fourth, dy), want):
        np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(view, fourth[::2])


def test_errors():
    x = np.zeros((4, 2, 3), np.float32)
    w_ih, w_hh = np.zeros((20, 3), np.float32), np.zeros((20, 5), np.float32)
    with pytest.raises(ValueError, match="mode"):
        _C.rnn_forward("lstm", x, w_ih, w_hh)
    with pytest.raises(TypeError, match="'x'"):
        _C.rnn_forward("LSTM", x.astype(np.float64), w_ih, w_hh)
    with pytest.raises(ValueError, match="'w_ih'"):
        _C.rnn_forward("LSTM", x, w_ih[:, :2], w_hh)
    with pytest.raises(ValueError, match="'w_hh'"):
        _C.rnn_forward("GRU", x, w_ih, w_hh)
    with pytest.raises(ValueError, match="lengths"):
        _C.rnn_forward("LSTM", x, w_ih, w_hh, lengths=np.array([5, 1]))
    with pytest.raises(ValueError, match="lengths"):
        _C.rnn_forward("LSTM", x, w_ih, w_hh, lengths=np.array([0, 1]))
    with pytest.raises(TypeError, match="lengths"):
        _C.rnn_forward("LSTM", x, w_ih, w_hh, lengths=np.array([1.0, 1.0]))
    with pytest.raises(ValueError, match="'h0'"):
        _C.rnn_forward("LSTM", x, w_ih, w_hh, h0=np.zeros((2, 4), np.float32))
    with pytest.raises(ValueError, match="'c0'"):
        _C.rnn_forward("RNN_TANH", x, w_ih[:5], w_hh[:5], c0=np.zeros((2, 5), np.float32))
    with pytest.raises(ValueError, match="'out'"):
        _C.rnn_forward("LSTM", x, w_ih, w_hh, out=np.zeros((4, 2, 8), np.float32), out_column=4)
    with pytest.raises(ValueError, match=">= 1"):
        _C.rnn_forward("LSTM", x[:0], w_ih, w_hh)
    _, _, _, saved = _C.rnn_forward("LSTM", x, w_ih, w_hh)
    with pytest.raises(ValueError, match="'saved'"):
        _C.rnn_backward("LSTM", x, w_ih, w_hh, saved[1:], np.zeros((4, 2, 5), np.float32))
    with pytest.raises(ValueError, match="'dy'"):
        _C.rnn_backward("LSTM", x, w_ih, w_hh, saved, np.zeros((4, 2, 4), np.float32))


def test_thread_blocks_agree_with_one_thread():
    """Each thread runs the recurrence for its own block of sequences: the split must not change results."""
    import seqkernels as sk
    rng = np.random.default_rng(5)
    T, B, I, H = 6, 7, 5, 9
    x = rng.standard_normal((T, B, I)).astype(np.float32)
    w_ih, w_hh = rng.standard_normal((4 * H, I)).astype(np.float32), rng.standard_normal((4 * H, H)).astype(np.float32)
    lengths = np.array([6, 1, 3, 6, 2, 5, 4])
    dy = rng.standard_normal((T, B, H)).astype(np.float32)
    results = []
    old = sk.get_num_threads()
    try:
        for threads in (1, 3):
            sk.set_num_threads(threads)
            y, h, c, saved = _C.rnn_forward("LSTM", x, w_ih, w_hh, lengths=lengths, reverse=True)
            results.append((y, h, c) + _C.rnn_backward("LSTM", x, w_ih, w_hh, saved, dy, lengths=lengths,
                                                       reverse=True, bias=False)[:5])
    finally:
        sk.set_num_threads(old)
    for one, many in zip(*results):
        np.testing.assert_allclose(many, one, rtol=1e-5, atol=1e-5)
