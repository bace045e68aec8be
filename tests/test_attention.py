"""Fused attention (sk.functional.scaled_dot_product_attention): output and dq, dk, dv against torch, on
awkward shapes, causal with Lq != Lk, broadcast masks, fully masked rows, dropout, determinism, errors."""
import numpy as np
import pytest


import seqkernels as sk  # noqa: E402
import seqkernels.functional as F  # noqa: E402
from seqkernels import _C  # noqa: E402

# float32 kernels against a float64 reference: each output is a convex combination of values (and each
# gradient a sum of Lk or Lq products) of O(1) numbers, accumulated in float32 over at most ~300 terms in
# tiles, so errors stay within a few hundred ulps of 1; 2e-5 absolute (+1e-4 relative for the larger
# gradients) leaves a margin of ~5x over what we observe, while any indexing or masking bug gives O(0.1).
ATOL, RTOL = 2e-5, 1e-4


def reference(q, k, v, mask=None, causal=False, scale=None, keep=None):
    """Attention in float64 torch with autograd; a fully masked row gives 0 (plain softmax would give NaN).
    keep: optional dropout factors (0 or 1/(1-p)) of shape (..., Lq, Lk)."""
    torch = pytest.importorskip("torch")
    q, k, v = (torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in (q, k, v))
    scale = 1.0 / np.sqrt(q.shape[-1]) if scale is None else scale
    s = q @ k.transpose(-1, -2) * scale
    allowed = torch.ones(s.shape, dtype=torch.bool)
    if causal:
        allowed = allowed & torch.ones(s.shape[-2:], dtype=torch.bool).tril()
    if mask is not None:
        m = torch.from_numpy(np.asarray(mask))
        if m.dtype == torch.bool:
            allowed = allowed & m
        else:
            s = s + m.double()
    empty = ~allowed.any(-1, keepdim=True)
    s = s.masked_fill(~allowed, float("-inf")).masked_fill(empty, 0.0)
    p = torch.softmax(s, -1).masked_fill(empty, 0.0)
    if keep is not None:
        p = p * torch.from_numpy(keep).double()
    return q, k, v, p @ v


def run_both(rng, shape_q, shape_k, mask=None, causal=False, scale=None):
    torch = pytest.importorskip("torch")
    q = rng.standard_normal(shape_q, dtype=np.float32)
    k = rng.standard_normal(shape_k, dtype=np.float32)
    v = rng.standard_normal(shape_k, dtype=np.float32)
    g = rng.standard_normal(shape_q, dtype=np.float32)
    tq, tk, tv = (sk.tensor(x, requires_grad=True) for x in (q, k, v))
    out = F.scaled_dot_product_attention(tq, tk, tv, attn_mask=mask, is_causal=causal, scale=scale)
    out.backward(g)
    rq, rk, rv, ro = reference(q, k, v, mask, causal, scale)
    ro.backward(torch.from_numpy(g).double())
    ours = [out.numpy(), tq.grad.numpy(), tk.grad.numpy(), tv.grad.numpy()]
    want = [ro.detach().numpy(), rq.grad.numpy(), rk.grad.numpy(), rv.grad.numpy()]
    for name, a, b in zip(["out", "dq", "dk", "dv"], ours, want):
        np.testing.assert_allclose(a, b, atol=ATOL, rtol=RTOL, err_msg=name)
    return ours


SHAPES = [  # (B, H, Lq, Lk, D)
    (1, 1, 1, 1, 8), (2, 3, 1, 17, 13), (2, 2, 17, 1, 5), (2, 3, 37, 53, 13), (1, 1, 200, 130, 64),
    (1, 2, 130, 257, 37), (3, 2, 129, 129, 32), (1, 2, 70, 70, 128),
]


@pytest.mark.parametrize("causal", [False, True], ids=["full", "causal"])
@pytest.mark.parametrize("B,H,Lq,Lk,D", SHAPES)
def test_matches_reference(rng, threads, B, H, Lq, Lk, D, causal):
    run_both(rng, (B, H, Lq, D), (B, H, Lk, D), causal=causal)


