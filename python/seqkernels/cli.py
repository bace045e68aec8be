"""The ``seqkernels`` command line: one sub-command per entry of ``seqkernels.apps.COMMANDS``
(train, predict, bench, ... — see ``seqkernels/apps/``)."""
from __future__ import annotations

import argparse
import sys
from typing import Dict, Tuple


def build_parser() -> Tuple[argparse.ArgumentParser, Dict[str, argparse.ArgumentParser]]:
    """The top-level parser and each registered command's sub-parser, by name."""
    from .apps import COMMANDS

    parser = argparse.ArgumentParser(prog="seqkernels", description="seqkernels command line")
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
