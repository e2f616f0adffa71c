"""Issue 19 items 2 and 3 as hostile mail: bounds before allocation, nothing counted twice.

    python bench/hostile_bounds.py [--copies 5] [--seed 1]

Each attack rides in a valid city report beside that city's 20-row 附件1, so the check is twofold:
the attack gives its problem, and the report still gives exactly its 20 rows (not 0, not 40, not
2,000). Attacks: cells at XFD1048576 / XFD10000 (xlsx) and IV65536 (xls), a zip of 500 copies of that
xls (the CPU bomb) and of 100 distinct ones, Word gridSpan / gridBefore of 200,000,000, a docx whose
document.xml inflates to 1 GB, a zip listing the report's table 200 times, the table attached twice
and zipped twice. bench/hostile.py has its own versions of most of these; `MUTATIONS.update(BOUNDS_MUTATIONS)`
there would add these (3 % of N in all) to its corpus.
"""
from __future__ import annotations

import argparse
import hashlib
import io
import random
import shutil
import sys
import tempfile
import time
import zipfile
from collections import Counter
from functools import lru_cache
from pathlib import Path
from typing import Callable, Sequence

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import RESULTS, cli_env, print_table, run_cli, write_config, write_json  # noqa: E402
from bench.corpus import activity_rows, cities, reproducible_zip, title_rows  # noqa: E402
from tests.attack_builders import (  # noqa: E402
    docx_with_grid_before,
    docx_with_grid_span,
    docx_with_huge_part,
    xls_with_cell_at,
    xlsx_with_cell_at,
    zip_listing_one_member,
)
from tests.builders import make_email, make_zip  # noqa: E402
from tests.table_builders import HEADER, make_xlsx  # noqa: E402

TABLE_ROWS = 20


@lru_cache(maxsize=None)
def city_table(city_index: int) -> bytes:
    """A valid 20-row 附件1 of one city (its own counties: no problem of its own)."""
    city = cities()[city_index % len(cities())]
    rows = activity_rows(random.Random(7), city.counties, TABLE_ROWS)
    return reproducible_zip(make_xlsx([HEADER, *rows], title_rows=title_rows(city.name)))


def report_with(rng: random.Random, i: int, extra: Sequence[tuple[str, bytes]], table: bool = True) -> bytes:
    """A valid report of city i (registered sender, its 20-row table unless table=False) plus `extra` files."""
    city = cities()[i % len(cities())]
    attachments = ([("附件1.xlsx", city_table(i))] if table else []) + list(extra)
    return make_email(subject=f"{city.name}“2022湖南网上年货节”活动全面总结", sender=f"{city.name}商务局 <{city.emails[0]}>",
                      attachments=attachments, message_id=f"<bounds-{i}@bench.example>",
                      charset=rng.choice(["gbk", "utf-8"]))


@lru_cache(maxsize=None)
def xls_zip(copies: int, distinct: bool) -> bytes:
    """A zip of xls files with a far cell (IV65536): identical copies (the issue's CPU bomb) or all different."""
    return make_zip({f"表{n}.xls": xls_with_cell_at(65535 - (n if distinct else 0), 255) for n in range(copies)})