def test_matches_torch_sdpa(rng):
    # The float64 reference above is itself checked against torch's own kernel once.
    torch = pytest.importorskip("torch")
    q, k, v = (rng.standard_normal((2, 3, 19, 24), dtype=np.float32) for _ in range(3))
    for causal in (False, True):
        want = torch.nn.functional.scaled_dot_product_attention(*map(torch.from_numpy, (q, k, v)), is_causal=causal)
        np.testing.assert_allclose(reference(q, k, v, causal=causal)[3].detach().numpy(), want.numpy(), atol=1e-5)
        got = F.scaled_dot_product_attention(sk.tensor(q), sk.tensor(k), sk.tensor(v), is_causal=causal)
        np.testing.assert_allclose(got.numpy(), want.numpy(), atol=ATOL)


@pytest.mark.parametrize("mask_shape", [(3, 21, 34), (2, 1, 21, 34), (2, 3, 1, 34), (21, 34), (34,)],
                         ids=["over-batch", "over-heads", "over-rows", "2d", "1d"])
@pytest.mark.parametrize("kind", ["bool", "additive"])
def test_broadcast_masks(rng, mask_shape, kind):
    if kind == "bool":
        mask = rng.random(mask_shape) > 0.3
        mask[..., 0] = True  # no fully masked rows here (they have their own test)
    else:
        mask = rng.standard_normal(mask_shape, dtype=np.float32) * 3
    run_both(rng, (2, 3, 21, 16), (2, 3, 34, 16), mask=mask)


@pytest.mark.parametrize("kind", ["bool", "additive"])
def test_masks_with_few_query_rows(rng, kind):
    # Up to 4 query rows per head (decoding against a cache) take the kernel's row-at-a-time path: masks
    # there too, a fully masked row included (zero output and gradients).
    shape = (2, 3, 3, 34)
    if kind == "bool":
        mask = rng.random(shape) > 0.3
        mask[..., 0] = True
        mask[1, 2, 1] = False
    else:
        mask = rng.standard_normal(shape, dtype=np.float32) * 3
    out, dq = run_both(rng, (2, 3, 3, 16), (2, 3, 34, 16), mask=mask)[:2]
    if kind == "bool":
        assert np.all(out[1, 2, 1] == 0) and np.all(dq[1, 2, 1] == 0)


def test_scale_and_strided_mask(rng):
    mask = (rng.random((34, 21)) > 0.2).T  # a transposed (non-contiguous) view is read in place
    mask[:, 0] = True
    run_both(rng, (2, 3, 21, 16), (2, 3, 34, 16), mask=mask, scale=0.3)


def test_fully_masked_rows_give_zero_and_zero_grads(rng, threads):
    # A key padding mask (B, 1, 1, Lk) with batch 1 entirely padded, plus a per-row mask blanking row 4.
    torch = pytest.importorskip("torch")
    B, H, L, D = 2, 3, 11, 16
    mask = np.ones((B, 1, L, L), dtype=bool)
    mask[0, :, :, 7:] = False
    mask[1] = False
    mask[0, :, 4] = False
    out, dq, dk, dv = run_both(rng, (B, H, L, D), (B, H, L, D), mask=mask)
    assert np.all(out[1] == 0) and np.all(out[0, :, 4] == 0)
    assert np.all(dq[1] == 0) and np.all(dk[1] == 0) and np.all(dv[1] == 0) and np.all(dq[0, :, 4] == 0)
    assert np.all(dk[0, :, 7:] == 0) and np.all(dv[0, :, 7:] == 0)  # padded keys get no gradient
    # torch's CPU kernel (2.x) also gives 0 there (its math path gives NaN); all rows agree.
    q, k, v = (rng.standard_normal((B, H, L, D), dtype=np.float32) for _ in range(3))
    want = torch.nn.functional.scaled_dot_product_attention(*map(torch.from_numpy, (q, k, v)),
                                                            attn_mask=torch.from_numpy(mask)).numpy()
    got = F.scaled_dot_product_attention(sk.tensor(q), sk.tensor(k), sk.tensor(v), attn_mask=mask).numpy()
    finite = np.isfinite(want)
    np.testing.assert_allclose(got[finite], want[finite], atol=ATOL)
    assert np.all(got[~finite] == 0)


