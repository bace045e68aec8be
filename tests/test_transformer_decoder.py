"""TransformerDecoderLayer, TransformerDecoder and Transformer against torch.nn with the same weights (a torch
state_dict loaded as numpy): outputs and every gradient, on awkward shapes and masks; the decoder's cache
(one new query against the cached keys) against full recomputation."""
import numpy as np
import pytest


import seqkernels as sk  # noqa: E402
from seqkernels import nn  # noqa: E402

# float32 layers of width <= 24, two attention blocks and two to four layers: agreement is ~1e-6; a wrong mask,
# norm order or head split changes outputs by O(0.1).
ATOL, RTOL = 3e-5, 1e-4


def load_from_torch(ours, theirs):
    result = ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    assert not result.missing_keys and not result.unexpected_keys


def assert_close(a, b, msg=""):
    b = b.detach().numpy() if hasattr(b, "detach") else np.asarray(b)
    np.testing.assert_allclose(np.asarray(a), b, atol=ATOL, rtol=RTOL, err_msg=msg)


def check_grads(ours, theirs, pairs):
    named = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        assert p.grad is not None, name
        assert_close(p.grad.numpy(), named[name].grad, msg=name)
    for mine, ref in pairs:
        assert_close(mine.grad.numpy(), ref.grad)


def leaves(rng, *shapes):
    torch = pytest.importorskip("torch")
    arrays = [rng.standard_normal(s, dtype=np.float32) for s in shapes]
    return [sk.tensor(a, requires_grad=True) for a in arrays], [torch.tensor(a, requires_grad=True) for a in arrays]


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("T,S", [(7, 5), (1, 6), (4, 1)])
def test_decoder_layer_matches_torch(rng, norm_first, batch_first, T, S):
    torch = pytest.importorskip("torch")
    E, H, N, F = 24, 3, 3, 40
    ref = torch.nn.TransformerDecoderLayer(E, H, F, dropout=0.0, batch_first=batch_first, norm_first=norm_first)
    ours = nn.TransformerDecoderLayer(E, H, F, dropout=0.0, batch_first=batch_first, norm_first=norm_first)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in ref.named_parameters()]
    load_from_torch(ours, ref)
    shape = lambda L: (N, L, E) if batch_first else (L, N, E)  # noqa: E731
    (tgt, mem), (tgt_t, mem_t) = leaves(rng, shape(T), shape(S))
    tgt_pad = np.zeros((N, T), dtype=bool)
    tgt_pad[0, T - 1:] = T > 1  # the last target position of row 0 is padding
    mem_pad = np.zeros((N, S), dtype=bool)
    mem_pad[1, S // 2 + 1:] = True
    causal = nn.Transformer.generate_square_subsequent_mask(T)
    kwargs = dict(tgt_key_padding_mask=tgt_pad, memory_key_padding_mask=mem_pad)
    want = ref(tgt_t, mem_t, tgt_mask=torch.from_numpy(causal.numpy()),
               **{k: torch.from_numpy(v) for k, v in kwargs.items()})
    got = ours(tgt, mem, tgt_mask=causal, **kwargs)
    assert_close(got.numpy(), want)
    g = rng.standard_normal(got.shape, dtype=np.float32)
    want.backward(torch.from_numpy(g))
    got.backward(g)
    check_grads(ours, ref, [(tgt, tgt_t), (mem, mem_t)])


def test_decoder_layer_memory_mask_bool_tgt_mask_and_causal_hint(rng):
    torch = pytest.importorskip("torch")
    E, H, N, T, S = 16, 4, 2, 6, 5
    ref = torch.nn.TransformerDecoderLayer(E, H, 32, dropout=0.0, activation="gelu")
    ours = nn.TransformerDecoderLayer(E, H, 32, dropout=0.0, activation="gelu")
    load_from_torch(ours, ref)
    (tgt, mem), (tgt_t, mem_t) = leaves(rng, (T, N, E), (S, N, E))
    blocked = np.triu(np.ones((T, T), dtype=bool), 1)
    memory_mask = rng.standard_normal((T, S)).astype(np.float32)  # an additive float mask
    want = ref(tgt_t, mem_t, tgt_mask=torch.from_numpy(blocked), memory_mask=torch.from_numpy(memory_mask),
               tgt_is_causal=True)
    got = ours(tgt, mem, tgt_mask=blocked, memory_mask=memory_mask, tgt_is_causal=True)
    assert_close(got.numpy(), want)
    got.sum().backward()
    want.sum().backward()
    check_grads(ours, ref, [(tgt, tgt_t), (mem, mem_t)])
    # the hint without the mask: the causal mask
    again = ours(tgt, mem, memory_mask=memory_mask, tgt_is_causal=True)
    assert_close(again.numpy(), want)


def test_decoder_layer_unbatched(rng):
    torch = pytest.importorskip("torch")
    E, H, T, S = 12, 2, 3, 4
    ref = torch.nn.TransformerDecoderLayer(E, H, 20, dropout=0.0)
    ours = nn.TransformerDecoderLayer(E, H, 20, dropout=0.0)
    load_from_torch(ours, ref)
    (tgt, mem), (tgt_t, mem_t) = leaves(rng, (T, E), (S, E))
    assert_close(ours(tgt, mem).numpy(), ref(tgt_t, mem_t))


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("T,S", [(6, 7), (1, 1), (1, 5), (5, 1)])
def test_transformer_matches_torch(rng, norm_first, T, S):
    torch = pytest.importorskip("torch")
    E, H, N = 16, 2, 3
    torch.manual_seed(0)
    ref = torch.nn.Transformer(E, H, 2, 2, 24, dropout=0.0, batch_first=True, norm_first=norm_first)
    ours = nn.Transformer(E, H, 2, 2, 24, dropout=0.0, batch_first=True, norm_first=norm_first)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in ref.named_parameters()]
    load_from_torch(ours, ref)
    (src, tgt), (src_t, tgt_t) = leaves(rng, (N, S, E), (N, T, E))
    src_pad = np.zeros((N, S), dtype=bool)
    src_pad[2] = True  # a fully padded source row: torch gives it zero attention (its memory is ignored)
    src_pad[0, S - 1:] = S > 1
    causal = nn.Transformer.generate_square_subsequent_mask(T)
    want = ref(src_t, tgt_t, tgt_mask=torch.from_numpy(causal.numpy()),
               src_key_padding_mask=torch.from_numpy(src_pad), memory_key_padding_mask=torch.from_numpy(src_pad))
    assert torch.isfinite(want).all()
    got = ours(src, tgt, tgt_mask=causal, src_key_padding_mask=src_pad, memory_key_padding_mask=src_pad)
    assert_close(got.numpy(), want)
    g = rng.standard_normal(got.shape, dtype=np.float32)
    want.backward(torch.from_numpy(g))
    got.backward(g)
    check_grads(ours, ref, [(src, src_t), (tgt, tgt_t)])


