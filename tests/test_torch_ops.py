"""seqkernels.torch custom ops: torch.library.opcheck (all its default sub-tests) on three or more shapes per op
(sizes 1, primes, odd layouts), each with no input, every input, and each single input requiring grad; values
and gradients against torch's own ops."""
import itertools

import numpy as np
import pytest

torch = pytest.importorskip("torch")
skt = pytest.importorskip("seqkernels.torch")

import torch.nn.functional as F  # noqa: E402
from torch.library import opcheck  # noqa: E402

SF = skt.functional
ops = torch.ops.seqkernels


def r(*shape, seed=[0]):
    seed[0] += 1
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed[0]))


def ids(high, *shape, dtype=torch.int64):
    return torch.randint(0, high, shape, generator=torch.Generator().manual_seed(high), dtype=dtype)


def grad_variants(args, positions):
    """Copies of args: none, all, and each single one of the tensor arguments at `positions` requiring grad."""
    choices = [(), tuple(positions)] + ([(p,) for p in positions] if len(positions) > 1 else [])
    for chosen in choices:
        out = []
        for i, a in enumerate(args):
            if isinstance(a, torch.Tensor) and a.is_floating_point():
                a = a.detach().clone().requires_grad_(i in chosen)
            elif isinstance(a, list) and a and isinstance(a[0], torch.Tensor):
                a = [t.detach().clone().requires_grad_(i in chosen) for t in a]
            out.append(a)
        yield out


# (op, args, positions of differentiable tensor arguments)
CASES = {
    "linear": [
        (ops.linear, (r(1, 1), r(1, 1), None), [0, 1]),
        (ops.linear, (r(3, 7, 5), r(4, 5), r(4)), [0, 1, 2]),
        (ops.linear, (r(17, 2).t(), r(33, 17), None), [0, 1]),  # transposed input
    ],
    "conv1d": [
        (ops.conv1d, (r(1, 1, 1), r(1, 1, 1), None, 1, [0, 0], 1, 1), [0, 1]),
        (ops.conv1d, (r(2, 3, 11), r(4, 3, 3), r(4), 2, [1, 2], 1, 1), [0, 1, 2]),
        (ops.conv1d, (r(3, 4, 13), r(6, 2, 5), r(6), 1, [4, 4], 2, 2), [0, 1, 2]),
    ],
    "embedding": [
        (ops.embedding, (r(1, 1), ids(1, 1), -1, False), [0]),
        (ops.embedding, (r(10, 6), ids(10, 3, 4), 1, False), [0]),
        (ops.embedding, (r(17, 5), ids(17, 2, 3, 5, dtype=torch.int32), -1, True), [0]),
    ],
    "layer_norm": [
        (ops.layer_norm, (r(1, 1), [1], None, None, 1e-5), [0]),
        (ops.layer_norm, (r(3, 7, 5), [5], r(5), r(5), 1e-5), [0, 2, 3]),
        (ops.layer_norm, (r(2, 3, 13), [3, 13], r(3, 13), None, 1e-3), [0, 2]),
    ],
    "gelu": [
        (ops.gelu, (r(1), "none"), [0]),
        (ops.gelu, (r(3, 7, 5), "none"), [0]),
        (ops.gelu, (r(33, 2).t(), "tanh"), [0]),
    ],
    "cross_entropy": [
        (ops.cross_entropy, (r(1, 1), ids(1, 1), None, "mean", -100, 0.0), [0]),
        (ops.cross_entropy, (r(6, 5, 3), ids(5, 6, 3), None, "none", 2, 0.1), [0]),
        (ops.cross_entropy, (r(7), ids(7), r(7).abs(), "sum", -100, 0.3), [0]),
        (ops.cross_entropy, (r(11, 13), ids(13, 11), r(13).abs(), "mean", 3, 0.0), [0]),
    ],
    "scaled_dot_product_attention": [
        (ops.scaled_dot_product_attention, (r(1, 1, 1, 1), r(1, 1, 1, 1), r(1, 1, 1, 1), None, 0.0, False, None,
                                            False, None), [0, 1, 2]),
        (ops.scaled_dot_product_attention, (r(2, 4, 5, 8), r(2, 2, 7, 8), r(2, 2, 7, 8), r(5, 7) > 0, 0.0, False,
                                            None, True, None), [0, 1, 2]),
        (ops.scaled_dot_product_attention, (r(3, 6, 4), r(3, 9, 4), r(3, 9, 4), r(3, 6, 9), 0.0, False, 0.7,
                                            False, None), [0, 1, 2]),
        (ops.scaled_dot_product_attention, (r(1, 2, 5, 3), r(1, 2, 3, 3), r(1, 2, 3, 3), None, 0.25, True, None,
                                            False, torch.tensor(7)), [0, 1, 2]),
    ],
}