def test_leading_dims_other_than_two(rng):
    # (N, L, D) and (A, B, C, L, D) fold into the 4-D kernel and back; the mask follows.
    torch = pytest.importorskip("torch")
    for lead in [(3,), (2, 2, 3)]:
        q, k, v = (rng.standard_normal(lead + (9, 8), dtype=np.float32) for _ in range(3))
        mask = rng.random(lead[-1:] + (9, 9)) > 0.2
        mask[..., 0] = True
        got = F.scaled_dot_product_attention(sk.tensor(q), sk.tensor(k), sk.tensor(v), attn_mask=mask).numpy()
        want = torch.nn.functional.scaled_dot_product_attention(*map(torch.from_numpy, (q, k, v)),
                                                                attn_mask=torch.from_numpy(mask)).numpy()
        np.testing.assert_allclose(got, want, atol=ATOL)


@pytest.mark.parametrize("B,H", [(1, 1), (2, 3)])  # heads < threads and >= threads take different paths
def test_deterministic_across_threads(rng, B, H):
    q, k, v, g = (rng.standard_normal((B, H, 150, 24), dtype=np.float32) for _ in range(4))
    results = []
    old = sk.get_num_threads()
    try:
        for n in (1, 2, 2):
            sk.set_num_threads(n)
            out, lse = _C.attention_forward(q, k, v, is_causal=True)
            results.append((out, lse) + tuple(_C.attention_backward(g, q, k, v, out, lse, is_causal=True)))
    finally:
        sk.set_num_threads(old)
    for other in results[1:]:
        for a, b in zip(results[0], other):
            assert np.array_equal(a, b)


@pytest.mark.parametrize("Lq", [9, 4], ids=["tiles", "few-rows"])
def test_dropout(rng, Lq):
    torch = pytest.importorskip("torch")
    B, H, Lk, p = 2, 2, 16, 0.3
    q, k, v, g = (rng.standard_normal(s, dtype=np.float32) for s in
                  [(B, H, Lq, Lk), (B, H, Lk, Lk), (B, H, Lk, Lk), (B, H, Lq, Lk)])
    eye = sk.tensor(np.broadcast_to(np.eye(Lk, dtype=np.float32), v.shape))
    probs = F.scaled_dot_product_attention(sk.tensor(q), sk.tensor(k), eye)
    sk.manual_seed(5)
    dropped = F.scaled_dot_product_attention(sk.tensor(q), sk.tensor(k), eye, dropout_p=p).numpy()
    keep = dropped / probs.numpy()  # with v = I the output is the dropped probabilities themselves
    kept = keep > 0
    np.testing.assert_allclose(keep[kept], 1 / (1 - p), rtol=1e-5)
    assert abs(kept.mean() - (1 - p)) < 4 * np.sqrt(p * (1 - p) / kept.size)  # 4 standard deviations
    # The same seed gives the same mask, and backward uses it: compare with the reference under `keep`.
    sk.manual_seed(5)
    tq, tk, tv = (sk.tensor(x, requires_grad=True) for x in (q, k, v))
    out = F.scaled_dot_product_attention(tq, tk, tv, dropout_p=p)
    out.backward(g)
    rq, rk, rv, ro = reference(q, k, v, keep=np.where(kept, 1 / (1 - p), 0.0))
    ro.backward(torch.from_numpy(g).double())
    for a, b in [(out.numpy(), ro.detach().numpy()), (tq.grad.numpy(), rq.grad.numpy()),
                 (tk.grad.numpy(), rk.grad.numpy()), (tv.grad.numpy(), rv.grad.numpy())]:
        np.testing.assert_allclose(a, b, atol=ATOL, rtol=RTOL)
    # A different seed gives a different mask.
    sk.manual_seed(6)
    again = F.scaled_dot_product_attention(sk.tensor(q), sk.tensor(k), eye, dropout_p=p).numpy()
    assert not np.array_equal(again > 0, kept)


