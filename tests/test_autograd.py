"""The autograd engine: order, accumulation, reuse, grad modes, custom Functions, and that the graph is
freed after backward (no leaks over many steps)."""
import gc
import tracemalloc
import weakref

import numpy as np
import pytest

import seqkernels as sk
from seqkernels.autograd import Function

from helpers import check, check_torch


def _diamond(t, lib):
    a = t * t              # two uses of t in one op
    b = lib.exp(a) + t     # a third use
    c = lib.tanh(a) * b    # a used twice: a diamond
    return c + a


def test_tensor_used_several_times_and_diamond_graph():
    x0 = np.array([0.5, -1.0, 2.0])
    check(lambda t: _diamond(t, sk), lambda t: _diamond(t, np), [x0], atol=1e-5, grad_atol=1e-4)


def test_diamond_graph_matches_torch():
    torch = pytest.importorskip("torch")
    check_torch(lambda t: _diamond(t, sk), lambda t: _diamond(t, torch), [np.array([0.5, -1.0, 2.0])], rtol=1e-5)


def test_gradients_accumulate_across_backward_calls_until_zeroed():
    x = sk.tensor([1.0, 2.0], requires_grad=True)
    (x * 3).sum().backward()
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3 + 2, 3 + 4])
    x.grad = None
    (x * 3).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3, 3])


def test_broadcast_gradient_is_reduced_to_the_leaf_shape():
    b = sk.tensor(np.ones((1, 3), np.float32), requires_grad=True)
    x = sk.tensor(np.ones((4, 2, 3), np.float32))
    (x * b).sum().backward()
    assert b.grad.shape == (1, 3)
    np.testing.assert_allclose(b.grad.numpy(), np.full((1, 3), 8.0))


class Float32Gradients(Function):
    """Identity that checks the gradient reaching it has its output's dtype."""

    @staticmethod
    def forward(ctx, x):
        return x.copy()

    @staticmethod
    def backward(ctx, g):
        assert g.dtype == np.float32, g.dtype
        return g


def test_gradients_keep_the_dtype_of_their_input():
    x = sk.tensor([1.0, 2.0], requires_grad=True)
    y = (2.0 ** Float32Gradients.apply(x)) * np.float64(3.0)  # backward meets float64 scalars (log 2, 3.0)
    y.sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_allclose(x.grad.numpy(), 3 * 2 ** np.array([1.0, 2.0]) * np.log(2), rtol=1e-6)


def test_no_grad_enable_grad_and_decorator():
    x = sk.tensor([1.0], requires_grad=True)
    with sk.no_grad():
        y = x * 2
        with sk.enable_grad():
            z = x * 2
    assert not y.requires_grad and y.grad_fn is None
    assert z.requires_grad and z.grad_fn == "Mul"
    assert sk.is_grad_enabled()

    @sk.no_grad()
    def infer(t):
        return t * 2
    assert not infer(x).requires_grad and sk.is_grad_enabled()
    with sk.set_grad_enabled(False):
        assert not (x + 1).requires_grad
    assert sk.is_grad_enabled()


def test_detach_and_requires_grad_():
    x = sk.tensor([1.0, 2.0], requires_grad=True)
    y = x.detach()
    assert not y.requires_grad and y.is_leaf and np.shares_memory(y.numpy(), x.numpy())
    (x * y).sum().backward()  # y is a constant
    np.testing.assert_allclose(x.grad.numpy(), [1.0, 2.0])
    w = sk.tensor([3.0]).requires_grad_()
    assert w.requires_grad and w.is_leaf
    with pytest.raises(TypeError, match="floating-point"):
        sk.tensor([1, 2]).requires_grad_()
    with pytest.raises(RuntimeError, match="leaf"):
        (w * 2).requires_grad_(False)


def test_backward_errors():
    x = sk.tensor(np.ones((2, 3), np.float32), requires_grad=True)
    y = x * 2
    with pytest.raises(RuntimeError, match=r"only for scalar outputs, got shape \(2, 3\)"):
        y.backward()
    with pytest.raises(ValueError, match=r"gradient has shape \(3,\)"):
        y.backward(np.ones(3, np.float32))
    with pytest.raises(RuntimeError, match="does not require grad"):
        sk.ones(2).sum().backward()
    loss = (x * x).sum()
    loss.backward()
    with pytest.raises(RuntimeError, match="retain_graph"):
        loss.backward()


def test_retain_graph_allows_a_second_backward():
    x = sk.tensor([1.0, -2.0], requires_grad=True)
    loss = (x * x).sum()
    loss.backward(retain_graph=True)
    loss.backward()
    np.testing.assert_allclose(x.grad.numpy(), [4.0, -8.0])


