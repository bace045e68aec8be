"""``seqkernels translate train|text``: English -> French translation (``seqkernels.translation``)."""
from __future__ import annotations

from .registry import Command, register_command


def _arguments(parser) -> None:
    from ..translation import add_cli

    add_cli(parser)


def _run(args, parser) -> None:
    from ..translation import run_cli

    run_cli(args)


register_command(Command(
    "translate", "train a translation model, or translate with a saved one", _arguments, _run,
    description="`seqkernels translate train` trains English->French on the bundled Bible verses (or on DATA, a "
                "TSV of source<TAB>target lines); `seqkernels translate text SENTENCE...` translates with a saved "
                "model."))
