"""`status --check` and `check-mailbox` through the CLI, against a real Dovecot."""
from __future__ import annotations

from pathlib import Path

import pytest

from service.cli import main
from tests.auth_builders import received_by
from tests.conftest import DEFAULT_TOML
from tests.dovecot import Account, Dovecot, sample_message


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Run the CLI on the shipped config plus extra TOML, with a private data dir and database."""
    monkeypatch.setenv("SERVICE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SERVICE_DATABASE_URL", f"sqlite:///{tmp_path / 'data' / 'service.db'}")

    def run(*argv: str, extra: str = "") -> int:
        config = tmp_path / "service.toml"
        config.write_text(DEFAULT_TOML.read_text(encoding="utf-8") + extra, encoding="utf-8")
        return main(["--config", str(config), *argv])
    return run


def imap(dovecot: Dovecot, account: Account) -> str:
    return (f'\n[mailbox]\nkind = "imap"\nhost = "{dovecot.host}"\nport = {dovecot.port}\n'
            f'security = "none"\nuser = "{account.user}"\ntimeout = 10.0\n')


def test_status_check_fails_until_a_poll_succeeds_then_passes(cli, capsys):
    assert cli("status", "--check", "--now", "2022-01-05T09:00") == 1
    assert "no successful mailbox poll yet" in capsys.readouterr().out
    assert cli("poll", "--now", "2022-01-05T09:00") == 0
    assert cli("status", "--check", "--now", "2022-01-05T09:10") == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith("OK: last successful poll 2022-01-05T09:00")
    assert cli("status", "--check", "--now", "2022-01-05T09:30") == 1
    assert "limit 15 min" in capsys.readouterr().out


def test_status_check_names_a_refused_mailbox_login(cli, capsys, dovecot, imap_account, monkeypatch):
    monkeypatch.setenv("SERVICE_IMAP_PASSWORD", "not-the-authorisation-code")
    assert cli("poll", "--now", "2022-01-05T09:00", extra=imap(dovecot, imap_account)) == 1
    capsys.readouterr()
    assert cli("status", "--check", "--now", "2022-01-05T09:01", extra=imap(dovecot, imap_account)) == 1
    out = capsys.readouterr().out
    assert "UNHEALTHY: 邮箱收取失败" in out and "授权码" in out and "not-the-authorisation-code" not in out


def test_check_mailbox_logs_in_and_lists_the_folders(cli, capsys, dovecot, imap_account, monkeypatch):
    dovecot.append(imap_account, sample_message(1))
    monkeypatch.setenv("SERVICE_IMAP_PASSWORD", imap_account.password)
    assert cli("check-mailbox", extra=imap(dovecot, imap_account)) == 0
    out = capsys.readouterr().out
    assert "login ok" in out and "Dovecot" in out and "IDLE: 有" in out
    assert any(line.split()[:3] == ["*", "INBOX", "1"] for line in out.splitlines())

    monkeypatch.setenv("SERVICE_IMAP_PASSWORD", "wrong")
    assert cli("check-mailbox", extra=imap(dovecot, imap_account)) == 1
    assert "授权码" in capsys.readouterr().err


def test_check_mailbox_shows_the_authserv_id_to_trust_and_whether_it_is(cli, capsys, dovecot, imap_account,
                                                                         monkeypatch):
    dovecot.append(imap_account, received_by(sample_message(1), "mx.163.com; spf=pass smtp.mailfrom=a@b.example"))
    monkeypatch.setenv("SERVICE_IMAP_PASSWORD", imap_account.password)
    assert cli("check-mailbox", extra=imap(dovecot, imap_account)) == 0
    out = capsys.readouterr().out
    assert "authserv-id（自上而下）: mx.163.com" in out and "trusted_authserv_ids = 未配置" in out
    assert cli("check-mailbox", extra=imap(dovecot, imap_account) + 'trusted_authserv_ids = ["mx.163.com"]\n') == 0
    assert "已信任 (trusted): mx.163.com" in capsys.readouterr().out


def test_check_mailbox_on_a_local_folder_says_so(cli, capsys):
    assert cli("check-mailbox") == 0
    assert "local folder" in capsys.readouterr().out
