"""The one helper every test uses to compare seqkernels with a reference (as tinygrad's ``helper_test_op``).

``check(ours, reference, inputs)``: ``ours`` takes Tensors, ``reference`` takes float64 numpy arrays (an exact
formula); the forward outputs are compared, and the gradient of ``sum(ours(...) * w)`` (a random ``w``) with
respect to every float input is compared with central differences of the reference in float64.
``check_torch(ours, theirs, inputs)``: the same against torch (forward and torch's autograd gradients); it skips
when torch is not installed, so callers need no import guard of their own.
"""
from __future__ import annotations

import numpy as np
import pytest

import seqkernels as sk


def to_numpy(x) -> np.ndarray:
    if isinstance(x, sk.Tensor):
        return x.data
    if hasattr(x, "detach"):  # a torch tensor
        return x.detach().numpy()
    return np.asarray(x)


def assert_close(actual, expected, atol: float = 1e-5, rtol: float = 1e-5, what: str = "output") -> None:
    """Same shape and values within ``atol + rtol * |expected|`` (NaN matches NaN)."""
    a, e = to_numpy(actual), to_numpy(expected)
    assert a.shape == e.shape, f"{what}: shape {a.shape}, reference {e.shape}"
    np.testing.assert_allclose(a.astype(np.float64), e.astype(np.float64), atol=atol, rtol=rtol, err_msg=what)


def numerical_gradient(f, arrays, index: int, eps: float = 1e-6) -> np.ndarray:
    """d f(*arrays) / d arrays[index] by central differences (f returns a scalar; float64 throughout)."""
    x = arrays[index]
    grad = np.zeros_like(x)
    flat, gflat = x.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        keep = flat[i]
        flat[i] = keep + eps
        up = f(*arrays)
        flat[i] = keep - eps
        down = f(*arrays)
        flat[i] = keep
        gflat[i] = (up - down) / (2 * eps)
    return grad


def _leaves(inputs):
    """Tensors for ours (floats require grad, as float32) and float64 copies for the reference."""
    ours, refs = [], []
    for x in inputs:
        x = np.asarray(x)
        if x.dtype.kind == "f":
            ours.append(sk.tensor(x.astype(np.float32), requires_grad=True))
            refs.append(x.astype(np.float32).astype(np.float64))
        else:
            ours.append(sk.tensor(x))
            refs.append(x)
    return ours, refs


def check(ours, reference, inputs, atol: float = 1e-5, rtol: float = 1e-5, grad: bool = True,
          grad_atol: float = 1e-4, grad_rtol: float = 1e-3, seed: int = 0) -> None:
    """``ours(*Tensors)`` against ``reference(*float64 arrays)``: forward, then gradients by finite differences."""
    leaves, refs = _leaves(inputs)
    out = ours(*leaves)
    assert_close(out, reference(*refs), atol, rtol, "forward")
    if not grad:
        return
    w = np.random.default_rng(seed).standard_normal(out.shape)
    (out * sk.tensor(w.astype(np.float32))).sum().backward()
    loss = lambda *a: float((np.asarray(reference(*a), dtype=np.float64) * w).sum())  # noqa: E731
    for i, (t, r) in enumerate(zip(leaves, refs)):
        if r.dtype.kind == "f":
            assert t.grad is not None, f"input {i} got no gradient"
            assert_close(t.grad, numerical_gradient(loss, refs, i), grad_atol, grad_rtol, f"gradient of input {i}")


def check_torch(ours, theirs, inputs, atol: float = 1e-5, rtol: float = 1e-5, grad: bool = True,
                grad_atol: float = 1e-5, grad_rtol: float = 1e-4, seed: int = 0) -> None:
    """``ours(*Tensors)`` against ``theirs(*torch tensors)``: forward and every float input's gradient."""
    torch = pytest.importorskip("torch")
    leaves, _ = _leaves(inputs)
    twins = [torch.tensor(t.data.copy(), requires_grad=t.requires_grad) for t in leaves]
    out, ref = ours(*leaves), theirs(*twins)
    assert_close(out, ref, atol, rtol, "forward")
    if not grad:
        return
    w = np.random.default_rng(seed).standard_normal(out.shape).astype(np.float32)
    (out * sk.tensor(w)).sum().backward()
    (ref * torch.tensor(w)).sum().backward()
    for i, (t, tt) in enumerate(zip(leaves, twins)):
        if tt.requires_grad:
            assert_close(t.grad, tt.grad, grad_atol, grad_rtol, f"gradient of input {i}")
