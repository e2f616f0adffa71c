"""A refused IMAP login backs off (issue 17 item 4), counted at a real Dovecot: repeated `poll`
over four simulated hours log in 9 times, not 49; `remind` and `poll` print when the next attempt is
allowed, as do `status --check` and the digest; a new password in the secret file is tried at once;
the `run` worker retries at once on SIGHUP and on a changed secret file."""
from __future__ import annotations

import signal
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from service.cli import main
from tests.dovecot import Account, Dovecot
from tests.integration.test_worker import Env, imap_section, wait_until


def login_attempts(dovecot: Dovecot, account: Account, since: int, refused: bool = True) -> int:
    """Logins the server saw for `account` since log offset `since` (refused ones, or accepted ones)."""
    needle = "auth failed" if refused else "Login: user=<"
    return sum(1 for line in dovecot.log_text()[since:].splitlines()
               if f"user=<{account.user}>" in line and needle in line)


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    path = tmp_path / "imap-password"
    path.write_text("wrong-authorisation-code\n", encoding="utf-8")
    return path


@pytest.fixture
def cli(tmp_path, monkeypatch, dovecot, imap_account, smtp, secret_file):
    from tests.integration.test_outage_catchup import write_config
    monkeypatch.setenv("SERVICE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SERVICE_DATABASE_URL", f"sqlite:///{tmp_path / 'data' / 'service.db'}")
    monkeypatch.delenv("SERVICE_IMAP_PASSWORD", raising=False)
    monkeypatch.setenv("SERVICE_IMAP_PASSWORD_FILE", str(secret_file))
    config = write_config(tmp_path, imap_section(dovecot, imap_account), smtp)

    def run(capsys, *argv: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main(["--config", str(config), *argv])
        out, err = capsys.readouterr()
        return code, out, err
    return run


START = datetime.fromisoformat("2022-01-20T10:00")


def minute(n: int) -> str:
    return (START + timedelta(minutes=n)).isoformat(timespec="minutes")


def test_repeated_polls_with_a_refused_login_back_off_and_a_new_secret_is_tried_at_once(
        cli, capsys, dovecot, imap_account, secret_file):
    since = dovecot.log_size()
    tried = []
    for n in range(0, 241, 5):  # a cron `poll` every 5 minutes for four hours
        before = login_attempts(dovecot, imap_account, since)
        code, _, err = cli(capsys, "poll", "--now", minute(n))
        assert code == 1 and "邮箱登录被拒绝，下次重试" in err
        dovecot.wait_for_log(f"user=<{imap_account.user}>", since)
        if login_attempts(dovecot, imap_account, since) > before:
            tried.append(n)
    # waits of 1, 2, 4, 8, 16, 32 and then 60 minutes, each from the refusal
    assert tried == [0, 5, 10, 15, 25, 45, 80, 140, 200]

    code, _, err = cli(capsys, "poll", "--now", minute(242))
    assert "下次重试 14:20" in err  # 200 + 60 minutes, local time

    code, out, err = cli(capsys, "remind", "--now", minute(243))  # its poll respects the backoff too
    assert "邮箱登录被拒绝，下次重试 14:20" in err
    code, out, _ = cli(capsys, "status", "--check", "--now", minute(244))
    assert code == 1 and "邮箱登录被拒绝，下次重试 14:20" in out and "wrong-authorisation-code" not in out
    _, out, _ = cli(capsys, "digest", "--dry-run", "--now", minute(245))
    assert "邮箱登录被拒绝，下次重试 14:20" in out
    assert login_attempts(dovecot, imap_account, since) == 9

    secret_file.write_text(imap_account.password + "\n", encoding="utf-8")  # the new 授权码
    code, _, err = cli(capsys, "poll", "--now", minute(246))
    assert code == 0, err
    assert login_attempts(dovecot, imap_account, since, refused=False) == 1
    code, out, _ = cli(capsys, "status", "--check", "--now", minute(247))
    assert code == 0, out

    secret_file.write_text("wrong-again\n", encoding="utf-8")  # a good login reset the schedule
    assert cli(capsys, "poll", "--now", minute(250))[0] == 1
    assert "下次重试 14:11" in cli(capsys, "poll", "--now", minute(250))[2]
    assert login_attempts(dovecot, imap_account, since) == 10


def test_the_worker_backs_off_retries_on_sighup_and_when_the_secret_file_changes(
        tmp_path, database_url, smtp, dovecot, imap_account, secret_file):
    env = Env(tmp_path, database_url, smtp, imap_section(dovecot, imap_account), poll_interval=1)
    env.env.pop("SERVICE_IMAP_PASSWORD", None)
    env.env["SERVICE_IMAP_PASSWORD_FILE"] = str(secret_file)
    since = dovecot.log_size()
    worker = env.start()  # real time: the first backoff is a minute
    worker.wait_log("邮箱登录被拒绝，下次重试")
    wait_until(lambda: worker.log().count("poll failed: 邮箱登录被拒绝") >= 4)  # polls every second, no login
    assert login_attempts(dovecot, imap_account, since) == 1

    worker.process.send_signal(signal.SIGHUP)
    wait_until(lambda: login_attempts(dovecot, imap_account, since) == 2)
    wait_until(lambda: worker.log().count("poll failed: 邮箱登录被拒绝") >= 8)
    assert login_attempts(dovecot, imap_account, since) == 2  # refused again: backing off again

    secret_file.write_text(imap_account.password + "\n", encoding="utf-8")
    wait_until(lambda: login_attempts(dovecot, imap_account, since, refused=False) >= 1)
    worker.wait_log("mailbox settings or secret changed")
    code, _ = worker.stop()
    assert code == 0
    assert imap_account.password not in worker.log() and "wrong-authorisation-code" not in worker.log()
