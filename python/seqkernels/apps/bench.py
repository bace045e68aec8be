"""``seqkernels bench``: build info, the measured FMA peak and GEMM speed next to numpy and torch."""
from __future__ import annotations

from .registry import Command, add_threads_option, register_command


def _arguments(parser) -> None:
    add_threads_option(parser, help="threads for every contender (default: all)")


def _run(args, parser) -> None:
    from ..bench import run

    run(threads=args.threads)


register_command(Command("bench", "build info, measured FMA peak and GEMM speed vs numpy/torch", _arguments, _run))
