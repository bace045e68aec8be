"""DLPack both ways without copies: sk.from_dlpack(any producer) and sk.Tensor.__dlpack__ (through
seqkernels.dlpack.export); writes on one side are seen on the other; read-only, transposed, size-1 and
broadcast strides are shared; negative strides are exported as a copy (torch.from_dlpack would abort the
process on them) or refused under copy=False."""
import numpy as np
import pytest

import seqkernels as sk
from seqkernels import dlpack


class Producer:
    """A minimal DLPack producer exporting an array the way sk.Tensor does."""

    def __init__(self, array):
        self.array = array

    def __dlpack__(self, **kwargs):
        return dlpack.export(self.array, **kwargs)

    def __dlpack_device__(self):
        return dlpack.device(self.array)


def test_from_numpy_producer_shares_memory():
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    t = sk.from_dlpack(a)
    assert isinstance(t, sk.Tensor) and t.dtype == np.float32 and np.shares_memory(t.data, a)
    t.data[1, 2] = -1
    assert a[1, 2] == -1
    assert sk.from_dlpack(t) is t
    assert sk.from_dlpack(a.astype(np.float64)).dtype == np.float64  # dtype kept, not converted


def test_export_to_numpy_shares_memory_and_strides():
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    for view in (a, a.T, a[:, 1:3], a[:, None, :], np.broadcast_to(a[0], (5, 4))):
        b = np.from_dlpack(Producer(view))
        assert np.shares_memory(b, a) and b.strides == view.strides and np.array_equal(b, view)


def test_negative_strides_are_copied_or_refused():
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    b = np.from_dlpack(Producer(a[::-1]))
    assert np.array_equal(b, a[::-1]) and not np.shares_memory(b, a)
    with pytest.raises(BufferError, match="negative strides"):
        dlpack.export(a[::-1], copy=False)


def test_read_only_arrays():
    a = np.arange(6, dtype=np.float32)
    a.flags.writeable = False
    b = np.from_dlpack(Producer(a))  # the versioned protocol carries the read-only flag
    assert np.shares_memory(a, b) and not b.flags.writeable
    capsule = dlpack.export(a)  # an unversioned consumer cannot be told: it gets a copy
    assert capsule is not None
    with pytest.raises(BufferError, match="read-only"):
        dlpack.export(a, copy=False)


def test_bad_producers_raise_clear_errors():
    with pytest.raises(TypeError, match="DLPack"):
        sk.from_dlpack([1.0, 2.0])
    with pytest.raises(BufferError, match="stream"):
        dlpack.export(np.zeros(2, np.float32), stream=3)


def test_tensor_dlpack_methods():
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    t = sk.tensor(a)
    assert t.__dlpack_device__() == (1, 0)
    b = np.from_dlpack(t)
    b[0, 1] = 9
    assert t.data[0, 1] == 9 and np.shares_memory(b, t.data)
    assert np.array_equal(np.from_dlpack(sk.Tensor(a[::-1])), a[::-1])


def test_torch_both_ways():
    torch = pytest.importorskip("torch")
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    t = torch.from_dlpack(Producer(a))
    t[0, 0] = 42
    assert a[0, 0] == 42
    st = sk.tensor(a)
    t = torch.from_dlpack(st)  # sk.Tensor.__dlpack__
    t[1, 1] = -3
    assert st.data[1, 1] == -3 and a[1, 1] == -3
    assert torch.equal(torch.from_dlpack(sk.Tensor(a[:, ::-1])), torch.from_numpy(a[:, ::-1].copy()))
    tt = torch.from_dlpack(Producer(a.T))
    assert tt.stride() == (1, 4) and tt.data_ptr() == a.ctypes.data
    rev = torch.from_dlpack(Producer(a[::-1]))  # would abort the process without the copy
    assert torch.equal(rev, torch.from_numpy(a[::-1].copy()))
    one = torch.from_dlpack(Producer(a[:, None, :]))
    assert one.shape == (3, 1, 4) and one.data_ptr() == a.ctypes.data
    x = torch.randn(3, 4, requires_grad=True)
    s = sk.from_dlpack(x)
    s.data[2, 3] = 7.0
    assert x[2, 3].item() == 7.0
    s = sk.from_dlpack(torch.randn(4, 3).t())
    assert s.shape == (3, 4) and s.data.strides == (4, 12)
    assert sk.from_dlpack(torch.arange(5)).dtype == np.int64
    with pytest.raises(TypeError, match="cannot read"):
        sk.from_dlpack(torch.zeros(2, dtype=torch.bfloat16))
