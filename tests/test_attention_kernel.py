"""_C.attention_forward / _C.attention_backward: grouped-query heads read in place (dk, dv summed over the query
heads sharing them), causal masks aligned top-left and bottom-right, strided q/k/v (a key/value cache's prefix)
read without a copy. Against a float64 numpy reference everywhere, and against torch's sdpa where installed."""
import numpy as np
import pytest

import seqkernels as sk
from seqkernels import _C

# As test_attention.py: float32 tiles against a float64 reference; any indexing or masking bug gives O(0.1).
ATOL, RTOL = 2e-5, 1e-4


def reference(q, k, v, dy, causal=None, scale=None):
    """out, dq, dk, dv in float64; causal None, 'top_left' or 'bottom_right'; a fully masked row gives 0."""
    q, k, v, dy = (x.astype(np.float64) for x in (q, k, v, dy))
    B, H, Lq, D = q.shape
    Hkv, Lk = k.shape[1], k.shape[2]
    group = H // Hkv
    kr, vr = np.repeat(k, group, axis=1), np.repeat(v, group, axis=1)
    scale = 1.0 / np.sqrt(D) if scale is None else scale
    s = q @ kr.swapaxes(-1, -2) * scale
    allowed = np.ones((Lq, Lk), dtype=bool)
    if causal is not None:
        shift = Lk - Lq if causal == "bottom_right" else 0
        allowed = np.arange(Lk)[None, :] <= np.arange(Lq)[:, None] + shift
    s = np.where(allowed, s, -np.inf)
    m = s.max(-1, keepdims=True)
    e = np.where(allowed, np.exp(s - np.where(np.isfinite(m), m, 0.0)), 0.0)
    total = e.sum(-1, keepdims=True)
    p = np.divide(e, total, out=np.zeros_like(e), where=total > 0)
    out = p @ vr
    dv = p.swapaxes(-1, -2) @ dy
    dp = dy @ vr.swapaxes(-1, -2)
    ds = p * (dp - (dp * p).sum(-1, keepdims=True))
    dq = ds @ kr * scale
    dk = ds.swapaxes(-1, -2) @ q * scale
    fold = lambda x: x.reshape(B, Hkv, group, Lk, D).sum(2)  # noqa: E731
    return out, dq, fold(dk), fold(dv)


def check(q, k, v, dy, causal=None, **kwargs):
    options = dict(is_causal=causal is not None, causal_alignment=causal or "top_left")
    out, lse = _C.attention_forward(q, k, v, **options, **kwargs)
    grads = _C.attention_backward(dy, q, k, v, out, lse, **options, **kwargs)
    want = reference(q, k, v, dy, causal, kwargs.get("scale"))
    for name, a, b in zip(["out", "dq", "dk", "dv"], (out,) + tuple(grads), want):
        assert a.shape == b.shape, name
        np.testing.assert_allclose(a, b, atol=ATOL, rtol=RTOL, err_msg=name)
    return out, lse, grads


def draw(rng, B, H, Hkv, Lq, Lk, D):
    return (rng.standard_normal((B, H, Lq, D), dtype=np.float32),
            rng.standard_normal((B, Hkv, Lk, D), dtype=np.float32),
            rng.standard_normal((B, Hkv, Lk, D), dtype=np.float32),
            rng.standard_normal((B, H, Lq, D), dtype=np.float32))


SHAPES = [  # (B, H, Hkv, Lq, Lk, D): groups of 1..6, Lq <, =, > Lk, tile edges (128) crossed, odd D
    (1, 2, 1, 1, 1, 8), (2, 6, 2, 11, 13, 8), (1, 4, 4, 5, 5, 3), (2, 3, 1, 1, 17, 13), (1, 6, 3, 37, 200, 16),
    (3, 4, 2, 130, 129, 32), (1, 4, 1, 150, 40, 7), (1, 8, 2, 64, 300, 24),
    (2, 6, 3, 4, 9, 5), (1, 4, 2, 3, 2, 8),  # few query rows (the decoding path), Lq < and > Lk
]


