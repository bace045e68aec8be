"""MultiheadAttention, TransformerEncoderLayer and TransformerEncoder against torch.nn with the same weights
(a torch state_dict loaded as numpy): outputs, attention weights, and parameter / input gradients."""
import numpy as np
import pytest


import seqkernels as sk  # noqa: E402
from seqkernels import nn  # noqa: E402

# float32 layers of width <= 32 and a few hundred accumulated terms: agreement to ~1e-6 is typical;
# 2e-5 absolute / 1e-4 relative is a loose but still discriminating bound (a wrong mask, head split or
# norm order changes outputs by O(0.1)).
ATOL, RTOL = 2e-5, 1e-4


def load_from_torch(ours, theirs):
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})


def assert_close(a, b, atol=ATOL, rtol=RTOL, msg=""):
    b = b.detach().numpy() if hasattr(b, "detach") else np.asarray(b)
    np.testing.assert_allclose(np.asarray(a), b, atol=atol, rtol=rtol, err_msg=msg)


def assert_grads_match(ours, theirs):
    named = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        assert_close(p.grad.numpy(), named[name].grad, msg=name)


@pytest.mark.parametrize("batch_first", [False, True])
def test_mha_self_attention_with_masks(rng, batch_first):
    torch = pytest.importorskip("torch")
    E, H, N, L = 24, 4, 3, 7
    ref = torch.nn.MultiheadAttention(E, H, batch_first=batch_first)
    ours = nn.MultiheadAttention(E, H, batch_first=batch_first)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in ref.named_parameters()]
    load_from_torch(ours, ref)
    shape = (N, L, E) if batch_first else (L, N, E)
    x = rng.standard_normal(shape, dtype=np.float32)
    padding = np.zeros((N, L), dtype=bool)
    padding[1, 5:] = True  # True = ignore, torch's convention for key_padding_mask
    blocked = np.triu(np.ones((L, L), dtype=bool), 1)  # bool attn_mask: True = blocked
    xt = torch.tensor(x, requires_grad=True)
    want, want_w = ref(xt, xt, xt, key_padding_mask=torch.from_numpy(padding), attn_mask=torch.from_numpy(blocked))
    xs = sk.tensor(x, requires_grad=True)
    got, got_w = ours(xs, xs, xs, key_padding_mask=padding, attn_mask=blocked)
    assert_close(got.numpy(), want)
    assert_close(got_w.numpy(), want_w)
    g = rng.standard_normal(shape, dtype=np.float32)
    want.backward(torch.from_numpy(g))
    got.backward(g)
    assert_close(xs.grad.numpy(), xt.grad)
    assert_grads_match(ours, ref)


def test_mha_cross_attention_float_mask_and_per_head_weights(rng):
    torch = pytest.importorskip("torch")
    E, H, N, L, S = 16, 2, 2, 5, 9
    ref = torch.nn.MultiheadAttention(E, H)
    ours = nn.MultiheadAttention(E, H)
    load_from_torch(ours, ref)
    q = rng.standard_normal((L, N, E), dtype=np.float32)
    kv = rng.standard_normal((S, N, E), dtype=np.float32)
    v = rng.standard_normal((S, N, E), dtype=np.float32)
    additive = rng.standard_normal((N * H, L, S), dtype=np.float32)
    want, want_w = ref(*map(torch.from_numpy, (q, kv, v)), attn_mask=torch.from_numpy(additive),
                       average_attn_weights=False)
    got, got_w = ours(sk.tensor(q), sk.tensor(kv), sk.tensor(v), attn_mask=additive, average_attn_weights=False)
    assert_close(got.numpy(), want)
    assert_close(got_w.numpy(), want_w)
    # unbatched input (L, E)
    want, _ = ref(*map(torch.from_numpy, (q[:, 0], kv[:, 0], v[:, 0])))
    got, got_w = ours(sk.tensor(q[:, 0]), sk.tensor(kv[:, 0]), sk.tensor(v[:, 0]), need_weights=False)
    assert got_w is None
    assert_close(got.numpy(), want)


