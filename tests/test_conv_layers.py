"""The Python layer over the conv1d / embedding / pooling kernels: seqkernels.functional and seqkernels.nn
against torch (forward and every gradient through autograd), torch's argument handling ('same'/'valid', unbatched
input, pooling defaults), default initialisation, state-dict compatibility, sparse gradients, and errors."""
import math

import numpy as np
import pytest

import seqkernels as sk
import seqkernels.functional as F
from seqkernels.ops.embedding import SparseGrad

pytestmark = pytest.mark.filterwarnings("ignore:Using padding=.same. with even kernel")


def run_both(sk_fn, torch_fn, *arrays, grad_seed=0):
    """Applies both functions to the same float32 arrays, back-propagates the same random gradient, and returns
    (sk output, torch output, [(sk grad, torch grad) per array])."""
    torch = pytest.importorskip("torch")
    sk_in = [sk.tensor(a, requires_grad=True) for a in arrays]
    t_in = [torch.tensor(a, requires_grad=True) for a in arrays]
    y, yt = sk_fn(*sk_in), torch_fn(*t_in)
    g = np.random.default_rng(grad_seed).standard_normal(yt.shape).astype(np.float32)
    y.backward(g)
    yt.backward(torch.tensor(g))
    return y.numpy(), yt.detach().numpy(), [(a.grad.numpy(), b.grad.numpy()) for a, b in zip(sk_in, t_in)]


