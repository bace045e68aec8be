import numpy as np
import pytest

import seqkernels as sk


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture(params=[1, 2], ids=lambda n: f"threads{n}")
def threads(request):
    """Runs a test once single-threaded and once with two threads."""
    old = sk.get_num_threads()
    sk.set_num_threads(request.param)
    yield request.param
    sk.set_num_threads(old)


def gemm_error_bound(a64, b64, k):
    """Elementwise forward-error bound of a float32 dot product of length k, |fl(a.b) - a.b| <=
    gamma_k |a|.|b| with gamma_k ~ k*u, u = 2^-24; doubled for the rounding of the float32 inputs'
    products and the alpha/beta epilogue, plus a tiny absolute floor for exact zeros."""
    u = 2.0 ** -24
    return 2.0 * (k + 2) * u * (np.abs(a64) @ np.abs(b64)) + 1e-30