def test_backward_with_explicit_gradient_and_on_a_leaf():
    x = sk.tensor([1.0, 2.0, 3.0], requires_grad=True)
    (x * 2).backward(sk.tensor([1.0, 0.0, -1.0]))
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 0.0, -2.0])
    leaf = sk.tensor([5.0], requires_grad=True)
    leaf.backward()
    np.testing.assert_allclose(leaf.grad.numpy(), [1.0])


class TwoOutputs(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.x = x
        return x * 2, x * x, np.argmax(x, keepdims=True)

    @staticmethod
    def backward(ctx, g_double, g_square, g_index):
        assert g_index is None or not g_index.any()
        return g_double * 2 + g_square * 2 * ctx.x


def test_custom_function_with_an_unused_and_an_integer_output():
    x = sk.tensor([1.0, 3.0], requires_grad=True)
    double, square, index = TwoOutputs.apply(x)
    assert not index.requires_grad and index.dtype.kind == "i"
    square.sum().backward()  # `double` never reaches the loss: its gradient arrives as zeros
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 6.0])


def test_long_chain_needs_no_recursion():
    x = sk.tensor([1.0], requires_grad=True)
    y = x
    for _ in range(5000):
        y = y * 1.0001
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.0001 ** 5000], rtol=1e-3)


def test_graph_is_freed_after_backward():
    x = sk.tensor(np.ones(4, np.float32), requires_grad=True)
    h = x.exp()
    saved = weakref.ref(h._node.ctx.saved[0])  # the array Exp saved for backward (its output)
    node = weakref.ref(h._node)
    loss = (h * 2).sum()
    del h
    gc.disable()  # what dies must die by reference counting alone: no cycles
    try:
        loss.backward()
        assert saved() is None and node() is None
    finally:
        gc.enable()


def test_memory_is_flat_over_1000_training_steps():
    rng = np.random.default_rng(0)
    w = sk.tensor(rng.standard_normal((8, 16)).astype(np.float32) * 0.1, requires_grad=True)
    b = sk.tensor(np.zeros(16, np.float32), requires_grad=True)
    x = sk.tensor(rng.standard_normal((32, 8)).astype(np.float32))

    def step():
        h = (x @ w + b).relu()
        loss = (h * h).mean() + h.max()
        loss.backward()
        with sk.no_grad():
            w.data -= 0.01 * w.grad.data
            b.data -= 0.01 * b.grad.data
        w.grad = b.grad = None

    gc.disable()
    tracemalloc.start()
    try:
        for _ in range(100):
            step()
        warm, warm_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        for _ in range(900):
            step()
        after, late_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        gc.enable()
    # one step's arrays are ~10 KB; a leak of one array per step would add >= 900 x 128 B
    assert after - warm < 64 * 1024, (warm, after)
    assert late_peak - warm_peak < 64 * 1024, (warm_peak, late_peak)


def test_leaf_gradients_never_share_memory():
    # add's backward hands the same array to both inputs; leaf .grad arrays adopt fresh gradients
    # without a copy, so each must still end up with its own memory (optimizers scale them in place).
    a = sk.tensor(np.ones(5, np.float32), requires_grad=True)
    b = sk.tensor(np.ones(5, np.float32), requires_grad=True)
    seed = np.arange(5, dtype=np.float32)
    (a + b).backward(seed)
    assert not np.shares_memory(a.grad.data, b.grad.data)
    assert not np.shares_memory(a.grad.data, seed) and not np.shares_memory(b.grad.data, seed)
    a.grad.data *= 2.0
    seed[:] = -1.0
    np.testing.assert_array_equal(b.grad.data, np.arange(5, dtype=np.float32))
    np.testing.assert_array_equal(a.grad.data, 2.0 * np.arange(5, dtype=np.float32))


def test_reshaped_gradients_are_adopted_once():
    # reshape's backward hands back views; a view covering a fresh array is adopted like the array itself,
    # but two views of one array (add's backward gives both inputs the same gradient) must not both be.
    a = sk.tensor(np.ones((5, 1), np.float32), requires_grad=True)
    b = sk.tensor(np.ones((1, 5), np.float32), requires_grad=True)
    (a.reshape(5) + b.reshape(5)).backward(np.arange(5, dtype=np.float32))
    assert not np.shares_memory(a.grad.data, b.grad.data)
    a.grad.data *= 2.0
    np.testing.assert_array_equal(b.grad.data, np.arange(5, dtype=np.float32).reshape(1, 5))
    np.testing.assert_array_equal(a.grad.data, 2.0 * np.arange(5, dtype=np.float32).reshape(5, 1))
