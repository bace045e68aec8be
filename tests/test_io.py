"""Checkpoints: safetensors round trips (with the safetensors package both ways), atomic saves that
survive an exception or a kill mid-write, corrupt files, and state-dict mismatches on load."""
import json
import os
import struct
import subprocess
import sys
from collections import OrderedDict

import numpy as np
import pytest

import seqkernels as sk
import seqkernels.io as skio
from seqkernels import nn

ALL_DTYPES = [np.float32, np.float64, np.float16, np.int32, np.int64, np.int16, np.int8, np.uint8, np.uint16,
              np.uint32, np.uint64, np.bool_]


def _sample(rng):
    arrays = OrderedDict()
    for i, dtype in enumerate(ALL_DTYPES):
        shape = [(3, 5), (7,), (), (2, 1, 3), (0, 4)][i % 5]
        arrays[f"t{i}.{np.dtype(dtype).name}"] = np.asarray(rng.standard_normal(shape) * 50).astype(dtype)
    return arrays


def test_round_trip_every_dtype_shape_and_order(tmp_path, rng):
    arrays = _sample(rng)
    arrays["view"] = rng.standard_normal((4, 6)).astype(np.float32)[:, ::2]  # non-contiguous input
    path = tmp_path / "ckpt.safetensors"
    sk.save(arrays, path, metadata={"format": "pt", "step": "12"})
    loaded = sk.load(path)
    assert list(loaded) == list(arrays)
    for name, arr in arrays.items():
        assert loaded[name].dtype == arr.dtype and loaded[name].shape == arr.shape
        np.testing.assert_array_equal(loaded[name], arr)
    assert loaded["view"].flags.writeable
    assert skio.load_metadata(path) == {"format": "pt", "step": "12"}
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        assert n % 8 == 0 and json.loads(f.read(n))["t0.float32"]["dtype"] == "F32"


def test_interoperates_with_the_safetensors_package(tmp_path, rng):
    st = pytest.importorskip("safetensors.numpy")
    arrays = _sample(rng)
    ours = tmp_path / "ours.safetensors"
    sk.save(arrays, ours, metadata={"who": "seqkernels"})
    theirs_read = st.load_file(str(ours))
    assert set(theirs_read) == set(arrays)
    for name, arr in arrays.items():
        np.testing.assert_array_equal(theirs_read[name], arr)
        assert theirs_read[name].dtype == arr.dtype
    theirs = tmp_path / "theirs.safetensors"
    st.save_file(dict(arrays), str(theirs), metadata={"who": "safetensors"})
    ours_read = sk.load(theirs)
    assert set(ours_read) == set(arrays)
    for name, arr in arrays.items():
        np.testing.assert_array_equal(ours_read[name], arr)
    assert skio.load_metadata(theirs) == {"who": "safetensors"}


def test_bf16_tensors_load_as_float32(tmp_path):
    torch = pytest.importorskip("torch")
    st = pytest.importorskip("safetensors.torch")
    values = torch.tensor([[1.5, -2.0, 3.140625], [0.0, 1e-3, -65280.0]], dtype=torch.bfloat16)
    st.save_file({"w": values}, str(tmp_path / "bf16.safetensors"))
    w = sk.load(tmp_path / "bf16.safetensors")["w"]
    assert w.dtype == np.float32
    np.testing.assert_array_equal(w, values.float().numpy())


def test_module_round_trip_and_tensors_accepted(tmp_path):
    sk.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 3), nn.LayerNorm(3))
    sk.save(model.state_dict(), tmp_path / "m.safetensors")
    other = nn.Sequential(nn.Linear(4, 3), nn.LayerNorm(3))
    other.load_state_dict(sk.load(tmp_path / "m.safetensors"))
    for (k, a), (_, b) in zip(model.state_dict().items(), other.state_dict().items()):
        np.testing.assert_array_equal(a, b)
    sk.save({"w": sk.ones(2), "p": model[0].weight}, tmp_path / "t.safetensors")
    np.testing.assert_array_equal(sk.load(tmp_path / "t.safetensors")["p"], model[0].weight.numpy())


def test_checkpoint_with_wrong_keys_or_shapes_names_them(tmp_path):
    sk.save(nn.Sequential(nn.Linear(4, 3), nn.Linear(3, 2)).state_dict(), tmp_path / "m.safetensors")
    other = nn.Sequential(nn.Linear(4, 5), nn.ReLU(), nn.Linear(5, 2))
    with pytest.raises(RuntimeError) as info:
        other.load_state_dict(sk.load(tmp_path / "m.safetensors"))
    message = str(info.value)
    assert "missing keys: 2.weight, 2.bias" in message
    assert "unexpected keys: 1.weight, 1.bias" in message
    assert "0.weight: expected shape (5, 4), got (3, 4)" in message and "0.bias: expected shape (5,), got (3,)" \
        in message