def _rnn_weights(mode, input_size, hidden, layers, bidirectional, bias=True):
    cls = {"LSTM": torch.nn.LSTM, "GRU": torch.nn.GRU}.get(mode, torch.nn.RNN)
    extra = {"nonlinearity": "relu"} if mode == "RNN_RELU" else {}
    torch.manual_seed(3)
    m = cls(input_size, hidden, layers, bias=bias, bidirectional=bidirectional, **extra)
    return [w.detach().clone() for w in m._flat_weights]


CASES["rnn"] = [  # input, hx, cx, weights, lengths, mode, layers, bidirectional, batch_first, train
    (ops.rnn, (r(4, 3, 5), r(4, 3, 6), r(4, 3, 6), _rnn_weights("LSTM", 5, 6, 2, True), None, "LSTM", 2, True,
               False, True), [0, 1, 2, 3]),
    (ops.rnn, (r(3, 7, 2), None, None, _rnn_weights("GRU", 2, 4, 1, False, bias=False), torch.tensor([7, 1, 4]),
               "GRU", 1, False, True, True), [0, 3]),
    (ops.rnn, (r(1, 1, 1), r(1, 1, 3), None, _rnn_weights("RNN_RELU", 1, 3, 1, False), None, "RNN_RELU", 1, False,
               False, True), [0, 1, 3]),
]
PARAMS = [(name, i) for name, cases in CASES.items() for i in range(len(cases))]


@pytest.mark.parametrize("name,index", PARAMS, ids=[f"{n}-{i}" for n, i in PARAMS])
def test_opcheck(name, index):
    op, args, positions = CASES[name][index]
    for variant in grad_variants(args, positions):
        opcheck(op, tuple(variant))


def test_opcheck_backward_ops():
    """The backward ops are custom ops of their own: opcheck them too (no autograd of their own)."""
    x, w, b = r(3, 5), r(4, 5), r(4)
    opcheck(ops.linear_backward, (r(3, 4), x, w, True, True, True))
    opcheck(ops.linear_backward, (r(3, 4), x, w, False, True, False))
    opcheck(ops.gelu_backward, (r(3, 5), x, "none"))
    out, mean, rstd = ops.layer_norm(x, [5], r(5), None, 1e-5)
    opcheck(ops.layer_norm_backward, (r(3, 5), x, [5], r(5), mean, rstd, True, False))
    opcheck(ops.embedding_backward, (r(2, 3, 4), ids(6, 2, 3), 6, 2, False))
    opcheck(ops.conv1d_backward, (r(2, 4, 9), r(2, 3, 11), r(4, 3, 3), 1, [0, 0], 1, 1, True, False, True))


def _compare(ours, ref, inputs, atol=1e-5, rtol=1e-4):
    """Forward values and the gradients of every input (for a random upstream gradient) agree."""
    out_ours, out_ref = ours(*inputs), ref(*inputs)
    torch.testing.assert_close(out_ours, out_ref, atol=atol, rtol=rtol)
    wanted = [t for t in inputs if isinstance(t, torch.Tensor) and t.requires_grad]
    up = torch.randn_like(out_ref)
    g_ours = torch.autograd.grad(out_ours, wanted, up)
    g_ref = torch.autograd.grad(out_ref, wanted, up)
    for a, b in zip(g_ours, g_ref):
        torch.testing.assert_close(a, b, atol=atol, rtol=rtol)


def rg(*shape):
    return r(*shape).requires_grad_()


@pytest.mark.parametrize("shape,out,bias", [((1, 1), 1, False), ((3, 7, 5), 4, True), ((2, 17), 33, True)])
def test_linear_matches_torch(shape, out, bias):
    _compare(SF.linear, F.linear, (rg(*shape), rg(out, shape[-1]), rg(out) if bias else None))


