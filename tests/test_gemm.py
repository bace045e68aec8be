"""GEMM against a float64 numpy reference, on awkward shapes, both transposes, alpha/beta, batches,
views, threads, and bad input."""
import threading

import numpy as np
import pytest

import seqkernels as sk
from seqkernels import _C

from conftest import gemm_error_bound

SHAPES = [
    (1, 1, 1), (1, 7, 3), (5, 1, 9), (3, 4, 1), (13, 17, 19), (14, 32, 256),  # exact register tile
    (15, 33, 257), (97, 101, 103), (31, 1, 500), (1, 300, 64), (640, 3, 7),  # tall-skinny / GEMV-like
    (64, 1024, 256), (200, 200, 600),  # LSTM step; K spans several KC blocks
    (3, 100, 37), (13, 64, 1000), (1, 1024, 1024), (7, 33, 5),  # few rows: B read in place, no packing
    (2048, 1, 2048), (300, 3, 129), (40, 4, 17), (33, 2, 1),  # few columns: matrix-vector products
    (301, 59, 1031), (150, 45, 700),  # split by rows: op(B) packed once, shared; ragged last panel and k-block
]


def reference(a, b, ta, tb, alpha=1.0, beta=0.0, c=None):
    a64 = a.astype(np.float64).T if ta else a.astype(np.float64)
    b64 = b.astype(np.float64).T if tb else b.astype(np.float64)
    out = alpha * (a64 @ b64)
    if c is not None and beta != 0.0:
        out = out + beta * c.astype(np.float64)
    return out, a64, b64


def assert_gemm_close(got, a64, b64, want, alpha=1.0, beta=0.0, c=None):
    bound = abs(alpha) * gemm_error_bound(a64, b64, a64.shape[-1])
    if c is not None and beta != 0.0:
        bound = bound + 2 * 2.0 ** -24 * np.abs(beta * c.astype(np.float64))
    err = np.abs(got.astype(np.float64) - want)
    assert np.all(err <= bound), f"max error {err.max():.3g}, worst ratio to bound {(err / bound).max():.3g}"


@pytest.mark.parametrize("M,N,K", SHAPES)
@pytest.mark.parametrize("ta,tb", [(False, False), (True, False), (False, True), (True, True)])
def test_gemm_matches_float64(rng, threads, M, N, K, ta, tb):
    a = rng.standard_normal((K, M) if ta else (M, K), dtype=np.float32)
    b = rng.standard_normal((N, K) if tb else (K, N), dtype=np.float32)
    want, a64, b64 = reference(a, b, ta, tb)
    got = _C.gemm(a, b, trans_a=ta, trans_b=tb)
    assert got.shape == (M, N) and got.dtype == np.float32
    assert_gemm_close(got, a64, b64, want)


@pytest.mark.parametrize("alpha,beta", [(2.5, 0.0), (1.0, 1.0), (-0.5, 3.0), (0.0, 2.0)])
def test_alpha_beta_accumulate(rng, threads, alpha, beta):
    M, N, K = 37, 45, 300
    a = rng.standard_normal((M, K), dtype=np.float32)
    b = rng.standard_normal((K, N), dtype=np.float32)
    c = rng.standard_normal((M, N), dtype=np.float32)
    want, a64, b64 = reference(a, b, False, False, alpha, beta, c)
    out = c.copy()
    _C.gemm(a, b, alpha=alpha, beta=beta, out=out)
    assert_gemm_close(out, a64, b64, want, alpha, beta, c)


def test_beta_zero_ignores_nan_in_out(rng):
    a = rng.standard_normal((20, 30), dtype=np.float32)
    b = rng.standard_normal((30, 40), dtype=np.float32)
    out = np.full((20, 40), np.nan, dtype=np.float32)
    _C.gemm(a, b, out=out)
    assert np.isfinite(out).all()
    want, a64, b64 = reference(a, b, False, False)
    assert_gemm_close(out, a64, b64, want)


@pytest.mark.parametrize("batch_a,batch_b", [(6, 6), (1, 5), (4, None), (None, 3)])
def test_batched(rng, threads, batch_a, batch_b):
    M, N, K = 17, 29, 40
    a = rng.standard_normal((M, K) if batch_a is None else (batch_a, M, K), dtype=np.float32)
    b = rng.standard_normal((K, N) if batch_b is None else (batch_b, K, N), dtype=np.float32)
    got = _C.gemm(a, b)
    want = np.matmul(a.astype(np.float64), b.astype(np.float64))
    assert got.shape == want.shape
    a64 = np.broadcast_to(a.astype(np.float64), want.shape[:-1] + (K,))
    b64 = np.broadcast_to(b.astype(np.float64), want.shape[:-2] + (K, N))
    assert np.all(np.abs(got - want) <= gemm_error_bound(a64, b64, K))