@pytest.mark.parametrize("causal", [None, "top_left", "bottom_right"])
@pytest.mark.parametrize("B,H,Hkv,Lq,Lk,D", SHAPES)
def test_grouped_heads_and_causal_alignment(rng, threads, B, H, Hkv, Lq, Lk, D, causal):
    check(*draw(rng, B, H, Hkv, Lq, Lk, D), causal=causal)


def test_bottom_right_rows_before_the_keys_are_fully_masked(rng):
    # Lq > Lk bottom-right: query i sees keys j <= i - (Lq - Lk); the first Lq - Lk rows see none -> 0, zero grads.
    q, k, v, dy = draw(rng, 1, 2, 1, 9, 4, 8)
    out, lse, (dq, dk, dv) = check(q, k, v, dy, causal="bottom_right")
    assert np.all(out[:, :, :5] == 0) and np.all(dq[:, :, :5] == 0) and np.all(np.isinf(lse[:, :, :5]))


def test_single_query_after_a_cache_sees_every_key(rng):
    # Decoding: one new query row against Lk cached keys; bottom-right it attends to all of them, top-left to one.
    q, k, v, dy = draw(rng, 2, 4, 2, 1, 33, 16)
    full, _ = _C.attention_forward(q, k, v)
    bottom, _ = _C.attention_forward(q, k, v, is_causal=True, causal_alignment="bottom_right")
    top, _ = _C.attention_forward(q, k, v, is_causal=True)
    np.testing.assert_array_equal(bottom, full)
    np.testing.assert_allclose(top, np.repeat(v, 2, axis=1)[:, :, :1], atol=1e-6)


