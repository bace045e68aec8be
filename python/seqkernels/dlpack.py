"""DLPack both ways, without copies: ``sk.from_dlpack(obj)`` and what ``Tensor.__dlpack__`` hands out.

A tensor's array is exported as numpy exports it (CPU, any dtype numpy knows, its strides in elements; a
read-only array carries DLPack 1.0's read-only flag), except for layouts a consumer may not survive:
- negative strides (``a[::-1]``): torch.from_dlpack aborts the whole process on them (torch 2.12-2.13), so
  such arrays are exported as a C-contiguous copy, or BufferError when the consumer passed ``copy=False``;
- a read-only array asked for by a consumer of the pre-1.0 protocol (no ``max_version``), which cannot be
  told the memory is read-only: a copy, or BufferError under ``copy=False``.
Everything else (transposed views, size-1 dimensions with any stride, broadcast zero strides) is shared.
"""
from __future__ import annotations

import numpy as np

_NUMPY_KWARGS = ("max_version", "dl_device", "copy")


def _consumer_may_not_take(array: np.ndarray, max_version) -> str:
    if any(s < 0 for s in array.strides):
        return "negative strides"
    if not array.flags.writeable and (max_version is None or tuple(max_version) < (1, 0)):
        return "a read-only array for a consumer of the unversioned DLPack protocol"
    return ""


def export(array: np.ndarray, *, stream=None, max_version=None, dl_device=None, copy=None):
    """The DLPack capsule of ``array`` (``__dlpack__``'s contract); see the module docstring for copies."""
    if stream is not None and stream != -1:
        raise BufferError(f"__dlpack__: a CPU tensor takes no stream, got stream={stream!r}")
    reason = _consumer_may_not_take(array, max_version)
    if reason:
        if copy is False:
            raise BufferError(f"__dlpack__: cannot share {reason} without a copy, and copy=False was asked")
        array = array.copy(order="C")
        copy = None  # already a fresh array: numpy need not copy again
    kwargs = {k: v for k, v in zip(_NUMPY_KWARGS, (max_version, dl_device, copy)) if v is not None}
    return array.__dlpack__(**kwargs)


def device(array: np.ndarray) -> tuple:
    """``__dlpack_device__``: (kDLCPU = 1, 0)."""
    return array.__dlpack_device__()


def from_dlpack(obj):
    """A seqkernels Tensor sharing the memory of any DLPack producer (a torch tensor, a numpy array, ...),
    dtype kept. A torch tensor that requires grad is read through ``detach()`` (same memory). Raises
    TypeError for an object without ``__dlpack__`` or a dtype numpy cannot hold, ValueError for memory that is
    not on the CPU."""
    from .tensor import Tensor

    if isinstance(obj, Tensor):
        return obj
    if getattr(obj, "requires_grad", False) and hasattr(obj, "detach"):
        obj = obj.detach()
    if not hasattr(obj, "__dlpack__"):
        raise TypeError(f"from_dlpack: argument 'obj' must support the DLPack protocol (__dlpack__), "
                        f"got {type(obj).__name__}")
    if hasattr(obj, "__dlpack_device__"):
        kind = obj.__dlpack_device__()[0]
        if int(kind) not in (1, 3):  # kDLCPU, kDLCUDAHost (pinned host memory)
            raise ValueError(f"from_dlpack: seqkernels tensors live in CPU memory; this {type(obj).__name__} is on "
                             f"DLPack device {tuple(int(v) for v in obj.__dlpack_device__())} (copy it to the CPU "
                             "first, e.g. .cpu())")
    try:
        array = np.from_dlpack(obj)
    except (BufferError, RuntimeError, TypeError) as e:
        raise TypeError(f"from_dlpack: cannot read this {type(obj).__name__} as a numpy array: {e}") from e
    return Tensor(array, dtype=array.dtype)