def test_bad_input():
    x = sk.tensor(np.zeros((1, 2, 3, 4), dtype=np.float32))
    sdpa = F.scaled_dot_product_attention
    with pytest.raises(TypeError, match="query"):
        sdpa(sk.tensor(np.zeros((1, 2, 3, 4)), dtype=np.float64), x, x)
    with pytest.raises(TypeError, match="key"):
        sdpa(x, [[1.0]], x)
    with pytest.raises(ValueError, match="at least 3"):
        sdpa(sk.tensor(np.zeros((3, 4), dtype=np.float32)), x, x)
    with pytest.raises(ValueError, match="equal leading dims"):
        sdpa(x, sk.tensor(np.zeros((1, 2, 3, 5), dtype=np.float32)), x)
    with pytest.raises(ValueError, match="attn_mask"):
        sdpa(x, x, x, attn_mask=np.ones((2, 2), dtype=bool))
    with pytest.raises(TypeError, match="attn_mask"):
        sdpa(x, x, x, attn_mask=np.ones((3, 3), dtype=np.int64))
    with pytest.raises(ValueError, match="dropout_p"):
        sdpa(x, x, x, dropout_p=1.0)
    with pytest.raises(ValueError, match="not both"):
        sdpa(x, x, x, attn_mask=np.ones((3, 3), dtype=bool), is_causal=True)
    a = np.zeros((1, 2, 3, 4), dtype=np.float32)
    with pytest.raises(ValueError, match="at most 4"):
        _C.attention_forward(a, a, a, np.ones((1, 1, 1, 3, 3), dtype=bool))
    with pytest.raises(ValueError, match="value"):
        _C.attention_forward(a, a, np.zeros((1, 2, 3, 5), dtype=np.float32))
    with pytest.raises(ValueError, match="lse"):
        _C.attention_backward(a, a, a, a, a, np.zeros((1, 2, 4), dtype=np.float32))


def test_grouped_query_attention(rng):
    torch = pytest.importorskip("torch")
    q, g = (rng.standard_normal((2, 6, 11, 8), dtype=np.float32) for _ in range(2))
    k, v = (rng.standard_normal((2, 2, 13, 8), dtype=np.float32) for _ in range(2))
    pq, pk, pv = (torch.tensor(x, requires_grad=True) for x in (q, k, v))
    want = torch.nn.functional.scaled_dot_product_attention(pq, pk, pv, enable_gqa=True)
    want.backward(torch.from_numpy(g))
    tq, tk, tv = (sk.tensor(x, requires_grad=True) for x in (q, k, v))
    got = F.scaled_dot_product_attention(tq, tk, tv, enable_gqa=True)
    got.backward(g)
    for a, b in [(got, want), (tq.grad, pq.grad), (tk.grad, pk.grad), (tv.grad, pv.grad)]:
        np.testing.assert_allclose(a.numpy(), b.detach().numpy(), atol=ATOL, rtol=RTOL)
    with pytest.raises(ValueError, match="enable_gqa"):
        F.scaled_dot_product_attention(tq, tk, tv)
    with pytest.raises(ValueError, match="enable_gqa"):
        F.scaled_dot_product_attention(tq, sk.tensor(k[:, :1].repeat(4, axis=1)), sk.tensor(v[:, :1].repeat(4, 1)),
                                       enable_gqa=True)


@pytest.mark.skipif(bool(sk.build_info()["sanitize"]),
                    reason="under ASan freed memory sits in its quarantine: the resident set is not ours to measure")
def test_memory_stays_linear_in_length():
    # A fresh interpreter runs forward+backward at L = 8192 (D = 8 keeps it cheap) while a thread samples its
    # resident set: an L x L float32 score matrix alone would add 256 MiB; the outputs add about 1.2 MiB.
    import subprocess
    import sys
    probe = """
import numpy as np
import seqkernels as sk, seqkernels.functional as F
from seqkernels.benchmarking import rss_growth
rng = np.random.default_rng(0)
q, k, v, g = (rng.standard_normal((1, 1, 8192, 8), dtype=np.float32) for _ in range(4))
tq, tk, tv = (sk.tensor(x, requires_grad=True) for x in (q, k, v))
F.scaled_dot_product_attention(tq[:, :, :64], tk[:, :, :64], tv[:, :, :64]).backward(g[:, :, :64])
print(rss_growth(lambda: F.scaled_dot_product_attention(tq, tk, tv).backward(g)) / 2**20)
"""
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert float(out.stdout.split()[-1]) < 32, out.stdout  # MiB


def test_nan_propagates_instead_of_looking_masked(rng):
    # A NaN query row makes every score of that row NaN; it must come out NaN (as torch), not as a
    # "fully masked" row of zeros. Other rows are unaffected.
    q, k, v = (rng.standard_normal((1, 2, 5, 8), dtype=np.float32) for _ in range(3))
    q[0, 1, 2, 3] = np.nan
    out = F.scaled_dot_product_attention(sk.tensor(q), sk.tensor(k), sk.tensor(v)).numpy()
    assert np.isnan(out[0, 1, 2]).all()
    out[0, 1, 2] = 0
    assert np.isfinite(out).all()
