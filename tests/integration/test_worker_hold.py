"""`run` against a Dovecot that refuses the login: the 09:00 reminders are held, not sent and not
given up; once the login works (the server's password changed to the worker's, and SIGHUP skips the
refused login's backoff) the next good poll sends them."""
from __future__ import annotations

import signal

from tests.dovecot import Account, Dovecot
from tests.integration.test_worker import (  # noqa: F401
    Env,
    imap_section,
    reap_workers,
    wait_until,
)


def test_the_worker_holds_reminders_while_the_login_is_refused_and_sends_them_after_a_good_poll(
        tmp_path, database_url, smtp, dovecot: Dovecot, imap_account: Account) -> None:  # noqa: F811
    env = Env(tmp_path, database_url, smtp, imap_section(dovecot, imap_account), poll_interval=3)
    env.env["SERVICE_IMAP_PASSWORD"] = "the-new-authorisation-code"  # the server still has the old one
    worker = env.start("--now", "2022-02-08T08:59:56")  # the summary's overdue notices at 09:00
    worker.wait_log("remind: 14 reminder(s) held", timeout=30)
    assert [m for m in smtp.messages if "每日汇总" not in m.message["Subject"]] == []

    (dovecot.root / "users" / imap_account.user).write_text(
        f"{imap_account.user}:{{PLAIN}}the-new-authorisation-code\n")  # the 授权码 is fixed on the server side
    worker.process.send_signal(signal.SIGHUP)  # log in now, not when the refused login's backoff ends
    reminders = lambda: [m for m in smtp.messages if "每日汇总" not in m.message["Subject"]]  # noqa: E731
    wait_until(lambda: len(reminders()) == 14, timeout=30)
    code, _ = worker.stop(signal.SIGTERM)
    assert code == 0
    log = worker.log()
    assert "poll failed" in log or "邮箱登录被拒绝" in log
    assert "remind: 14 due, 14 sent" in log


def test_idle_reconnects_with_backoff_after_the_server_restarts(
        tmp_path, smtp, dovecot: Dovecot, imap_account: Account) -> None:  # noqa: F811
    import time

    from tests.integration.test_worker import plan_report

    env = Env(tmp_path, f"sqlite:///{tmp_path / 'db.sqlite'}", smtp, imap_section(dovecot, imap_account),
              poll_interval=60, idle_timeout=5)  # only IDLE brings the mail within the test's time
    env.env["SERVICE_IMAP_PASSWORD"] = imap_account.password
    worker = env.start("--now", "2021-12-28T10:00:00")
    wait_until(lambda: "poll" in worker.log() and env.count(lambda s: 1) == 1, timeout=20)
    time.sleep(1.0)  # the IDLE thread is in IDLE
    dovecot.restart()
    since = dovecot.log_size()
    worker.wait_log("idle: ", timeout=20)  # the fault, logged with its backoff
    assert f"user=<{imap_account.user}>" in dovecot.wait_for_log(f"user=<{imap_account.user}>", since, timeout=20)
    time.sleep(1.0)  # logged in again: now in IDLE (mail appended before IDLE starts waits for a poll)
    dovecot.append(imap_account, plan_report(0))
    wait_until(lambda: env.messages() == 1, timeout=20)  # IDLE came back (polls are 60 s apart)
    code, _ = worker.stop(signal.SIGTERM)
    assert code == 0 and "retrying in 2s" in worker.log()
