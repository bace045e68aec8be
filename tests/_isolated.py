"""Runs snippets of code in forked children, so that a crash (a signal), a hang or an exit is a test failure
instead of the end of the test run.

Children are forked from a multiprocessing fork server that has imported numpy and seqkernels but never run a
kernel: forking a process whose OpenMP thread pool is alive is unsafe (libgomp's pool does not survive fork), so
the pytest process itself is never forked. Each child runs one snippet and reports ``(exception type name,
message)``, or ``(None, repr(result))`` when the snippet's last statement ``result = ...`` succeeded.
"""
from __future__ import annotations

import multiprocessing as mp
import traceback
from dataclasses import dataclass
from typing import Optional

_PRELUDE = ("import numpy as np, pickle, seqkernels as sk, seqkernels._C as C, seqkernels.functional as F\n")

_PROMISED = (TypeError, ValueError, IndexError, MemoryError)
ALLOWED_ERRORS = tuple(cls.__name__ for cls in _PROMISED)  # what public entry points may raise

_context = None


def _get_context():
    global _context
    if _context is None:
        _context = mp.get_context("forkserver")
        _context.set_forkserver_preload(["numpy", "seqkernels", "seqkernels.functional"])
    return _context


def _child(code: str, conn) -> None:
    namespace: dict = {}
    try:
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

