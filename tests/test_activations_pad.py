"""The activations and shape helpers torch.nn.functional has (relu, tanh, sigmoid, silu, softplus, leaky_relu,
elu, normalize, one_hot, pad): forward against exact float64 formulas, gradients by finite differences,
and against torch where it is installed."""
import numpy as np
import pytest

import seqkernels as sk
import seqkernels.functional as F
from seqkernels import nn

from helpers import check, check_torch


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


# (ours, float64 reference, torch's name and keyword arguments)
ACTIVATIONS = [
    (F.relu, lambda x: np.maximum(x, 0), "relu", {}),
    (F.tanh, np.tanh, "tanh", {}),
    (F.sigmoid, _sigmoid, "sigmoid", {}),
    (F.silu, lambda x: x * _sigmoid(x), "silu", {}),
    (F.softplus, lambda x: np.log1p(np.exp(x)), "softplus", {}),
    (lambda x: F.softplus(x, beta=2.0, threshold=3.0),
     lambda x: np.where(2 * x > 3, x, np.log1p(np.exp(2 * x)) / 2), "softplus", dict(beta=2.0, threshold=3.0)),
    (F.leaky_relu, lambda x: np.where(x > 0, x, 0.01 * x), "leaky_relu", {}),
    (lambda x: F.leaky_relu(x, 0.2), lambda x: np.where(x > 0, x, 0.2 * x), "leaky_relu", dict(negative_slope=0.2)),
    (F.elu, lambda x: np.where(x > 0, x, np.expm1(x)), "elu", {}),
    (lambda x: F.elu(x, alpha=0.5), lambda x: np.where(x > 0, x, 0.5 * np.expm1(x)), "elu", dict(alpha=0.5)),
]
IDS = ["relu", "tanh", "sigmoid", "silu", "softplus", "softplus_beta", "leaky_relu", "leaky_relu_slope", "elu",
       "elu_alpha"]


def _away_from_kinks(shape, seed=0):
    """Values not within 1e-2 of 0 (relu's, leaky_relu's and elu's kink; finite differences straddle it)."""
    x = np.random.default_rng(seed).standard_normal(shape) * 2
    return np.where(np.abs(x) < 1e-2, 0.5, x)


@pytest.mark.parametrize("ours, reference, name, kwargs", ACTIVATIONS, ids=IDS)
@pytest.mark.parametrize("shape", [(1,), (7,), (3, 17)])
def test_activation_matches_formula_and_finite_differences(ours, reference, name, kwargs, shape):
    check(ours, reference, [_away_from_kinks(shape)], atol=2e-6, rtol=1e-5)


@pytest.mark.parametrize("ours, reference, name, kwargs", ACTIVATIONS, ids=IDS)
def test_activation_matches_torch(ours, reference, name, kwargs):
    torch = pytest.importorskip("torch")
    theirs = getattr(torch.nn.functional, name)
    check_torch(ours, lambda x: theirs(x, **kwargs), [_away_from_kinks((4, 33), seed=1)], atol=1e-6)


def test_activations_stay_finite_at_extremes():
    x = sk.tensor(np.array([-200.0, -30.0, 0.0, 30.0, 200.0], np.float32))
    for fn in (F.sigmoid, F.silu, F.softplus, F.elu, F.tanh):
        assert np.isfinite(fn(x).numpy()).all(), fn.__name__
    np.testing.assert_array_equal(F.softplus(x).numpy()[3:], [30.0, 200.0])  # the linear region


@pytest.mark.parametrize("module, call", [
    (nn.SiLU(), F.silu), (nn.Softplus(beta=2.0, threshold=5.0), lambda x: F.softplus(x, 2.0, 5.0)),
    (nn.LeakyReLU(0.3), lambda x: F.leaky_relu(x, 0.3)), (nn.ELU(alpha=0.7), lambda x: F.elu(x, 0.7)),
    (nn.ReLU(), F.relu), (nn.Tanh(), F.tanh), (nn.Sigmoid(), F.sigmoid),
])
def test_modules_call_the_functional_op(module, call):
    x = sk.tensor(_away_from_kinks((3, 5)).astype(np.float32))
    np.testing.assert_array_equal(module(x).numpy(), call(x).numpy())


def _normalize(x, p, dim, eps):
    norm = (np.abs(x) ** p).sum(axis=dim, keepdims=True) ** (1 / p)
    return x / np.maximum(norm, eps)


@pytest.mark.parametrize("p, dim, shape", [(2.0, 1, (3, 5)), (2.0, -1, (2, 3, 7)), (1.0, 0, (4, 3)),
                                           (3.0, 1, (2, 1, 3)), (2.0, 0, (1,))])
def test_normalize(p, dim, shape):
    x = _away_from_kinks(shape)
    check(lambda t: F.normalize(t, p=p, dim=dim), lambda a: _normalize(a, p, dim, 1e-12), [x], atol=1e-6)