def test_mha_causal_flag_and_bad_input():
    torch = pytest.importorskip("torch")
    ours = nn.MultiheadAttention(8, 2)
    ref = torch.nn.MultiheadAttention(8, 2)
    load_from_torch(ours, ref)
    x = np.random.default_rng(0).standard_normal((6, 2, 8)).astype(np.float32)
    mask = torch.nn.Transformer.generate_square_subsequent_mask(6)
    want, _ = ref(*(torch.from_numpy(x),) * 3, attn_mask=mask, is_causal=True, need_weights=False)
    xs = sk.tensor(x)
    got, _ = ours(xs, xs, xs, is_causal=True, need_weights=False)
    assert_close(got.numpy(), want)
    with pytest.raises(ValueError, match="divisible"):
        nn.MultiheadAttention(10, 3)
    with pytest.raises(ValueError, match="key_padding_mask"):
        ours(xs, xs, xs, key_padding_mask=np.zeros((3, 6), dtype=bool))
    with pytest.raises(ValueError, match="attn_mask"):
        ours(xs, xs, xs, attn_mask=np.zeros((5, 6), dtype=bool))
    with pytest.raises(TypeError, match="query"):
        ours(x, xs, xs)
    with pytest.raises(ValueError, match="query"):
        ours(sk.tensor(x[..., :4]), xs, xs)


@pytest.mark.parametrize("norm_first", [False, True], ids=["post-norm", "pre-norm"])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_encoder_layer_matches_torch(rng, norm_first, activation):
    torch = pytest.importorskip("torch")
    d, H, N, L = 32, 4, 3, 10
    ref = torch.nn.TransformerEncoderLayer(d, H, dim_feedforward=48, dropout=0.0, activation=activation,
                                           batch_first=True, norm_first=norm_first)
    ours = nn.TransformerEncoderLayer(d, H, dim_feedforward=48, dropout=0.0, activation=activation,
                                      batch_first=True, norm_first=norm_first)
    assert sorted(ours.state_dict()) == sorted(ref.state_dict())
    load_from_torch(ours, ref)
    x = rng.standard_normal((N, L, d), dtype=np.float32)
    padding = np.zeros((N, L), dtype=bool)
    padding[0, 7:] = True
    xt = torch.tensor(x, requires_grad=True)
    want = ref(xt, src_key_padding_mask=torch.from_numpy(padding))
    xs = sk.tensor(x, requires_grad=True)
    got = ours(xs, src_key_padding_mask=padding)
    assert_close(got.numpy(), want)
    g = rng.standard_normal(x.shape, dtype=np.float32)
    want.backward(torch.from_numpy(g))
    got.backward(g)
    assert_close(xs.grad.numpy(), xt.grad)
    assert_grads_match(ours, ref)


def test_encoder_stack_with_final_norm_sequence_first(rng):
    torch = pytest.importorskip("torch")
    d, H = 16, 2
    layer = torch.nn.TransformerEncoderLayer(d, H, dim_feedforward=20, dropout=0.0)
    ref = torch.nn.TransformerEncoder(layer, 3, norm=torch.nn.LayerNorm(d), enable_nested_tensor=False)
    ours = nn.TransformerEncoder(nn.TransformerEncoderLayer(d, H, dim_feedforward=20, dropout=0.0), 3,
                                 norm=nn.LayerNorm(d))
    assert sorted(ours.state_dict()) == sorted(ref.state_dict())
    load_from_torch(ours, ref)
    x = rng.standard_normal((9, 2, d), dtype=np.float32)  # (L, N, d)
    want = ref(torch.from_numpy(x), is_causal=True, mask=torch.nn.Transformer.generate_square_subsequent_mask(9))
    got = ours(sk.tensor(x), is_causal=True)
    assert_close(got.numpy(), want)


def test_dropout_only_in_training(rng):
    layer = nn.TransformerEncoderLayer(16, 2, dim_feedforward=32, dropout=0.5, batch_first=True)
    x = sk.tensor(rng.standard_normal((2, 5, 16), dtype=np.float32))
    layer.eval()
    a, b = layer(x).numpy(), layer(x).numpy()
    assert np.array_equal(a, b)
    layer.train()
    assert not np.allclose(layer(x).numpy(), a)
