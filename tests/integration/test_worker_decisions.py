"""A decision taken while `run` runs is seen by its next job, without a restart (issue 12):
the worker against aiosmtpd, the decision through the CLI on the same database (SQLite and PostgreSQL)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT
from tests.integration.test_worker import Env, plan_report, reap_workers, wait_until  # noqa: F401 - fixture
from tests.smtp_server import SmtpServer


def cli(env: Env, *argv: str) -> str:
    done = subprocess.run([sys.executable, "-m", "service", "--config", str(env.config), *argv], cwd=ROOT,
                          env=env.env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_an_exemption_taken_while_the_worker_runs_changes_its_next_reminder_batch(
        tmp_path: Path, database_url: str, smtp: SmtpServer) -> None:
    env = Env(tmp_path, database_url, smtp, "")
    maildir = env.data / "mailbox"
    for sub in ("tmp", "new", "cur"):
        (maildir / sub).mkdir(parents=True)
    for n in range(3):  # 长沙, 株洲, 湘潭 report their plans
        (maildir / "new" / f"{n}.eml").write_bytes(plan_report(n))
    worker = env.start("--now", "2021-12-28T08:59:30", "--speed", "2")  # the plan reminders at 09:00, 15 s away
    wait_until(lambda: env.messages() == 3)

    out = cli(env, "exempt", "衡阳市", "plan", "--by", "张三", "--note", "电话告知无分会场",
              "--now", "2021-12-28T08:59:40")  # before 09:00 on the worker's clock
    assert "衡阳市 分会场活动实施计划报备" in out and "免报" in out

    reminders = lambda: [m for m in smtp.messages if "提醒" in m.message["Subject"]]  # noqa: E731
    wait_until(lambda: len(reminders()) == 10, timeout=30)  # 14 cities, 3 reported, 1 exempt
    assert worker.stop()[0] == 0
    reminded = {r for m in reminders() for r in m.rcpt_tos}
    assert "hengyang@example.gov.cn" not in reminded and "shaoyang@example.gov.cn" in reminded
    assert len(reminders()) == 10
