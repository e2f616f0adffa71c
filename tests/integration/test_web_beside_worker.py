"""`web` and `run` side by side on one SQLite file through a demo-sized season: the worker ingests the
35 bundled sample submissions and runs its reminders and digests on a fast simulated clock while staff
read every page and take decisions; nobody meets "database is locked" and both stop on SIGTERM."""
from __future__ import annotations

import io
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from service.cli import main
from service.resources import shipped_folder
from service.store import Store
from tests.conftest import DEFAULT_TOML, ROOT
from tests.web_helpers import free_port

SECONDS = 45  # of real time: about 26 days of the campaign at --speed 50000


def start(config: Path, env: dict, log: Path, *args: str) -> subprocess.Popen:
    with open(log, "ab") as sink:
        return subprocess.Popen([sys.executable, "-m", "service", "--config", str(config), *args], cwd=ROOT, env=env,
                                stdout=sink, stderr=sink, start_new_session=True)


def test_web_and_run_share_one_sqlite_file_for_a_season(tmp_path: Path, monkeypatch) -> None:
    maildir = tmp_path / "mailbox"
    for sub in ("tmp", "new", "cur"):
        (maildir / sub).mkdir(parents=True)
    for sample in sorted(shipped_folder("mail").glob("*.eml")):
        shutil.copy(sample, maildir / "new" / sample.name)
    config = tmp_path / "service.toml"
    config.write_text(DEFAULT_TOML.read_text(encoding="utf-8") + f"""
[mailbox]
kind = "folder"
folder = "{maildir}"

[worker]
poll_interval = 2
""", encoding="utf-8")
    env = {**os.environ, "SERVICE_DATA_DIR": str(tmp_path / "data"), "PYTHONPATH": str(ROOT)}
    env.pop("SERVICE_DATABASE_URL", None)
    monkeypatch.setenv("SERVICE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("SERVICE_DATABASE_URL", raising=False)
    monkeypatch.setattr("sys.stdin", io.StringIO("staff-password-1\n"))
    assert main(["--config", str(config), "user", "add", "staff", "--role", "editor", "--password-stdin"]) == 0

    port = free_port()
    worker = start(config, env, tmp_path / "worker.log", "run", "--now", "2022-01-03T08:00", "--speed", "50000")
    web = start(config, env, tmp_path / "web.log", "web", "--port", str(port))
    try:
        pages, decisions = browse_and_decide(f"http://127.0.0.1:{port}", SECONDS)
        assert worker.poll() is None and web.poll() is None
    finally:
        codes = [stop(p) for p in (web, worker)]
    logs = (tmp_path / "worker.log").read_text(errors="replace") + (tmp_path / "web.log").read_text(errors="replace")
    assert "database is locked" not in logs and "Traceback" not in logs, logs[-3000:]
    assert codes == [0, 0], logs[-3000:]
    assert pages > 100 and decisions > 10
    store = Store.open(f"sqlite:///{tmp_path / 'data' / 'service.db'}")
    try:
        assert len(store.stored_messages()) == 35  # the worker ingested the whole sample season
        assert len(store.decisions()) == decisions and {d.by for d in store.decisions()} == {"staff"}
        assert {s.kind for s in store.sent_records() if s.status == "sent"} >= {"receipt", "digest"}
    finally:
        store.close()


def browse_and_decide(url: str, seconds: float) -> tuple[int, int]:
    """Log in, then read pages and exempt / unexempt a city in turn until `seconds` are over;
    every answer must be a success. Returns (pages read, decisions taken)."""
    with httpx.Client(base_url=url, timeout=30) as client:
        wait_for(lambda: _up(client), 30)
        token = _csrf(client.get("/login").text)
        assert client.post("/login", data=dict(username="staff", password="staff-password-1",
                                               csrf_token=token)).status_code == 303
        token = _csrf(client.get("/").text)
        pages = decisions = 0
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            for path in ("/", "/problems", "/outgoing", "/decisions", "/cities/长沙市", "/api/status"):
                answer = client.get(path)
                assert answer.status_code == 200, (path, answer.text[:500])
                pages += 1
            action = "unexempt" if decisions % 2 else "exempt"
            answer = client.post(f"/exemptions/{action}", data=dict(city="娄底市", deadline="plan", csrf_token=token))
            assert answer.status_code == 200, answer.text[:500]
            decisions += 1
            for number in re.findall(r'href="/messages/(\d+)"', client.get("/").text)[:3]:
                assert client.get(f"/messages/{number}").status_code == 200
                pages += 1
        return pages, decisions


def _up(client: httpx.Client) -> bool:
    try:
        return client.get("/login").status_code == 200
    except httpx.TransportError:
        return False


def _csrf(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def wait_for(condition, seconds: float) -> None:
    end = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < end, "not up in time"
        time.sleep(0.2)


def stop(process: subprocess.Popen) -> int:
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        return -9
