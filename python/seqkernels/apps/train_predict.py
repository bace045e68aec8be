"""``seqkernels train`` and ``seqkernels predict``: the options every task shares, then the chosen task's
(``--task``, default ``classify``) train or predict function from the registry."""
from __future__ import annotations

import argparse

from .registry import TASKS, Command, add_threads_option, apply_threads, positive_int, register_command

# Shared options whose default depends on the task (Task.defaults; these are the fallbacks).
_DEFAULTS = {"epochs": 6, "batch_size": 32, "lr": 5e-3, "output_dir": "seqkernels-model",
             "model_dir": "seqkernels-model"}


def _task_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--task", choices=sorted(TASKS), default="classify",
                        help="; ".join(f"{t.name}: {t.help}" for t in TASKS.values()) + " (default: classify)")


def _fill_defaults(args: argparse.Namespace, parser: argparse.ArgumentParser):
    task = TASKS[args.task]
    for name, fallback in _DEFAULTS.items():
        if getattr(args, name, fallback) is None:
            setattr(args, name, task.defaults.get(name, fallback))
    if getattr(args, "model", None) is None:
        args.model = task.models[0]
    elif args.model not in task.models:
        parser.error(f"--task {task.name} takes --model {' / '.join(task.models)}, got {args.model!r}")
    apply_threads(args)
    return task


def _train_arguments(parser: argparse.ArgumentParser) -> None:
    _task_option(parser)
    models = sorted({m for t in TASKS.values() for m in t.models})
    parser.add_argument("data", nargs="?",
                        help="training data: a file the task reads, or a bundled data set's name (default: the "
                             "task's bundled set)")
    parser.add_argument("--model", choices=models, default=None,
                        help="; ".join(f"{t.name}: {' / '.join(t.models)}" for t in TASKS.values())
                        + " (default: the task's first)")
    parser.add_argument("--epochs", type=positive_int, default=None)
    parser.add_argument("--batch-size", type=positive_int, default=None)
    parser.add_argument("--lr", type=float, default=None, help="learning rate")
    parser.add_argument("--output-dir", default=None, help="where to save (default: the task's, e.g. ./seqkernels-model)")
    parser.add_argument("--seed", type=int, default=0)
    add_threads_option(parser)
    parser.add_argument("--verbose", type=int, choices=(0, 1, 2), default=1,
                        help="0 silent, 1 progress bar, 2 one line per epoch")
    for task in TASKS.values():
        task.add_train_arguments(parser)


def _predict_arguments(parser: argparse.ArgumentParser) -> None:
    _task_option(parser)
    parser.add_argument("texts", nargs="*", help="texts ('-' reads one text per line from stdin)")
    parser.add_argument("--model-dir", default=None, help="a `seqkernels train` output directory")
    add_threads_option(parser)
    for task in TASKS.values():
        task.add_predict_arguments(parser)


def _run_train(args, parser) -> None:
    _fill_defaults(args, parser).train(args, parser)


def _run_predict(args, parser) -> None:
    import sys

    texts = [t for t in args.texts if t != "-"]
    if "-" in args.texts:
        texts += [line.rstrip("\n") for line in sys.stdin if line.strip()]
    if not texts:
        parser.error("give at least one text (or '-' to read them from stdin)")
    args.texts = texts
    _fill_defaults(args, parser).predict(args, parser)


register_command(Command(
    "train", "train a model for a task (default: a text classifier on the bundled BBC News set)",
    _train_arguments, _run_train,
    description="Trains the model of --task on DATA (or on the task's bundled data set), shows the progress, "
                "prints the held-out metrics and saves everything `seqkernels predict` needs into --output-dir."))
register_command(Command(
    "predict", "apply a model saved by `seqkernels train` to texts", _predict_arguments, _run_predict))
