"""seqkernels.torch.nn modules and patch(): subclasses of torch's modules with the same parameters, state_dict
and init, outputs and gradients equal to torch's; torch.compile(fullgraph=True) of a model using every op."""
import copy

import pytest

torch = pytest.importorskip("torch")
skt = pytest.importorskip("seqkernels.torch")

from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence  # noqa: E402

nn = torch.nn


def same_init(ours_cls, torch_cls, *args, **kwargs):
    torch.manual_seed(0)
    a = ours_cls(*args, **kwargs)
    torch.manual_seed(0)
    b = torch_cls(*args, **kwargs)
    assert isinstance(a, torch_cls)
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb) and all(torch.equal(sa[k], sb[k]) for k in sa)
    return a, b


def grads(module, out, up=None, inputs=()):
    loss = (out * (torch.randn_like(out) if up is None else up)).sum()
    wanted = list(module.parameters()) + [x for x in inputs if x.requires_grad]
    return torch.autograd.grad(loss, wanted, allow_unused=True)


def assert_same(ours, ref, *inputs, atol=2e-5):
    inputs = [x.requires_grad_() if x.is_floating_point() else x for x in inputs]
    out_a = ours(*inputs)
    out_b = ref(*inputs)
    flat_a = out_a[0] if isinstance(out_a, tuple) else out_a
    flat_b = out_b[0] if isinstance(out_b, tuple) else out_b
    torch.testing.assert_close(flat_a, flat_b, atol=atol, rtol=1e-4)
    up = torch.randn_like(flat_b)
    for ga, gb in zip(grads(ours, flat_a, up, inputs), grads(ref, flat_b, up, inputs)):
        if gb is not None:
            torch.testing.assert_close(ga, gb, atol=atol, rtol=1e-4)


@pytest.mark.parametrize("ours_cls,torch_cls,args,kwargs,x", [
    (skt.nn.Linear, nn.Linear, (5, 3), {}, lambda: torch.randn(2, 7, 5)),
    (skt.nn.Conv1d, nn.Conv1d, (4, 6, 3), dict(padding="same"), lambda: torch.randn(2, 4, 9)),
    (skt.nn.Conv1d, nn.Conv1d, (4, 6, 3), dict(padding_mode="reflect", padding=1), lambda: torch.randn(2, 4, 9)),
    (skt.nn.Embedding, nn.Embedding, (11, 4), dict(padding_idx=0), lambda: torch.randint(0, 11, (3, 5))),
    (skt.nn.LayerNorm, nn.LayerNorm, (6,), {}, lambda: torch.randn(3, 6)),
    (skt.nn.LayerNorm, nn.LayerNorm, ((2, 3),), dict(bias=False), lambda: torch.randn(4, 2, 3)),
    (skt.nn.GELU, nn.GELU, (), dict(approximate="tanh"), lambda: torch.randn(3, 6)),
])
def test_simple_modules_match_torch(ours_cls, torch_cls, args, kwargs, x):
    a, b = same_init(ours_cls, torch_cls, *args, **kwargs)
    assert_same(a, b, x())


