"""sk.nn.RNN / LSTM / GRU and the cells against torch.nn: outputs, final states and every gradient (input,
initial states, all weights and biases), state-dict interchange, variable lengths, errors.

Tolerance: float32 through up to 3 layers x 7 steps. Our exp/tanh/sigmoid are within 2 ulp of libm and the
GEMMs sum in another order than oneDNN, so each step adds errors of a few 1e-7 relative; the observed
differences are ~1e-7 on outputs and ~1e-6 on weight gradients (sums over T*B rows). 2e-5 absolute / 1e-4
relative on values, 2e-4 absolute on gradients, is an order of magnitude above that and orders below any
real defect (a wrong gate, a missed bias or a misplaced padded step moves results by ~1e-2 or more).
"""
import numpy as np
import pytest

import seqkernels as sk

torch = pytest.importorskip("torch")

ATOL, RTOL, GRAD_ATOL = 2e-5, 1e-4, 2e-4
CLASSES = {"RNN": (sk.nn.RNN, torch.nn.RNN), "LSTM": (sk.nn.LSTM, torch.nn.LSTM), "GRU": (sk.nn.GRU, torch.nn.GRU)}


def make_pair(kind, *args, **kwargs):
    ours_cls, torch_cls = CLASSES[kind]
    ref = torch_cls(*args, **kwargs)
    ours = ours_cls(*args, **kwargs)
    ours.load_state_dict({k: v.detach().numpy() for k, v in ref.state_dict().items()})
    return ours, ref


def run_torch(ref, x, hx, lengths, batch_first, seeds):
    xt = torch.tensor(x, requires_grad=True)
    hxt = None if hx is None else tuple(torch.tensor(h, requires_grad=True) for h in hx)
    inp = xt
    if lengths is not None:
        inp = torch.nn.utils.rnn.pack_padded_sequence(xt, torch.tensor(lengths), batch_first=batch_first,
                                                      enforce_sorted=False)
    state_in = None if hxt is None else (hxt if len(hxt) == 2 else hxt[0])
    out, state = ref(inp, state_in)
    if lengths is not None:
        out, _ = torch.nn.utils.rnn.pad_packed_sequence(out, batch_first=batch_first,
                                                        total_length=x.shape[1 if batch_first else 0])
    states = state if isinstance(state, tuple) else (state,)
    loss = (out * torch.tensor(seeds[0])).sum() + sum((s * torch.tensor(g)).sum() for s, g in zip(states, seeds[1:]))
    loss.backward()
    grads = {n: p.grad.numpy() for n, p in ref.named_parameters()}
    grads["input"] = xt.grad.numpy()
    for i, h in enumerate(hxt or ()):
        grads[f"hx{i}"] = h.grad.numpy()
    return [out.detach().numpy()] + [s.detach().numpy() for s in states], grads


def run_ours(ours, x, hx, lengths, seeds):
    xs = sk.tensor(x, requires_grad=True)
    hxs = None if hx is None else tuple(sk.tensor(h, requires_grad=True) for h in hx)
    state_in = None if hxs is None else (hxs if len(hxs) == 2 else hxs[0])
    out, state = ours(xs, state_in, lengths=lengths)
    states = state if isinstance(state, tuple) else (state,)
    loss = (out * sk.tensor(seeds[0])).sum()
    for s, g in zip(states, seeds[1:]):
        loss = loss + (s * sk.tensor(g)).sum()
    loss.backward()
    grads = {n: p.grad.numpy() for n, p in ours.named_parameters()}
    grads["input"] = xs.grad.numpy()
    for i, h in enumerate(hxs or ()):
        grads[f"hx{i}"] = h.grad.numpy()
    return [out.numpy()] + [s.numpy() for s in states], grads


CASES = [  # kind, input, hidden, layers, bidirectional, batch_first, T, B, lengths, initial state, extra kwargs
    ("LSTM", 6, 11, 1, False, False, 7, 4, None, True, {}),
    ("LSTM", 5, 9, 2, True, False, 7, 5, [7, 1, 3, 7, 2], True, {}),        # full length and length 1
    ("LSTM", 4, 10, 3, True, True, 6, 3, [2, 6, 4], False, {}),
    ("GRU", 6, 13, 1, True, False, 5, 4, [5, 3, 1, 4], True, {}),
    ("GRU", 3, 7, 2, False, True, 6, 2, None, True, {"bias": False}),
    ("RNN", 5, 12, 2, True, True, 7, 3, [7, 4, 1], True, {}),
    ("RNN", 5, 6, 1, False, False, 4, 3, None, True, {"nonlinearity": "relu"}),
    ("LSTM", 3, 5, 1, True, False, 1, 1, None, True, {}),                     # sequence length 1, batch 1
    ("GRU", 7, 16, 1, False, False, 1, 1, [1], False, {}),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[0]}-L{c[3]}-bi{int(c[4])}-bf{int(c[5])}-T{c[6]}")