def test_normalize_zero_rows_and_errors():
    x = sk.tensor(np.zeros((2, 3), np.float32), requires_grad=True)
    y = F.normalize(x)
    np.testing.assert_array_equal(y.numpy(), 0)
    y.sum().backward()
    assert np.isfinite(x.grad.numpy()).all()
    with pytest.raises(ValueError, match="'p'"):
        F.normalize(x, p=0)
    with pytest.raises(IndexError, match="dimension out of range"):
        F.normalize(x, dim=2)
    with pytest.raises(TypeError, match="floating-point"):
        F.normalize(sk.tensor(np.ones((2, 3), np.int64)))


def test_normalize_matches_torch():
    pytest.importorskip("torch")
    import torch
    x = _away_from_kinks((5, 9))
    check_torch(lambda t: F.normalize(t, dim=-1), lambda t: torch.nn.functional.normalize(t, dim=-1), [x], atol=1e-6)
    check_torch(lambda t: F.normalize(t, p=1.0, dim=0), lambda t: torch.nn.functional.normalize(t, p=1.0, dim=0),
                [x], atol=1e-6)


def test_one_hot():
    ids = np.array([[0, 3], [2, 2]])
    y = F.one_hot(sk.tensor(ids))
    assert y.dtype == np.int64 and y.shape == (2, 2, 4)
    np.testing.assert_array_equal(y.numpy(), np.eye(4, dtype=np.int64)[ids])
    np.testing.assert_array_equal(F.one_hot(sk.tensor(np.array(1)), num_classes=3).numpy(), [0, 1, 0])
    with pytest.raises(ValueError, match="non-negative"):
        F.one_hot(sk.tensor(np.array([-1, 0])))
    with pytest.raises(ValueError, match="smaller than num_classes"):
        F.one_hot(sk.tensor(np.array([3])), num_classes=3)
    with pytest.raises(TypeError, match="integer"):
        F.one_hot(sk.tensor(np.array([0.0])))
    with pytest.raises(ValueError, match="empty"):
        F.one_hot(sk.tensor(np.zeros(0, np.int64)))


def test_one_hot_matches_torch():
    torch = pytest.importorskip("torch")
    ids = np.random.default_rng(0).integers(0, 7, size=(3, 5))
    np.testing.assert_array_equal(F.one_hot(sk.tensor(ids), 9).numpy(),
                                  torch.nn.functional.one_hot(torch.tensor(ids), 9).numpy())


def _np_pad(x, pad, mode, value=0.0):
    """numpy's np.pad for non-negative amounts (numpy's 'reflect', 'edge', 'wrap' are torch's modes)."""
    widths = [(0, 0)] * x.ndim
    for i in range(len(pad) // 2):
        widths[x.ndim - 1 - i] = (pad[2 * i], pad[2 * i + 1])
    np_mode = {"constant": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}[mode]
    return np.pad(x, widths, mode=np_mode, **({"constant_values": value} if mode == "constant" else {}))


@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("shape, pad", [((2, 3, 5), (1, 2)), ((2, 3, 5), (2, 0, 1, 1)), ((1, 7), (3, 3)),
                                        ((3, 4, 4), (0, 3, 2, 2))])
def test_pad_matches_numpy_and_finite_differences(mode, shape, pad):
    x = np.random.default_rng(0).standard_normal(shape)
    check(lambda t: F.pad(t, pad, mode=mode), lambda a: _np_pad(a, pad, mode), [x], atol=0, rtol=0)


def test_pad_constant_value_and_cropping():
    x = np.arange(12, dtype=np.float64).reshape(3, 4)
    check(lambda t: F.pad(t, (1, 1), value=-2.5), lambda a: _np_pad(a, (1, 1), "constant", -2.5), [x], atol=0)
    check(lambda t: F.pad(t, (-1, 2, 0, -1)), lambda a: np.pad(a[:-1, 1:], [(0, 0), (0, 2)]), [x], atol=0)


def test_pad_errors():
    x = sk.tensor(np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match="divisible by 2"):
        F.pad(x, (1,))
    with pytest.raises(ValueError, match="too large"):
        F.pad(x, (1, 1, 1, 1, 1, 1))
    with pytest.raises(ValueError, match="smaller than the dim"):
        F.pad(x, (3, 0), mode="reflect")
    with pytest.raises(ValueError, match="mode"):
        F.pad(x, (1, 1), mode="mirror")
    with pytest.raises(TypeError, match="tuple of ints"):
        F.pad(x, (1.5, 1))


@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
def test_pad_matches_torch(mode):
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(2).standard_normal((2, 3, 6))
    check_torch(lambda t: F.pad(t, (2, 3), mode=mode), lambda t: torch.nn.functional.pad(t, (2, 3), mode=mode), [x],
                atol=0)