def test_batched_many_small_heads(rng, threads):
    # attention-like: 24 heads of 33x16 @ 16x33
    q = rng.standard_normal((24, 33, 16), dtype=np.float32)
    k = rng.standard_normal((24, 33, 16), dtype=np.float32)
    got = _C.gemm(q, k, trans_b=True)
    want = np.matmul(q.astype(np.float64), k.astype(np.float64).transpose(0, 2, 1))
    assert np.all(np.abs(got - want) <= gemm_error_bound(q.astype(np.float64), k.astype(np.float64).transpose(0, 2, 1), 16))


def test_views_are_read_correctly(rng):
    base = rng.standard_normal((50, 60), dtype=np.float32)
    views = {
        "transpose": base.T,                 # read in place with the transpose flag
        "row_slice": base[5:45, 3:40],       # read in place with a leading dimension
        "step_slice": base[::2, ::3],        # not unit stride: copied
        "negative": base[::-1, :],           # negative stride: copied
        "fortran": np.asfortranarray(base),  # column-major
    }
    for name, v in views.items():
        b = rng.standard_normal((v.shape[1], 7), dtype=np.float32)
        got = sk.matmul(v, b)
        want = v.astype(np.float64) @ b.astype(np.float64)
        assert np.all(np.abs(got - want) <= gemm_error_bound(v.astype(np.float64), b.astype(np.float64), v.shape[1])), name
        got_t = sk.matmul(b.T, v.T)
        assert np.allclose(got_t, want.T, rtol=1e-5, atol=1e-4), name


@pytest.mark.parametrize("a_shape,b_shape", [
    ((3,), (3,)), ((3,), (3, 4)), ((2, 3), (3,)), ((2, 1, 3, 4), (5, 4, 2)), ((7, 3, 4), (4, 5)),
    ((4, 5), (2, 5, 3)), ((2, 3, 4), (2, 4, 5)),
])
def test_matmul_numpy_semantics(rng, a_shape, b_shape):
    a = rng.standard_normal(a_shape, dtype=np.float32)
    b = rng.standard_normal(b_shape, dtype=np.float32)
    got = sk.matmul(a, b)
    want = np.matmul(a.astype(np.float64), b.astype(np.float64))
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("M,N,K", [(0, 5, 3), (4, 0, 3), (4, 5, 0), (0, 0, 0)])
def test_zero_size(M, N, K):
    a = np.ones((M, K), dtype=np.float32)
    b = np.ones((K, N), dtype=np.float32)
    got = sk.matmul(a, b)
    assert got.shape == (M, N)
    assert np.all(got == 0.0)
    out = np.full((M, N), 3.0, dtype=np.float32)
    _C.gemm(a, b, beta=0.5, out=out)
    assert np.all(out == 1.5)
    assert _C.gemm(np.ones((0, 2, 3), np.float32), np.ones((3, 4), np.float32)).shape == (0, 2, 4)


def test_two_python_threads_get_correct_results(rng):
    sk.set_num_threads(2)
    mats = [(rng.standard_normal((300, 200), dtype=np.float32), rng.standard_normal((200, 250), dtype=np.float32))
            for _ in range(2)]
    results = [None, None]

    def work(i):
        a, b = mats[i]
        for _ in range(20):
            results[i] = sk.matmul(a, b)

    ts = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    for (a, b), got in zip(mats, results):
        np.testing.assert_allclose(got, a.astype(np.float64) @ b, rtol=1e-4, atol=1e-4)


def test_wrong_dtype_is_type_error():
    a = np.ones((2, 3))
    with pytest.raises(TypeError, match=r"argument 'a' must be float32, got float64"):
        sk.matmul(a, np.ones((3, 2), np.float32))
    with pytest.raises(TypeError, match=r"'b' must be a float32 array, got int64"):
        _C.gemm(np.ones((2, 3), np.float32), np.ones((3, 2), np.int64))
    with pytest.raises(TypeError, match=r"must be a numpy array, got list"):
        sk.matmul([[1.0]], np.ones((1, 1), np.float32))