def test_layer_matches_torch(case):
    kind, I, H, L, bi, bf, T, B, lengths, with_hx, kw = case
    rng = np.random.default_rng(CASES.index(case))
    torch.manual_seed(CASES.index(case))
    ours, ref = make_pair(kind, I, H, num_layers=L, bidirectional=bi, batch_first=bf, **kw)
    D = 2 if bi else 1
    x = rng.standard_normal((B, T, I) if bf else (T, B, I)).astype(np.float32)
    n_states = 2 if kind == "LSTM" else 1
    hx = tuple(rng.standard_normal((L * D, B, H)).astype(np.float32) for _ in range(n_states)) if with_hx else None
    seeds = [rng.standard_normal(x.shape[:2] + (D * H,)).astype(np.float32)]
    seeds += [rng.standard_normal((L * D, B, H)).astype(np.float32) for _ in range(n_states)]
    lengths = None if lengths is None else np.array(lengths)
    ref_vals, ref_grads = run_torch(ref, x, hx, lengths, bf, seeds)
    vals, grads = run_ours(ours, x, hx, lengths, seeds)
    for name, got, want in zip(["output", "h_n", "c_n"], vals, ref_vals):
        np.testing.assert_allclose(got, want, atol=ATOL, rtol=RTOL, err_msg=name)
    assert set(grads) == set(ref_grads)
    for name in ref_grads:
        np.testing.assert_allclose(grads[name], ref_grads[name], atol=GRAD_ATOL, rtol=RTOL, err_msg=name)


def test_padded_steps_output_zeros_and_hold_the_state():
    ours = sk.nn.GRU(3, 4, bidirectional=True)
    x = np.random.default_rng(0).standard_normal((5, 2, 3)).astype(np.float32)
    out, h_n = ours(sk.tensor(x), lengths=[2, 5])
    assert np.all(out.numpy()[2:, 0] == 0.0)
    short, h_short = ours(sk.tensor(x[:2, :1]))  # the first sequence alone, cut to its length
    np.testing.assert_allclose(out.numpy()[:2, :1], short.numpy(), atol=1e-6)
    np.testing.assert_allclose(h_n.numpy()[:, :1], h_short.numpy(), atol=1e-6)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_cells_match_torch(kind):
    ours_cls, torch_cls = {"RNN": (sk.nn.RNNCell, torch.nn.RNNCell), "LSTM": (sk.nn.LSTMCell, torch.nn.LSTMCell),
                           "GRU": (sk.nn.GRUCell, torch.nn.GRUCell)}[kind]
    torch.manual_seed(3)
    ref, ours = torch_cls(5, 9), ours_cls(5, 9)
    ours.load_state_dict({k: v.detach().numpy() for k, v in ref.state_dict().items()})
    rng = np.random.default_rng(3)
    x = rng.standard_normal((4, 5)).astype(np.float32)
    states = [rng.standard_normal((4, 9)).astype(np.float32) for _ in range(2 if kind == "LSTM" else 1)]
    xt, st = torch.tensor(x, requires_grad=True), [torch.tensor(s, requires_grad=True) for s in states]
    xs, ss = sk.tensor(x, requires_grad=True), [sk.tensor(s, requires_grad=True) for s in states]
    want = ref(xt, tuple(st) if kind == "LSTM" else st[0])
    got = ours(xs, tuple(ss) if kind == "LSTM" else ss[0])
    want, got = (want, got) if kind == "LSTM" else ((want,), (got,))
    sum(w.sum() * (i + 1) for i, w in enumerate(want)).backward()
    loss = got[0].sum()
    if kind == "LSTM":
        loss = loss + got[1].sum() * 2
    loss.backward()
    for w, g in zip(want, got):
        np.testing.assert_allclose(g.numpy(), w.detach().numpy(), atol=ATOL, rtol=RTOL)
    np.testing.assert_allclose(xs.grad.numpy(), xt.grad.numpy(), atol=GRAD_ATOL, rtol=RTOL)
    for s_ours, s_ref in zip(ss, st):
        np.testing.assert_allclose(s_ours.grad.numpy(), s_ref.grad.numpy(), atol=GRAD_ATOL, rtol=RTOL)
    for (name, p), (_, q) in zip(ours.named_parameters(), ref.named_parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), atol=GRAD_ATOL, rtol=RTOL, err_msg=name)
    unbatched = ours(sk.tensor(x[0]))
    first = unbatched[0] if kind == "LSTM" else unbatched
    assert first.shape == (9,)


