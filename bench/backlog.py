"""Backlog ingestion: `poll` over N messages in Dovecot, against the floor measured in the same run.

    python bench/backlog.py                      # N=500 and N=2000, realistic corpus
    python bench/backlog.py --n 2000 --profile xlsx100 --out bench/results/backlog_xlsx100.json

For each N: a fresh Dovecot folder; the floor (bench/floor.py, its own process); `poll`
(its own process, timed from spawn to exit, RSS of its process tree sampled); a check that every
message is archived and processed; then the same poll in-process under cProfile with one worker,
split by stage (fetch, archive, parse, extract, validate, attribute, store).
"""
from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Sequence

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (  # noqa: E402
    NO_RECEIPTS,
    RESULTS,
    ROOT,
    cli_env,
    database_factory,
    imap_section,
    print_table,
    run_cli,
    write_config,
    write_json,
)
from bench.corpus import PROFILES, Item  # noqa: E402
from bench.make_mailbox import append_items, corpus, corpus_stats  # noqa: E402

# stage -> (file suffix, function names or None for every function of the file)
STAGES: dict[str, tuple[str, set[str] | None]] = {
    "fetch": ("service/ingest/imap.py", {"fetch_new"}),
    "archive": ("service/store/archive.py", None),
    "parse": ("service/parse/message.py", {"parse_message"}),
    "extract": ("service/extract/__init__.py", {"extract_attachment"}),
    "validate": ("service/decide/validate.py", {"validate_rows"}),
    "attribute": ("service/decide/attribute.py", {"attribute_message", "received_time"}),
    "store": ("service/store/queries.py", None),
}
# parts of "extract" (shown indented, not added to the total)
EXTRACT_PARTS: dict[str, tuple[str, set[str] | None]] = {
    "  read (calamine, xlrd, lxml for docx, csv)": ("service/extract/__init__.py", {"_read_grids"}),
    "  normalise (header, rows, their metrics)": ("service/extract/normalise.py", {"normalise_grid"}),
    "    of which metrics (活动成效 -> numbers)": ("service/extract/metrics.py", {"parse_metrics"}),
}
Key = tuple[str, int, str]


def setup_folder(server, items: list[Item]):
    """A fresh account holding the corpus; returns (account, APPEND seconds)."""
    account = server.add_user("bench")
    start = time.perf_counter()
    with server.connect(account) as client:
        append_items(client, "INBOX", items)
    return account, time.perf_counter() - start


def run_floor(server, account, batch_size: int) -> dict:
    start = time.perf_counter()
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "floor.py"), "--host", server.host,
                          "--port", str(server.port), "--user", account.user, "--batch-size", str(batch_size)],
                         env=cli_env(account.password), capture_output=True, check=True, timeout=600)
    return {**json.loads(out.stdout), "wall_s": time.perf_counter() - start}


def startup_seconds() -> float:
    """What importing the CLI costs before any mail is touched (median of three)."""
    times = []
    for _ in range(3):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import service.cli, service.ingest.imap"], cwd=ROOT, check=True,
                       env=cli_env())
        times.append(time.perf_counter() - start)
    return sorted(times)[1]


def check_store(config_path: Path, password: str, expected: int) -> dict:
    """Every message archived once, processed once; the watermark at the last UID."""
    from service.config import load_config
    from service.store import Store

    config = load_config(config_path, environ={"SERVICE_IMAP_PASSWORD": password})
    store = Store.open(config.service.database_url)
    try:
        stored = store.stored_messages()
        archived = sum(1 for m in stored
                       if (config.data_dir / "archive" / m.sha256[:2] / m.sha256[2:4] / f"{m.sha256}.eml").exists())
        results = store.results()
        rows = sum(store.row_counts().values())
        return {"messages": len(stored), "archived_files": archived, "processed": len(results),
                "unprocessed": len(store.unprocessed_ids()), "rows": rows, "reports": sum(r.is_report for r in results),
                "watermark": store.get_watermark("INBOX"), "ok": len(stored) == expected == len(results) == archived}
    finally:
        store.close()


def stage_seconds(stats: pstats.Stats) -> dict[str, float]:
    """Seconds per stage: calls into a stage's functions from outside them (no double counting)."""
    table: dict[Key, tuple] = stats.stats  # type: ignore[attr-defined]
    found: dict[str, float] = {}
    for stage, (suffix, names) in {**STAGES, **EXTRACT_PARTS}.items():
        members = {k for k in table if k[0].endswith(suffix) and (names is None or k[2] in names)}
        found[stage] = sum(ct for k in members for caller, (_, _, _, ct) in table[k][4].items() if caller not in members)
    poll = [k for k in table if k[0].endswith("service/jobs.py") and k[2] == "poll"]
    found["total"] = sum(table[k][3] for k in poll)
    found["other"] = found["total"] - sum(found[stage] for stage in STAGES)
    return found


def profile_poll(config_path: Path, password: str, workers: int) -> dict[str, float]:
    """The same poll in this process under cProfile (with `workers` parse/extract processes)."""
    from service import jobs
    from service.app import App
    from service.clock import system_clock
    from service.config import load_config

    config = load_config(config_path, environ={"SERVICE_IMAP_PASSWORD": password})
    config = config.model_copy(update={"service": config.service.model_copy(update={"workers": workers})}) \
        if "workers" in type(config.service).model_fields else config
    app = App.open(config, system_clock(config.tz))
    profiler = cProfile.Profile()
    try:
        profiler.runcall(jobs.poll, app)
    finally:
        app.close()
    return stage_seconds(pstats.Stats(profiler))