@pytest.mark.parametrize("shape,weight,kw", [
    ((1, 1, 1), (1, 1, 1), {}),
    ((2, 3, 11), (4, 3, 3), dict(stride=2, padding=1)),
    ((3, 4, 13), (6, 2, 5), dict(padding="same", dilation=2, groups=2)),
    ((4, 17), (5, 4, 4), dict(padding="same")),  # unbatched, even kernel: the odd pad on the right
])
def test_conv1d_matches_torch(shape, weight, kw):
    _compare(lambda x, w, b: SF.conv1d(x, w, b, **kw), lambda x, w, b: F.conv1d(x, w, b, **kw),
             (rg(*shape), rg(*weight), rg(weight[0])))


@pytest.mark.parametrize("kw", [{}, dict(padding_idx=-2), dict(padding_idx=1, scale_grad_by_freq=True)])
def test_embedding_matches_torch(kw):
    idx = ids(10, 3, 7)
    idx[0, :3] = 1
    _compare(lambda w: SF.embedding(idx, w, **kw), lambda w: F.embedding(idx, w, **kw), (rg(10, 6),))


# A single normalised element has variance 0, so rstd = 1/sqrt(eps) ~ 316 scales both sides' float32 rounding
# of a mathematically zero input gradient (seen up to 6e-5 over 200 draws): a looser atol for that case only.
@pytest.mark.parametrize("shape,norm,affine,atol", [((1, 1), [1], True, 2e-4), ((3, 7, 5), [5], True, 1e-5),
                                                    ((2, 3, 13), [3, 13], False, 1e-5)])
def test_layer_norm_matches_torch(shape, norm, affine, atol):
    w, b = (rg(*norm), rg(*norm)) if affine else (None, None)
    _compare(lambda x, w, b: SF.layer_norm(x, norm, w, b), lambda x, w, b: F.layer_norm(x, norm, w, b),
             (rg(*shape), w, b), atol=atol)


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_matches_torch(approximate):
    _compare(lambda x: SF.gelu(x, approximate), lambda x: F.gelu(x, approximate=approximate), (rg(5, 33),))


@pytest.mark.parametrize("reduction,kw", list(itertools.product(["mean", "sum", "none"], [
    {}, dict(ignore_index=2), dict(label_smoothing=0.2), dict(ignore_index=0, label_smoothing=0.1, weighted=True)])))
def test_cross_entropy_matches_torch(reduction, kw):
    kw = dict(kw)
    weight = r(5).abs() + 0.1 if kw.pop("weighted", False) else None
    for x, t in ((rg(7, 5), ids(5, 7)), (rg(4, 5, 3), ids(5, 4, 3)), (rg(5), ids(5))):
        _compare(lambda x: SF.cross_entropy(x, t, weight, reduction=reduction, **kw),
                 lambda x: F.cross_entropy(x, t, weight, reduction=reduction, **kw), (x,))


def test_cross_entropy_all_ignored_is_nan_with_zero_gradient():
    x = rg(3, 4)
    loss = SF.cross_entropy(x, torch.full((3,), -100))
    assert torch.isnan(loss)
    loss.backward()
    assert torch.equal(x.grad, torch.zeros(3, 4))


@pytest.mark.parametrize("q,k,mask,kw", [
    ((1, 1, 1, 1), (1, 1, 1, 1), None, {}),
    ((2, 3, 5, 8), (2, 3, 7, 8), "bool", {}),
    ((2, 3, 5, 8), (2, 3, 7, 8), "float", dict(scale=0.3)),
    ((3, 6, 4), (3, 9, 4), "bool3", {}),
    ((2, 2, 6, 5), (2, 2, 6, 5), None, dict(is_causal=True)),
    ((2, 6, 5, 8), (2, 2, 7, 8), "bool", dict(enable_gqa=True)),
    ((1, 4, 7, 3), (1, 1, 7, 3), None, dict(enable_gqa=True, is_causal=True)),
])
def test_sdpa_matches_torch(q, k, mask, kw):
    query, key, value = rg(*q), rg(*k), rg(*k)
    lq, lk = q[-2], k[-2]
    m = {None: None, "bool": r(lq, lk) > -0.5, "float": r(lq, lk), "bool3": r(q[0], lq, lk) > -0.5}[mask]
    _compare(lambda a, b, c: SF.scaled_dot_product_attention(a, b, c, m, **kw),
             lambda a, b, c: F.scaled_dot_product_attention(a, b, c, m, **kw), (query, key, value))