def test_shape_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"\(2, 3\) and \(4, 5\)"):
        sk.matmul(np.ones((2, 3), np.float32), np.ones((4, 5), np.float32))
    with pytest.raises(ValueError, match=r"\(2, 3\) and \(4, 5\)"):
        _C.gemm(np.ones((2, 3), np.float32), np.ones((4, 5), np.float32))
    with pytest.raises(ValueError, match=r"batch"):
        sk.matmul(np.ones((2, 2, 3), np.float32), np.ones((3, 3, 2), np.float32))
    with pytest.raises(ValueError, match=r"scalar"):
        sk.matmul(np.array(1.0, dtype=np.float32), np.ones((1,), np.float32))
    with pytest.raises(ValueError, match=r"2-D or 3-D"):
        _C.gemm(np.ones((2, 2, 2, 2), np.float32), np.ones((2, 2), np.float32))


def test_bad_out_arguments():
    a = np.ones((2, 3), np.float32)
    b = np.ones((3, 4), np.float32)
    with pytest.raises(ValueError, match=r"'out' must have shape \(2, 4\), got \(4, 2\)"):
        _C.gemm(a, b, out=np.zeros((4, 2), np.float32))
    with pytest.raises(ValueError, match=r"C-contiguous"):
        _C.gemm(a, b, out=np.zeros((4, 2), np.float32).T)
    with pytest.raises(ValueError, match=r"missing"):
        _C.gemm(a, b, beta=1.0)
    with pytest.raises(ValueError, match=r"share memory"):
        sq = np.ones((3, 3), np.float32)
        _C.gemm(sq, sq, out=sq)
    with pytest.raises(TypeError, match=r"'out' must be a float32 array, got float64"):
        _C.gemm(a, b, out=np.zeros((2, 4)))


def test_thread_settings():
    old = sk.get_num_threads()
    try:
        sk.set_num_threads(1)
        assert sk.get_num_threads() == 1
        with pytest.raises(ValueError, match=r"'n' must be between 1 and 4096, got 0"):
            sk.set_num_threads(0)
        with pytest.raises(TypeError, match=r"'n' must be an int"):
            sk.set_num_threads(1.5)
        assert sk.get_num_threads() == 1
    finally:
        sk.set_num_threads(old)


def test_build_info():
    info = sk.build_info()
    for key in ("version", "native", "simd", "gemm_kernel", "openmp", "cuda", "cuda_devices", "num_threads"):
        assert key in info
    assert info["simd"] in ("avx512", "avx2+fma", "neon", "portable")
    assert info["gemm_kernel"].startswith(info["simd"])
    assert isinstance(info["cuda_devices"], int) and info["cuda_devices"] >= 0


def test_fma_peak_probe_is_positive():
    assert _C.measure_fma_peak(1, 0.01) > 0.0
    with pytest.raises(ValueError, match="threads"):
        _C.measure_fma_peak(0, 0.01)


@pytest.mark.parametrize("M,N,K", [(1, 1, 1), (64, 1024, 256), (13, 45, 300), (100, 33, 7)])
@pytest.mark.parametrize("ta,tb", [(False, False), (True, True), (False, True)])
def test_prepacked_b_matches_gemm(rng, threads, M, N, K, ta, tb):
    a = rng.standard_normal((K, M) if ta else (M, K), dtype=np.float32)
    b = rng.standard_normal((N, K) if tb else (K, N), dtype=np.float32)
    packed = _C.PackedB(b, trans_b=tb)
    assert packed.shape == (K, N)
    want, a64, b64 = reference(a, b, ta, tb)
    assert_gemm_close(_C.gemm_packed(a, packed, trans_a=ta), a64, b64, want)
    c = rng.standard_normal((M, N), dtype=np.float32)
    out = c.copy()
    _C.gemm_packed(a, packed, trans_a=ta, alpha=0.5, beta=2.0, out=out)
    want2, _, _ = reference(a, b, ta, tb, 0.5, 2.0, c)
    assert_gemm_close(out, a64, b64, want2, 0.5, 2.0, c)


def test_prepacked_b_errors():
    packed = _C.PackedB(np.ones((3, 4), np.float32))
    with pytest.raises(ValueError, match=r"'a' contributes 5 columns but 'b' has 3 rows"):
        _C.gemm_packed(np.ones((2, 5), np.float32), packed)
    with pytest.raises(TypeError, match=r"'b' must be a float32 array"):
        _C.PackedB(np.ones((3, 4)))
