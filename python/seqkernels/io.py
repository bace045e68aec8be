"""Checkpoints in the safetensors format, read and written by this module (no dependency).

File layout: an 8-byte little-endian header length N, N bytes of UTF-8 JSON (padded with spaces to a
multiple of 8), then the raw little-endian C-order bytes of every tensor. The header maps each name to
``{"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}`` (offsets into the data section) and
may hold ``"__metadata__"``: a str -> str map. Files interoperate with the ``safetensors`` package and
Hugging Face checkpoints (BF16 tensors load as float32).

Writes are atomic: the file is written to a temporary name in the same directory
(``.<name>.<pid>.sktmp``), fsync'ed, then renamed over the target with ``os.replace``; an exception or a
kill mid-save leaves the old file intact. A kill leaves that temporary file behind; the next save to the
same destination removes every such file whose process is gone, so kills never accumulate litter. A
destination that is a symbolic link is written through (the link's target is replaced, the link stays, as
``cp`` and editors do). A new file gets the mode ``open()`` would give it (0o666 less the umask); a file
replaced keeps its mode.
"""
from __future__ import annotations

import json
import math
import os
import re
import struct
import threading
from collections import OrderedDict
from typing import Dict, Mapping, Optional

import numpy as np

_DTYPE_TO_CODE = {np.dtype(np.bool_): "BOOL", np.dtype(np.uint8): "U8", np.dtype(np.int8): "I8",
                  np.dtype("<u2"): "U16", np.dtype("<i2"): "I16", np.dtype("<f2"): "F16",
                  np.dtype("<u4"): "U32", np.dtype("<i4"): "I32", np.dtype("<f4"): "F32",
                  np.dtype("<u8"): "U64", np.dtype("<i8"): "I64", np.dtype("<f8"): "F64"}
_CODE_TO_DTYPE = {code: dtype for dtype, code in _DTYPE_TO_CODE.items()}
_BF16 = "BF16"  # no numpy dtype: read as uint16 and widened to float32 (bf16 is float32's top half)
_MAX_HEADER = 100 * 1024 * 1024  # as the safetensors reference implementation


def _as_array(name: str, value) -> np.ndarray:
    from .tensor import Tensor

    if isinstance(value, Tensor):
        value = value.data
    elif hasattr(value, "detach") and hasattr(value, "cpu"):  # a torch.Tensor
        value = value.detach().cpu().numpy()
    elif isinstance(value, np.generic):  # a numpy scalar: a 0-d tensor
        value = np.asarray(value)
    if not isinstance(value, np.ndarray):
        raise TypeError(f"save: entry '{name}' must be a numpy array or a Tensor, got {type(value).__name__}")
    dtype = value.dtype.newbyteorder("<") if value.dtype.byteorder == ">" else value.dtype
    if dtype not in _DTYPE_TO_CODE:
        raise TypeError(f"save: entry '{name}' has dtype {value.dtype}, which safetensors cannot store; "
                        f"expected one of {sorted(str(d) for d in _DTYPE_TO_CODE)}")
    return np.require(value, dtype=dtype, requirements="C")  # (ascontiguousarray would make 0-d arrays 1-d)


def _header(arrays: Mapping[str, np.ndarray], metadata: Optional[Mapping[str, str]]) -> bytes:
    header: Dict[str, object] = {}
    if metadata:
        bad = [k for k, v in metadata.items() if not isinstance(k, str) or not isinstance(v, str)]
        if bad:
            raise TypeError(f"save: metadata must map str to str; offending keys: {bad}")
        header["__metadata__"] = dict(metadata)
    offset = 0
    for name, arr in arrays.items():
        header[name] = {"dtype": _DTYPE_TO_CODE[arr.dtype], "shape": list(arr.shape),
                        "data_offsets": [offset, offset + arr.nbytes]}
        offset += arr.nbytes
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)  # the data section starts 8-byte aligned
    return struct.pack("<Q", len(text)) + text


def _write_array(f, arr: np.ndarray) -> None:
    f.write(memoryview(arr.reshape(-1)).cast("B"))


def save(state_dict: Mapping[str, object], path, metadata: Optional[Mapping[str, str]] = None) -> None:
    """Writes ``state_dict`` (name -> numpy array or Tensor) to ``path`` as safetensors, atomically."""
    if not isinstance(state_dict, Mapping):
        hint = "; pass model.state_dict()" if hasattr(state_dict, "state_dict") else ""
        raise TypeError(f"save: argument 'state_dict' must be a mapping of names to arrays, "
                        f"got {type(state_dict).__name__}{hint}")
    for name in state_dict:
        if not isinstance(name, str) or name == "__metadata__":
            raise ValueError(f"save: tensor names must be strings other than '__metadata__', got {name!r}")
    arrays = OrderedDict((name, _as_array(name, value)) for name, value in state_dict.items())
    header = _header(arrays, metadata)
    path = os.path.realpath(os.fspath(path))  # through symbolic links: the link stays, its target is replaced
    directory, name = os.path.split(path)
    _remove_stale_temporaries(directory, name)
    tmp = os.path.join(directory, f".{name}.{os.getpid()}.{threading.get_ident()}{_TMP_SUFFIX}")
    try:
        mode = os.stat(path).st_mode & 0o7777  # a file replaced keeps its mode
    except OSError:
        mode = None  # a new file: 0o666 less the umask, as open() gives
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            if mode is not None and hasattr(os, "fchmod"):
                os.fchmod(f.fileno(), mode)
            f.write(header)
            for arr in arrays.values():
                _write_array(f, arr)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_directory(directory)


