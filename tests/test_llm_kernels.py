"""The LLM kernels against numpy references: RMSNorm, rotary embedding (both layouts), SiLU / SwiGLU, and the
quantized GGUF products (Q4_0, Q4_1, Q8_0) against dequantize-then-float-GEMM (with gguf's own reference
quantizer and dequantizer)."""
import numpy as np
import pytest

import seqkernels as sk
from seqkernels import _C
from seqkernels.ops import quantized as Q
from seqkernels.ops.rms_norm import rms_norm_backward, rms_norm_forward
from seqkernels.ops.rotary import rotary_embedding_backward, rotary_embedding_forward
from seqkernels.ops.elementwise import silu_backward, silu_forward
from seqkernels.ops.swiglu import swiglu_backward, swiglu_forward

rng = np.random.default_rng(1234)


def randn(*shape):
    return rng.standard_normal(shape).astype(np.float32)


# ---- RMSNorm ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("rows,dim", [(1, 1), (3, 7), (17, 64), (5, 576)])
@pytest.mark.parametrize("with_weight", [True, False])
def test_rms_norm_matches_numpy_forward_and_backward(rows, dim, with_weight):
    x, w, dy = randn(rows, dim), (randn(dim) if with_weight else None), randn(rows, dim)
    eps = 1e-5
    y, rstd = rms_norm_forward(x, w, eps)
    x64 = x.astype(np.float64)
    r = 1 / np.sqrt((x64 ** 2).mean(-1, keepdims=True) + eps)
    ref = x64 * r * (1 if w is None else w)
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(rstd, r[:, 0], rtol=1e-5)
    dx, dw = rms_norm_backward(dy, x, rstd, w)
    # d/dx of x r w: g = dy w;  dx = r (g - xhat mean(g xhat))
    g = dy * (1 if w is None else w)
    xhat = x64 * r
    dx_ref = r * (g - xhat * (g * xhat).mean(-1, keepdims=True))
    np.testing.assert_allclose(dx, dx_ref, rtol=1e-4, atol=1e-5)
    if with_weight:
        np.testing.assert_allclose(dw, (dy * xhat).sum(0), rtol=1e-4, atol=1e-5)
    else:
        assert dw is None


def test_rms_norm_gradient_by_finite_differences():
    x, w, dy = randn(3, 9).astype(np.float64), randn(9).astype(np.float64), randn(3, 9)
    _, rstd = rms_norm_forward(x.astype(np.float32), w.astype(np.float32), 1e-6)
    dx, _ = rms_norm_backward(dy, x.astype(np.float32), rstd, w.astype(np.float32))

    def f(xx):
        return (xx / np.sqrt((xx ** 2).mean(-1, keepdims=True) + 1e-6) * w * dy).sum()

    num = np.zeros_like(x)
    for idx in np.ndindex(*x.shape):
        e = np.zeros_like(x)
        e[idx] = 1e-6
        num[idx] = (f(x + e) - f(x - e)) / 2e-6
    np.testing.assert_allclose(dx, num, rtol=1e-3, atol=1e-4)


def test_rms_norm_rejects_bad_input():
    with pytest.raises(TypeError, match="float32"):
        rms_norm_forward(np.ones((2, 3)), None)
    with pytest.raises(ValueError, match="weight"):
        rms_norm_forward(randn(2, 3), randn(4))


