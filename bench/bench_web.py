"""Benchmark the workbench's pages: server time of `/`, a city page and a message page with 2,000
messages and 200,000 rows in a SQLite store (issue 13's target: under 100 ms each).

Run: python bench/bench_web.py [--messages 2000] [--rows 100] [--repeat 7]. Prints a table and writes
bench/results/web.json. Time is measured around the ASGI call (Starlette's TestClient, no network):
routing, session check, one snapshot read, the views and the template.
"""
from __future__ import annotations

import argparse
import random
import re
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

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


def fill_store(app: App, messages: int, rows: int) -> int:
    """`messages` reports spread over the cities and deadlines (so most are later versions), each with
    `rows` rows, a raw mail in the archive and a problem on every tenth; returns a message number."""
    rng, config = random.Random(2022), app.config
    for n in range(messages):
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
    app.archive.sync()
    return pk


def run(messages: int, rows: int, repeat: int) -> dict:
    from starlette.testclient import TestClient

    with tempfile.TemporaryDirectory() as tmp:
        config = bench_config(Path(tmp))
        app = App.open(config, fixed_clock(NOW, config.tz))
        try:
            started = time.perf_counter()
            last = fill_store(app, messages, rows)
            filled = time.perf_counter() - started
            app.store.add_user("bench", "editor", hash_password("bench-password"), app.clock())
            client = TestClient(make_web_app(app, system_clock(config.tz)), follow_redirects=False)
            token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
            client.post("/login", data=dict(username="bench", password="bench-password", csrf_token=token))
            timings = {}
            reads = []
            for _ in range(repeat):  # the floor of `/` and a city page: the store's one snapshot read
                start = time.perf_counter()
                app.store.snapshot()
                reads.append(time.perf_counter() - start)
            timings["Store.snapshot()"] = {"median_ms": round(1000 * statistics.median(reads), 1),
                                           "best_ms": round(1000 * min(reads), 1), "first_ms": round(1000 * reads[0], 1)}
            for path in ("/", f"/cities/{config.cities[0].name}", f"/messages/{last}"):
                runs = []
                for _ in range(repeat):
                    start = time.perf_counter()
                    answer = client.get(path)
                    runs.append(time.perf_counter() - start)
                    assert answer.status_code == 200, (path, answer.status_code)
                timings[path] = {"median_ms": round(1000 * statistics.median(runs[1:] or runs), 1),
                                 "best_ms": round(1000 * min(runs), 1), "first_ms": round(1000 * runs[0], 1)}  # `/`: figure charts drawn
        finally:
            app.close()
    return {"messages": messages, "rows": messages * rows, "fill_s": round(filled, 1), "timings": timings,
            "machine": machine()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--rows", type=int, default=100, help="rows per message")
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    result = run(args.messages, args.rows, args.repeat)
    print(f"web pages: {result['messages']} messages, {result['rows']} rows (store filled in {result['fill_s']} s)")
    print(f"{'page':<24}{'median ms':>12}{'best ms':>10}{'first ms':>10}")
    for path, t in result["timings"].items():
        print(f"{path:<24}{t['median_ms']:>12}{t['best_ms']:>10}{t['first_ms']:>10}")
    write_json(RESULTS, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
