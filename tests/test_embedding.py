"""embedding kernels (_C.embedding_forward / _C.embedding_backward) against torch.nn.functional.embedding and a
float64 numpy scatter-add; dense and sparse gradients, padding_idx, repeated/equal/empty ids, int32/int64, thread
count independence, and every error case."""
import numpy as np
import pytest

from seqkernels import _C


U = 2.0 ** -24


def reference_grad(dy, ids, num_embeddings, padding_idx=None, scale_grad_by_freq=False):
    """float64 scatter-add of dy rows by id, and the per-row bound on a float32 sum of those rows."""
    dim = dy.shape[-1]
    flat_ids, rows = ids.reshape(-1).astype(np.int64), dy.reshape(-1, dim).astype(np.float64)
    keep = flat_ids != (padding_idx % num_embeddings if padding_idx is not None else -1)
    flat_ids, rows = flat_ids[keep], rows[keep]
    grad = np.zeros((num_embeddings, dim))
    magnitude = np.zeros((num_embeddings, dim))
    np.add.at(grad, flat_ids, rows)
    np.add.at(magnitude, flat_ids, np.abs(rows))
    counts = np.bincount(flat_ids, minlength=num_embeddings)[:, None].astype(np.float64)
    if scale_grad_by_freq:
        grad, magnitude = grad / np.maximum(counts, 1), magnitude / np.maximum(counts, 1)
    # a float32 sum of c rows errs by at most ~c*u*sum|rows| (plus one rounding for the frequency scale)
    return grad, 2.0 * (counts + 2) * U * magnitude + 1e-30


def assert_within(got, want, bound):
    err = np.abs(got.astype(np.float64) - want)
    assert np.all(err <= bound), f"max error {err.max():.3g}"


@pytest.mark.parametrize("id_dtype", [np.int32, np.int64])
@pytest.mark.parametrize("ids_shape", [(7,), (3, 5), (2, 3, 4), ()])
def test_forward_matches_torch(rng, threads, id_dtype, ids_shape):
    torch = pytest.importorskip("torch")
    table = rng.standard_normal((11, 13), dtype=np.float32)
    ids = rng.integers(0, 11, size=ids_shape).astype(id_dtype)
    got = _C.embedding_forward(table, ids)
    want = torch.nn.functional.embedding(torch.tensor(ids.astype(np.int64)), torch.tensor(table)).numpy()
    assert got.shape == ids_shape + (13,)
    np.testing.assert_array_equal(got, want)  # a lookup is exact


CASES = {
    "repeated_ids": dict(ids=[[1, 4, 1, 9], [4, 4, 0, 1]], padding_idx=None),
    "padding_idx": dict(ids=[[0, 3, 0, 5], [5, 0, 2, 2]], padding_idx=0),
    "negative_padding_idx": dict(ids=[[9, 3, 9, 5]], padding_idx=-1),
    "all_ids_equal": dict(ids=[[6] * 40] * 3, padding_idx=None),
    "all_ids_padding": dict(ids=[[2, 2, 2]], padding_idx=2),
    "random_many": dict(ids=np.random.default_rng(0).integers(0, 10, (50, 37)), padding_idx=3),
}


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("scale_grad_by_freq", [False, True])
@pytest.mark.parametrize("id_dtype", [np.int32, np.int64])
def test_dense_backward_matches_torch(rng, threads, name, scale_grad_by_freq, id_dtype):
    torch = pytest.importorskip("torch")
    ids = np.asarray(CASES[name]["ids"]).astype(id_dtype)
    padding_idx = CASES[name]["padding_idx"]
    table = rng.standard_normal((10, 19), dtype=np.float32)
    dy = rng.standard_normal(ids.shape + (19,), dtype=np.float32)
    got = _C.embedding_backward(dy, ids, 10, padding_idx=padding_idx, scale_grad_by_freq=scale_grad_by_freq)
    want, bound = reference_grad(dy, ids, 10, padding_idx, scale_grad_by_freq)
    assert_within(got, want, bound)
    # and torch agrees with the reference (same semantics of padding_idx / scale_grad_by_freq)
    tt = torch.tensor(table, dtype=torch.float64, requires_grad=True)
    torch.nn.functional.embedding(torch.tensor(ids.astype(np.int64)), tt, padding_idx=padding_idx,
                                  scale_grad_by_freq=scale_grad_by_freq).backward(torch.tensor(dy, dtype=torch.float64))
    assert_within(got, tt.grad.numpy(), bound)


