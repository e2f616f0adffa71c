"""What the CLI says when its input or its surroundings are wrong: one clear line and a non-zero exit."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from service.cli import main
from tests.builders import make_email
from tests.conftest import DEFAULT_TOML, ROOT
from tests.dovecot import free_port
from tests.table_builders import HEADER, SAMPLE_ROWS, make_xlsx


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


# --- a broken environment: disk full, read-only files and database, database unreachable -------------
@pytest.fixture
def mount(tmp_path: Path):
    """mount(name, *options): a small tmpfs (size=...) or a read-only bind mount, undone after the test.

    Root can write through file modes, so full and read-only filesystems are real mounts here."""
    mounted: list[Path] = []

    def run(target: Path, *args: str) -> Path:
        if os.geteuid() != 0:
            pytest.skip("mounting a full or read-only filesystem needs root")
        if "tmpfs" in args:
            target.mkdir(exist_ok=True)
        done = subprocess.run(["mount", *args, str(target)], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        mounted.append(target)
        return target
    yield run
    for target in reversed(mounted):
        subprocess.run(["umount", "-l", str(target)], capture_output=True)


def big_mail(size: int = 2_000_000) -> bytes:
    return make_email(attachments=[("附件1.xlsx", make_xlsx([HEADER, *SAMPLE_ROWS])),
                                   ("现场.bin", os.urandom(size), "application/octet-stream")])


def test_disk_full_while_archiving_is_one_line_and_leaves_no_half_file(env, tmp_path, mount):
    data = mount(tmp_path / "full", "-t", "tmpfs", "-o", "size=1m", "tmpfs") / "data"
    env.update(SERVICE_DATA_DIR=str(data), SERVICE_DATABASE_URL=f"sqlite:///{data / 'service.db'}")
    (tmp_path / "big.eml").write_bytes(big_mail())
    line = one_error_line(run_cli(env, "import", str(tmp_path / "big.eml"), "--now", "2022-01-05T09:00"))
    assert line.startswith("error: 磁盘已满 (disk full)")
    assert [p for p in (data / "archive").rglob("*") if p.is_file()] == []  # the half-written copy is gone


def test_disk_full_while_writing_the_workbook_is_one_line_and_keeps_the_old_file(env, tmp_path, mount):
    out = mount(tmp_path / "out", "-t", "tmpfs", "-o", "size=8k", "tmpfs") / "汇总表.xlsx"
    out.write_bytes(b"the workbook of yesterday")
    line = one_error_line(run_cli(env, "compile", "--out", str(out), "--now", "2022-01-05T09:00"))
    assert line.startswith("error: 磁盘已满 (disk full)")
    assert [p.name for p in out.parent.iterdir()] == ["汇总表.xlsx"] and out.read_bytes() == b"the workbook of yesterday"


def test_a_read_only_data_folder_is_one_line(env, tmp_path, mount):
    data = mount(tmp_path / "ro", "-t", "tmpfs", "-o", "size=4m", "tmpfs") / "data"
    env.update(SERVICE_DATA_DIR=str(data), SERVICE_DATABASE_URL=f"sqlite:///{data / 'service.db'}")
    assert run_cli(env, "status", "--now", "2022-01-05T09:00").returncode == 0
    mount(tmp_path / "ro", "-o", "remount,ro")
    line = one_error_line(run_cli(env, "status", "--now", "2022-01-05T09:00"))
    assert line.startswith("error: 只读文件系统 (read-only file system)") and str(data) in line


def test_a_read_only_database_is_one_line(env, tmp_path, mount):
    assert run_cli(env, "status", "--now", "2022-01-05T09:00").returncode == 0
    db = Path(env["SERVICE_DATABASE_URL"].removeprefix("sqlite:///"))
    mount(db, "--bind", str(db))
    mount(db, "-o", "remount,ro,bind")  # the file alone: WAL and journal files can still be made beside it
    (tmp_path / "a.eml").write_bytes(big_mail(10))
    line = one_error_line(run_cli(env, "import", str(tmp_path / "a.eml"), "--now", "2022-01-05T09:00"))
    assert line.startswith("error: 数据库只读") or line.startswith("error: 无法打开数据库文件"), line


def test_an_unreachable_postgresql_is_one_line_without_the_password(env):
    env["SERVICE_DATABASE_URL"] = f"postgresql+psycopg://report:s3cretPW@127.0.0.1:{free_port()}/reports"
    line = one_error_line(run_cli(env, "status", "--now", "2022-01-05T09:00"))
    assert line.startswith("error: 无法连接数据库 (cannot connect to the database)") and "s3cretPW" not in line


def test_a_bug_still_shows_its_traceback(env, monkeypatch, capsys):
    """Only the environment's failures are cut to one line: a programming error keeps its traceback."""
    import service.cli as cli

    def broken(app, args):
        raise ZeroDivisionError("a bug")
    monkeypatch.setitem(cli.COMMANDS, "status", (broken, "status"))
    with pytest.raises(ZeroDivisionError):
        main(["status", "--now", "2022-01-05T09:00"])