@pytest.mark.parametrize("name", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("kwargs", [dict(), dict(num_layers=2, bidirectional=True, batch_first=True)])
def test_recurrent_modules_match_torch(name, kwargs):
    a, b = same_init(getattr(skt.nn, name), getattr(nn, name), 5, 7, **kwargs)
    x = torch.randn(3, 4, 5)
    assert_same(a, b, x)
    d = 2 if kwargs.get("bidirectional") else 1
    h0 = torch.randn(kwargs.get("num_layers", 1) * d, 3 if kwargs.get("batch_first") else 4, 7)
    hx = (h0, torch.randn_like(h0)) if name == "LSTM" else h0
    out_a, h_a = a(x, hx)
    out_b, h_b = b(x, hx)
    torch.testing.assert_close(out_a, out_b, atol=2e-5, rtol=1e-4)
    for s, t in zip(h_a if name == "LSTM" else [h_a], h_b if name == "LSTM" else [h_b]):
        torch.testing.assert_close(s, t, atol=2e-5, rtol=1e-4)
    unbatched = torch.randn(6, 5)  # no batch dimension
    torch.testing.assert_close(a(unbatched)[0], b(unbatched)[0], atol=2e-5, rtol=1e-4)


@pytest.mark.parametrize("batch_first", [False, True])
def test_lstm_packed_sequence_matches_torch(batch_first):
    a, b = same_init(skt.nn.LSTM, nn.LSTM, 3, 4, num_layers=2, bidirectional=True, batch_first=batch_first)
    lengths = torch.tensor([2, 5, 1, 5])
    x = torch.randn(4, 5, 3) if batch_first else torch.randn(5, 4, 3)
    packed = pack_padded_sequence(x, lengths, batch_first=batch_first, enforce_sorted=False)
    (pa, (ha, ca)), (pb, (hb, cb)) = a(packed), b(packed)
    assert torch.equal(pa.sorted_indices, pb.sorted_indices) and torch.equal(pa.batch_sizes, pb.batch_sizes)
    for s, t in ((pa.data, pb.data), (ha, hb), (ca, cb)):
        torch.testing.assert_close(s, t, atol=2e-5, rtol=1e-4)
    ya, _ = pad_packed_sequence(pa, batch_first=batch_first)
    up = torch.randn_like(ya)
    ga = torch.autograd.grad((ya * up).sum() + ha.sum(), list(a.parameters()))
    yb, _ = pad_packed_sequence(pb, batch_first=batch_first)
    gb = torch.autograd.grad((yb * up).sum() + hb.sum(), list(b.parameters()))
    for s, t in zip(ga, gb):
        torch.testing.assert_close(s, t, atol=2e-5, rtol=1e-4)


@pytest.mark.parametrize("batch_first", [False, True])
def test_multihead_attention_matches_torch(batch_first):
    a, b = same_init(skt.nn.MultiheadAttention, nn.MultiheadAttention, 12, 3, batch_first=batch_first)
    x = torch.randn(2, 5, 12) if batch_first else torch.randn(5, 2, 12)
    kpm = torch.tensor([[False] * 5, [False, False, False, True, True]])
    causal = nn.Transformer.generate_square_subsequent_mask(5)
    bool_mask = torch.rand(5, 5) > 0.7
    bool_mask.fill_diagonal_(False)
    for kw in (dict(), dict(key_padding_mask=kpm), dict(attn_mask=causal, key_padding_mask=kpm),
               dict(attn_mask=bool_mask), dict(attn_mask=causal, is_causal=True)):
        def fa(x, kw=kw):
            return a(x, x, x, need_weights=False, **kw)[0]

        def fb(x, kw=kw):
            return b(x, x, x, need_weights=False, **kw)[0]
        torch.testing.assert_close(fa(x), fb(x), atol=2e-5, rtol=1e-4)
        up = torch.randn_like(fb(x))
        for ga, gb in zip(grads(a, fa(x), up), grads(b, fb(x), up)):
            torch.testing.assert_close(ga, gb, atol=2e-5, rtol=1e-4)
    out, weights = a(x, x, x)  # need_weights=True (torch's default) runs torch's forward
    assert weights is not None and torch.allclose(out, b(x, x, x)[0], atol=1e-6)


@pytest.mark.parametrize("norm_first,activation", [(False, "relu"), (True, "gelu")])
def test_transformer_encoder_layer_matches_torch(norm_first, activation):
    kw = dict(d_model=16, nhead=4, dim_feedforward=24, dropout=0.0, batch_first=True, norm_first=norm_first,
              activation=activation)
    a, b = same_init(skt.nn.TransformerEncoderLayer, nn.TransformerEncoderLayer, **kw)
    assert isinstance(a.self_attn, skt.nn.MultiheadAttention) and isinstance(a.linear1, skt.nn.Linear)
    x = torch.randn(3, 7, 16)
    kpm = torch.zeros(3, 7, dtype=torch.bool)
    kpm[1, 5:] = True
    assert_same(a, b, x)
    torch.testing.assert_close(a(x, src_key_padding_mask=kpm), b(x, src_key_padding_mask=kpm), atol=2e-5, rtol=1e-4)
    a.eval(), b.eval()  # torch's fused inference fast path vs ours
    with torch.no_grad():
        torch.testing.assert_close(a(x, src_key_padding_mask=kpm)[~kpm], b(x, src_key_padding_mask=kpm)[~kpm],
                                   atol=2e-5, rtol=1e-4)


class EveryOp(nn.Module):
    """A model using every custom op: embedding, conv1d, LSTM, GRU, RNN, attention, layer norm, GELU, linear,
    cross-entropy."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(20, 8, padding_idx=0)
        self.conv = nn.Conv1d(8, 8, 3, padding=1)
        self.lstm = nn.LSTM(8, 6, batch_first=True, bidirectional=True)
        self.gru = nn.GRU(12, 6, batch_first=True)
        self.rnn = nn.RNN(6, 8, batch_first=True)
        self.attn = nn.MultiheadAttention(8, 2, batch_first=True)
        self.norm = nn.LayerNorm(8)
        self.act = nn.GELU()
        self.head = nn.Linear(8, 5)

    def forward(self, ids, labels):
        x = self.embed(ids)
        x = self.conv(x.transpose(1, 2)).transpose(1, 2)
        x, _ = self.lstm(x)
        x, _ = self.gru(x)
        x, _ = self.rnn(x)
        x = x + self.attn(x, x, x, need_weights=False)[0]
        logits = self.head(self.act(self.norm(x))).mean(dim=1)
        return skt.functional.cross_entropy(logits, labels, label_smoothing=0.1)


def test_patch_swaps_in_place_and_keeps_parameters():
    torch.manual_seed(0)
    model = EveryOp()
    ref = copy.deepcopy(model)
    params = list(model.parameters())
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    counts = skt.patch(model)
    assert counts == {"Embedding": 1, "Conv1d": 1, "LSTM": 1, "GRU": 1, "RNN": 1, "MultiheadAttention": 1,
                      "LayerNorm": 1, "GELU": 1, "Linear": 1}
    assert all(p is q for p, q in zip(params, model.parameters()))
    assert isinstance(model.lstm, skt.nn.LSTM) and isinstance(model.lstm, nn.LSTM)
    ids, labels = torch.randint(1, 20, (3, 7)), torch.tensor([0, 4, 2])
    for _ in range(2):  # the optimizer built before the patch trains the patched model like the stock one
        for m, o in ((model, opt), (ref, None)):
            m.zero_grad()
            m(ids, labels).backward()
        opt.step()
        with torch.no_grad():
            for p in ref.parameters():
                p -= 0.1 * p.grad
    for p, q in zip(model.parameters(), ref.parameters()):
        torch.testing.assert_close(p, q, atol=1e-5, rtol=1e-4)
    assert skt.patch(model) == {}  # nothing left to swap


def test_patch_leaves_unsupported_configurations_alone():
    class Custom(nn.Linear):
        pass
    model = nn.Sequential(nn.LSTM(4, 5, proj_size=3), nn.LSTM(4, 5, num_layers=2, dropout=0.3),
                          nn.Embedding(5, 2, max_norm=1.0), nn.Embedding(5, 2, sparse=True),
                          nn.Conv1d(2, 2, 3, padding=1, padding_mode="circular"), nn.Linear(2, 2).double(),
                          nn.MultiheadAttention(4, 2, kdim=3, vdim=3), Custom(2, 2), nn.Linear(2, 2))
    assert skt.patch(model) == {"Linear": 1}
    assert [type(m) for m in model][:8] == [nn.LSTM, nn.LSTM, nn.Embedding, nn.Embedding, nn.Conv1d, nn.Linear,
                                           nn.MultiheadAttention, Custom]


def test_torch_compile_fullgraph_matches_eager():
    """Every op under torch.compile(fullgraph=True): no graph break (fullgraph raises on one), same loss and
    gradients as eager; the RNN subclasses compile without torch._dynamo.config.allow_rnn."""
    torch._dynamo.reset()
    assert not torch._dynamo.config.allow_rnn
    torch.manual_seed(0)
    model = EveryOp()
    skt.patch(model)
    model.attn.dropout = 0.0
    ids, labels = torch.randint(1, 20, (3, 7)), torch.tensor([0, 4, 2])
    compiled = torch.compile(model, fullgraph=True, backend="aot_eager")
    loss_c = compiled(ids, labels)
    grads_c = torch.autograd.grad(loss_c, list(model.parameters()))
    loss_e = model(ids, labels)
    grads_e = torch.autograd.grad(loss_e, list(model.parameters()))
    torch.testing.assert_close(loss_c, loss_e)
    for a, b in zip(grads_c, grads_e):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-5)
    assert not torch._dynamo.config.allow_rnn
