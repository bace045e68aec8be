"""The one registry behind the ``seqkernels`` command line: commands, and the tasks that ``train`` / ``predict``
dispatch to. Applications add themselves here; nothing in the CLI names them.

    register_command(Command("search", "retrieve answers ...", add_arguments, run))
    register_task(Task("tag", "named-entity tagging ...", models=("bilstm-crf", "minilm"), ...))

``Command.run(args, parser)`` and the task functions may raise ``ValueError`` / ``FileNotFoundError``; the CLI
turns those into a usage error of the sub-command. Register only cheap objects: heavy imports belong inside
``run`` so that ``seqkernels --help`` stays fast.
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from typing import Callable, Dict, Tuple

Configure = Callable[[argparse.ArgumentParser], None]
Runner = Callable[[argparse.Namespace, argparse.ArgumentParser], None]


def _no_arguments(parser: argparse.ArgumentParser) -> None:
    pass


@dataclass(frozen=True)
class Command:
    """A sub-command: ``seqkernels NAME ...``."""

    name: str
    help: str
    add_arguments: Configure
    run: Runner
    description: str = ""


@dataclass(frozen=True)
class Task:
    """A job that ``seqkernels train --task NAME`` and ``seqkernels predict --task NAME`` run.

    ``add_train_arguments`` / ``add_predict_arguments`` add the task's own options (option names shared
    between tasks must mean the same thing: every task's options land in one parser); ``models`` lists the
    architectures ``--model`` accepts for it, the first being the default."""

    name: str
    help: str
    models: Tuple[str, ...]
    train: Runner
    predict: Runner
    add_train_arguments: Configure = _no_arguments
    add_predict_arguments: Configure = _no_arguments
    defaults: Dict[str, object] = field(default_factory=dict)


COMMANDS: Dict[str, Command] = {}
TASKS: Dict[str, Task] = {}


def register_command(command: Command) -> Command:
    if command.name in COMMANDS:
        raise ValueError(f"a command named {command.name!r} is already registered")
    COMMANDS[command.name] = command
    return command


def register_task(task: Task) -> Task:
    if task.name in TASKS:
        raise ValueError(f"a task named {task.name!r} is already registered")
    if not task.models:
        raise ValueError(f"task {task.name!r} must name at least one model")
    TASKS[task.name] = task
    return task


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


# ---- what the applications' command lines share ------------------------------------------------------

def add_threads_option(parser: argparse.ArgumentParser, help: str = "kernel threads (default: all)") -> None:
    parser.add_argument("--threads", type=positive_int, default=None, help=help)


def apply_threads(args: argparse.Namespace) -> None:
    """``sk.set_num_threads(args.threads)`` when ``--threads`` was given."""
    if getattr(args, "threads", None) is not None:
        from .. import set_num_threads
        set_num_threads(args.threads)


def read_model_config(model_dir: str, hint: str) -> dict:
    """The config.json of a saved model directory; FileNotFoundError naming the directory and ``hint`` (how to
    create one) when there is none."""
    import json
    import os

    path = os.path.join(model_dir, "config.json")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{model_dir}: no config.json; {hint}")
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)
