"""Runs snippets of code in forked children, so that a crash (a signal), a hang or an exit is a test failure
instead of the end of the test run.

Children are forked from a multiprocessing fork server that has imported numpy and seqkernels but never run a
kernel: forking a process whose OpenMP thread pool is alive is unsafe (libgomp's pool does not survive fork), so
the pytest process itself is never forked. Each child runs one snippet and reports ``(exception type name,
message)``, or ``(None, repr(result))`` when the snippet's last statement ``result = ...`` succeeded.
"""
from __future__ import annotations

import multiprocessing as mp
import os
import traceback
from dataclasses import dataclass
from typing import Optional

_PRELUDE = ("import numpy as np, pickle, seqkernels as sk, seqkernels._C as C, seqkernels.functional as F\n"
            "from _isolated import make_array as mk\n")

_PROMISED = (TypeError, ValueError, IndexError, MemoryError)
ALLOWED_ERRORS = tuple(cls.__name__ for cls in _PROMISED)  # what public entry points may raise

_context = None


def _get_context():
    global _context
    if _context is None:
        _context = mp.get_context("forkserver")
        _context.set_forkserver_preload(["numpy", "seqkernels", "seqkernels.functional"])
    return _context


def make_array(spec):
    """An argument built from a plain-data recipe (so that layouts pickling would lose survive the trip to the
    child): spec = (shape, dtype, layout, fill); dtype may also be 'list', 'scalar' or 'None'; fill is
    'normal', 'zeros', 'nan', 'inf', 'huge' or ('ids', bound)."""
    import pickle

    import numpy as np

    shape, dtype, layout, fill = spec
    if dtype == "None":
        return None
    if dtype == "scalar":
        return 1.0
    rng = np.random.default_rng(len(shape))
    count = int(np.prod(shape, dtype=np.int64))
    if isinstance(fill, tuple):  # ids around [0, bound), a few out of range on either side
        bound = fill[1]
        values = rng.integers(-1, bound + 1, size=count) if count else np.zeros(0, np.int64)
    else:
        values = {"normal": lambda: rng.standard_normal(count), "zeros": lambda: np.zeros(count),
                  "nan": lambda: np.where(rng.random(count) < 0.3, np.nan, rng.standard_normal(count)),
                  "inf": lambda: np.where(rng.random(count) < 0.3, np.inf, -rng.standard_normal(count)),
                  "huge": lambda: np.full(count, 3e38)}[fill]()
    if dtype == "list":
        return values.reshape(shape).tolist()
    with np.errstate(all="ignore"):
        arr = values.astype(dtype).reshape(shape)
    if layout == "f":
        arr = np.asfortranarray(arr)
    elif layout == "neg" and arr.ndim:
        arr = arr[..., ::-1]
    elif layout == "bcast" and arr.ndim and arr.shape[0]:
        arr = np.broadcast_to(arr[:1], arr.shape)
    elif layout == "bcast_huge" and arr.ndim and arr.shape[0]:
        arr = np.broadcast_to(arr[:1], (2 ** 31,) + arr.shape[1:])  # a view; a copy cannot be allocated
    elif layout == "ro":
        arr.flags.writeable = False
    elif layout == "unaligned":
        raw = np.zeros(arr.nbytes + 1, np.uint8)
        view = raw[1:].view(arr.dtype) if arr.itemsize == 1 else np.frombuffer(raw, arr.dtype, count, 1)
        view[...] = arr.reshape(-1)
        arr = view.reshape(shape)
    elif layout == "pickled":
        arr = pickle.loads(pickle.dumps(arr))
    elif layout == "strided" and arr.ndim:
        wide = np.empty(arr.shape[:-1] + (2 * arr.shape[-1],), arr.dtype)
        wide[..., ::2] = arr
        arr = wide[..., ::2]
    return arr


def _limit_memory() -> None:
    """Caps the child's address space 3 GiB above what it maps now, so an adversarial size that the OS would
    overcommit fails as MemoryError instead of paging the machine to death (not under ASan, whose shadow
    memory needs the address space: ASAN_OPTIONS' max_allocation_size_mb does the job there)."""
    import resource

    if "asan" in os.environ.get("LD_PRELOAD", ""):
        return
    with open("/proc/self/statm") as f:
        mapped = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    resource.setrlimit(resource.RLIMIT_AS, (mapped + (3 << 30), resource.RLIM_INFINITY))


def _child(code: str, conn) -> None:
    namespace: dict = {}
    try:
        _limit_memory()
        exec(compile(_PRELUDE + code, "<isolated>", "exec"), namespace)
        conn.send((None, repr(namespace.get("result"))[:2000]))
    except BaseException as exc:  # everything, so the parent sees what the public API raised
        # numpy's MemoryError is a subclass (_ArrayMemoryError): report the promised base class it is
        kind = next((cls.__name__ for cls in _PROMISED if isinstance(exc, cls)), type(exc).__name__)
        conn.send((kind, f"{exc}"[:2000] + "\n" + traceback.format_exc(limit=4)[-2000:]))
    conn.close()


@dataclass
class Outcome:
    exitcode: Optional[int]  # negative: killed by that signal; None: still running after the timeout (a hang)
    error: Optional[str]     # the exception's type name, or None when the code returned
    message: str

    @property
    def crashed(self) -> bool:
        """A signal, a hang or an exit without a report."""
        return self.exitcode != 0

    @property
    def ok(self) -> bool:
        """Returned, or raised one of the promised exception types."""
        return not self.crashed and (self.error is None or self.error in ALLOWED_ERRORS)

    def describe(self) -> str:
        if self.exitcode is None:
            return "hang (killed after the timeout)"
        if self.exitcode < 0:
            return f"killed by signal {-self.exitcode}"
        if self.exitcode != 0:
            return f"exited with status {self.exitcode}"
        return f"{self.error}: {self.message}" if self.error else f"returned {self.message}"


def run_isolated(code: str, timeout: float = 60.0) -> Outcome:
    """Runs ``code`` (numpy as np, seqkernels as sk, seqkernels._C as C, seqkernels.functional as F imported)
    in a forked child and returns how it ended."""
    ctx = _get_context()
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(code, child))
    proc.start()
    child.close()
    report = None
    if parent.poll(timeout):
        try:
            report = parent.recv()
        except EOFError:  # the child died before reporting
            report = None
    proc.join(timeout=10 if report is not None else 1)
    if proc.exitcode is None:
        proc.kill()
        proc.join()
        return Outcome(None, None, "")
    parent.close()
    if report is None:
        return Outcome(proc.exitcode if proc.exitcode != 0 else -1, None, "")
    return Outcome(proc.exitcode, report[0], report[1])

