"""The ``seqkernels`` command line."""
from __future__ import annotations

import argparse
import sys


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="seqkernels", description="seqkernels command line")
    sub = parser.add_subparsers(dest="command", required=True)
    bench = sub.add_parser("bench", help="build info, measured FMA peak and GEMM speed vs numpy/torch")
    bench.add_argument("--threads", type=int, default=None, help="threads for every contender (default: all)")
    args = parser.parse_args(argv)
    if args.command == "bench":
        from .bench import run
        if args.threads is not None and args.threads < 1:
            parser.error(f"--threads must be >= 1, got {args.threads}")
        run(threads=args.threads)
    return 0


if __name__ == "__main__":
    sys.exit(main())
