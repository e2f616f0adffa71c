"""Benchmark `compile`: 14 cities x 500 rows in a SQLite store -> xlsx (with/without per-city sheets), CSV, JSON.

Run: python bench/bench_compile.py [--rows 500] [--repeat 3]. Prints a table and writes
bench/results/compile.json. Rows go in through the store as the pipeline records them.
"""
from __future__ import annotations

import argparse
import json
import platform
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from service import jobs  # noqa: E402
from service.app import App  # noqa: E402
from service.clock import fixed_clock  # noqa: E402
from service.config import Config, config_from_dict  # noqa: E402
from service.model import MessageResult, Problem, ReportRow, TableUnit  # noqa: E402
from service.report.workbook import export_bytes  # noqa: E402
from tests.rows import activity_row
from tests.store_helpers import record_one  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "compile.json"
NOW = "2022-02-10T12:00:00"


def bench_config(data_dir: Path) -> Config:
    """The shipped 2022 config on a scratch data_dir."""
    import tomllib

    data = tomllib.loads((ROOT / "config" / "service.toml").read_text(encoding="utf-8"))
    data["service"] = {**data["service"], "data_dir": str(data_dir),
                       "database_url": f"sqlite:///{data_dir / 'service.db'}"}
    return config_from_dict(data, environ={})


def fake_rows(rng: random.Random, counties: tuple[str, ...], count: int) -> list[ReportRow]:
    """Rows shaped like a city's 附件1 as the pipeline stores them."""
    rows = []
    for i in range(count):
        county = counties[i % len(counties)]
        participants, products, sales = rng.randint(5, 300), rng.randint(50, 5000), rng.randint(10, 20000) / 10
        rows.append(activity_row(
            filename="附件1：2022湖南网上年货节重点活动统计表.xlsx", sheet="Sheet1", source_row=5 + i, seq=str(i + 1),
            county=county, organiser=f"{county}商务局", name=f"{county}网上年货节第{i + 1}场直播带货活动",
            content="线上直播带货+线下年货展销，发放消费券，组织电商企业开展年货促销",
            effect=f"参与企业{participants}家，上线商品{products}余款，实现销售额{sales}万元",
            note="" if i % 7 else "与美团合作", participants=participants, products=products, sales_wan=sales))
    return rows


def fill_store(app: App, rows_per_city: int) -> None:
    """One summary report per city (on time or late), a couple of row problems each."""
    rng = random.Random(2022)
    config = app.config
    base = datetime(2022, 2, 3, 9, 0, tzinfo=config.tz)
    for n, city in enumerate(config.cities):
        received = base + timedelta(days=n % 6, minutes=n)
        pk, _ = record_one(app.store, sha256=f"{n:064x}", message_id=f"<bench{n}@example.gov.cn>", size=1,
                                         source_id=f"file:bench{n}.eml", source_received_at=received, now=received)
        result = MessageResult(sender=city.emails[0], subject=f"{city.name}网上年货节活动总结", received_at=received,
                               city=city.name, deadline="summary", is_report=True, auto_generated=False,
                               unregistered_sender=False, city_source="sender", deadline_source="keyword", tables=1,
                               units=(TableUnit("附件1.xlsx", "", contact="王敏", phone="13812345678"),))
        problems = [Problem(code="ambiguous_metric", message_zh=f"第 {r} 行活动成效中的数字无法识别", detail="",
                            file="附件1.xlsx", row=r) for r in (7, 9)]
        app.store.replace_results([(pk, result, list(problems), fake_rows(rng, city.counties, rows_per_city))])


def timed(action) -> tuple[float, object]:
    start = time.perf_counter()
    value = action()
    return time.perf_counter() - start, value


def run(rows_per_city: int, repeat: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        config = bench_config(Path(tmp))
        app = App.open(config, fixed_clock(NOW, config.tz))
        try:
            fill_store(app, rows_per_city)
            first, _ = timed(lambda: export_bytes(jobs.compile_summary(app), ".xlsx"))  # pays the imports
            cases = {
                "gather (store + summary)": lambda: jobs.compile_summary(app),
                "xlsx": lambda: export_bytes(jobs.compile_summary(app), ".xlsx"),
                "xlsx --per-city": lambda: export_bytes(jobs.compile_summary(app), ".xlsx", per_city=True),
                "csv": lambda: export_bytes(jobs.compile_summary(app), ".csv"),
                "json": lambda: export_bytes(jobs.compile_summary(app), ".json"),
            }
            timings = {}
            for name, action in cases.items():
                runs = [timed(action) for _ in range(repeat)]
                size = len(runs[-1][1]) if isinstance(runs[-1][1], bytes) else None
                timings[name] = {"median_s": round(statistics.median(t for t, _ in runs), 3),
                                 "best_s": round(min(t for t, _ in runs), 3), "bytes": size}
        finally:
            app.close()
    return {"cities": len(config.cities), "rows_per_city": rows_per_city,
            "rows": len(config.cities) * rows_per_city, "first_xlsx_s_including_imports": round(first, 3),
            "timings": timings, "python": platform.python_version(), "machine": platform.machine()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=500, help="rows per city")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    result = run(args.rows, args.repeat)
    print(f"compile: {result['cities']} cities x {result['rows_per_city']} rows = {result['rows']} rows")
    print(f"{'case':<26}{'median s':>10}{'best s':>10}{'bytes':>12}")
    for name, t in result["timings"].items():
        print(f"{name:<26}{t['median_s']:>10.3f}{t['best_s']:>10.3f}{t['bytes'] or '':>12}")
    print(f"first xlsx in this process (imports included): {result['first_xlsx_s_including_imports']:.3f} s")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"written {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
