"""After a mailbox outage nothing is skipped (issue 17 item 11), against a real Dovecot that is
stopped and a simulated clock: a report that waited on the server longer than receipts.window_hours
still gets its receipt, a brand-new mailbox's old mail still gets none, and a digest run that slips
past midnight behind failing polls is that day's digest, with the next day's sent too."""
from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from service.cli import main
from tests.builders import make_email
from tests.conftest import DEFAULT_TOML
from tests.dovecot import Account, Dovecot, free_port
from tests.integration.test_worker import Env, wait_until
from tests.smtp_server import HOST, SmtpServer
from tests.table_builders import HEADER, SAMPLE_ROWS, make_xlsx

TZ = ZoneInfo("Asia/Shanghai")


def write_config(tmp_path: Path, mailbox: str, smtp: SmtpServer) -> Path:
    config = tmp_path / "service.toml"
    config.write_text(DEFAULT_TOML.read_text(encoding="utf-8") + mailbox + f"""
[smtp]
kind = "smtp"
host = "{HOST}"
port = {smtp.port}
security = "none"
retries = 0
""", encoding="utf-8")
    return config


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dovecot: Dovecot, imap_account: Account, smtp):
    monkeypatch.setenv("SERVICE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SERVICE_DATABASE_URL", f"sqlite:///{tmp_path / 'data' / 'service.db'}")
    monkeypatch.setenv("SERVICE_IMAP_PASSWORD", imap_account.password)
    config = write_config(tmp_path, f"""
[mailbox]
kind = "imap"
host = "{dovecot.host}"
port = {dovecot.port}
security = "none"
user = "{imap_account.user}"
timeout = 5.0
""", smtp)

    def run(*argv: str) -> int:
        return main(["--config", str(config), *argv])
    return run


def report(message_id: str) -> bytes:
    table = make_xlsx([HEADER, *SAMPLE_ROWS[:2]])
    return make_email(subject="长沙市网上年货节活动总结", message_id=message_id,
                      attachments=[("附件1：重点活动统计表.xlsx", table)], date=datetime(2022, 2, 3, 10, 0, tzinfo=TZ))


def receipts_to_changsha(smtp: SmtpServer) -> int:
    return sum("changsha@example.gov.cn" in m.rcpt_tos for m in smtp.messages)


def test_a_report_that_waited_through_an_outage_longer_than_the_window_still_gets_its_receipt(
        cli, dovecot, imap_account, smtp):
    assert cli("poll", "--now", "2022-02-03T09:00") == 0  # the last good poll before the outage
    dovecot.append(imap_account, report("<waited@changsha>"), when=datetime(2022, 2, 3, 10, 0, tzinfo=TZ))
    dovecot.stop()
    for now in ("2022-02-03T10:05", "2022-02-05T12:00", "2022-02-07T09:00"):
        assert cli("poll", "--now", now) == 1  # the server is down for four days
    dovecot.start()
    # read 4 days after it arrived (window 72 h), 28 h after the window would have closed counting from now
    assert cli("poll", "--now", "2022-02-07T14:00") == 0
    assert receipts_to_changsha(smtp) == 1


def test_a_new_mailbox_full_of_old_mail_sends_no_receipts_on_its_first_poll(cli, dovecot, imap_account, smtp):
    for n, year in enumerate((2019, 2020, 2021)):
        dovecot.append(imap_account, report(f"<old-{n}@changsha>"), when=datetime(year, 2, 3, 10, 0, tzinfo=TZ))
    assert cli("poll", "--now", "2022-02-07T14:00") == 0
    assert cli("poll", "--now", "2022-02-07T14:05") == 0
    assert receipts_to_changsha(smtp) == 0


def test_a_digest_that_slips_past_midnight_behind_failing_polls_keeps_its_day_and_the_next_is_sent(
        tmp_path: Path, smtp: SmtpServer) -> None:
    # nothing listens on the mailbox port: every poll fails after its retries (about 3 s of real time,
    # 3.3 simulated hours at speed 4000): the start's poll and the reminders' poll push the 23:50
    # digest past midnight, and its own poll first to about 05:00
    mailbox = f'\n[mailbox]\nkind = "imap"\nhost = "127.0.0.1"\nport = {free_port()}\nsecurity = "none"\nuser = "x"\n'
    env = Env(tmp_path, f"sqlite:///{tmp_path / 'data' / 'service.db'}", smtp, mailbox,
              poll_interval=600)
    env.config.write_text(env.config.read_text(encoding="utf-8") + '\n[digest]\ntime = "23:50"\n', encoding="utf-8")
    env.env["SERVICE_IMAP_PASSWORD"] = "secret"
    worker = env.start("--now", "2022-01-20T19:00", "--speed", "4000")

    def digest_keys() -> set[str]:
        return env.count(lambda s: {r.key for r in s.sent_records() if r.kind == "digest" and r.status == "sent"})

    wait_until(lambda: len(digest_keys()) >= 2 or worker.process.poll() is not None, timeout=60)
    worker.stop()
    assert digest_keys() == {"digest:2022-01-20", "digest:2022-01-21"}, worker.log()
    assert "digest digest:2022-01-20: sent" in worker.log()
