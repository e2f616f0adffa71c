"""`run` as a real process against Dovecot (IMAP IDLE) and aiosmtpd, on SQLite and PostgreSQL:
mail in seconds, reminders at their times, kill -9 and restart with nothing lost or sent twice,
SIGTERM between two messages, one worker per database."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Callable, Iterator
from zoneinfo import ZoneInfo

import pytest

from service.store import Store
from tests.builders import make_email
from tests.conftest import DEFAULT_TOML, ROOT
from tests.dovecot import Account, Dovecot
from tests.smtp_server import SmtpServer
from tests.table_builders import HEADER, SAMPLE_ROWS, TITLE_ROWS, make_docx, make_xlsx

TZ = ZoneInfo("Asia/Shanghai")
CITIES = [("长沙市", "changsha"), ("株洲市", "zhuzhou"), ("湘潭市", "xiangtan"), ("衡阳市", "hengyang"),
          ("邵阳市", "shaoyang"), ("岳阳市", "yueyang"), ("常德市", "changde")]
PERSONAL = ["王敏", "13812345678", "cssw@example.com", "changsha@example.gov.cn", "附件是我市"]


def at(iso: str) -> datetime:
    return datetime.fromisoformat(iso).replace(tzinfo=TZ)


def plan_report(n: int) -> bytes:
    city, user = CITIES[n % len(CITIES)]
    doc = make_docx([], paragraphs_before=[f"{city}分会场活动实施计划", "联系人：王敏 13812345678"], tables=0)
    return make_email(subject=f"{city}分会场活动实施计划报备", sender=f"{city}商务局 <{user}@example.gov.cn>",
                      attachments=[(f"{city}实施计划.docx", doc)], message_id=f"<plan-{n}@mail.test>",
                      date=at("2021-12-27T10:00"))


def summary_report(n: int) -> bytes:
    city, user = CITIES[n % len(CITIES)]
    table = make_xlsx([HEADER, *SAMPLE_ROWS], title_rows=TITLE_ROWS)
    return make_email(subject=f"{city}网上年货节活动总结（第{n}版）", sender=f"{city}商务局 <{user}@example.gov.cn>",
                      attachments=[("附件1：重点活动统计表.xlsx", table)], message_id=f"<summary-{n}@mail.test>",
                      date=at("2022-02-07T10:00"))


STARTED: list[subprocess.Popen] = []


@pytest.fixture(autouse=True)
def reap_workers() -> Iterator[None]:
    """After each test, end whatever a worker left (its parsing processes outlive a kill -9)."""
    yield
    while STARTED:
        try:
            os.killpg(STARTED.pop().pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


class WorkerProcess:
    """`python -m service run` in a child process (own process group); stderr (its log) goes to a file."""

    def __init__(self, config: Path, env: dict[str, str], log: Path, *args: str) -> None:
        self.log_path = log
        with open(log, "ab") as sink:
            self.process = subprocess.Popen([sys.executable, "-m", "service", "--config", str(config), "run", *args],
                                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=sink,
                                            start_new_session=True)
        STARTED.append(self.process)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_log(self, needle: str, timeout: float = 15.0) -> None:
        wait_until(lambda: needle in self.log() or self.process.poll() is not None, timeout)
        assert needle in self.log(), self.log()

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> tuple[int, float]:
        """Send `sig`; (exit code, seconds it took to exit)."""
        started = time.monotonic()
        self.process.send_signal(sig)
        code = self.process.wait(timeout=timeout)
        return code, time.monotonic() - started


def wait_until(condition: Callable[[], bool], timeout: float = 15.0, step: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(step)


class Env:
    """One worker setup: config file, environment, database, SMTP capture."""

    def __init__(self, tmp_path: Path, database_url: str, smtp: SmtpServer, mailbox: str, **worker: object) -> None:
        self.tmp, self.url, self.smtp = tmp_path, database_url, smtp
        self.data = tmp_path / "data"
        self.config = tmp_path / "service.toml"
        settings = {"poll_interval": 5, "idle_timeout": 60, **worker}
        self.config.write_text(DEFAULT_TOML.read_text(encoding="utf-8") + mailbox + f"""
[smtp]
kind = "smtp"
host = "127.0.0.1"
port = {smtp.port}
security = "none"
retries = 0

[receipts]
max_per_address_per_hour = 50  # backlogs of 40 reports from 7 cities: the hourly cap is tested elsewhere