def test_sdpa_dropout_follows_torch_seed():
    q = r(2, 2, 9, 4)
    torch.manual_seed(5)
    a = SF.scaled_dot_product_attention(q, q, q, dropout_p=0.5)
    torch.manual_seed(5)
    b = SF.scaled_dot_product_attention(q, q, q, dropout_p=0.5)
    c = SF.scaled_dot_product_attention(q, q, q, dropout_p=0.5)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert not torch.allclose(a, SF.scaled_dot_product_attention(q, q, q))


@pytest.mark.parametrize("mode", ["LSTM", "GRU", "RNN_TANH", "RNN_RELU"])
@pytest.mark.parametrize("layers,bidirectional,batch_first,bias", [(1, False, False, True), (2, True, True, True),
                                                                   (3, True, False, False)])
def test_rnn_matches_torch(mode, layers, bidirectional, batch_first, bias):
    cls = {"LSTM": torch.nn.LSTM, "GRU": torch.nn.GRU}.get(mode, torch.nn.RNN)
    extra = {"nonlinearity": "relu"} if mode == "RNN_RELU" else {}
    torch.manual_seed(0)
    ref = cls(5, 7, layers, bias=bias, batch_first=batch_first, bidirectional=bidirectional, **extra)
    d = 2 if bidirectional else 1
    x = rg(3, 4, 5)
    h0 = rg(layers * d, 3 if batch_first else 4, 7)
    c0 = rg(layers * d, 3 if batch_first else 4, 7)

    lstm = mode == "LSTM"

    def ours(x, h0, *rest):
        c0, w = (rest[0], rest[1:]) if lstm else (None, rest)
        out, h_n, c_n = SF.rnn(mode, x, h0, c0, w, layers, bidirectional, batch_first)
        return torch.cat([out.flatten(), h_n.flatten()] + ([c_n.flatten()] if lstm else []))

    def theirs(x, h0, *rest):  # the module's own parameters are the weights passed to ours
        out, h = ref(x, (h0, rest[0]) if lstm else h0)
        return torch.cat([out.flatten()] + [t.flatten() for t in (h if lstm else [h])])
    _compare(ours, theirs, (x, h0, *([c0] if lstm else []), *ref._flat_weights), atol=2e-5)


def test_non_float32_raises_in_the_op_and_falls_back_in_functional():
    x, w = torch.randn(3, 4, dtype=torch.float64), torch.randn(2, 4, dtype=torch.float64)
    with pytest.raises(TypeError, match="float32"):
        ops.linear(x, w, None)
    torch.testing.assert_close(SF.linear(x, w), F.linear(x, w))
    torch.testing.assert_close(SF.gelu(x), F.gelu(x))
    torch.testing.assert_close(SF.layer_norm(x, [4]), F.layer_norm(x, [4]))


def test_op_bodies_share_memory_with_numpy(monkeypatch):
    """Inputs reach the kernels as numpy views of the tensors' memory and results come back without a copy."""
    import seqkernels._C as C
    x = torch.randn(4, 8)
    captured = {}
    original = C.gelu_forward

    def spy(a, approximate):
        out = original(a, approximate)
        captured.update(input=a.ctypes.data, output=out.ctypes.data)
        return out
    monkeypatch.setattr(C, "gelu_forward", spy)
    y = ops.gelu(x, "none")
    assert captured["input"] == x.data_ptr() and captured["output"] == y.data_ptr()


def test_bad_arguments_raise_with_the_argument_name():
    with pytest.raises(ValueError, match="label_smoothing"):
        SF.cross_entropy(torch.randn(2, 3), torch.tensor([0, 1]), label_smoothing=1.5)
    with pytest.raises(ValueError, match="attn_mask"):
        q = torch.randn(1, 1, 2, 2)
        SF.scaled_dot_product_attention(q, q, q, torch.ones(2, 2, dtype=torch.bool), is_causal=True)
    with pytest.raises(IndexError):
        SF.embedding(torch.tensor([5]), torch.randn(3, 2))
    with pytest.raises(ValueError):
        SF.linear(torch.randn(2, 3), torch.randn(4, 5))
    assert np.isfinite(SF.linear(torch.randn(2, 3), torch.randn(4, 3)).detach().numpy()).all()
