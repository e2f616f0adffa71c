"""Benchmark the workbench's pages: server time of `/`, a city page and a message page with 2,000
messages and 200,000 rows in a SQLite store (issue 13's target: under 100 ms each), warm and on the first
request after a change.

Run: python bench/bench_web.py [--messages 2000] [--rows 100] [--repeat 7]. Prints a table and writes
bench/results/web.json. Time is measured around the ASGI call (Starlette's TestClient, no network):
routing, session check, the kept snapshot (read again after a change), the views and the template.
Changes: new mail recorded by a second App on the same database (its own engine and connections, as the
`run` worker's process), and a `choose` decision posted in the page; each followed by one timed request.
"""
from __future__ import annotations

import argparse
import os
import random
import re
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_compile import bench_config, fake_rows  # noqa: E402
from bench.common import machine, write_json  # noqa: E402
from service.app import App  # noqa: E402
from service.clock import fixed_clock, system_clock  # noqa: E402
from service.model import MessageResult, Problem, TableUnit  # noqa: E402
from service.web import make_web_app  # noqa: E402
from service.web.auth import hash_password  # noqa: E402
from tests.builders import make_email  # noqa: E402
from tests.store_helpers import record_one  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "web.json"
NOW = "2022-02-10T12:00:00"
DEADLINES = (("plan", datetime(2021, 12, 27)), ("progress", datetime(2022, 1, 3)), ("summary", datetime(2022, 2, 3)))


def add_report(app: App, n: int, rng: random.Random, rows: int) -> int:
    """Report number `n`: a city (n-th in turn) and a deadline (in blocks of 14), a raw mail in the archive,
    `rows` rows and a problem on every tenth; returns its message number."""
    config = app.config
    city = config.cities[n % len(config.cities)]
    deadline, day = DEADLINES[(n // len(config.cities)) % len(DEADLINES)]
    received = (day + timedelta(days=n % 5, minutes=n)).replace(tzinfo=config.tz)
    raw = make_email(subject=f"{city.name}网上年货节报送（第{n}版）", sender=f"{city.name} <{city.emails[0]}>",
                     body="您好！附件是我市报送材料，请查收。", received=received, message_id=f"<web{n}@bench>")
    digest = app.archive.store(raw, durable=False)
    pk, _ = record_one(app.store, sha256=digest, message_id=f"<web{n}@bench>", size=len(raw),
                       source_id=f"file:web{n}.eml", source_received_at=received, now=received)
    result = MessageResult(sender=city.emails[0], subject=f"{city.name}网上年货节报送（第{n}版）", received_at=received,
                           city=city.name, deadline=deadline, is_report=True, auto_generated=False,
                           unregistered_sender=False, city_source="sender", deadline_source="keyword", tables=1,
                           units=(TableUnit("附件1.xlsx", "", contact="王敏", phone="13812345678"),))
    problems = [Problem(code="ambiguous_metric", message_zh="第 7 行活动成效中的数字无法识别", file="附件1.xlsx", row=7)] \
        if n % 10 == 0 else []
    app.store.replace_results([(pk, result, problems, fake_rows(rng, city.counties, rows))])
    return pk


def fill_store(app: App, messages: int, rows: int) -> int:
    """`messages` reports spread over the cities and deadlines (so most are later versions), each with
    `rows` rows; returns the last message number."""
    rng = random.Random(2022)
    for n in range(messages):
        pk = add_report(app, n, rng, rows)
    app.archive.sync()
    return pk


def timed(runs: list[float], first: float | None = None) -> dict:
    """Median and best of `runs` (seconds) in ms, and the first call's when given."""
    found = {"median_ms": round(1000 * statistics.median(runs), 1), "best_ms": round(1000 * min(runs), 1)}
    return found if first is None else dict(found, first_ms=round(1000 * first, 1))


def get_ms(client: Any, path: str) -> float:
    start = time.perf_counter()
    answer = client.get(path)
    spent = time.perf_counter() - start
    assert answer.status_code == 200, (path, answer.status_code)
    return spent


def login(client: Any) -> str:
    """Log the bench's editor in; returns the session's CSRF token."""
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
    client.post("/login", data=dict(username="bench", password="bench-password", csrf_token=token))
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get("/decisions").text).group(1)


def after_changes(client: Any, worker: App, paths: list[str], repeat: int, token: str, first: int,
                  choices: tuple[int, int], rows: int) -> dict:
    """Each page's time on the first request after a change: new mail recorded by another App on the same
    database (as the `run` worker would, through its own connections), or a decision taken in the page
    (`choose`, between two versions of one city, alternately)."""
    rng, found = random.Random(7), {}
    for kind in ("mail", "decision"):
        for path in paths:
            runs = []
            for i in range(repeat):
                if kind == "mail":
                    add_report(worker, first + len(found) * repeat + i, rng, rows)
                else:
                    answer = client.post(f"/messages/{choices[i % 2]}/choose", data=dict(csrf_token=token))
                    assert answer.status_code == 200, answer.text
                runs.append(get_ms(client, path))
            found[f"{path} after {kind}"] = timed(runs)
    return found


def run(messages: int, rows: int, repeat: int) -> dict:
    from starlette.testclient import TestClient

    with tempfile.TemporaryDirectory() as tmp:
        config = bench_config(Path(tmp))
        app = App.open(config, fixed_clock(NOW, config.tz))
        worker = App.open(config, fixed_clock(NOW, config.tz))
        try:
            started = time.perf_counter()
            last = fill_store(app, messages, rows)
            filled = time.perf_counter() - started
            app.store.add_user("bench", "editor", hash_password("bench-password"), app.clock())
            client = TestClient(make_web_app(app, system_clock(config.tz)), follow_redirects=False)
            token = login(client)
            reads = []
            for _ in range(repeat):  # what a page read before the kept snapshot: the store's one snapshot read
                start = time.perf_counter()
                app.store.snapshot()
                reads.append(time.perf_counter() - start)
            timings = {"Store.snapshot()": timed(reads, reads[0])}
            paths = ["/", f"/cities/{config.cities[0].name}", f"/messages/{last}"]
            for path in paths:  # the web process's first request reads everything (first_ms)
                runs = [get_ms(client, path) for _ in range(repeat + 1)]
                timings[path] = timed(runs[1:], runs[0])
            cities = len(config.cities)  # report n is city n % 14, deadline (n // 14) % 3, message n + 1
            blocks = [b for b in range(messages // cities + 1) if b % 3 == 2 and b * cities < messages]
            choices = (blocks[-1] * cities + 1, blocks[-2] * cities + 1)  # two summary versions of the first city
            timings.update(after_changes(client, worker, paths, repeat, token, messages, choices, rows))
        finally:
            worker.close()
            app.close()
    return {"messages": messages, "rows": messages * rows, "fill_s": round(filled, 1), "timings": timings,
            "load": [round(x, 2) for x in os.getloadavg()], "machine": machine()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--rows", type=int, default=100, help="rows per message")
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    result = run(args.messages, args.rows, args.repeat)
    print(f"web pages: {result['messages']} messages, {result['rows']} rows (store filled in {result['fill_s']} s)")
    print(f"{'page':<34}{'median ms':>12}{'best ms':>10}{'first ms':>10}")
    for path, t in result["timings"].items():
        print(f"{path:<34}{t['median_ms']:>12}{t['best_ms']:>10}{t.get('first_ms', ''):>10}")
    write_json(RESULTS, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
