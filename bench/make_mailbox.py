"""Corpus generator: N city submissions (+ unrelated mail), deterministic from a seed, APPENDed into Dovecot.

    python bench/make_mailbox.py --n 2000 --seed 1             # throwaway Dovecot, report, stop
    python bench/make_mailbox.py --n 2000 --keep               # keep it running, print a config for poll
    python bench/make_mailbox.py --n 200 --eml-dir /tmp/mail   # .eml files instead, for `import`

Corpora are cached under bench/.cache (keyed by profile, n, seed and the generator's hash).
"""
from __future__ import annotations

import argparse
import hashlib
import pickle
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Iterable, Sequence

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import NO_RECEIPTS, RESULTS, ROOT, imap_section, print_table, write_config, write_json  # noqa: E402
from bench.corpus import PROFILES, Item, corpus_size, make_item  # noqa: E402

CACHE = ROOT / "bench" / ".cache"
GENERATOR_FILES = [ROOT / "bench" / "corpus.py", ROOT / "tests" / "builders.py", ROOT / "tests" / "table_builders.py"]


def _chunk(args: tuple[str, int, int, int, int]) -> list[Item]:
    profile, seed, n, start, stop = args
    return [make_item(profile, seed, i, n) for i in range(start, stop)]


def generate(profile: str, n: int, seed: int, jobs: int = 2) -> list[Item]:
    """The whole corpus in order, built on `jobs` processes (each message depends only on its index)."""
    total = corpus_size(profile, n)
    step = max(1, -(-total // (jobs * 8)))
    spans = [(profile, seed, n, a, min(a + step, total)) for a in range(0, total, step)]
    if jobs <= 1:
        return [item for span in spans for item in _chunk(span)]
    with ProcessPoolExecutor(jobs) as pool:
        return [item for chunk in pool.map(_chunk, spans) for item in chunk]


def corpus(profile: str, n: int, seed: int, jobs: int = 2) -> list[Item]:
    """generate(), cached on disk: the same arguments and generator code give the same bytes."""
    code = hashlib.sha256(b"".join(p.read_bytes() for p in GENERATOR_FILES)).hexdigest()[:12]
    path = CACHE / f"{profile}-{n}-{seed}-{code}.pickle"
    if path.exists():
        with open(path, "rb") as fh:
            return pickle.load(fh)
    items = generate(profile, n, seed, jobs)
    CACHE.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as fh:
        pickle.dump(items, fh, protocol=pickle.HIGHEST_PROTOCOL)
    tmp.replace(path)
    for old in CACHE.glob(f"{profile}-{n}-{seed}-*.pickle"):
        if old != path:
            old.unlink()
    return items


def append_items(client, folder: str, items: Iterable[Item], chunk: int = 200) -> None:
    """MULTIAPPEND with each message's INTERNALDATE (the moment the office received it)."""
    if not client.folder_exists(folder):
        client.create_folder(folder)
    batch: list[dict] = []
    for item in items:
        batch.append({"msg": item.raw, "date": item.internaldate, "flags": ()})
        if len(batch) == chunk:
            client.multiappend(folder, batch)
            batch = []
    if batch:
        client.multiappend(folder, batch)


def corpus_stats(items: Sequence[Item]) -> dict:
    return {"messages": len(items), "bytes": sum(len(i.raw) for i in items),
            "rows_written": sum(i.rows for i in items), "kinds": dict(sorted(Counter(i.kind for i in items).items()))}


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=2000, help="submissions (realistic adds n/20 unrelated mails)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--profile", choices=PROFILES, default="realistic")
    parser.add_argument("--folder", default="INBOX")
    parser.add_argument("--jobs", type=int, default=2, help="processes generating the corpus")
    parser.add_argument("--eml-dir", help="write .eml files here instead of APPENDing to Dovecot")
    parser.add_argument("--keep", action="store_true", help="keep Dovecot running (Ctrl-C stops it)")
    parser.add_argument("--out", default=str(RESULTS / "make_mailbox.json"))
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    start = time.perf_counter()
    items = corpus(args.profile, args.n, args.seed, args.jobs)
    made = time.perf_counter() - start
    stats = corpus_stats(items)
    rows: list[list] = [["messages", stats["messages"]], ["MB", stats["bytes"] / 1e6],
                        ["table rows written", stats["rows_written"]], ["generate s (cached if fast)", made]]
    doc = {"n": args.n, "seed": args.seed, "profile": args.profile, **stats, "generate_s": made}
    if args.eml_dir:
        out = Path(args.eml_dir)
        out.mkdir(parents=True, exist_ok=True)
        for i, item in enumerate(items):
            (out / f"{i:06d}.eml").write_bytes(item.raw)
        rows.append(["written to", str(out)])
    else:
        _append_to_dovecot(args, items, rows, doc)
    print_table(f"corpus {args.profile} n={args.n} seed={args.seed}", rows)
    print("kinds: " + ", ".join(f"{k} {v}" for k, v in stats["kinds"].items()))
    write_json(Path(args.out), doc)
    return 0


def _append_to_dovecot(args: argparse.Namespace, items: list[Item], rows: list[list], doc: dict) -> None:
    from tests.dovecot import Dovecot

    server = Dovecot.create()
    try:
        account = server.add_user("bench")
        start = time.perf_counter()
        with server.connect(account) as client:
            append_items(client, args.folder, items)
        doc["append_s"] = time.perf_counter() - start
        rows.append(["APPEND s", doc["append_s"]])
        if args.keep:
            folder = Path(tempfile.mkdtemp(prefix="bench-mailbox-"))
            config = write_config(folder, extra=imap_section(server.host, server.port, account.user,
                                                             folder=args.folder) + NO_RECEIPTS)
            print(f"\nDovecot on {server.host}:{server.port}, user {account.user}. Poll it with:\n"
                  f"  SERVICE_IMAP_PASSWORD='{account.password}' python -m service --config {config} poll\n"
                  "Ctrl-C stops the server.")
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                pass
    finally:
        server.destroy()


if __name__ == "__main__":
    sys.exit(main())
