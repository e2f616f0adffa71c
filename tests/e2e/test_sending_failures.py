"""Failing sends fail visibly and briefly (remind and digest through the CLI, a real aiosmtpd):
a circuit breaker stops the batch, the CLI exits non-zero, the rest stays due and goes out later."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import tomli_w

from service.cli import main
from service.store import Store
from tests.conftest import ROOT, config_data
from tests.smtp_server import HOST, SmtpServer, free_port

SLOT = "2022-01-30T09:00"  # the summary's 1st-working-day reminder: 14 cities due


def write_config(tmp_path: Path, port: int, **smtp: object) -> Path:
    data = config_data()
    data["service"] = {**data["service"], "data_dir": str(tmp_path / "data"),
                       "database_url": f"sqlite:///{tmp_path / 'data' / 'service.db'}"}
    data["smtp"] = {"kind": "smtp", "host": HOST, "port": port, "security": "none", "timeout": 5.0,
                    "retries": 1, "backoff_seconds": 1.0, **smtp}
    path = tmp_path / "service.toml"
    path.write_bytes(tomli_w.dumps(data).encode("utf-8"))
    return path


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for key in ("SERVICE_DATA_DIR", "SERVICE_DATABASE_URL", "SERVICE_CONFIG", "SERVICE_SMTP_PASSWORD"):
        monkeypatch.delenv(key, raising=False)


def run(capsys, config: Path, *argv: str) -> tuple[int, str, str, float]:
    capsys.readouterr()
    started = time.monotonic()
    code = main(["--config", str(config), *argv])
    took = time.monotonic() - started
    out, err = capsys.readouterr()
    return code, out, err, took


def still_due(capsys, config: Path, now: str = SLOT) -> list[dict]:
    code, out, _, _ = run(capsys, config, "remind", "--dry-run", "--json", "--now", now)
    assert code == 0
    return json.loads(out)


def statuses(tmp_path: Path, slot: str = SLOT) -> dict[str, int]:
    """Sent-log statuses of the reminders scheduled at `slot` (earlier ones are logged stale)."""
    store = Store.open(f"sqlite:///{tmp_path / 'data' / 'service.db'}")
    try:
        found: dict[str, int] = {}
        for record in store.sent_records():
            if not record.key.endswith(slot + "+08:00"):
                continue
            found[record.status] = found.get(record.status, 0) + 1
        return found
    finally:
        store.close()


def test_with_nothing_listening_remind_stops_after_three_failures_and_sends_all_when_the_server_is_back(
        tmp_path, capsys):
    port = free_port()  # closed: connection refused
    config = write_config(tmp_path, port)
    code, _, err, took = run(capsys, config, "remind", "--now", SLOT)
    assert code == 1
    assert "sending stopped" in err and "3 consecutive" in err and "14 封留待下次运行" in err
    # one send with its retry (1 s), two more single attempts, then the breaker: not 14 x the whole backoff
    assert took < 12
    assert statuses(tmp_path) == {"retry": 3}  # the other 11 were not attempted and are not logged
    assert len(still_due(capsys, config)) == 14  # nothing failed for ever

    with SmtpServer.start(port=port) as server:
        code, out, err, _ = run(capsys, config, "remind", "--now", "2022-01-30T09:20")
        assert code == 0, err
        assert len(server.messages) == 14
        assert len({tuple(m.rcpt_tos) for m in server.messages}) == 14  # each city once
    assert still_due(capsys, config, "2022-01-30T09:30") == []
    assert statuses(tmp_path) == {"sent": 14}


def test_a_server_that_keeps_refusing_trips_the_breaker_then_accepts_on_the_next_run(tmp_path, capsys):
    with SmtpServer.start(refuse_first=10_000) as server:  # 451 to every DATA
        config = write_config(tmp_path, server.port)
        code, _, err, took = run(capsys, config, "remind", "--now", SLOT)
        assert code == 1 and "451" in err and "sending stopped" in err
        assert took < 12
        assert server.handler.attempts == 2 + 1 + 1  # the first email retried, the next two once each, then the breaker
        server.handler.refuse_first = 0
        code, _, err, _ = run(capsys, config, "remind", "--now", "2022-01-30T10:00")
        assert code == 0, err
        assert len(server.messages) == 14


def test_the_batch_time_limit_bounds_a_run_whatever_the_retries(tmp_path, capsys):
    with SmtpServer.start(refuse_first=10_000) as server:
        config = write_config(tmp_path, server.port, retries=10, backoff_seconds=0.5,
                              circuit_breaker_failures=100, max_batch_seconds=2.0)
        code, _, err, took = run(capsys, config, "remind", "--now", SLOT)
    assert code == 1 and "time limit" in err
    assert took < 8  # 2 s of batch, and no retry waits beyond it
    assert len(still_due(capsys, config)) == 14


def test_a_digest_that_cannot_be_sent_exits_non_zero_and_goes_out_at_the_next_run(tmp_path, capsys):
    port = free_port()
    config = write_config(tmp_path, port, retries=0)
    code, out, err, _ = run(capsys, config, "digest", "--now", "2022-01-06T08:30")
    assert code == 1 and "[deferred]" in out and "digest not sent" in err and "connection failed" in err
    with SmtpServer.start(port=port) as server:
        code, out, _, _ = run(capsys, config, "digest", "--now", "2022-01-06T09:30")
        assert code == 0 and "[sent]" in out
        assert len(server.messages) == 1


def test_two_reminds_at_once_send_each_reminder_once_without_an_integrity_error(tmp_path):
    with SmtpServer.start() as server:
        config = write_config(tmp_path, server.port)
        argv = [sys.executable, "-m", "service", "--config", str(config), "remind", "--now", SLOT]
        env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PYTHONPATH": str(ROOT)}
        children = [subprocess.Popen(argv, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True) for _ in range(2)]
        results = [(child.wait(timeout=120), *child.communicate()) for child in children]
    for code, out, err in results:
        assert code == 0, err
        assert "IntegrityError" not in err and "Traceback" not in err
    assert len(server.messages) == 14
    assert len({tuple(m.rcpt_tos) for m in server.messages}) == 14