def test_transformer_init_and_square_mask():
    torch = pytest.importorskip("torch")
    mask = nn.Transformer.generate_square_subsequent_mask(4).numpy()
    np.testing.assert_array_equal(mask, torch.nn.Transformer.generate_square_subsequent_mask(4).numpy())
    sk.manual_seed(0)
    model = nn.Transformer(32, 4, 1, 1, 64)
    w = model.encoder.layers[0].linear1.weight.numpy()
    bound = np.sqrt(6.0 / (32 + 64))  # Xavier uniform, as torch.nn.Transformer re-initialises every matrix
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.9 * bound
    assert model.decoder.norm is not None and model.encoder.norm is not None


def test_transformer_rejects_bad_input():
    model = nn.Transformer(8, 2, 1, 1, 16, batch_first=True)
    with pytest.raises(ValueError, match="d_model"):
        model(sk.zeros((2, 3, 8)), sk.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match="batch"):
        model(sk.zeros((2, 3, 8)), sk.zeros((3, 3, 8)))
    with pytest.raises(TypeError, match="src"):
        model(np.zeros((2, 3, 8), np.float32), sk.zeros((2, 3, 8)))


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
def test_decoder_cache_equals_full_recomputation(rng, norm_first, batch_first):
    E, H, N, T, S = 24, 4, 3, 7, 5
    layer = nn.TransformerDecoderLayer(E, H, 48, dropout=0.0, batch_first=batch_first, norm_first=norm_first)
    decoder = nn.TransformerDecoder(layer, 3, nn.LayerNorm(E)).eval()
    for p in decoder.parameters():  # distinct layers (deepcopy made them equal)
        p.data[...] = rng.standard_normal(p.shape).astype(np.float32) * 0.3
    shape = lambda L: (N, L, E) if batch_first else (L, N, E)  # noqa: E731
    tgt = sk.tensor(rng.standard_normal(shape(T), dtype=np.float32))
    mem = sk.tensor(rng.standard_normal(shape(S), dtype=np.float32))
    pad = np.zeros((N, S), dtype=bool)
    pad[1, 3:] = True
    full = decoder(tgt, mem, tgt_mask=nn.Transformer.generate_square_subsequent_mask(T),
                   memory_key_padding_mask=pad).numpy()
    cache = decoder.init_cache(mem, memory_key_padding_mask=pad)
    steps = []
    for t in range(T - 2):  # one position at a time ...
        new = tgt[:, t:t + 1] if batch_first else tgt[t:t + 1]
        steps.append(decoder.forward_cached(new, cache).numpy())
        assert cache.length == t + 1
    block = tgt[:, T - 2:] if batch_first else tgt[T - 2:]  # ... then a block of two after the cache
    steps.append(decoder.forward_cached(block, cache).numpy())
    got = np.concatenate(steps, axis=1 if batch_first else 0)
    np.testing.assert_allclose(got, full, atol=1e-5, rtol=1e-5)
    # reorder: the cache of rows (2, 0) continues as those rows alone would
    cache2 = decoder.init_cache(mem, memory_key_padding_mask=pad)
    decoder.forward_cached(tgt[:, :3] if batch_first else tgt[:3], cache2)
    cache2.reorder([2, 0])
    nxt = tgt[:, 3:4] if batch_first else tgt[3:4]
    rows = np.array([2, 0])
    nxt = sk.tensor(nxt.numpy()[rows] if batch_first else nxt.numpy()[:, rows])
    out = decoder.forward_cached(nxt, cache2).numpy()
    want = full[rows, 3:4] if batch_first else full[3:4, rows]
    np.testing.assert_allclose(out, want, atol=1e-5, rtol=1e-5)