def test_an_exception_mid_save_leaves_the_old_file_intact(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.safetensors"
    old = {"a": np.arange(6, dtype=np.float32), "b": np.ones((2, 2), np.int64)}
    sk.save(old, path)
    written = []
    original = skio._write_array

    def fail_on_second(f, arr):
        if written:
            raise OSError("disk full")
        written.append(arr)
        original(f, arr)

    monkeypatch.setattr(skio, "_write_array", fail_on_second)
    with pytest.raises(OSError, match="disk full"):
        sk.save({"a": np.zeros(6, np.float32), "b": np.zeros((2, 2), np.int64)}, path)
    assert written  # the failure really came mid-way, after the header and one tensor
    loaded = sk.load(path)
    np.testing.assert_array_equal(loaded["a"], old["a"])
    np.testing.assert_array_equal(loaded["b"], old["b"])
    assert os.listdir(tmp_path) == ["ckpt.safetensors"]  # the temporary file is gone too


def test_a_kill_mid_save_leaves_the_old_file_intact(tmp_path):
    path = tmp_path / "ckpt.safetensors"
    sk.save({"w": np.full(1000, 3.0, np.float32)}, path)
    script = f"""
import os, signal, numpy as np, seqkernels as sk, seqkernels.io as skio
original = skio._write_array
def write_then_die(f, arr):
    original(f, arr[: arr.size // 2])
    f.flush()
    os.kill(os.getpid(), signal.SIGKILL)
skio._write_array = write_then_die
sk.save({{"w": np.zeros(1000, np.float32)}}, {str(path)!r})
"""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, timeout=60)
    assert proc.returncode == -9, proc.stderr.decode()
    np.testing.assert_array_equal(sk.load(path)["w"], np.full(1000, 3.0, np.float32))
    left = [n for n in os.listdir(tmp_path) if n != "ckpt.safetensors"]
    assert len(left) == 1 and left[0].endswith(".sktmp")  # the killed save's temporary...
    sk.save({"w": np.ones(3, np.float32)}, path)
    assert os.listdir(tmp_path) == ["ckpt.safetensors"]  # ...is removed by the next save (its process is gone)


@pytest.mark.parametrize("corrupt,match", [
    (lambda b: b[:5], "shorter than the 8-byte"),
    (lambda b: struct.pack("<Q", 10 ** 9) + b[8:], "exceeds the file"),
    (lambda b: b[:8] + b"{not json" + b[17:], "corrupt header"),
    (lambda b: b[:-4], "inconsistent"),
    (lambda b: b + b"\0" * 8, "belong to no tensor"),
])
def test_corrupt_files_raise_naming_the_problem(tmp_path, corrupt, match):
    path = tmp_path / "c.safetensors"
    sk.save({"a": np.ones(4, np.float32), "b": np.ones(2, np.int64)}, path)
    path.write_bytes(corrupt(path.read_bytes()))
    with pytest.raises(ValueError, match=match):
        sk.load(path)


def test_save_argument_errors(tmp_path):
    with pytest.raises(TypeError, match="pass model.state_dict()"):
        sk.save(nn.Linear(2, 2), tmp_path / "x")
    with pytest.raises(TypeError, match="entry 'x'.*complex"):
        sk.save({"x": np.ones(2, np.complex64)}, tmp_path / "x")
    with pytest.raises(TypeError, match="entry 'y'"):
        sk.save({"y": [1, 2]}, tmp_path / "x")
    with pytest.raises(ValueError, match="__metadata__"):
        sk.save({"__metadata__": np.ones(1)}, tmp_path / "x")
    with pytest.raises(TypeError, match="str to str"):
        sk.save({"a": np.ones(1)}, tmp_path / "x", metadata={"step": 3})
    assert not (tmp_path / "x").exists() and os.listdir(tmp_path) == []


def test_save_writes_through_a_symlink_and_follows_the_umask(tmp_path):
    target = tmp_path / "real.safetensors"
    link = tmp_path / "link.safetensors"
    sk.save({"a": np.ones(3, np.float32)}, target)
    os.chmod(target, 0o640)
    link.symlink_to(target)
    sk.save({"a": np.full(3, 2.0, np.float32)}, link)
    assert link.is_symlink() and os.readlink(link) == str(target)  # the link stays
    np.testing.assert_array_equal(sk.load(target)["a"], np.full(3, 2.0, np.float32))
    assert os.stat(target).st_mode & 0o777 == 0o640  # a replaced file keeps its mode
    old = os.umask(0o022)
    try:
        sk.save({"a": np.ones(1, np.float32)}, tmp_path / "new.safetensors")
    finally:
        os.umask(old)
    assert os.stat(tmp_path / "new.safetensors").st_mode & 0o777 == 0o644  # as open() would give
    assert sorted(os.listdir(tmp_path)) == ["link.safetensors", "new.safetensors", "real.safetensors"]


def test_kill_9_mid_save_repeatedly_is_atomic_and_leaves_no_litter(tmp_path):
    """A child saves an 8 MB checkpoint in a loop and is killed with SIGKILL at a random moment after its first
    save; the file is loaded after each kill (always one whole checkpoint) and never more than the one
    temporary file of the save the kill interrupted is left (each save removes those of dead processes)."""
    import select
    import signal
    import time

    path = tmp_path / "ckpt.safetensors"
    script = f"""
import sys, numpy as np, seqkernels as sk
i = 1
while True:
    sk.save({{"w": np.full(1 << 21, float(i), np.float32), "i": np.array(i)}}, {str(path)!r})
    sys.stdout.write("saved\\n"); sys.stdout.flush()
    i += 1
"""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    rng = np.random.default_rng(0)
    for attempt in range(8):
        proc = subprocess.Popen([sys.executable, "-c", script], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        ready, _, _ = select.select([proc.stdout], [], [], 60)
        assert ready and proc.stdout.readline() == b"saved\n", proc.stderr.read().decode()
        time.sleep(rng.uniform(0.0, 0.05))  # a save of 8 MB with its fsync takes about this long
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        assert proc.returncode == -9, proc.stderr.read().decode()
        proc.stdout.close()
        proc.stderr.close()
        loaded = sk.load(path)
        assert loaded["w"].shape == (1 << 21,) and np.all(loaded["w"] == float(loaded["i"]))
        leftovers = [n for n in os.listdir(tmp_path) if n != "ckpt.safetensors"]
        assert len(leftovers) <= 1, leftovers  # at most the one the kill interrupted
    sk.save({"w": np.ones(4, np.float32)}, path)
    assert os.listdir(tmp_path) == ["ckpt.safetensors"]  # the dead children's temporaries are gone
