"""What the CLI says when its input or its surroundings are wrong: one clear line and a non-zero exit."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from service.cli import main
from tests.conftest import DEFAULT_TOML, ROOT


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A private data dir and SQLite database for the CLI, in this process and in subprocesses."""
    values = {"SERVICE_DATA_DIR": str(tmp_path / "data"),
              "SERVICE_DATABASE_URL": f"sqlite:///{tmp_path / 'data' / 'service.db'}",
              "SERVICE_CONFIG": str(DEFAULT_TOML)}
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    return values


def run_cli(env: dict[str, str], *argv: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """The CLI in its own process, as an operator runs it."""
    return subprocess.run([sys.executable, "-m", "service", *argv], capture_output=True, text=True, timeout=timeout,
                          cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT), **env})


def one_error_line(result: subprocess.CompletedProcess) -> str:
    """The single line on stderr of a failed command (a traceback fails the test)."""
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.mark.parametrize("now", ["", " ", "2022-13-45", "2022-02-30", "99999-01-01", "9999-12-31T23:00",
                                 "2022-01-05T10:00+25:00", "yesterday"])
@pytest.mark.parametrize("command", [["status"], ["remind", "--dry-run"], ["run"]])
def test_a_bad_now_is_a_usage_error_naming_the_value(env, capsys, now, command):
    with pytest.raises(SystemExit) as exited:
        main([*command, "--now", now])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "argument --now" in err and repr(now) in err and "Traceback" not in err


def test_a_good_now_is_taken(env, capsys):
    assert main(["status", "--json", "--now", "2022-01-05T09:00"]) == 0
    assert '"now": "2022-01-05T09:00:00+08:00"' in capsys.readouterr().out
