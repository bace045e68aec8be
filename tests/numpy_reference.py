"""Float64 numpy references for the fused kernels, forward and vector-Jacobian product (the gradient of
``sum(y * g)``), written from the textbook formulas: the reference the kernel tests use when torch is absent,
and the one they use always where the formula is short."""
import math

import numpy as np

_erf = np.vectorize(math.erf, otypes=[np.float64])


def layer_norm(x, w, b, g, eps=1e-5):
    """LayerNorm over the last dim -> (y, dx, dw, db); w / b None for no affine part."""
    mu = x.mean(-1, keepdims=True)
    rstd = 1 / np.sqrt(((x - mu) ** 2).mean(-1, keepdims=True) + eps)
    xhat = (x - mu) * rstd
    y = xhat * (1 if w is None else w) + (0 if b is None else b)
    dxhat = g * (1 if w is None else w)
    dx = rstd * (dxhat - dxhat.mean(-1, keepdims=True) - xhat * (dxhat * xhat).mean(-1, keepdims=True))
    return y, dx, (g * xhat).reshape(-1, x.shape[-1]).sum(0), g.reshape(-1, x.shape[-1]).sum(0)


def gelu(x, g, approximate="none"):
    """GELU -> (y, dx): x Phi(x), or 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))."""
    if approximate == "tanh":
        c = math.sqrt(2 / math.pi)
        t = np.tanh(c * (x + 0.044715 * x ** 3))
        y = 0.5 * x * (1 + t)
        dydx = 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * c * (1 + 3 * 0.044715 * x * x)
    else:
        cdf = 0.5 * (1 + _erf(x / math.sqrt(2)))
        y = x * cdf
        dydx = cdf + x * np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)
    return y, g * dydx


def softmax(x, g, dim=-1, log=False):
    """softmax / log_softmax along dim -> (y, dx)."""
    z = x - x.max(dim, keepdims=True)
    lse = np.log(np.exp(z).sum(dim, keepdims=True))
    if log:
        y = z - lse
        return y, g - np.exp(y) * g.sum(dim, keepdims=True)
    y = np.exp(z - lse)
    return y, y * (g - (g * y).sum(dim, keepdims=True))