_TMP_SUFFIX = ".sktmp"


def _remove_stale_temporaries(directory: str, name: str) -> None:
    """Removes the temporary files that saves to ``name`` killed mid-write left behind (their process is gone)."""
    pattern = re.compile(re.escape(f".{name}.") + r"(\d+)\.\d+" + re.escape(_TMP_SUFFIX) + "$")
    try:
        entries = os.listdir(directory)
    except OSError:
        return
    for entry in entries:
        match = pattern.match(entry)
        if match and not _process_alive(int(match.group(1))):
            try:
                os.unlink(os.path.join(directory, entry))
            except OSError:
                pass


def _process_alive(pid: int) -> bool:
    if pid == os.getpid() or os.name == "nt":  # ours (another thread may be saving); Windows: os.kill terminates
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True  # someone else's live process (or no such pid on this platform): leave it
    return True


def _fsync_directory(directory: str) -> None:
    """Makes the rename itself durable (where the platform allows opening a directory)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _read_header(f, path: str, size: int):
    prefix = f.read(8)
    if len(prefix) != 8:
        raise ValueError(f"load: '{path}' is not a safetensors file: {size} bytes, shorter than the 8-byte header size")
    (n,) = struct.unpack("<Q", prefix)
    if n > min(_MAX_HEADER, size - 8):
        raise ValueError(f"load: '{path}' is not a safetensors file: header size {n} exceeds the file ({size} bytes)")
    try:
        header = json.loads(f.read(n).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:  # RecursionError: hostile nesting
        raise ValueError(f"load: '{path}' has a corrupt header: {type(exc).__name__}: {exc}") from None
    if not isinstance(header, dict):
        raise ValueError(f"load: '{path}' has a corrupt header: expected a JSON object")
    metadata = header.get("__metadata__")
    if metadata is not None and not (isinstance(metadata, dict) and
                                     all(isinstance(v, str) for v in metadata.values())):
        raise ValueError(f"load: '{path}' has a corrupt header: '__metadata__' must map str to str")
    return header, 8 + n


def load_metadata(path) -> Dict[str, str]:
    """The ``__metadata__`` map stored in a safetensors file (empty when it has none)."""
    path = os.fspath(path)
    with open(path, "rb") as f:
        header, _ = _read_header(f, path, os.fstat(f.fileno()).st_size)
    return dict(header.get("__metadata__") or {})


def load(path) -> "OrderedDict[str, np.ndarray]":
    """Reads a safetensors file into an OrderedDict of (writable) numpy arrays, in the header's order."""
    path = os.fspath(path)
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        header, start = _read_header(f, path, size)
        data = bytearray(size - start)
        f.readinto(data)
    entries = sorted(((k, v) for k, v in header.items() if k != "__metadata__"),
                     key=lambda kv: _offsets(path, kv[0], kv[1])[0])
    out: "OrderedDict[str, np.ndarray]" = OrderedDict()
    expected_begin = 0
    for name, info in entries:
        begin, end = _offsets(path, name, info)
        code, shape = info.get("dtype"), info.get("shape")
        if code != _BF16 and code not in _CODE_TO_DTYPE:
            raise ValueError(f"load: '{path}': tensor '{name}' has unsupported dtype {code!r}")
        if not isinstance(shape, list) or not all(isinstance(s, int) and s >= 0 for s in shape):
            raise ValueError(f"load: '{path}': tensor '{name}' has an invalid shape {shape!r}")
        dtype = np.dtype("<u2") if code == _BF16 else _CODE_TO_DTYPE[code]
        count = math.prod(shape)  # exact (numpy's int64 product could wrap)
        if begin != expected_begin or end - begin != count * dtype.itemsize or end > len(data):
            raise ValueError(f"load: '{path}': tensor '{name}' has data_offsets [{begin}, {end}], inconsistent "
                             f"with its shape {shape} and dtype {code} or with its neighbours "
                             f"(data section of {len(data)} bytes)")
        expected_begin = end
        arr = np.frombuffer(data, dtype=dtype, count=count, offset=begin).reshape(shape)
        if code == _BF16:
            arr = (arr.astype(np.uint32) << 16).view(np.float32)
        out[name] = arr
    if expected_begin != len(data):
        raise ValueError(f"load: '{path}': {len(data) - expected_begin} bytes of data belong to no tensor")
    return OrderedDict((name, out[name]) for name in header if name in out)


def _offsets(path: str, name: str, info) -> tuple:
    offsets = info.get("data_offsets") if isinstance(info, dict) else None
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(isinstance(o, int) for o in offsets)
            and 0 <= offsets[0] <= offsets[1]):
        raise ValueError(f"load: '{path}': tensor '{name}' has invalid data_offsets {offsets!r}")
    return offsets[0], offsets[1]
