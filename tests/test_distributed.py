"""Data-parallel fit over MPI: W ranks with batch B end with the parameters of one process with batch
W*B (the weighted all-reduce makes the gradients equal up to float32 summation order), identical on
every rank. Skips without mpi4py / mpiexec (``pip install 'seqkernels[distributed]'``)."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import seqkernels as sk
import seqkernels.distributed as dist

WORKER = Path(__file__).parent / "distributed" / "train_worker.py"


def _mpiexec():
    pytest.importorskip("mpi4py")
    local = Path(sys.executable).parent / "mpiexec"
    found = str(local) if local.exists() else shutil.which("mpiexec")
    if found is None:
        pytest.skip("no mpiexec on PATH")
    return found


def _run(command, tmp_path):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr


def test_two_ranks_equal_one_process_on_the_combined_batch(tmp_path):
    mpiexec = _mpiexec()
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir(), two.mkdir()
    _run([sys.executable, str(WORKER), str(one), "--batch-size", "8"], tmp_path)
    _run([mpiexec, "-n", "2", "-hosts", "127.0.0.1", sys.executable, str(WORKER), str(two), "--batch-size", "4",
          "--distributed"], tmp_path)
    reference, rank0, rank1 = (np.load(p) for p in (one / "rank0.npz", two / "rank0.npz", two / "rank1.npz"))
    assert sorted(reference.files) == sorted(rank0.files)
    for name in reference.files:
        np.testing.assert_array_equal(rank0[name], rank1[name], err_msg=f"{name} differs between ranks")
        if name != "loss":
            assert not np.allclose(reference[name], 0.0)
        # 12 Adam steps; the only difference is the order of float32 sums in the gradient
        np.testing.assert_allclose(rank0[name], reference[name], rtol=2e-4, atol=2e-5, err_msg=name)


def test_one_process_mode_leaves_fit_alone():
    assert not dist.is_initialized() and dist.data_parallel() is None
    assert dist.rank() == 0 and dist.world_size() == 1 and dist.is_main_process()


def test_local_slices_cover_each_global_batch_once():
    class FakeComm:
        def __init__(self, rank, size):
            self.rank, self.size = rank, size

        def Get_rank(self):
            return self.rank

        def Get_size(self):
            return self.size

    batch = np.arange(10, 21)
    for world in (1, 2, 3, 4, 11, 12):
        parts = [dist.DataParallel(FakeComm(r, world)).local_slice(batch) for r in range(world)]
        np.testing.assert_array_equal(np.concatenate(parts), batch)
        assert max(map(len, parts)) - min(map(len, parts)) <= 1


def test_init_rejects_what_is_not_a_communicator():
    with pytest.raises(TypeError, match="comm"):
        dist.init(comm=object())
    assert not dist.is_initialized()
