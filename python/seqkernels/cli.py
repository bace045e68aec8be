"""The ``seqkernels`` command line: one sub-command per entry of ``seqkernels.apps.COMMANDS``
(train, predict, bench, ... — see ``seqkernels/apps/``)."""
from __future__ import annotations

import argparse
import sys
from typing import Dict, Tuple

from . import cpp_package


class _PrintPath(argparse.Action):
    """``--cmake-dir`` / ``--include-dir``: print an installed folder and exit, as pybind11's ``--cmakedir``."""

    def __init__(self, option_strings, dest, path, help=None):
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, help=help)
        self.path = path

    def __call__(self, parser, namespace, values, option_string=None):
        try:
            print(self.path())
        except FileNotFoundError as exc:
            parser.exit(1, f"seqkernels: {exc}\n")
        parser.exit()


def build_parser() -> Tuple[argparse.ArgumentParser, Dict[str, argparse.ArgumentParser]]:
    """The top-level parser and each registered command's sub-parser, by name."""
    from .apps import COMMANDS

    parser = argparse.ArgumentParser(prog="seqkernels", description="seqkernels command line")
    parser.add_argument("--cmake-dir", action=_PrintPath, path=cpp_package.cmake_dir,
                        help="print the folder of seqkernelsConfig.cmake (for find_package) and exit")
    parser.add_argument("--include-dir", action=_PrintPath, path=cpp_package.include_dir,
                        help="print the folder of the C++ headers and exit")
    sub = parser.add_subparsers(dest="command", required=True)
    commands = {}
    for command in COMMANDS.values():
        commands[command.name] = sub.add_parser(command.name, help=command.help,
                                                description=command.description or command.help)
        command.add_arguments(commands[command.name])
    return parser, commands


def main(argv=None) -> int:
    from .apps import COMMANDS

    parser, commands = build_parser()
    args = parser.parse_args(argv)
    try:
        COMMANDS[args.command].run(args, commands[args.command])
    except (ValueError, FileNotFoundError) as exc:
        commands[args.command].error(str(exc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