def measure(server, items: list[Item], args: argparse.Namespace, startup: float, database_url: Callable,
            stages: bool, log: Callable) -> dict:
    """Floor, `poll`, check and (when `stages`) the stage profile for one corpus."""
    account, append_s = setup_folder(server, items)
    floor = run_floor(server, account, args.batch_size)
    log(f"  floor {floor['total_s']:.2f} s")
    work = Path(tempfile.mkdtemp(prefix="bench-backlog-"))
    mailbox = imap_section(server.host, server.port, account.user, args.batch_size)
    config = write_config(work / "run", extra=mailbox + NO_RECEIPTS, database_url=database_url(),
                          workers=args.workers)
    run = run_cli(config, ["poll"], cli_env(account.password))
    if run.returncode != 0:
        raise SystemExit(f"poll failed ({run.returncode}):\n{run.stderr[-3000:]}")
    log(f"  poll {run.seconds:.2f} s, peak memory {run.peak_pss_mb:.0f} MB")
    check = check_store(config, account.password, len(items))
    split = {}
    if stages:
        staged = write_config(work / "prof", extra=mailbox + NO_RECEIPTS, database_url=database_url())
        split = profile_poll(staged, account.password, workers=1)
        log(f"  profiled poll (1 worker) {split['total']:.2f} s")
    mb = sum(len(i.raw) for i in items) / 1e6
    return {"corpus": corpus_stats(items), "append_s": append_s, "floor": floor,
            "ingest": {"wall_s": run.seconds, "startup_s": startup, "peak_pss_mb": run.peak_pss_mb,
                       "peak_rss_largest_mb": run.peak_rss_mb, "cpu_s": run.cpu_s, "main_cpu_s": run.main_cpu_s,
                       "messages_per_s": len(items) / run.seconds, "mb_per_s": mb / run.seconds,
                       "stdout": run.stdout.strip()},
            "ratio_ingest_to_floor": run.seconds / floor["total_s"], "check": check,
            "stages_1_worker_cprofile_s": split}


def report(results: dict[int, dict], profile: str) -> None:
    ns = sorted(results)
    header = ["figure", *[f"N={n}" for n in ns]]
    r = [results[n] for n in ns]
    rows = [
        ["messages in folder", *[x["corpus"]["messages"] for x in r]],
        ["MB in folder", *[x["corpus"]["bytes"] / 1e6 for x in r]],
        ["floor: FETCH s", *[x["floor"]["fetch_s"] for x in r]],
        ["floor: compat32 parse s", *[x["floor"]["parse_s"] for x in r]],
        ["floor: calamine s", *[x["floor"]["calamine_s"] for x in r]],
        ["floor: process total s", *[x["floor"]["total_s"] for x in r]],
        ["ingest: poll s", *[x["ingest"]["wall_s"] for x in r]],
        ["  of which CLI start-up s", *[x["ingest"]["startup_s"] for x in r]],
        ["ingest / floor", *[x["ratio_ingest_to_floor"] for x in r]],
        ["  CPU s, all processes", *[x["ingest"]["cpu_s"] for x in r]],
        ["  CPU s, main process", *[x["ingest"]["main_cpu_s"] for x in r]],
        ["messages/s", *[x["ingest"]["messages_per_s"] for x in r]],
        ["MB/s", *[x["ingest"]["mb_per_s"] for x in r]],
        ["peak memory MB (PSS, all processes)", *[x["ingest"]["peak_pss_mb"] for x in r]],
        ["peak RSS MB (largest process)", *[x["ingest"]["peak_rss_largest_mb"] for x in r]],
        ["archived + processed ok", *[x["check"]["ok"] for x in r]],
        ["rows stored", *[x["check"]["rows"] for x in r]],
    ]
    print_table(f"backlog ingestion ({profile})", rows, header)
    staged = {n: x["stages_1_worker_cprofile_s"] for n, x in zip(ns, r) if x["stages_1_worker_cprofile_s"]}
    if staged:
        order = [*list(STAGES)[:4], *EXTRACT_PARTS, *list(STAGES)[4:], "other", "total"]
        rows = [[stage, *[s.get(stage, 0.0) for s in staged.values()]] for stage in order]
        print_table("where the time goes: one worker, in-process, cProfile (adds overhead) s", rows,
                    ["stage", *[f"N={n}" for n in staged]])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, nargs="+", default=[500, 2000])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--profile", choices=PROFILES, default="realistic")
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--stages", choices=["first", "all", "none"], default="first",
                        help="cProfile stage split for the first N only (default), every N, or none")
    parser.add_argument("--workers", type=int, default=0, help="[service] workers (0: one per core)")
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--out", default=str(RESULTS / "backlog.json"))
    args = parser.parse_args(argv)
    from tests.dovecot import Dovecot

    startup = startup_seconds()
    database_url, cleanup = database_factory(args.database)
    server = Dovecot.create()
    results: dict[int, dict] = {}
    try:
        for i, n in enumerate(args.n):
            print(f"N={n}: generating/loading corpus ...", flush=True)
            stages = args.stages == "all" or (args.stages == "first" and i == 0)
            results[n] = measure(server, corpus(args.profile, n, args.seed), args, startup, database_url, stages,
                                 lambda text: print(text, flush=True))
    finally:
        server.destroy()
        cleanup()
    report(results, args.profile)
    write_json(Path(args.out), {"profile": args.profile, "seed": args.seed, "batch_size": args.batch_size,
                                "database": args.database, "workers": args.workers,
                                "results": {str(n): v for n, v in results.items()}})
    return 0 if all(r["check"]["ok"] for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
