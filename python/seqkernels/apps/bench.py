"""``seqkernels bench``: build info, the measured FMA peak and GEMM speed next to numpy and torch."""
from __future__ import annotations

from .registry import Command, register_command


def _arguments(parser) -> None:
    parser.add_argument("--threads", type=int, default=None, help="threads for every contender (default: all)")


def _run(args, parser) -> None:
    from ..bench import run

    if args.threads is not None and args.threads < 1:
        parser.error(f"--threads must be >= 1, got {args.threads}")
    run(threads=args.threads)


register_command(Command("bench", "build info, measured FMA peak and GEMM speed vs numpy/torch", _arguments, _run))