@pytest.mark.parametrize("name", list(CASES))
def test_sparse_backward_equals_dense(rng, threads, name):
    ids = np.asarray(CASES[name]["ids"])
    padding_idx = CASES[name]["padding_idx"]
    dy = rng.standard_normal(ids.shape + (19,), dtype=np.float32)
    dense = _C.embedding_backward(dy, ids, 10, padding_idx=padding_idx)
    rows, values = _C.embedding_backward(dy, ids, 10, padding_idx=padding_idx, sparse=True)
    expected_rows = np.unique(ids[ids != (padding_idx % 10 if padding_idx is not None else -1)])
    np.testing.assert_array_equal(rows, expected_rows)
    assert rows.dtype == np.int64 and values.shape == (len(rows), 19)
    np.testing.assert_array_equal(values, dense[rows])  # same sums, same order
    untouched = np.setdiff1d(np.arange(10), rows)
    np.testing.assert_array_equal(dense[untouched], 0)


@pytest.mark.parametrize("ids_kind", ["hot_row", "all_equal", "two_rows_at_the_ends"])
def test_backward_identical_for_every_thread_count(rng, ids_kind):
    # large enough (ids x dim) that the kernel splits the work; the runs of rows threads get may be empty
    import seqkernels as sk
    ids = rng.integers(0, 300, (64, 97))
    if ids_kind == "hot_row":
        ids[:, ::3] = 17  # one row spanning the split between threads
    elif ids_kind == "all_equal":
        ids[:] = 5
    else:
        ids = np.where(ids < 150, 0, 299)
    dy = rng.standard_normal(ids.shape + (40,), dtype=np.float32)
    want, bound = reference_grad(dy, ids, 300)
    old = sk.get_num_threads()
    try:
        results = []
        for n in (1, 2, 3):
            sk.set_num_threads(n)
            results.append((_C.embedding_backward(dy, ids, 300), _C.embedding_backward(dy, ids, 300, sparse=True)))
    finally:
        sk.set_num_threads(old)
    assert_within(results[0][0], want, bound)
    for dense, (rows, values) in results[1:]:
        np.testing.assert_array_equal(dense, results[0][0])
        np.testing.assert_array_equal(values, results[0][1][1])


@pytest.mark.parametrize("ids_shape", [(0,), (3, 0)])
def test_empty_ids(ids_shape):
    table = np.ones((5, 4), np.float32)
    ids = np.zeros(ids_shape, np.int64)
    assert _C.embedding_forward(table, ids).shape == ids_shape + (4,)
    dy = np.zeros(ids_shape + (4,), np.float32)
    np.testing.assert_array_equal(_C.embedding_backward(dy, ids, 5), np.zeros((5, 4)))
    rows, values = _C.embedding_backward(dy, ids, 5, sparse=True)
    assert rows.shape == (0,) and values.shape == (0, 4)


@pytest.mark.parametrize("bad", [-1, 7, 2 ** 40])
def test_out_of_range_id_raises_index_error(bad):
    table = np.ones((7, 3), np.float32)
    ids = np.array([[0, 1], [bad, 2]])
    with pytest.raises(IndexError, match=rf"id {bad} .*table of 7 rows"):
        _C.embedding_forward(table, ids)
    with pytest.raises(IndexError, match=rf"id {bad} .*table of 7 rows"):
        _C.embedding_backward(np.ones((2, 2, 3), np.float32), ids, 7)


def test_argument_errors():
    table, ids = np.ones((7, 3), np.float32), np.array([1, 2])
    with pytest.raises(TypeError, match="weight.*float32.*float64"):
        _C.embedding_forward(table.astype(np.float64), ids)
    with pytest.raises(TypeError, match="input.*int32 or int64.*float32"):
        _C.embedding_forward(table, ids.astype(np.float32))
    with pytest.raises(ValueError, match="weight.*2-D"):
        _C.embedding_forward(np.ones(7, np.float32), ids)
    with pytest.raises(ValueError, match="grad_output.*shape"):
        _C.embedding_backward(np.ones((3, 3), np.float32), ids, 7)
    with pytest.raises(ValueError, match="grad_output.*shape"):
        _C.embedding_backward(np.ones(3, np.float32), ids, 7)
    with pytest.raises(ValueError, match="padding_idx.*within"):
        _C.embedding_backward(np.ones((2, 3), np.float32), ids, 7, padding_idx=7)
    with pytest.raises(ValueError, match="num_embeddings"):
        _C.embedding_backward(np.ones((2, 3), np.float32), ids, -1)
