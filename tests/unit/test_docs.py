"""Every CLI command has help and is documented in the README."""
from __future__ import annotations

from pathlib import Path

import pytest

from service.cli import COMMANDS, build_parser

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_has_help_and_a_readme_entry(command, capsys):
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args([command, "--help"])
    assert exit_.value.code == 0
    assert len(capsys.readouterr().out) > 50
    assert f"`{command}" in README


def test_the_readme_gives_the_two_setup_commands_that_ci_runs():
    ci = (Path(__file__).resolve().parents[2] / ".ci" / "run").read_text(encoding="utf-8")
    assert "python3 -m service demo" in README
    assert "bash scripts/test" in README and "bash scripts/test" in ci
