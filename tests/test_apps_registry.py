"""The CLI's one registry: every command and task comes from seqkernels.apps, names are unique, and
`--task` / `--model` are checked against it."""
import pytest

from seqkernels import apps, cli
from seqkernels.apps.registry import Command, Task


def test_every_registered_command_is_a_subcommand():
    _, commands = cli.build_parser()
    assert set(commands) == set(apps.COMMANDS)
    assert {"train", "predict", "bench"} <= set(commands)
    assert "classify" in apps.TASKS


def test_duplicate_names_are_refused():
    with pytest.raises(ValueError, match="already registered"):
        apps.register_command(Command("train", "again", lambda p: None, lambda a, p: None))
    with pytest.raises(ValueError, match="already registered"):
        apps.register_task(Task("classify", "again", ("x",), lambda a, p: None, lambda a, p: None))
    with pytest.raises(ValueError, match="at least one model"):
        apps.register_task(Task("empty", "no models", (), lambda a, p: None, lambda a, p: None))


def test_model_must_belong_to_the_task(capsys):
    other = next((m for t in apps.TASKS.values() for m in t.models if m not in apps.TASKS["classify"].models), None)
    if other is None:
        pytest.skip("only one task registered")
    with pytest.raises(SystemExit):
        cli.main(["train", "--task", "classify", "--model", other])
    assert "--task classify takes --model" in capsys.readouterr().err
