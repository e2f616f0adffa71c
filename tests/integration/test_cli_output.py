"""Reading the CLI's output: --version, options after the command, a closed pipe, a wrong --deadline,
and `remind` summarising the stale reminders (each listed only with -v)."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from service.cli import main
from tests.conftest import DEFAULT_TOML, ROOT
from tests.integration.test_cli_errors import run_cli


@pytest.fixture
def env(tmp_path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A private data dir and SQLite database for the CLI, in this process and in subprocesses."""
    values = {"SERVICE_DATA_DIR": str(tmp_path / "data"),
              "SERVICE_DATABASE_URL": f"sqlite:///{tmp_path / 'data' / 'service.db'}",
              "SERVICE_CONFIG": str(DEFAULT_TOML)}
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    return values


def test_version_names_the_installed_distribution(capsys):
    from importlib.metadata import version

    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0 and capsys.readouterr().out.strip() == f"service {version('report-mail-service')}"


def test_config_and_verbose_are_taken_after_the_command_too(env, tmp_path, capsys):
    assert main(["status", "--json", "--now", "2022-01-05T09:00", "--config", str(DEFAULT_TOML), "-v"]) == 0
    assert '"now": "2022-01-05T09:00:00+08:00"' in capsys.readouterr().out
    missing = str(tmp_path / "nowhere.toml")
    assert main(["status", "--config", missing]) == 2
    assert f"config file not found: {missing}" in capsys.readouterr().err
    assert main(["--config", missing, "status"]) == 2  # before the command, as always
    assert main(["--config", missing, "status", "-v"]) == 2  # -v after does not reset --config before


def test_a_reader_that_leaves_early_gets_no_traceback(env):
    read, write = os.pipe()
    os.close(read)  # like `status | head -0`: every write meets a closed pipe
    try:
        result = subprocess.run([sys.executable, "-m", "service", "status", "--now", "2022-01-05T09:00"],
                                stdout=write, stderr=subprocess.PIPE, text=True, timeout=60, cwd=ROOT,
                                env={**os.environ, "PYTHONPATH": str(ROOT), **env})
    finally:
        os.close(write)
    assert result.stderr == "" and result.returncode == 141


def test_status_piped_to_head_exits_quietly(env):
    result = subprocess.run(f"{sys.executable} -m service status --now 2022-01-05T09:00 | head -2",
                            shell=True, capture_output=True, text=True, timeout=60, cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT), **env})
    assert result.returncode == 0 and result.stderr == "" and len(result.stdout.splitlines()) == 2


def test_an_unknown_deadline_lists_the_valid_ids(env, tmp_path, capsys):
    assert main(["compile", "--deadline", "nosuch", "--out", str(tmp_path / "x.xlsx")]) == 2
    err = capsys.readouterr().err
    assert "'nosuch'" in err and "plan（分会场活动实施计划报备），progress（活动组织情况），summary（活动全面总结）" in err
    assert not (tmp_path / "x.xlsx").exists()


def test_remind_in_the_middle_of_a_campaign_prints_a_summary_and_lists_stale_reminders_only_with_v(env):
    quiet = run_cli(env, "remind", "--dry-run", "--now", "2022-02-08T09:00")
    assert quiet.returncode == 0, quiet.stderr
    lines = quiet.stdout.splitlines()
    assert not any(line.startswith("已过期未发") for line in lines)
    summary = lines[-1]
    assert summary.startswith("催报提醒 (reminders)：到期 14 封，未发送(dry-run)；已过期不再发送 ")
    assert "progress " in summary and "plan " in summary and "加 -v 逐条列出" in summary
    stale = int(summary.split("已过期不再发送 ")[1].split(" 封")[0])
    assert stale > 14
    loud = run_cli(env, "remind", "--dry-run", "--now", "2022-02-08T09:00", "-v")
    listed = [line for line in loud.stdout.splitlines() if line.startswith("已过期未发")]
    assert len(listed) == stale and "加 -v" not in loud.stdout