def _zip_of(name: str, data: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(zipfile.ZipInfo(name, date_time=(2022, 1, 3, 10, 0, 0)), data)
    return out.getvalue()


Mutation = Callable[[random.Random, int], bytes]
BOUNDS_MUTATIONS: dict[str, tuple[Mutation, float]] = {
    "xlsx_cell_xfd1048576": (lambda rng, i: report_with(rng, i, [("范围.xlsx", xlsx_with_cell_at("XFD1048576"))]), 0.003),
    "xlsx_cell_xfd10000": (lambda rng, i: report_with(rng, i, [("范围.xlsx", xlsx_with_cell_at("XFD10000"))]), 0.003),
    "xls_cell_iv65536": (lambda rng, i: report_with(rng, i, [("旧表.xls", xls_with_cell_at(65535, 255))]), 0.003),
    "xls_cpu_bomb_zip": (lambda rng, i: report_with(rng, i, [("材料.zip", xls_zip(500, False))]), 0.002),
    "xls_100_distinct_zip": (lambda rng, i: report_with(rng, i, [("材料.zip", xls_zip(100, True))]), 0.002),
    "docx_grid_span": (lambda rng, i: report_with(rng, i, [("说明.docx", docx_with_grid_span())]), 0.003),
    "docx_grid_before": (lambda rng, i: report_with(rng, i, [("说明.docx", docx_with_grid_before())]), 0.003),
    "docx_1gb_part": (lambda rng, i: report_with(rng, i, [("说明.docx", docx_with_huge_part())]), 0.002),
    "zip_200_entries_one_member": (lambda rng, i: report_with(
        rng, i, [("材料.zip", zip_listing_one_member("附件1.xlsx", city_table(i), 200))], table=False), 0.003),
    "table_attached_twice": (lambda rng, i: report_with(rng, i, [("附件1（重发）.xlsx", city_table(i))]), 0.003),
    "table_zipped_twice": (lambda rng, i: report_with(rng, i, [
        ("a.zip", _zip_of("附件1.xlsx", city_table(i))), ("b.zip", _zip_of("统计表.xlsx", city_table(i)))],
        table=False), 0.003),
}


def write_inputs(folder: Path, copies: int, seed: int) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    kinds = [name for name in BOUNDS_MUTATIONS for _ in range(copies)]
    for i, kind in enumerate(kinds):
        (folder / f"{i:05d}.eml").write_bytes(BOUNDS_MUTATIONS[kind][0](random.Random(f"{seed}:{i}"), i))
    return kinds


def outcome(config_path: Path, inputs: Path, kinds: list[str]) -> dict:
    """Per attack: messages, processed, with exactly the report's 20 rows, and the problem codes seen."""
    from service.config import load_config
    from service.store import Store

    config = load_config(config_path, environ={})
    store = Store.open(config.service.database_url)
    try:
        id_of_sha = {m.sha256: m.id for m in store.stored_messages()}
        processed = {r.message for r in store.results()}
        rows = store.row_counts()
        codes = {m: {p.code for p in found} for m, found in store.problems().items()}
    finally:
        store.close()
    table: dict[str, Counter] = {}
    for i, kind in enumerate(kinds):
        pk = id_of_sha.get(hashlib.sha256((inputs / f"{i:05d}.eml").read_bytes()).hexdigest())
        counts = table.setdefault(kind, Counter())
        counts["messages"] += 1
        counts["processed"] += pk in processed
        counts["rows_exact"] += rows.get(pk, 0) == TABLE_ROWS
        counts.update(f"code:{code}" for code in codes.get(pk, ()))
    return {kind: dict(counts) for kind, counts in table.items()}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--copies", type=int, default=5, help="messages per attack")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", default=str(RESULTS / "hostile_bounds.json"))
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="bench-bounds-"))
    try:
        start = time.perf_counter()
        kinds = write_inputs(work / "inputs", args.copies, args.seed)
        made = time.perf_counter() - start
        config = write_config(work / "run")
        run = run_cli(config, ["import", str(work / "inputs")], cli_env(), timeout=1800, cwd=work)
        table = outcome(config, work / "inputs", kinds)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    rows = [[kind, c["messages"], c.get("processed", 0), c.get("rows_exact", 0),
             ", ".join(sorted(k[5:] for k in c if k.startswith("code:")))] for kind, c in table.items()]
    print_table(f"issue 19 items 2-3: {len(kinds)} messages through import (made in {made:.1f} s)", rows,
                ["attack", "messages", "processed", f"exactly {TABLE_ROWS} rows", "problem codes"])
    totals = Counter()
    for counts in table.values():
        totals.update({k: v for k, v in counts.items() if not k.startswith("code:")})
    print(f"\nbounds: {totals['messages']} messages, exit {run.returncode}, {totals['processed']} processed, "
          f"{totals['rows_exact']} with exactly their {TABLE_ROWS} rows, import {run.seconds:.1f} s, "
          f"peak {run.peak_pss_mb:.0f} MB PSS (largest process {run.peak_rss_mb:.0f} MB RSS)")
    write_json(Path(args.out), {"copies": args.copies, "seed": args.seed, "exit": run.returncode,
                                "seconds": run.seconds, "peak_pss_mb": run.peak_pss_mb,
                                "peak_rss_largest_mb": run.peak_rss_mb, "stderr_tail": run.stderr[-3000:],
                                "totals": dict(totals), "by_attack": table})
    ok = run.returncode == 0 and totals["processed"] == totals["rows_exact"] == totals["messages"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
