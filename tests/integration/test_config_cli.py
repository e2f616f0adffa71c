"""The config as an operator meets it: errors naming file, city and key; the data folder moving the
database with it; connection errors naming the server."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import DEFAULT_TOML, ROOT
from tests.dovecot import free_port

SAMPLE = ROOT / "examples" / "mail" / "00a_changsha_plan.eml"


def run_cli(cwd: Path, *argv: str, **env: str) -> subprocess.CompletedProcess:
    """The CLI in its own process, in `cwd`, with none of the caller's SERVICE_* settings."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SERVICE_")}
    return subprocess.run([sys.executable, "-m", "service", *argv], capture_output=True, text=True, timeout=120,
                          cwd=cwd, env={**clean, "PYTHONPATH": str(ROOT), **env})


def shipped_config(folder: Path, extra: str = "", edit: tuple[str, str] = ("", "")) -> Path:
    path = folder / "config" / "service.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(DEFAULT_TOML.read_text(encoding="utf-8").replace(*edit) + extra, encoding="utf-8")
    return path


def test_a_misspelt_key_is_reported_with_the_file_the_city_and_a_suggestion(tmp_path: Path) -> None:
    config = shipped_config(tmp_path, edit=('name = "株洲市"\n', 'name = "株洲市"\nemail = ["zz@example.cn"]\n'))
    result = run_cli(tmp_path, "status")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip() == 'error: config/service.toml: 株洲市: unknown key "email" (did you mean "emails"?)'
    assert config.is_file()


def test_a_config_saved_as_gbk_is_refused_with_where_and_how_to_fix_it(tmp_path: Path) -> None:
    path = tmp_path / "gbk.toml"
    path.write_bytes(DEFAULT_TOML.read_text(encoding="utf-8").encode("gbk"))
    result = run_cli(tmp_path, "--config", str(path), "status")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"{path}: not UTF-8" in result.stderr and "save the file as UTF-8" in result.stderr


def test_imap_without_a_host_fails_at_start(tmp_path: Path) -> None:
    shipped_config(tmp_path, extra='\n[mailbox]\nkind = "imap"\nuser = "hndzsw@163.com"\n')
    result = run_cli(tmp_path, "poll")
    assert result.returncode == 2
    assert 'mailbox: kind = "imap" needs host' in result.stderr


def test_an_unreachable_imap_server_is_named_by_host_and_port(tmp_path: Path) -> None:
    port = free_port()
    shipped_config(tmp_path, extra=f'\n[mailbox]\nkind = "imap"\nhost = "127.0.0.1"\nport = {port}\n'
                                   'security = "none"\nuser = "office@example.cn"\ntimeout = 2\n')
    result = run_cli(tmp_path, "check-mailbox", SERVICE_IMAP_PASSWORD="s3cret-code")
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert f"127.0.0.1:{port}" in result.stderr and "s3cret-code" not in result.stderr


def test_service_data_dir_moves_the_archive_and_the_database_together(tmp_path: Path) -> None:
    shipped_config(tmp_path)
    data = tmp_path / "elsewhere"
    result = run_cli(tmp_path, "import", str(SAMPLE), SERVICE_DATA_DIR=str(data))
    assert result.returncode == 0, result.stderr
    assert (data / "service.db").is_file() and any((data / "archive").rglob("*.eml"))
    assert not (tmp_path / "var").exists()
    listed = run_cli(tmp_path, "messages", "--json", SERVICE_DATA_DIR=str(data))
    assert "长沙市" in listed.stdout