# ---- rotary embedding -----------------------------------------------------------------------------------
def rotary_reference(x, positions, head_dim, theta, interleaved, rotary_dim=None):
    """Hugging Face's rotate_half formulation (half-split) or GPT-J's pairs (interleaved), float64."""
    R = rotary_dim or head_dim
    inv = 1.0 / (theta ** (np.arange(0, R, 2, dtype=np.float32) / R)).astype(np.float32)
    ang = (positions.astype(np.float32)[:, None] * inv[None]).astype(np.float64)  # (T, R/2)
    cos, sin = np.cos(ang)[:, None], np.sin(ang)[:, None]
    T = x.shape[0]
    h = x.reshape(T, -1, head_dim).astype(np.float64)
    out = h.copy()
    if interleaved:
        a, b = h[..., 0:R:2], h[..., 1:R:2]
        out[..., 0:R:2], out[..., 1:R:2] = a * cos - b * sin, b * cos + a * sin
    else:
        a, b = h[..., :R // 2], h[..., R // 2:R]
        out[..., :R // 2], out[..., R // 2:R] = a * cos - b * sin, b * cos + a * sin
    return out.reshape(x.shape)


@pytest.mark.parametrize("interleaved", [False, True])
@pytest.mark.parametrize("tokens,heads,head_dim,rotary_dim", [(1, 1, 2, None), (5, 3, 64, None), (7, 2, 10, 6),
                                                              (3, 9, 64, None)])
def test_rotary_matches_reference_and_inverts(interleaved, tokens, heads, head_dim, rotary_dim):
    x = randn(tokens, heads * head_dim)
    positions = rng.integers(0, 200, tokens)
    y = rotary_embedding_forward(x, positions, head_dim, 10000.0, rotary_dim, interleaved)
    # The float32 angle p * inv_freq is exact to an ulp of ~200 (1.5e-5) whichever pow rounds inv_freq.
    np.testing.assert_allclose(y, rotary_reference(x, positions, head_dim, 10000.0, interleaved, rotary_dim),
                               rtol=0, atol=6e-5)
    back = rotary_embedding_backward(y, positions, head_dim, 10000.0, rotary_dim, interleaved)
    np.testing.assert_allclose(back, x, rtol=1e-5, atol=1e-5)


def test_rotary_layouts_agree_under_the_gguf_permutation():
    """llama.cpp's converter permutes q/k rows so that interleaved rotation of the permuted projection equals
    half-split rotation of the original: the identity from_gguf relies on."""
    T, H, D = 4, 3, 8
    x = randn(T, H * D)
    perm = np.arange(D).reshape(2, D // 2).T.reshape(-1)  # interleaved slot 2i <- i, 2i+1 <- i + D/2
    xp = x.reshape(T, H, D)[:, :, perm].reshape(T, H * D)
    pos = np.arange(T) + 11
    a = rotary_embedding_forward(x, pos, D, 500.0, interleaved=False).reshape(T, H, D)[:, :, perm]
    b = rotary_embedding_forward(xp, pos, D, 500.0, interleaved=True).reshape(T, H, D)
    np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)


def test_rotary_in_place_on_a_column_slice():
    full = randn(6, 40)
    expect = full.copy()
    expect[:, 8:24] = rotary_embedding_forward(np.ascontiguousarray(full[:, 8:24]), np.arange(6), 8)
    rotary_embedding_forward(full[:, 8:24], np.arange(6), 8, inplace=True)
    np.testing.assert_array_equal(full, expect)


def test_rotary_rejects_bad_input():
    with pytest.raises(ValueError, match="head_dim"):
        rotary_embedding_forward(randn(2, 10), np.arange(2), 4)
    with pytest.raises(ValueError, match="rotary_dim"):
        rotary_embedding_forward(randn(2, 8), np.arange(2), 8, rotary_dim=3)
    with pytest.raises(TypeError):
        rotary_embedding_forward(randn(2, 8), np.arange(2.0), 8)


# ---- SiLU and SwiGLU -----------------------------------------------------------------------------------
def silu_ref(x):
    x = x.astype(np.float64)
    return x / (1 + np.exp(-x))


@pytest.mark.parametrize("n", [1, 7, 16, 1000])
def test_silu_forward_backward(n):
    x, dy = randn(n) * 4, randn(n)
    (y,), (dx,) = silu_forward(x), silu_backward(dy, x)
    np.testing.assert_allclose(y, silu_ref(x), rtol=1e-5, atol=1e-6)
    s = 1 / (1 + np.exp(-x.astype(np.float64)))
    np.testing.assert_allclose(dx, dy * s * (1 + x * (1 - s)), rtol=1e-5, atol=1e-6)
    big = np.array([-100.0, -30.0, 0.0, 30.0, 100.0], np.float32)
    np.testing.assert_allclose(silu_forward(big)[0], silu_ref(big), rtol=1e-6, atol=1e-30)


@pytest.mark.parametrize("rows,dim", [(1, 1), (3, 13), (5, 64)])
def test_swiglu_fused_on_halves_of_one_matrix(rows, dim):
    gu, dy = randn(rows, 2 * dim) * 3, randn(rows, dim)
    g, u = gu[:, :dim], gu[:, dim:]
    y = swiglu_forward(g, u)
    np.testing.assert_allclose(y, silu_ref(g) * u, rtol=1e-5, atol=1e-6)
    dg, du = swiglu_backward(dy, g, u)
    s = 1 / (1 + np.exp(-g.astype(np.float64)))
    np.testing.assert_allclose(dg, dy * u * s * (1 + g * (1 - s)), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(du, dy * silu_ref(g), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="same shape"):
        swiglu_forward(g, u[:, :-1] if dim > 1 else u[:0])


# ---- quantized products -----------------------------------------------------------------------------------
gguf = pytest.importorskip("gguf")
from gguf import GGMLQuantizationType as GT  # noqa: E402

TYPES = [(GT.Q4_0, Q.Q4_0), (GT.Q4_1, Q.Q4_1), (GT.Q8_0, Q.Q8_0)]


def q8_activations(x):
    """x as the kernel quantizes it: per 32 values d = max|x| / 127, round to nearest even."""
    M, K = x.shape
    b = x.reshape(M, K // 32, 32).astype(np.float32)
    amax = np.abs(b).max(-1, keepdims=True)
    inv = np.where(amax > 0, np.float32(127) / np.where(amax > 0, amax, 1), 0).astype(np.float32)
    q = np.rint(b * inv)
    return (q * (amax / np.float32(127))).reshape(M, K).astype(np.float64)


@pytest.mark.parametrize("gt,qtype", TYPES, ids=lambda t: getattr(t, "name", str(t)))
# M >= 8 takes the AVX-512 prefill path (panels of 32 weight rows x tiles of 6 tokens): token counts and row
# counts around and off those multiples (7 | 8, 13 = 2 tiles + 1, 31 | 32 | 33 rows, a last panel of 1 row).
# M < 8 takes the AVX-512 decode path (groups of 4 blocks, tiles of 4 weight rows): K / 32 = 1, 3, 4, 5, 8, 18
# blocks (a last group of 1..4 blocks, read with masked loads) and row counts off the tile (1, 6, 13, 37).
@pytest.mark.parametrize("M,N,K", [(1, 1, 32), (1, 13, 96), (1, 37, 576), (3, 7, 64), (5, 130, 160), (17, 61, 576),
                                   (7, 33, 64), (8, 32, 32), (13, 31, 96), (12, 65, 64), (29, 1, 160),
                                   (1, 6, 128), (2, 9, 256), (1, 4, 1536)])
def test_quant_matmul_equals_dequantized_gemm(gt, qtype, M, N, K):
    W = randn(N, K)
    Wq = gguf.quants.quantize(W, gt)
    Wd = gguf.quants.dequantize(Wq, gt).astype(np.float64)
    np.testing.assert_array_equal(Q.dequantize(Wq, qtype), Wd.astype(np.float32))
    x = randn(M, K)
    y = Q.quant_matmul(x, Wq, qtype)
    # Exact up to float32 rounding of the sums: the product of the dequantized operands.
    exact = q8_activations(x) @ Wd.T
    scale = np.abs(q8_activations(x)) @ np.abs(Wd.T)
    assert np.all(np.abs(y - exact) <= 1e-5 * scale + 1e-6)
    # Against float x: the 8-bit activations' rounding, |da| <= d_a / 2 per element.
    d_a = np.abs(x.reshape(M, K // 32, 32)).max(-1) / 127
    bound = (np.repeat(d_a, 32, axis=1) / 2) @ np.abs(Wd.T)
    assert np.all(np.abs(y - x.astype(np.float64) @ Wd.T) <= bound + 1e-5 * scale + 1e-6)


@pytest.mark.parametrize("gt,qtype", TYPES, ids=lambda t: getattr(t, "name", str(t)))
@pytest.mark.parametrize("M", [1, 4, 9])  # 1, 4: row tiles within each matrix; 9: one panel spanning all three
def test_quant_matmul_stacked_weights_and_bias(gt, qtype, M):
    K = 64
    parts = [gguf.quants.quantize(randn(n, K), gt) for n in (5, 1, 9)]
    x, bias = randn(M, K), randn(15)
    y = Q.quant_matmul(x, parts, qtype, bias)
    one = Q.quant_matmul(x, np.concatenate(parts), qtype, bias)
    np.testing.assert_array_equal(y, one)
    np.testing.assert_allclose(y - bias, Q.quant_matmul(x, np.concatenate(parts), qtype), rtol=1e-6, atol=1e-5)


def test_quant_matmul_thread_count_and_zero_rows():
    Wq = gguf.quants.quantize(randn(67, 128), GT.Q4_1)
    x = randn(6, 128)
    x[2] = 0
    ys = []
    for threads in (1, 2):
        sk.set_num_threads(threads)
        ys.append(Q.quant_matmul(x, Wq, Q.Q4_1))
    np.testing.assert_array_equal(ys[0], ys[1])
    assert np.all(ys[0][2] == 0)


def test_quantize_q8_0_matches_gguf():
    x = randn(7, 96) * 3
    x[1, :32] = 0
    np.testing.assert_array_equal(Q.quantize_q8_0(x), gguf.quants.quantize(x, GT.Q8_0))


def test_dequantize_rows_by_id():
    Wq = gguf.quants.quantize(randn(10, 64), GT.Q8_0)
    full = Q.dequantize(Wq, Q.Q8_0)
    np.testing.assert_array_equal(Q.dequantize(Wq, Q.Q8_0, np.array([[3, 0], [9, 3]])), full[[[3, 0], [9, 3]]])
    with pytest.raises(IndexError, match="10"):
        Q.dequantize(Wq, Q.Q8_0, np.array([10]))


def test_quant_matmul_rejects_bad_input():
    Wq = gguf.quants.quantize(randn(4, 64), GT.Q4_0)
    with pytest.raises(ValueError, match="multiple of 32"):
        Q.quant_matmul(randn(2, 40), Wq[:, :20], Q.Q4_0)
    with pytest.raises(ValueError, match="columns"):
        Q.quant_matmul(randn(2, 32), Wq, Q.Q4_0)
    with pytest.raises(ValueError, match="blocks"):
        Q.quant_matmul(randn(2, 64), np.ascontiguousarray(Wq[:, :35]), Q.Q4_0)
    with pytest.raises(ValueError, match="qtype"):
        Q.quant_matmul(randn(2, 64), Wq, 7)
    with pytest.raises(TypeError, match="uint8"):
        Q.quant_matmul(randn(2, 64), Wq.astype(np.int16), Q.Q4_0)
    with pytest.raises(TypeError, match="float32"):
        Q.quant_matmul(np.ones((2, 64)), Wq, Q.Q4_0)
    assert _C.quant_kernel_name() in ("avx512-vnni", "avx2", "scalar")
