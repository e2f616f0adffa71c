"""No "we have not received your report" while the mailbox cannot be read: `remind` against a real
Dovecot with a wrong password holds the reminders (digest, status --check, log say so), and sends
them once a poll succeeds again. Also the --now guard of issue 19 (--replay)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from service.cli import main
from service.store import Store
from tests.conftest import DEFAULT_TOML
from tests.dovecot import Account, Dovecot
from tests.smtp_server import HOST


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dovecot: Dovecot, imap_account: Account, smtp):
    """The CLI on the shipped config with the Dovecot mailbox and the aiosmtpd SMTP; returns (code, out, err)."""
    monkeypatch.setenv("SERVICE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SERVICE_DATABASE_URL", f"sqlite:///{tmp_path / 'data' / 'service.db'}")
    config = tmp_path / "service.toml"
    config.write_text(DEFAULT_TOML.read_text(encoding="utf-8") + f"""
[mailbox]
kind = "imap"
host = "{dovecot.host}"
port = {dovecot.port}
security = "none"
user = "{imap_account.user}"
timeout = 10.0

[smtp]
kind = "smtp"
host = "{HOST}"
port = {smtp.port}
security = "none"
retries = 0
""", encoding="utf-8")

    def run(capsys, *argv: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main(["--config", str(config), *argv])
        out, err = capsys.readouterr()
        return code, out, err
    return run


def sent_statuses(tmp_path: Path, key_part: str = "") -> set[str]:
    store = Store.open(f"sqlite:///{tmp_path / 'data' / 'service.db'}")
    try:
        return {r.status for r in store.sent_records() if key_part in r.key}
    finally:
        store.close()


def test_reminders_are_held_while_the_login_is_refused_and_sent_after_the_next_good_poll(
        cli, capsys, monkeypatch, imap_account, smtp, tmp_path, caplog):
    monkeypatch.setenv("SERVICE_IMAP_PASSWORD", "wrong-authorisation-code")
    assert cli(capsys, "poll", "--now", "2022-02-08T08:50")[0] == 1
    code, out, err = cli(capsys, "remind", "--now", "2022-02-08T09:00")  # the summary's overdue notice
    assert code == 1
    assert "暂缓(held): overdue" in out and "reminders held, 14 due" in err and "尚未成功收取" in err
    assert smtp.messages == [] and sent_statuses(tmp_path) == set()  # nothing sent, nothing given up
    assert "14 reminder(s) held" in caplog.text

    code, out, _ = cli(capsys, "status", "--check", "--now", "2022-02-08T09:01")
    assert code == 1 and "UNHEALTHY: 催报提醒暂缓发出 (reminders held): 14 封催报提醒暂缓" in out
    code, out, _ = cli(capsys, "digest", "--dry-run", "--now", "2022-02-08T09:02")
    assert "【注意】催报提醒暂缓发出" in out and "催报提醒暂缓发出：14 封催报提醒暂缓" in out

    # the login works again two hours later: still within the overdue notice's catch-up window
    monkeypatch.setenv("SERVICE_IMAP_PASSWORD", imap_account.password)
    code, out, err = cli(capsys, "remind", "--now", "2022-02-08T11:00")
    assert code == 0, err
    assert len(smtp.messages) == 14 and sent_statuses(tmp_path, ":summary:overdue:") == {"sent"}
    code, out, _ = cli(capsys, "status", "--check", "--now", "2022-02-08T11:01")
    assert "催报提醒暂缓" not in out
    assert "催报提醒暂缓" not in cli(capsys, "digest", "--dry-run", "--now", "2022-02-08T11:02")[1]


def test_a_poll_older_than_max_poll_age_holds_reminders_and_a_fresh_one_releases_them(
        cli, capsys, monkeypatch, imap_account, smtp):
    monkeypatch.setenv("SERVICE_IMAP_PASSWORD", imap_account.password)
    assert cli(capsys, "poll", "--now", "2022-02-08T08:00")[0] == 0
    assert json.loads(cli(capsys, "remind", "--dry-run", "--json", "--now", "2022-02-08T09:00")[1])
    code, _, err = cli(capsys, "remind", "--dry-run", "--now", "2022-02-08T09:00")
    assert code == 0 and "last good poll 60 min ago, limit 30 min" in err  # dry-run says it would hold
    code, _, _ = cli(capsys, "remind", "--now", "2022-02-08T09:00")  # polls first: fresh, so it sends
    assert code == 0 and len(smtp.messages) == 14


def test_a_now_ahead_of_the_real_clock_is_refused_without_replay(cli, capsys, monkeypatch, imap_account,
                                                                 smtp, tmp_path):
    monkeypatch.setenv("SERVICE_IMAP_PASSWORD", imap_account.password)
    code, _, err = cli(capsys, "remind", "--now", "2999-02-08T09:00")
    assert code == 2 and "ahead of the real time" in err and "--replay" in err
    assert sent_statuses(tmp_path) == set()  # no earlier reminder was marked missed
    assert cli(capsys, "remind", "--dry-run", "--now", "2999-02-08T09:00")[0] == 0
    assert cli(capsys, "remind", "--replay", "--now", "2999-02-08T09:00")[0] == 0
    assert sent_statuses(tmp_path) == {"stale"}