[worker]
{chr(10).join(f"{k} = {v!r}" for k, v in settings.items())}
""", encoding="utf-8")
        self.env = {**os.environ, "SERVICE_DATA_DIR": str(self.data), "SERVICE_DATABASE_URL": database_url}
        self.logs = 0

    def start(self, *args: str) -> WorkerProcess:
        self.logs += 1
        return WorkerProcess(self.config, self.env, self.tmp / f"worker{self.logs}.log", *args)

    def count(self, query: Callable[[Store], int]) -> int:
        store = Store.open(self.url)
        try:
            return query(store)
        finally:
            store.close()

    def messages(self) -> int:
        return self.count(lambda s: len(s.stored_messages()))


def imap_section(dovecot: Dovecot, account: Account) -> str:
    return f"""
[mailbox]
kind = "imap"
host = "{dovecot.host}"
port = {dovecot.port}
security = "none"
user = "{account.user}"
timeout = 10.0
"""


@pytest.fixture
def imap_env(tmp_path, database_url, smtp, dovecot, imap_account) -> Env:
    env = Env(tmp_path, database_url, smtp, imap_section(dovecot, imap_account), poll_interval=30)
    env.env["SERVICE_IMAP_PASSWORD"] = imap_account.password
    return env


def test_the_worker_ingests_mail_in_seconds_reminds_at_the_scheduled_time_and_stops_on_sigterm(
        imap_env: Env, dovecot: Dovecot, imap_account: Account) -> None:
    for n in range(2):
        dovecot.append(imap_account, plan_report(n), when=at("2021-12-27T16:00"))
    worker = imap_env.start("--now", "2021-12-28T08:59:50", "--speed", "2")  # reminders due 09:00, 5 s away
    wait_until(lambda: imap_env.messages() == 2)

    dovecot.append(imap_account, plan_report(2), when=at("2021-12-28T08:59:58"))
    appended = time.monotonic()
    wait_until(lambda: imap_env.messages() == 3, timeout=10)
    assert time.monotonic() - appended < 4.0  # IDLE wakes the poll; the next timed poll is 30 s away

    reminders = lambda: [m for m in imap_env.smtp.messages if "提醒" in m.message["Subject"]]  # noqa: E731
    wait_until(lambda: len(reminders()) == 11, timeout=20)  # 14 cities, 3 reported before 09:00
    sent_at = {parsedate_to_datetime(m.message["Date"]) for m in reminders()}
    assert min(sent_at) >= at("2021-12-28T09:00:00") and max(sent_at) < at("2021-12-28T09:00:10")
    reminded = {r for m in reminders() for r in m.rcpt_tos}
    assert not reminded & {"changsha@example.gov.cn", "zhuzhou@example.gov.cn", "xiangtan@example.gov.cn"}

    code, took = worker.stop(signal.SIGTERM)
    assert code == 0 and took < 5
    log = worker.log()
    assert "city=长沙市 deadline=plan" in log and "remind: 11 due, 11 sent" in log and "digest digest:2021-12-28: sent" in log
    assert [needle for needle in PERSONAL if needle in log] == []
    receipts = [m for m in imap_env.smtp.messages if m.message["In-Reply-To"]]
    assert len(receipts) == 3


def test_a_killed_worker_restarts_with_nothing_lost_and_nothing_sent_twice(
        imap_env: Env, dovecot: Dovecot, imap_account: Account) -> None:
    backlog = 40
    dovecot.append_many(imap_account, (summary_report(n) for n in range(backlog)))
    # 2022-01-10 10:00: the progress overdue notices are still within their catch-up window.
    first = imap_env.start("--now", "2022-01-10T10:00:00")
    wait_until(lambda: imap_env.messages() >= 3, step=0.02)
    first.stop(signal.SIGKILL)
    assert imap_env.count(lambda s: len(s.results())) < backlog  # killed in the middle of the backlog

    second = imap_env.start("--now", "2022-01-10T10:05:00")
    wait_until(lambda: imap_env.messages() == backlog, timeout=60)
    wait_until(lambda: "remind:" in second.log(), timeout=20)
    code, _ = second.stop()
    assert code == 0

    stored = imap_env.count(lambda s: len({m.sha256 for m in s.stored_messages()}))
    unprocessed = imap_env.count(lambda s: len(s.stored_messages()) - len(s.results()))
    assert stored == backlog and unprocessed == 0
    captured = imap_env.smtp.messages
    receipts = [m.message["In-Reply-To"] for m in captured if m.message["In-Reply-To"]]
    others = [(tuple(m.rcpt_tos), m.message["Subject"]) for m in captured if not m.message["In-Reply-To"]]
    assert len(receipts) == len(set(receipts)) and len(others) == len(set(others))
    # Mail recorded but not yet processed when killed is finished at the restart, receipts included;
    # only a receipt cut off mid-send stays "sending" and is never resent (at most once).
    assert len(set(receipts)) >= backlog - 1
    assert len([s for _, s in others if "催报" in s]) == 14, others  # overdue notices, each once


def test_sigterm_during_a_backlog_stops_after_the_mail_in_flight_and_a_restart_finishes_it(
        imap_env: Env, dovecot: Dovecot, imap_account: Account) -> None:
    dovecot.append_many(imap_account, (summary_report(n) for n in range(40)))
    worker = imap_env.start("--now", "2022-02-08T10:00:00")
    wait_until(lambda: imap_env.messages() >= 3, step=0.02)
    code, took = worker.stop(signal.SIGTERM)
    assert code == 0 and took < 5
    assert "SIGTERM received" in worker.log() and "worker stopped" in worker.log()
    assert "abandoned" not in worker.log()

    again = imap_env.start("--now", "2022-02-08T10:05:00")
    processed = lambda s: len(s.results())  # noqa: E731
    wait_until(lambda: imap_env.count(processed) == 40, timeout=60)
    assert again.stop()[0] == 0
    assert imap_env.messages() == 40


def test_a_second_worker_on_the_same_database_refuses_and_a_standby_takes_over(
        tmp_path: Path, database_url: str, smtp: SmtpServer) -> None:
    env = Env(tmp_path, database_url, smtp, "")  # local Maildir mailbox: no IMAP needed here
    first = env.start()
    first.wait_log("worker started")

    refused = env.start()
    assert refused.process.wait(timeout=15) == 1
    assert "another worker is already running" in refused.log()

    standby = env.start("--standby")
    standby.wait_log("standby: another worker holds")
    assert first.stop()[0] == 0
    standby.wait_log("taking over", timeout=15)
    standby.wait_log("worker started")
    assert standby.stop()[0] == 0


def test_the_data_dir_and_everything_in_it_are_private(tmp_path: Path, smtp: SmtpServer) -> None:
    env = Env(tmp_path, f"sqlite:///{tmp_path / 'data' / 'service.db'}", smtp, "")
    maildir = env.data / "mailbox"
    for sub in ("tmp", "new", "cur"):
        (maildir / sub).mkdir(parents=True)
    (maildir / "new" / "1.eml").write_bytes(summary_report(1))
    worker = env.start("--now", "2022-02-08T10:00:00")
    wait_until(lambda: (env.data / "汇总表.xlsx").exists())
    assert worker.stop()[0] == 0
    assert (env.data.stat().st_mode & 0o777) == 0o700
    private = [p for p in env.data.rglob("*") if p.is_file() and not p.is_relative_to(maildir)]
    assert {p.name for p in private} >= {"service.db", "service.db.lock", "汇总表.xlsx"}
    assert [str(p) for p in private if p.stat().st_mode & 0o077] == []


def test_a_worker_that_cannot_finish_in_its_stop_timeout_abandons_the_mail_in_flight_safely(
        tmp_path: Path, smtp: SmtpServer, dovecot: Dovecot, imap_account: Account) -> None:
    env = Env(tmp_path, f"sqlite:///{tmp_path / 'db' / 'service.db'}", smtp, imap_section(dovecot, imap_account),
              stop_timeout=0.001, log_format="json")
    env.env["SERVICE_IMAP_PASSWORD"] = imap_account.password
    dovecot.append_many(imap_account, (summary_report(n) for n in range(40)))
    worker = env.start("--now", "2022-02-08T10:00:00")
    wait_until(lambda: env.messages() >= 3, step=0.02)
    code, took = worker.stop(signal.SIGTERM)
    assert code == 0 and took < 5
    last = json.loads(worker.log().splitlines()[-1])
    assert last["logger"] == "service.worker" and "abandoned" in last["message"]

    again = env.start("--now", "2022-02-08T10:05:00")
    wait_until(lambda: env.count(lambda s: len(s.results())) == 40, timeout=60)
    assert again.stop()[0] == 0
    assert env.messages() == 40
