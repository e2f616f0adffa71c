"""Idle poll cost: a poll that finds no new mail, with 100 and with 10,000 messages in the folder.

    python bench/idle_poll.py [--sizes 100 10000] [--polls 30]

For each size: a fresh Dovecot account holding that many small messages, all ingested first; then
`jobs.poll` on one open App (as the worker calls it), timed per poll (median, p90). For scale, the
same figures for a bare UID SEARCH on an open connection and for a bare login + EXAMINE + SEARCH.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Sequence

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import NO_RECEIPTS, RESULTS, imap_section, print_table, write_config, write_json  # noqa: E402


def small_message(n: int) -> bytes:
    """A short distinct report-like mail (no attachment: ingesting 10,000 stays quick)."""
    return (f"From: city{n % 14}@example.cn\r\nTo: office@example.cn\r\nSubject: =?utf-8?B?5rWL6K+V?= {n}\r\n"
            f"Date: Mon, 03 Jan 2022 10:00:00 +0800\r\nMessage-ID: <idle-{n}@bench.example>\r\n"
            f"Content-Type: text/plain; charset=utf-8\r\n\r\nbody {n}\r\n").encode()


def timed(call: Callable[[], object], times: int) -> list[float]:
    """Milliseconds of each of `times` calls (after one warm-up call)."""
    call()
    found = []
    for _ in range(times):
        start = time.perf_counter()
        call()
        found.append((time.perf_counter() - start) * 1000)
    return found


def summary(ms: list[float]) -> dict:
    ordered = sorted(ms)
    return {"median_ms": statistics.median(ordered), "p90_ms": ordered[int(0.9 * (len(ordered) - 1))],
            "min_ms": ordered[0], "runs": len(ordered)}


def measure(server, size: int, polls: int) -> dict:
    """Fill a folder, ingest it, then time idle polls and the bare IMAP reference points."""
    from service import jobs
    from service.app import App
    from service.clock import system_clock
    from service.config import load_config

    account = server.add_user("idle")
    server.append_many(account, (small_message(n) for n in range(size)))
    config_path = write_config(Path(tempfile.mkdtemp(prefix="bench-idle-")),
                               extra=imap_section(server.host, server.port, account.user) + NO_RECEIPTS)
    config = load_config(config_path, environ={"SERVICE_IMAP_PASSWORD": account.password})
    app = App.open(config, system_clock(config.tz))
    try:
        start = time.perf_counter()
        first = jobs.poll(app)
        ingest_s = time.perf_counter() - start
        if first.new != size:
            raise SystemExit(f"expected {size} new messages, got {first.new}")
        poll_ms = timed(lambda: _assert_idle(jobs.poll(app)), polls)
        unprocessed_ms = timed(app.store.unprocessed_ids, polls)
    finally:
        app.close()
    with server.connect(account) as client:
        client.select_folder("INBOX", readonly=True)
        search_ms = timed(lambda: client.search(["UID", f"{size + 1}:*"]), polls)

    def session() -> None:
        with server.connect(account) as client:
            client.select_folder("INBOX", readonly=True)
            client.search(["UID", f"{size + 1}:*"])
    session_ms = timed(session, polls)
    return {"messages": size, "ingest_s": ingest_s, "idle_poll": summary(poll_ms),
            "bare_uid_search": summary(search_ms), "bare_login_examine_search": summary(session_ms),
            "store_unprocessed_ids": summary(unprocessed_ms)}


def _assert_idle(counts) -> None:
    if counts.new:
        raise SystemExit(f"an idle poll found {counts.new} new message(s)")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 10000])
    parser.add_argument("--polls", type=int, default=30)
    parser.add_argument("--out", default=str(RESULTS / "idle_poll.json"))
    args = parser.parse_args(argv)
    from tests.dovecot import Dovecot

    server = Dovecot.create()
    try:
        results = {size: measure(server, size, args.polls) for size in args.sizes}
    finally:
        server.destroy()
    sizes = sorted(results)
    header = ["figure", *[f"{s} msgs" for s in sizes]]
    rows = [["idle poll median ms", *[results[s]["idle_poll"]["median_ms"] for s in sizes]],
            ["idle poll p90 ms", *[results[s]["idle_poll"]["p90_ms"] for s in sizes]],
            ["  bare login+EXAMINE+SEARCH ms", *[results[s]["bare_login_examine_search"]["median_ms"] for s in sizes]],
            ["  bare UID SEARCH ms", *[results[s]["bare_uid_search"]["median_ms"] for s in sizes]],
            ["  store.unprocessed_ids ms", *[results[s]["store_unprocessed_ids"]["median_ms"] for s in sizes]]]
    print_table(f"idle poll ({args.polls} polls each, one open App as in the worker)", rows, header)
    ratio = results[sizes[-1]]["idle_poll"]["median_ms"] / results[sizes[0]]["idle_poll"]["median_ms"]
    print(f"\nratio {sizes[-1]} / {sizes[0]}: {ratio:.2f} (target < 1.5; each under 20 ms)")
    write_json(Path(args.out), {"polls": args.polls, "ratio": ratio,
                                "results": {str(s): v for s, v in results.items()}})
    return 0


if __name__ == "__main__":
    sys.exit(main())
