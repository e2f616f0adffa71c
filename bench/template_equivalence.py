"""Issue 15's proof: the shipped template reads the bench corpus exactly as the code before it did.

    git worktree add /tmp/before d26ac13            # main before the table became configuration
    python bench/template_equivalence.py --before /tmp/before [--n 2000] [--profile realistic]

Builds the corpus as .eml files (bench/make_mailbox.py), runs `import` with the checkout given by
--before and with this one (each in its own process with its own shipped config, receipts off), then compares
every stored row of every message: the same row count and, row by row (message sha256, position),
the same texts and the same figures. The old store has one column per 2022 field, the new one JSON by
the template's keys. Also prints each import's CPU time (user+sys of the process and its workers).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import write_json  # noqa: E402

TEXTS = ("seq", "county", "organiser", "name", "content", "effect", "note")
FIGURES = ("participants", "products", "sales_wan")
NOW = "2022-02-20T12:00:00"


def build_corpus(folder: Path, n: int, profile: str) -> None:
    subprocess.run([sys.executable, str(ROOT / "bench" / "make_mailbox.py"), "--n", str(n), "--profile", profile,
                    "--eml-dir", str(folder)], check=True, cwd=ROOT, stdout=subprocess.DEVNULL)


def run_import(code: Path, mail: Path, data: Path) -> tuple[float, float]:
    """`import` with the code of one checkout; (wall seconds, CPU seconds of it and its children)."""
    config = data / "service.toml"
    shipped = (code / "config" / "service.toml").read_text(encoding="utf-8")  # each checkout its own
    config.write_text(shipped.replace('data_dir = "var"', f'data_dir = "{data}"')
                      + "\n[receipts]\nenabled = false\n", encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(code), "SERVICE_CONFIG": str(config)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "service", "import", str(mail), "--now", NOW], check=True, cwd=code,
                   env=env, stdout=subprocess.DEVNULL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return time.perf_counter() - start, cpu


def old_rows(db: Path) -> dict[tuple[str, int], tuple]:
    con = sqlite3.connect(db)
    found = {}
    query = (f"SELECT m.sha256, r.position, r.filename, r.sheet, r.source_row, {', '.join('r.' + k for k in TEXTS)}, "
             f"{', '.join('r.' + k for k in FIGURES)} FROM rows r JOIN messages m ON m.id = r.message")
    for sha, position, filename, sheet, source_row, *rest in con.execute(query):
        texts, figures = rest[:len(TEXTS)], rest[len(TEXTS):]
        found[sha, position] = (filename, sheet, source_row, tuple(texts),
                                tuple(_exact(v) for v in figures))
    return found


def new_rows(db: Path) -> dict[tuple[str, int], tuple]:
    con = sqlite3.connect(db)
    found = {}
    query = ("SELECT m.sha256, r.position, r.filename, r.sheet, r.source_row, r.fields, r.figures "
             "FROM rows r JOIN messages m ON m.id = r.message")
    for sha, position, filename, sheet, source_row, fields, figures in con.execute(query):
        texts, numbers = json.loads(fields), json.loads(figures)
        found[sha, position] = (filename, sheet, source_row, tuple(texts.get(k, "") for k in TEXTS),
                                tuple(_exact(numbers.get(k)) for k in FIGURES))
    return found


def _exact(value: float | str | None) -> Decimal | None:
    """A figure as the parser's decimal: the old Float column to 6 places, the new decimal string as is."""
    if value is None:
        return None
    if isinstance(value, str):
        return Decimal(value).normalize()
    return Decimal(value).quantize(Decimal("0.000001")).normalize()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=True, type=Path, help="a checkout of the code before the template")
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--profile", default="realistic")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "template_equivalence.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        mail, old_data, new_data = Path(tmp) / "mail", Path(tmp) / "old", Path(tmp) / "new"
        for folder in (old_data, new_data):
            folder.mkdir()
        build_corpus(mail, args.n, args.profile)
        old_time = run_import(args.before.resolve(), mail, old_data)
        new_time = run_import(ROOT, mail, new_data)
        old, new = old_rows(old_data / "service.db"), new_rows(new_data / "service.db")
    differing = sorted(k for k in old.keys() | new.keys() if old.get(k) != new.get(k))
    result = {"n": args.n, "profile": args.profile, "rows_before": len(old), "rows_after": len(new),
              "differing_rows": len(differing), "first_differences": [
                  {"key": list(k), "before": str(old.get(k)), "after": str(new.get(k))} for k in differing[:5]],
              "import_before": {"wall": round(old_time[0], 2), "cpu": round(old_time[1], 2)},
              "import_after": {"wall": round(new_time[0], 2), "cpu": round(new_time[1], 2)}}
    print(json.dumps(result, ensure_ascii=False, indent=2))
    write_json(args.out, result)
    return 0 if not differing and len(old) == len(new) else 1


if __name__ == "__main__":
    sys.exit(main())