# float32 sums of at most a few hundred products of N(0,1) values: errors stay well below 1e-4 absolute
TOL = dict(rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("padding,kernel,dilation", [("same", 4, 1), ("same", 5, 2), ("same", 4, 3), ("valid", 3, 1),
                                                      (2, 3, 1), ((1,), 2, 1)])
def test_functional_conv1d_padding_modes(rng, padding, kernel, dilation):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((2, 5, 11), dtype=np.float32)
    w = rng.standard_normal((3, 5, kernel), dtype=np.float32)
    b = rng.standard_normal(3, dtype=np.float32)
    y, yt, grads = run_both(lambda x, w, b: F.conv1d(x, w, b, padding=padding, dilation=dilation),
                            lambda x, w, b: torch.nn.functional.conv1d(x, w, b, padding=padding, dilation=dilation),
                            x, w, b)
    np.testing.assert_allclose(y, yt, **TOL)
    for ours, theirs in grads:
        np.testing.assert_allclose(ours, theirs, **TOL)


def test_functional_conv1d_unbatched_and_depthwise(rng):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((6, 9), dtype=np.float32)
    w = rng.standard_normal((12, 1, 3), dtype=np.float32)
    y, yt, grads = run_both(lambda x, w: F.conv1d(x, w, stride=2, padding=1, groups=6),
                            lambda x, w: torch.nn.functional.conv1d(x, w, stride=2, padding=1, groups=6), x, w)
    assert y.shape == yt.shape == (12, 5)
    np.testing.assert_allclose(y, yt, **TOL)
    for ours, theirs in grads:
        np.testing.assert_allclose(ours, theirs, **TOL)


def test_functional_conv1d_option_errors(rng):
    x, w = np.zeros((1, 2, 8), np.float32), np.zeros((3, 2, 3), np.float32)
    with pytest.raises(ValueError, match="'same' is not supported for strided"):
        F.conv1d(x, w, stride=2, padding="same")
    with pytest.raises(ValueError, match="invalid padding string 'full'"):
        F.conv1d(x, w, padding="full")
    with pytest.raises(TypeError, match="stride"):
        F.conv1d(x, w, stride=1.5)


def test_conv1d_module_init_and_torch_state_dict(rng):
    torch = pytest.importorskip("torch")
    sk.manual_seed(0)
    conv = sk.nn.Conv1d(8, 6, 5, padding=2, groups=2)
    bound = 1.0 / math.sqrt(8 // 2 * 5)  # kaiming_uniform(a=sqrt(5)) and the bias share this bound
    assert conv.weight.shape == (6, 4, 5) and conv.bias.shape == (6,)
    assert np.abs(conv.weight.numpy()).max() <= bound and np.abs(conv.bias.numpy()).max() <= bound
    assert np.abs(conv.weight.numpy()).max() > 0.8 * bound  # 120 uniform draws come near the bound
    reference = torch.nn.Conv1d(8, 6, 5, padding=2, groups=2)
    conv.load_state_dict({k: v.detach().numpy() for k, v in reference.state_dict().items()})
    x = rng.standard_normal((3, 8, 13), dtype=np.float32)
    np.testing.assert_allclose(conv(sk.tensor(x)).numpy(), reference(torch.tensor(x)).detach().numpy(), **TOL)
    assert sk.nn.Conv1d(2, 2, 3, bias=False).bias is None
    with pytest.raises(ValueError, match="padding_mode"):
        sk.nn.Conv1d(2, 2, 3, padding_mode="reflect")
    with pytest.raises(ValueError, match="divisible by groups"):
        sk.nn.Conv1d(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match="strided"):
        sk.nn.Conv1d(3, 4, 3, stride=2, padding="same")


POOLS = [
    ("max_pool1d", dict(kernel_size=3)),
    ("max_pool1d", dict(kernel_size=4, stride=2, padding=2)),
    ("max_pool1d", dict(kernel_size=3, stride=2, padding=1, dilation=2)),
    ("max_pool1d", dict(kernel_size=3, stride=2, ceil_mode=True)),
    ("avg_pool1d", dict(kernel_size=3)),
    ("avg_pool1d", dict(kernel_size=4, stride=2, padding=2)),
    ("avg_pool1d", dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
    ("avg_pool1d", dict(kernel_size=4, stride=3, padding=2, ceil_mode=True, count_include_pad=False)),
    ("adaptive_max_pool1d", dict(output_size=1)),
    ("adaptive_max_pool1d", dict(output_size=4)),
    ("adaptive_max_pool1d", dict(output_size=13)),  # more outputs than inputs: overlapping windows
]


@pytest.mark.parametrize("name,kwargs", POOLS)
@pytest.mark.parametrize("shape", [(2, 3, 11), (5, 13)])
def test_pooling_matches_torch(rng, name, kwargs, shape):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal(shape, dtype=np.float32)
    y, yt, [(dx, dxt)] = run_both(lambda x: getattr(F, name)(x, **kwargs),
                                  lambda x: getattr(torch.nn.functional, name)(x, **kwargs), x)
    np.testing.assert_allclose(y, yt, rtol=1e-6, atol=1e-6)  # a max is exact; an average is one rounding off
    np.testing.assert_allclose(dx, dxt, rtol=1e-6, atol=1e-6)


def test_pooling_indices_and_modules(rng):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((2, 3, 10), dtype=np.float32)
    _, idx = F.max_pool1d(sk.tensor(x), 3, 2, 1, return_indices=True)
    _, idx_t = torch.nn.functional.max_pool1d(torch.tensor(x), 3, 2, 1, return_indices=True)
    np.testing.assert_array_equal(idx.numpy(), idx_t.numpy())
    _, idx = F.adaptive_max_pool1d(sk.tensor(x), 1, return_indices=True)
    np.testing.assert_array_equal(idx.numpy()[..., 0], x.argmax(-1))
    assert sk.nn.MaxPool1d(2)(sk.tensor(x)).shape == (2, 3, 5)
    assert sk.nn.AvgPool1d(3, stride=1)(sk.tensor(x)).shape == (2, 3, 8)
    assert sk.nn.AdaptiveMaxPool1d(1)(sk.tensor(x)).shape == (2, 3, 1)


def test_pooling_errors():
    x = np.zeros((2, 3, 4), np.float32)
    with pytest.raises(ValueError, match="half the kernel"):
        F.max_pool1d(x, 2, padding=2)
    with pytest.raises(ValueError, match="too short"):
        F.avg_pool1d(x, 5)
    with pytest.raises(ValueError, match="2-D .* or 3-D"):
        F.max_pool1d(np.zeros(4, np.float32), 2)
    with pytest.raises(ValueError, match="output_size"):
        F.adaptive_max_pool1d(x, 0)
    with pytest.raises(TypeError, match="input.*floating-point.*int64"):
        F.max_pool1d(np.zeros((2, 3, 4), np.int64), 2)


@pytest.mark.parametrize("padding_idx", [None, 2, -1])
def test_functional_embedding_matches_torch(rng, padding_idx):
    torch = pytest.importorskip("torch")
    table = rng.standard_normal((9, 6), dtype=np.float32)
    ids = np.array([[2, 8, 2], [0, 2, 8]], dtype=np.int32)
    y, yt, [(dw, dwt)] = run_both(lambda w: F.embedding(ids, w, padding_idx=padding_idx),
                                  lambda w: torch.nn.functional.embedding(torch.tensor(ids).long(), w,
                                                                          padding_idx=padding_idx), table)
    np.testing.assert_array_equal(y, yt)
    np.testing.assert_allclose(dw, dwt, rtol=1e-6, atol=1e-6)


def test_functional_embedding_max_norm(rng):
    torch = pytest.importorskip("torch")
    table = rng.standard_normal((9, 6), dtype=np.float32) * 3
    reference = torch.tensor(table)
    ids = np.array([1, 4, 4, 7])
    y = F.embedding(sk.tensor(ids), table, max_norm=1.5)
    yt = torch.nn.functional.embedding(torch.tensor(ids), reference, max_norm=1.5)
    np.testing.assert_allclose(y.numpy(), yt.numpy(), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(table, reference.numpy(), rtol=1e-6, atol=1e-6)  # both renormalised in place


def test_sparse_gradient_accumulates_and_densifies(rng):
    emb = sk.nn.Embedding(12, 5, padding_idx=0, sparse=True)
    dense = sk.nn.Embedding.from_pretrained(emb.weight.numpy(), freeze=False, padding_idx=0)
    for ids in (np.array([[3, 0, 3, 7]]), np.array([[7, 11, 0]])):
        g = rng.standard_normal(ids.shape + (5,), dtype=np.float32)
        emb(ids).backward(g)
        dense(ids).backward(g)
    grad = emb.weight.grad
    assert isinstance(grad, SparseGrad)
    np.testing.assert_array_equal(grad.rows, [3, 7, 11])
    np.testing.assert_allclose(grad.to_dense(), dense.weight.grad.numpy(), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(grad.data, dense.weight.grad.numpy(), rtol=1e-6, atol=1e-6)


def test_embedding_module_init_and_pretrained(rng):
    torch = pytest.importorskip("torch")
    sk.manual_seed(1)
    emb = sk.nn.Embedding(500, 40, padding_idx=3)
    w = emb.weight.numpy()
    np.testing.assert_array_equal(w[3], 0)
    assert abs(w.mean()) < 0.02 and abs(w.std() - 1) < 0.02  # N(0, 1): 20000 draws
    matrix = rng.standard_normal((4, 3), dtype=np.float32)
    frozen = sk.nn.Embedding.from_pretrained(matrix, padding_idx=1)
    np.testing.assert_array_equal(frozen.weight.numpy(), matrix)  # the padding row keeps its values, as torch
    assert not frozen.weight.requires_grad
    assert sk.nn.Embedding.from_pretrained(matrix, freeze=False).weight.requires_grad
    with pytest.raises(ValueError, match="2-D"):
        sk.nn.Embedding.from_pretrained(np.zeros(3, np.float32))
    with pytest.raises(ValueError, match="padding_idx"):
        sk.nn.Embedding(5, 2, padding_idx=5)
    with pytest.raises(IndexError, match="id 5 .*table of 5 rows"):
        sk.nn.Embedding(5, 2)(np.array([1, 5]))


def _sparse_and_dense_embeddings(rng, vocab=20, dim=6):
    sparse = sk.nn.Embedding(vocab, dim, sparse=True)
    dense = sk.nn.Embedding.from_pretrained(sparse.weight.numpy(), freeze=False)
    return sparse, dense


def test_sgd_applies_sparse_rows_exactly_as_dense(rng):
    sparse, dense = _sparse_and_dense_embeddings(rng)
    opt_s, opt_d = sk.optim.SGD(sparse.parameters(), lr=0.1), sk.optim.SGD(dense.parameters(), lr=0.1)
    for ids in (np.array([[1, 5, 5]]), np.array([[19, 0, 1, 1]])):
        g = rng.standard_normal(ids.shape + (6,), dtype=np.float32)
        for emb, opt in ((sparse, opt_s), (dense, opt_d)):
            opt.zero_grad()
            emb(ids).backward(g)
            opt.step()
    np.testing.assert_array_equal(sparse.weight.numpy(), dense.weight.numpy())


def test_sgd_with_momentum_uses_the_dense_gradient(rng):
    sparse, dense = _sparse_and_dense_embeddings(rng)
    opt_s = sk.optim.SGD(sparse.parameters(), lr=0.1, momentum=0.9)
    opt_d = sk.optim.SGD(dense.parameters(), lr=0.1, momentum=0.9)
    for ids in (np.array([[1, 5, 5]]), np.array([[19, 0, 2]])):
        g = rng.standard_normal(ids.shape + (6,), dtype=np.float32)
        for emb, opt in ((sparse, opt_s), (dense, opt_d)):
            opt.zero_grad()
            emb(ids).backward(g)
            opt.step()
    np.testing.assert_allclose(sparse.weight.numpy(), dense.weight.numpy(), rtol=1e-6, atol=1e-7)


def test_adam_on_sparse_rows_matches_torch_sparse_adam(rng):
    torch = pytest.importorskip("torch")
    emb = sk.nn.Embedding(20, 6, sparse=True)
    reference = torch.nn.Embedding.from_pretrained(torch.tensor(emb.weight.numpy()), freeze=False, sparse=True)
    ours, theirs = sk.optim.Adam(emb.parameters(), lr=0.05), torch.optim.SparseAdam(reference.parameters(), lr=0.05)
    before = emb.weight.numpy().copy()
    for ids in (np.array([[1, 5, 5]]), np.array([[19, 0, 1, 1]]), np.array([[5, 7]])):
        g = rng.standard_normal(ids.shape + (6,), dtype=np.float32)
        ours.zero_grad()
        theirs.zero_grad()
        emb(ids).backward(g)
        reference(torch.tensor(ids)).backward(torch.tensor(g))
        ours.step()
        theirs.step()
    # SparseAdam adds eps to sqrt(v) before, Adam after the bias correction: equal to ~eps/sqrt(v) relative
    np.testing.assert_allclose(emb.weight.numpy(), reference.weight.detach().numpy(), rtol=1e-5, atol=1e-6)
    untouched = np.setdiff1d(np.arange(20), [0, 1, 5, 7, 19])
    np.testing.assert_array_equal(emb.weight.numpy()[untouched], before[untouched])  # lazy: other rows stay


def test_clip_grad_norm_and_zero_grad_with_sparse_gradients(rng):
    sparse, dense = _sparse_and_dense_embeddings(rng)
    ids = np.array([[3, 4, 4, 9]])
    g = rng.standard_normal(ids.shape + (6,), dtype=np.float32)
    sparse(ids).backward(g)
    dense(ids).backward(g)
    norm_s = sk.optim.clip_grad_norm_(sparse.parameters(), 0.5)
    norm_d = sk.optim.clip_grad_norm_(dense.parameters(), 0.5)
    np.testing.assert_allclose(norm_s.numpy(), norm_d.numpy(), rtol=1e-6)
    np.testing.assert_allclose(sparse.weight.grad.to_dense(), dense.weight.grad.numpy(), rtol=1e-6, atol=1e-7)
    opt = sk.optim.Adam(sparse.parameters())
    opt.zero_grad(set_to_none=False)
    assert isinstance(sparse.weight.grad, SparseGrad) and len(sparse.weight.grad.rows) == 0
    sparse(ids).backward(g)  # Module.zero_grad shares the rule (it used to fail on a SparseGrad)
    sparse.zero_grad(set_to_none=False)
    assert isinstance(sparse.weight.grad, SparseGrad) and len(sparse.weight.grad.rows) == 0
