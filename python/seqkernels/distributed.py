"""Data-parallel training over MPI (``mpi4py``): our own ``fit`` on several processes.

Launch one process per worker with MPI's launcher; each process runs the same script::

    pip install "seqkernels[distributed]"          # mpi4py + the MPICH wheel (no root, no system MPI)
    mpiexec -n 2 python train.py                   # or: mpiexec -n 2 seqkernels train --distributed

and in the script, before ``fit``::

    import seqkernels.distributed as dist
    dist.init()                                    # every rank; a no-op outside mpiexec (world size 1)

While initialised with more than one process, ``Module.fit`` trains data-parallel, as Horovod and
``torch.nn.parallel.DistributedDataParallel`` do:

* ``batch_size`` is per process: with ``W`` processes each optimizer step consumes a global batch of
  ``W * batch_size`` samples. Every rank draws the same shuffled order (one seed, broadcast from rank 0)
  and takes its contiguous share of each global batch, so ``W`` ranks with batch ``B`` see exactly the
  batches one process with batch ``W * B`` sees.
* After ``backward`` every gradient is all-reduced in place on its own numpy buffer (no packing copy),
  weighted by the rank's share of the global batch: ``g = sum_r (n_r / N) g_r``. For a loss that averages
  over the batch (every built-in loss does) this is exactly the gradient of the global batch, the last
  uneven batch included.
* Parameters are broadcast from rank 0 when ``fit`` starts, and stay identical on every rank after each
  step (same gradients, same deterministic optimizer).
* Only rank 0 prints progress and writes files (``ModelCheckpoint``, ``CSVLogger``, ``seqkernels train``'s
  output folder); the logged training loss is the global batch's. Validation runs on every rank over
  the whole validation set (identical parameters give identical results, so callbacks such as
  ``EarlyStopping`` decide alike everywhere). Metrics other than the loss are those of rank 0's share.

Why MPI: it is the collective library every cluster has, ``mpi4py`` reduces numpy buffers in place with
no tensor framework in between, and the ``mpich`` wheel installs it with pip alone. torch.distributed
would make torch a runtime dependency of ours, which it must never be.
"""
from __future__ import annotations

from typing import Iterable, List, Optional

import numpy as np

__all__ = ["DataParallel", "barrier", "data_parallel", "init", "is_initialized", "is_main_process", "rank",
           "shutdown", "world_size"]

_context: Optional["DataParallel"] = None


def _import_mpi():
    try:
        from mpi4py import MPI
    except ImportError as exc:
        raise ImportError("seqkernels.distributed needs mpi4py and an MPI library: "
                          "pip install 'seqkernels[distributed]' (mpi4py + the mpich wheel)") from exc
    return MPI


class DataParallel:
    """The state of one data-parallel job: the communicator, this process's rank and the world size."""

    def __init__(self, comm):
        self.comm = comm
        self.rank = comm.Get_rank()
        self.world_size = comm.Get_size()

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def shared_seed(self, seed: int) -> int:
        """Rank 0's ``seed``, the same on every rank."""
        return int(self.comm.bcast(int(seed), root=0))

    def local_slice(self, global_batch: np.ndarray) -> np.ndarray:
        """This rank's contiguous share of one global batch (shares differ in size by at most one)."""
        bounds = np.linspace(0, len(global_batch), self.world_size + 1).round().astype(np.int64)
        return global_batch[bounds[self.rank]:bounds[self.rank + 1]]

    def broadcast_parameters(self, parameters: Iterable) -> None:
        """Overwrites every parameter with rank 0's values, in place."""
        for p in parameters:
            self.comm.Bcast(_contiguous_buffer(p.data, "parameter"), root=0)

    def average_gradients(self, parameters: List, local_count: int, global_count: int) -> None:
        """``grad = sum_r (n_r / N) grad_r`` on every rank, reduced in place in each gradient's buffer.
        A parameter without a gradient on this rank contributes zeros (its gradient becomes an array)."""
        MPI = _import_mpi()
        weight = np.float32(local_count / global_count)
        for p in parameters:
            grad = p.grad
            if grad is None:
                grad = np.zeros(p.data.shape, np.float32)
            elif getattr(grad, "is_sparse", False):
                grad = np.asarray(grad, dtype=np.float32)  # rows differ between ranks: reduce densely
            elif not (isinstance(grad, np.ndarray) and grad.flags.c_contiguous and grad.flags.writeable):
                grad = np.ascontiguousarray(grad, dtype=np.float32).copy()
            grad *= weight
            self.comm.Allreduce(MPI.IN_PLACE, grad, op=MPI.SUM)
            p.grad = grad

    def sum(self, *values: float) -> List[float]:
        """The sums over ranks of a few scalars (one collective call)."""
        MPI = _import_mpi()
        buffer = np.array(values, dtype=np.float64)
        self.comm.Allreduce(MPI.IN_PLACE, buffer, op=MPI.SUM)
        return buffer.tolist()


def _contiguous_buffer(array: np.ndarray, what: str) -> np.ndarray:
    if not (isinstance(array, np.ndarray) and array.flags.c_contiguous and array.flags.writeable):
        raise ValueError(f"seqkernels.distributed: a {what} must be a writeable C-contiguous array to be "
                         "broadcast in place")
    return array


def init(comm=None) -> DataParallel:
    """Joins the MPI job (``MPI.COMM_WORLD`` unless ``comm`` is given) and makes ``fit`` data-parallel
    while the world has more than one process. Returns the job's ``DataParallel`` state."""
    global _context
    if comm is None:
        comm = _import_mpi().COMM_WORLD
    for method in ("Get_rank", "Get_size", "Allreduce", "Bcast", "bcast"):
        if not callable(getattr(comm, method, None)):
            raise TypeError(f"init: comm must be an mpi4py communicator, got {type(comm).__name__}")
    _context = DataParallel(comm)
    return _context


def shutdown() -> None:
    """Leaves data-parallel mode: ``fit`` trains on this process alone again."""
    global _context
    _context = None


def is_initialized() -> bool:
    return _context is not None


def data_parallel() -> Optional[DataParallel]:
    """The job's state while initialised with more than one process, else None (train alone)."""
    return _context if _context is not None and _context.world_size > 1 else None


def rank() -> int:
    return 0 if _context is None else _context.rank


def world_size() -> int:
    return 1 if _context is None else _context.world_size


def is_main_process() -> bool:
    """True on rank 0, and whenever not initialised: the process that logs and saves."""
    return rank() == 0


def barrier() -> None:
    if _context is not None:
        _context.comm.Barrier()