@pytest.mark.parametrize("B,H", [(1, 2), (4, 4)])  # few key/value heads (split over key blocks) and many
def test_deterministic_across_threads(rng, B, H):
    q, k, v, dy = draw(rng, B, H, H // 2, 150, 170, 24)
    results = []
    old = sk.get_num_threads()
    try:
        for n in (1, 2, 2):
            sk.set_num_threads(n)
            out, lse = _C.attention_forward(q, k, v, is_causal=True, causal_alignment="bottom_right")
            results.append((out, lse) + tuple(_C.attention_backward(dy, q, k, v, out, lse, is_causal=True,
                                                                    causal_alignment="bottom_right")))
    finally:
        sk.set_num_threads(old)
    for other in results[1:]:
        for a, b in zip(results[0], other):
            assert np.array_equal(a, b)


def test_strided_cache_prefix_read_in_place(rng, threads):
    # A preallocated cache (B, Hkv, 64, D) of which the first 23 positions are filled, and q taken as heads of a
    # fused (B, L, H, D) projection: the same results as contiguous copies.
    B, H, Hkv, Lq, D = 2, 4, 2, 5, 16
    cache_k, cache_v = (rng.standard_normal((B, Hkv, 64, D), dtype=np.float32) for _ in range(2))
    q = rng.standard_normal((B, Lq, H, D), dtype=np.float32).transpose(0, 2, 1, 3)
    dy = rng.standard_normal((B, H, Lq, D), dtype=np.float32)
    k, v = cache_k[:, :, :23], cache_v[:, :, :23]
    assert not k.flags.c_contiguous and not q.flags.c_contiguous
    got = check(q, k, v, dy, causal="bottom_right")
    want = check(*(np.ascontiguousarray(x) for x in (q, k, v, dy)), causal="bottom_right")
    for a, b in zip((got[0], got[1]) + got[2], (want[0], want[1]) + want[2]):
        np.testing.assert_array_equal(a, b)
    # Layouts that cannot be read in place (a reversed axis, a strided last axis) are copied, with the same result.
    check(q[:, :, ::-1, ::2], k[..., ::2], v[..., ::2], dy[:, :, ::-1, ::2], causal="top_left")


def test_bad_input():
    a = np.zeros((1, 4, 3, 8), dtype=np.float32)
    kv = np.zeros((1, 3, 3, 8), dtype=np.float32)
    with pytest.raises(ValueError, match="divide"):
        _C.attention_forward(a, kv, kv)
    with pytest.raises(ValueError, match="causal_alignment"):
        _C.attention_forward(a, a, a, is_causal=True, causal_alignment="bottom-right")
    with pytest.raises(ValueError, match="value"):
        _C.attention_forward(a, a[:, :2], a[:, :1])
    out, lse = _C.attention_forward(a, a[:, :2], a[:, :2])
    with pytest.raises(ValueError, match="grad_out"):
        _C.attention_backward(a[:, :2], a, a[:, :2], a[:, :2], out, lse)


def test_matches_torch_gqa_and_lower_right(rng):
    torch = pytest.importorskip("torch")
    from torch.nn.attention.bias import causal_lower_right

    for B, H, Hkv, Lq, Lk, D in [(2, 6, 2, 7, 19, 8), (1, 8, 1, 130, 130, 32), (2, 4, 2, 1, 50, 16)]:
        q, k, v, dy = draw(rng, B, H, Hkv, Lq, Lk, D)
        for causal in (None, "top_left", "bottom_right"):
            tq, tk, tv = (torch.tensor(x, requires_grad=True) for x in (q, k, v))
            if causal == "bottom_right":  # torch's bias object; and as an explicit boolean mask
                want = torch.nn.functional.scaled_dot_product_attention(
                    tq, tk.repeat_interleave(H // Hkv, 1), tv.repeat_interleave(H // Hkv, 1),
                    attn_mask=causal_lower_right(Lq, Lk))
                mask = torch.ones(Lq, Lk, dtype=torch.bool).tril(diagonal=Lk - Lq)
                explicit = torch.nn.functional.scaled_dot_product_attention(tq, tk, tv, attn_mask=mask,
                                                                            enable_gqa=True)
                torch.testing.assert_close(want, explicit)
            else:
                want = torch.nn.functional.scaled_dot_product_attention(tq, tk, tv, is_causal=causal is not None,
                                                                        enable_gqa=True)
            want.backward(torch.from_numpy(dy))
            options = dict(is_causal=causal is not None, causal_alignment=causal or "top_left")
            out, lse = _C.attention_forward(q, k, v, **options)
            grads = _C.attention_backward(dy, q, k, v, out, lse, **options)
            for a, b in zip((out,) + tuple(grads), (want, tq.grad, tk.grad, tv.grad)):
                np.testing.assert_allclose(a, b.detach().numpy(), atol=ATOL, rtol=RTOL)


@pytest.mark.parametrize("lead", [(), (2,), (2, 3)])  # (H, L, D), (B, H, L, D), (A, B, H, L, D)
def test_functional_gqa_bottom_right(rng, lead):
    import seqkernels.functional as F

    q, k, v, dy = draw(rng, int(np.prod(lead, dtype=int)), 6, 2, 5, 12, 8)
    q, dy = (x.reshape(lead + (6, 5, 8)) for x in (q, dy))
    k, v = (x.reshape(lead + (2, 12, 8)) for x in (k, v))
    tq, tk, tv = (sk.tensor(x, requires_grad=True) for x in (q, k, v))
    out = F.scaled_dot_product_attention(tq, tk, tv, is_causal=True, enable_gqa=True, causal_alignment="bottom_right")
    out.backward(dy)
    want = reference(*(x.reshape((-1,) + x.shape[-3:]) for x in (q, k, v, dy)), causal="bottom_right")
    for a, b in zip((out, tq.grad, tk.grad, tv.grad), want):
        np.testing.assert_allclose(a.numpy(), b.reshape(a.shape), atol=ATOL, rtol=RTOL)
    with pytest.raises(ValueError, match="causal_alignment"):
        F.scaled_dot_product_attention(tq, tk, tv, enable_gqa=True, causal_alignment="lower_right")