def test_unbatched_input_matches_batch_of_one():
    ours = sk.nn.LSTM(3, 4, num_layers=2)
    x = np.random.default_rng(1).standard_normal((5, 3)).astype(np.float32)
    out, (h, c) = ours(sk.tensor(x))
    out1, (h1, c1) = ours(sk.tensor(x[:, None]))
    assert out.shape == (5, 4) and h.shape == (2, 4)
    np.testing.assert_array_equal(out.numpy(), out1.numpy()[:, 0])
    np.testing.assert_array_equal(c.numpy(), c1.numpy()[:, 0])


def test_state_dict_interchange_and_init():
    sk.manual_seed(0)
    ours = sk.nn.GRU(4, 6, num_layers=2, bidirectional=True)
    ref = torch.nn.GRU(4, 6, num_layers=2, bidirectional=True)
    assert list(ours.state_dict()) == list(ref.state_dict())
    for (name, p), (_, q) in zip(ours.named_parameters(), ref.named_parameters()):
        assert p.shape == tuple(q.shape), name
        assert np.abs(p.numpy()).max() <= 1 / np.sqrt(6) and p.numpy().std() > 0.1, name  # U(-1/sqrt(H), 1/sqrt(H))
    ref.load_state_dict({k: torch.tensor(v) for k, v in ours.state_dict().items()})
    x = np.random.default_rng(2).standard_normal((3, 2, 4)).astype(np.float32)
    np.testing.assert_allclose(ours(sk.tensor(x))[0].numpy(), ref(torch.tensor(x))[0].detach().numpy(), atol=ATOL)


def test_no_graph_without_grad():
    ours = sk.nn.LSTM(3, 4)
    with sk.no_grad():
        out, _ = ours(sk.tensor(np.ones((2, 1, 3), np.float32)))
    assert out.grad_fn is None


def test_inter_layer_dropout_is_seeded_and_off_in_eval():
    if not hasattr(sk.functional, "dropout"):
        pytest.skip("seqkernels.functional.dropout is not in this build yet")
    ours = sk.nn.LSTM(3, 8, num_layers=2, dropout=0.5)
    x = sk.tensor(np.random.default_rng(4).standard_normal((4, 2, 3)).astype(np.float32))
    sk.manual_seed(7)
    a = ours(x)[0].numpy()
    sk.manual_seed(7)
    b = ours(x)[0].numpy()
    np.testing.assert_array_equal(a, b)
    ours.eval()
    c = ours(x)[0].numpy()
    assert not np.allclose(a, c)
    ref = torch.nn.LSTM(3, 8, num_layers=2, dropout=0.5).eval()
    ref.load_state_dict({k: torch.tensor(v) for k, v in ours.state_dict().items()})
    np.testing.assert_allclose(c, ref(torch.tensor(x.numpy()))[0].detach().numpy(), atol=ATOL)


def test_errors():
    lstm = sk.nn.LSTM(3, 4, num_layers=2)
    x = sk.tensor(np.zeros((5, 2, 3), np.float32))
    with pytest.raises(ValueError, match="input_size"):
        lstm(sk.tensor(np.zeros((5, 2, 4), np.float32)))
    with pytest.raises(ValueError, match="3-D"):
        lstm(sk.tensor(np.zeros((5, 2, 3, 1), np.float32)))
    with pytest.raises(ValueError, match="lengths"):
        lstm(x, lengths=[6, 1])
    with pytest.raises(ValueError, match="lengths"):
        lstm(x, lengths=[0, 1])
    with pytest.raises(ValueError, match="lengths"):
        lstm(x, lengths=[1, 1, 1])
    with pytest.raises(TypeError, match="lengths"):
        lstm(x, lengths=[1.0, 2.0])
    with pytest.raises(ValueError, match="h_0"):
        lstm(x, (sk.tensor(np.zeros((1, 2, 4), np.float32)), sk.tensor(np.zeros((2, 2, 4), np.float32))))
    with pytest.raises(TypeError, match="hx"):
        lstm(x, sk.tensor(np.zeros((2, 2, 4), np.float32)))
    with pytest.raises(ValueError, match="hx"):
        sk.nn.GRU(3, 4)(x, sk.tensor(np.zeros((1, 3, 4), np.float32)))
    with pytest.raises(ValueError, match="nonlinearity"):
        sk.nn.RNN(3, 4, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="dropout"):
        sk.nn.GRU(3, 4, dropout=1.5)
    with pytest.raises(ValueError, match="hidden_size"):
        sk.nn.LSTM(3, 0)
    with pytest.raises(TypeError, match="num_layers"):
        sk.nn.LSTM(3, 4, num_layers=1.5)
    with pytest.raises(ValueError, match="input"):
        sk.nn.GRUCell(3, 4)(sk.tensor(np.zeros((2, 5), np.float32)))
    with pytest.raises(ValueError, match="hx"):
        sk.nn.GRUCell(3, 4)(sk.tensor(np.zeros((2, 3), np.float32)), sk.tensor(np.zeros((3, 4), np.float32)))
