"""The CUDA path: compiled when nvcc was found; its kernel runs only where a GPU is present."""
import numpy as np
import pytest

import seqkernels as sk
from seqkernels import _C

info = sk.build_info()
needs_cuda_build = pytest.mark.skipif(not info["cuda"], reason="built without CUDA (no nvcc found)")


@needs_cuda_build
def test_axpy_on_gpu_or_clear_error():
    x = np.arange(1000, dtype=np.float32)
    y = np.ones(1000, dtype=np.float32)
    if info["cuda_devices"] == 0:
        with pytest.raises(RuntimeError, match="CUDA"):
            _C.cuda_axpy(2.0, x, y)
        np.testing.assert_array_equal(y, 1.0)  # untouched
    else:
        _C.cuda_axpy(2.0, x, y)
        np.testing.assert_array_equal(y, 2.0 * np.arange(1000, dtype=np.float32) + 1.0)


@needs_cuda_build
def test_axpy_validates_before_touching_the_device():
    with pytest.raises(ValueError, match="same size"):
        _C.cuda_axpy(1.0, np.ones(3, np.float32), np.ones(4, np.float32))
    with pytest.raises(TypeError, match="'x' must be a float32 array"):
        _C.cuda_axpy(1.0, np.ones(3), np.ones(3, np.float32))


def test_build_info_reports_cuda_consistently():
    assert info["cuda_devices"] == len(info["cuda_device_names"])
    if not info["cuda"]:
        assert info["cuda_devices"] == 0
