"""Hostile input: 1,000 mutated messages through `import`; no crash, nothing written outside data_dir.

    python bench/hostile.py [--n 1000] [--seed 1]

Mutations of valid city reports: truncated MIME, broken base64, wrong and unknown charsets, huge
headers, zip bombs (ratio, nested, many members), xlsx bombs, deeply nested forwards and multiparts,
50 MB attachments, filenames with ../, NUL, control characters and very long names, zip members
named ../../.., raw garbage; 7z bombs and encrypted 7z, rar members lying about their size or named
../../, winmail.dat floods, PDF bombs, 1,000-page and truncated PDFs; and the poison that once stopped collection: a few KB of xlsx with a cell at
XFD1048576 or XFD10000, a zip of 500 .xls with a cell at IV65536 (CPU), Word grid spans of 200,000,000, a .docx
whose document.xml inflates to 1 GB, zip central-directory entries sharing one member, a table attached
twice. Checked: `import` exits 0; every message is recorded and processed; which
have a problem recorded and which were quarantined; peak memory of the process tree; no file outside data_dir (a fresh TMPDIR
must be left empty, the working directory untouched, and no file carrying the marker name anywhere).
LF-only mail (how Unix tools write it) is not hostile: it runs as a benign control group, counted
apart, and should read without a problem.
"""
from __future__ import annotations

import argparse
import hashlib
import io
import os
import random
import shutil
import sys
import tempfile
import time
import zipfile
import zlib
from collections import Counter
from functools import lru_cache
from pathlib import Path
from typing import Callable, Sequence

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import RESULTS, cli_env, print_table, run_cli, write_config, write_json  # noqa: E402
from bench.corpus import activity_rows, cities, reproducible_zip, title_rows  # noqa: E402
from tests import attack_builders as attacks  # noqa: E402
from tests.builders import make_7z, make_email, make_rar, make_tnef  # noqa: E402
from tests.table_builders import HEADER, make_pdf, make_xlsx  # noqa: E402

MARKER = "PWNED-bench"
SEARCH_ROOTS = ["/tmp", "/var/tmp", "/dev/shm", "/work", str(Path.home()), "/etc"]
SKIP_DIRS = {".pyenv", ".git", "site-packages", ".cache", "node_modules", "__pycache__"}


@lru_cache(maxsize=None)
def small_table(city_index: int = 0) -> bytes:
    """A valid 20-row 附件1 of one city (its own counties: no problem of its own)."""
    city = cities()[city_index % len(cities())]
    rows = activity_rows(random.Random(7), city.counties, 20)
    return reproducible_zip(make_xlsx([HEADER, *rows], title_rows=title_rows(city.name)))


def report(rng: random.Random, i: int, **overrides) -> bytes:
    """A valid report (registered sender, its city's 20-row xlsx) with some arguments replaced."""
    city = cities()[i % len(cities())]
    kwargs = dict(subject=f"{city.name}“2022湖南网上年货节”活动全面总结", sender=f"{city.name}商务局 <{city.emails[0]}>",
                  attachments=[("附件1.xlsx", small_table(i))], message_id=f"<hostile-{i}@bench.example>",
                  charset=rng.choice(["gbk", "utf-8"]))
    kwargs.update(overrides)
    return make_email(**kwargs)


# --- mutations: (rng, i) -> raw bytes ------------------------------------------------------------

def truncated(rng: random.Random, i: int) -> bytes:
    raw = report(rng, i)
    return raw[: rng.randrange(len(raw) // 10, len(raw) * 9 // 10)]


def truncated_in_headers(rng: random.Random, i: int) -> bytes:
    raw = report(rng, i)
    return raw[: rng.randrange(10, raw.index(b"\r\n\r\n"))]


def broken_base64(rng: random.Random, i: int) -> bytes:
    raw = bytearray(report(rng, i))
    start = raw.rindex(b"\r\n\r\n") + 4  # inside the attachment's base64
    for _ in range(rng.randint(1, 30)):
        raw[rng.randrange(start, len(raw) - 10)] = ord(rng.choice("!*%$~"))
    return bytes(raw[: len(raw) - rng.randrange(0, 7)])


def wrong_charset(rng: random.Random, i: int) -> bytes:
    return report(rng, i, charset="gbk", charset_label=rng.choice(["utf-8", "big5", "iso-8859-1", "shift_jis"]),
                  subject_style=rng.choice(["b", "raw", "q-split"]), filename_style=rng.choice(["raw", "rfc2047"]))


def unknown_charset(rng: random.Random, i: int) -> bytes:
    return report(rng, i, charset="gbk", charset_label=rng.choice(["x-unknown", "utf-99", "\"", "gbk\x00"]))


def huge_subject(rng: random.Random, i: int) -> bytes:
    return report(rng, i, subject="长沙市活动总结" * rng.randint(3_000, 20_000))


def many_headers(rng: random.Random, i: int) -> bytes:
    return report(rng, i, headers={f"X-Junk-{n}": "x" * 50 for n in range(rng.randint(5_000, 30_000))})


def huge_header_line(rng: random.Random, i: int) -> bytes:
    raw = report(rng, i)
    return b"X-Long: " + b"a" * rng.randint(1_000_000, 5_000_000) + b"\r\n" + raw


@lru_cache(maxsize=None)
def ratio_bomb() -> bytes:
    """One member of 1 GB of zeros (about 1 MB deflated)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("附件1.xlsx", "w", force_zip64=True) as member:
            block = b"\0" * (16 * 1024 * 1024)
            for _ in range(64):
                member.write(block)
    return out.getvalue()


def zip_bomb(rng: random.Random, i: int) -> bytes:
    return report(rng, i, attachments=[("材料.zip", ratio_bomb(), "application/zip")])


@lru_cache(maxsize=None)
def nested_zip(depth: int) -> bytes:
    data = small_table()
    name = "附件1.xlsx"
    for level in range(depth):
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
            for copy in range(4):
                archive.writestr(f"{copy}_{name}", data)
        data, name = out.getvalue(), f"level{level}.zip"
    return data


def zip_nested(rng: random.Random, i: int) -> bytes:
    return report(rng, i, attachments=[("材料.zip", nested_zip(rng.randint(4, 8)), "application/zip")])


@lru_cache(maxsize=None)
def many_members() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for n in range(10_000):
            archive.writestr(f"f{n}.csv", b"a,b\n1,2\n")
    return out.getvalue()


def zip_many_members(rng: random.Random, i: int) -> bytes:
    return report(rng, i, attachments=[("材料.zip", many_members(), "application/zip")])


def zip_traversal(rng: random.Random, i: int) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in (f"../../../../tmp/{MARKER}-{i}.xlsx", f"/etc/{MARKER}-{i}.xlsx", f"..\\..\\{MARKER}-{i}.xlsx",
                     f"a/../../{MARKER}-{i}.xlsx"):
            archive.writestr(zipfile.ZipInfo(name, date_time=(2022, 1, 3, 10, 0, 0)), small_table(i))
    return report(rng, i, attachments=[("材料.zip", out.getvalue(), "application/zip")])


@lru_cache(maxsize=None)
def xlsx_bomb() -> bytes:
    """A valid xlsx whose one sheet holds 1,048,576 rows (a few MB zipped, gigabytes of cells if read)."""
    row = "<row r=\"{r}\"><c r=\"A{r}\" t=\"inlineStr\"><is><t>长沙市</t></is></c><c r=\"B{r}\"><v>1</v></c></row>"
    sheet = ('<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/'
             'spreadsheetml/2006/main"><sheetData>' + "".join(row.format(r=r) for r in range(1, 1_048_577))
             + "</sheetData></worksheet>")
    base = zipfile.ZipFile(io.BytesIO(make_xlsx([["a"]])))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for info in base.infolist():
            data = sheet.encode() if info.filename == "xl/worksheets/sheet1.xml" else base.read(info)
            archive.writestr(zipfile.ZipInfo(info.filename, date_time=(2022, 1, 3, 10, 0, 0)), data,
                             compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()


def xlsx_bomb_mail(rng: random.Random, i: int) -> bytes:
    return report(rng, i, attachments=[("附件1.xlsx", xlsx_bomb())])


def deep_forward(rng: random.Random, i: int) -> bytes:
    raw = report(rng, i)
    for level in range(rng.randint(10, 60)):
        raw = (f"From: fwd{level}@example.cn\r\nSubject: Fwd {level}\r\nMessage-ID: <fwd-{i}-{level}@bench.example>\r\n"
               "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b{level}\"\r\n\r\n"
               f"--b{level}\r\nContent-Type: message/rfc822\r\n\r\n").encode() + raw + f"\r\n--b{level}--\r\n".encode()
    return raw


def deep_multipart(rng: random.Random, i: int) -> bytes:
    depth = rng.randint(500, 5000)
    head = b"From: deep@example.cn\r\nSubject: deep\r\nMIME-Version: 1.0\r\n"
    opening = b"".join(b"Content-Type: multipart/mixed; boundary=\"d%d\"\r\n\r\n--d%d\r\n" % (n, n) for n in range(depth))
    closing = b"".join(b"\r\n--d%d--\r\n" % n for n in reversed(range(depth)))
    return head + opening + b"Content-Type: text/plain\r\n\r\nhello" + closing


@lru_cache(maxsize=None)
def big_blob(size: int) -> bytes:
    return random.Random(size).randbytes(size)


def big_attachment(rng: random.Random, i: int) -> bytes:
    size = 50 * 1024 * 1024 if i % 2 else 50 * 1024 * 1024 + 1
    return report(rng, i, attachments=[("附件1.xlsx", big_blob(size))])


def evil_filenames(rng: random.Random, i: int) -> bytes:
    names = [f"../../../../tmp/{MARKER}-{i}.xlsx", f"/etc/{MARKER}-{i}.xlsx", f"..\\..\\{MARKER}-{i}.xlsx",
             f"a\x00b-{MARKER}.xlsx", f"{'长' * 5000}{MARKER}.xlsx", f"con\r\n{MARKER}.xlsx", f"\u202e{MARKER}xslx.exe",
             f"{MARKER}\u0007\u001b[31m.xlsx", "." * 300, ""]
    picked = rng.sample(names, 3)
    return report(rng, i, attachments=[(n, small_table(i)) for n in picked], charset="utf-8",
                  filename_style=rng.choice(["rfc2231", "rfc2047", "raw"]))


def corrupted_xlsx(rng: random.Random, i: int) -> bytes:
    data = bytearray(small_table(i))
    for _ in range(rng.randint(1, 50)):
        data[rng.randrange(len(data))] = rng.randrange(256)
    return report(rng, i, attachments=[("附件1.xlsx", bytes(data))])


def garbage(rng: random.Random, i: int) -> bytes:
    return rng.randbytes(rng.randint(0, 200_000))


def header_only(rng: random.Random, i: int) -> bytes:
    return rng.choice([b"", b"\r\n", b"From: x\r\n", b"Subject: \xff\xfe\r\n\r\n", b"\x00" * 100])


def lf_only(rng: random.Random, i: int) -> bytes:
    return report(rng, i).replace(b"\r\n", b"\n")


def bad_base64_body(rng: random.Random, i: int) -> bytes:
    raw = bytearray(report(rng, i, body="正文" * 200, body_encoding="base64"))
    start = raw.index(b"Content-Transfer-Encoding: base64\r\n\r\n") + 37  # the body's base64
    raw[start + 10:start + 30] = b"!!!!====????%%%%&&&&"
    return bytes(raw)


# --- poison: a few KB that killed, starved or stalled the process before derives were isolated --------

def xlsx_far_cell(rng: random.Random, i: int) -> bytes:
    return report(rng, i, attachments=[("附件1.xlsx", attacks.xlsx_with_cell_at(rng.choice(["XFD1048576", "XFD10000"])))])


@lru_cache(maxsize=None)
def cpu_bomb_zip() -> bytes:
    """The issue's CPU bomb: 500 copies of a 5.6 KB .xls with a cell at IV65536 in one zip (about 450 KB).

    The copies differ in one cell, so reading each once is not enough: each needs the bound."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for n in range(500):
            archive.writestr(zipfile.ZipInfo(f"表{n}.xls", date_time=(2022, 1, 3, 10, 0, 0)),
                             attacks.xls_with_cell_at(65535, 255 - n % 50), compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()


def xls_cpu_bomb(rng: random.Random, i: int) -> bytes:
    return report(rng, i, attachments=[("材料.zip", cpu_bomb_zip(), "application/zip")])


def docx_span(rng: random.Random, i: int) -> bytes:
    word = rng.choice([attacks.docx_with_grid_span(), attacks.docx_with_grid_before()])
    return report(rng, i, attachments=[("附件1.docx", word)])


def docx_inflated_mail(rng: random.Random, i: int) -> bytes:
    return report(rng, i, attachments=[("附件1.docx", attacks.docx_with_huge_part())])


@lru_cache(maxsize=None)
def big_table(rows: int) -> bytes:
    return make_xlsx([HEADER, *activity_rows(random.Random(3), cities()[0].counties, rows)])


def zip_shared_entries(rng: random.Random, i: int) -> bytes:
    """100 directory entries at one 70,000-row xlsx, or 200 at a 20-row one."""
    entries, rows = rng.choice([(100, 70_000), (200, 20)])
    shared = attacks.zip_listing_one_member("附件1.xlsx", big_table(rows), entries)
    return report(rng, i, attachments=[("材料.zip", shared, "application/zip")])


def attached_twice(rng: random.Random, i: int) -> bytes:
    return report(rng, i, attachments=[("附件1.xlsx", small_table(i)), ("附件1(1).xlsx", small_table(i))])


@lru_cache(maxsize=None)
def seven_zip_bomb() -> bytes:
    """A .7z of 64 MB of zeros (about 10 KB), beside a traversal name it must refuse."""
    return make_7z({"附件1.xlsx": bytes(64 * 1024 * 1024), f"aa/aa/{MARKER}.xlsx": small_table()},
                   renames={f"aa/aa/{MARKER}.xlsx": f"../../{MARKER}.xlsx"})


def archive_7z(rng: random.Random, i: int) -> bytes:
    if rng.random() < 0.5:
        return report(rng, i, attachments=[("材料.7z", seven_zip_bomb())])
    return report(rng, i, attachments=[("材料.7z", make_7z({"附件1.xlsx": small_table(i)}, password="1234"))])


def archive_rar(rng: random.Random, i: int) -> bytes:
    """A stored rar whose member lies about its size (3 GB), or is named ../../, or is cut short."""
    data = bytearray(make_rar({f"../../{MARKER}.xlsx": small_table(i), "附件1.xlsx": small_table(i)}))
    choice = rng.randrange(3)
    if choice == 0:
        at = data.index(b"\x74\x00\x82") - 2
        data[at + 11:at + 15] = (3 * 1024 ** 3).to_bytes(4, "little")
    elif choice == 1:
        data = data[:rng.randrange(20, len(data))]
    return report(rng, i, attachments=[("材料.rar", bytes(data))])


def winmail_flood(rng: random.Random, i: int) -> bytes:
    """A winmail.dat of 300,000 empty attributes (tnefparse copies the rest of the file for each)."""
    flood = b"\x78\x9f\x3e\x22\x01\x00" + b"\x02\x0f\x80\x06\x00\x00\x00\x00\x00\x00\x00" * 300_000
    if rng.random() < 0.5:
        flood = make_tnef({f"../{MARKER}.xlsx": small_table(i), "附件1.xlsx": small_table(i)}, bad_checksum=["附件1.xlsx"])
    return report(rng, i, attachments=[("winmail.dat", flood, "application/ms-tnef")])


@lru_cache(maxsize=None)
def pdf_bomb() -> bytes:
    """A PDF whose page content inflates to 1 GB (about 1 MB deflated)."""
    body = zlib.compress(bytes(1024 ** 3), 9)
    head = b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    page = b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 600 800]/Contents 4 0 R>>endobj\n"
    stream = b"4 0 obj<</Length " + str(len(body)).encode() + b"/Filter/FlateDecode>>stream\n" + body
    return head + page + stream + b"\nendstream endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"


@lru_cache(maxsize=None)
def long_pdf(pages: int) -> bytes:
    return make_pdf([HEADER, *[[n, "芙蓉区", "x", "y", "z", "销售额1万元", ""] for n in range(1, pages + 1)]],
                    rows_per_page=1)


def pdf_hostile(rng: random.Random, i: int) -> bytes:
    """A PDF bomb, or a 1,000-page PDF, or a truncated PDF export of the table."""
    choice = rng.randrange(3)
    if choice == 0:
        return report(rng, i, attachments=[("附件1.pdf", pdf_bomb())])
    if choice == 1:
        return report(rng, i, attachments=[("附件1.pdf", long_pdf(1000))])
    whole = make_pdf([HEADER, [1, "芙蓉区", "x", "y", "z", "", ""]])
    return report(rng, i, attachments=[("附件1.pdf", whole[:rng.randrange(50, len(whole))])])


# Mutations that are not hostile at all: a control group that must read cleanly.
BENIGN = frozenset({"lf_only"})

# name -> (mutation, share of the messages); big and slow ones get a handful
MUTATIONS: dict[str, tuple[Callable[[random.Random, int], bytes], float]] = {
    "truncated": (truncated, 0.10), "truncated_in_headers": (truncated_in_headers, 0.05),
    "broken_base64": (broken_base64, 0.10), "bad_base64_body": (bad_base64_body, 0.04),
    "wrong_charset": (wrong_charset, 0.08), "unknown_charset": (unknown_charset, 0.05),
    "huge_subject": (huge_subject, 0.02), "many_headers": (many_headers, 0.02), "huge_header_line": (huge_header_line, 0.02),
    "zip_bomb": (zip_bomb, 0.01), "zip_nested": (zip_nested, 0.03), "zip_many_members": (zip_many_members, 0.01),
    "zip_traversal": (zip_traversal, 0.05), "xlsx_bomb": (xlsx_bomb_mail, 0.003), "deep_forward": (deep_forward, 0.05),
    "deep_multipart": (deep_multipart, 0.03), "big_attachment": (big_attachment, 0.002),
    "evil_filenames": (evil_filenames, 0.09), "corrupted_xlsx": (corrupted_xlsx, 0.07), "garbage": (garbage, 0.05),
    "header_only": (header_only, 0.02), "lf_only": (lf_only, 0.045),
    "xlsx_far_cell": (xlsx_far_cell, 0.004), "xls_cpu_bomb": (xls_cpu_bomb, 0.001), "docx_span": (docx_span, 0.004),
    "docx_inflated": (docx_inflated_mail, 0.002), "zip_shared_entries": (zip_shared_entries, 0.004),
    "attached_twice": (attached_twice, 0.004),
    "archive_7z": (archive_7z, 0.008), "archive_rar": (archive_rar, 0.008), "winmail_flood": (winmail_flood, 0.006),
    "pdf_hostile": (pdf_hostile, 0.006),
}


def plan(n: int) -> list[str]:
    """The mutation of each message: shares of n, at least one of each."""
    names = [name for name, (_, share) in MUTATIONS.items() for _ in range(max(1, round(share * n)))]
    names = names[:n] + ["evil_filenames"] * max(0, n - len(names))
    return names


def write_inputs(folder: Path, n: int, seed: int) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    kinds = plan(n)
    for i, kind in enumerate(kinds):
        rng = random.Random(f"{seed}:{i}")
        (folder / f"{i:05d}.eml").write_bytes(MUTATIONS[kind][0](rng, i))
    return kinds


def marker_files() -> list[str]:
    """Files or folders anywhere we look whose name carries the marker (big package trees skipped)."""
    found = []
    for root in SEARCH_ROOTS:
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = [d for d in dirnames if d not in SKIP_DIRS]
            found += [os.path.join(dirpath, f) for f in (*dirnames, *filenames) if MARKER in f]
    return found


def outcome(config_path: Path, inputs: Path, kinds: list[str]) -> dict:
    """Per mutation: messages, recorded, processed, with a problem; the problem codes seen."""
    from service.config import load_config
    from service.store import Store

    config = load_config(config_path, environ={})
    store = Store.open(config.service.database_url)
    try:
        id_of_sha = {m.sha256: m.id for m in store.stored_messages()}
        processed = {r.message for r in store.results()}
        codes = {m: {p.code for p in found} for m, found in store.problems().items()}
    finally:
        store.close()
    table: dict[str, Counter] = {}
    for i, kind in enumerate(kinds):
        sha = hashlib.sha256((inputs / f"{i:05d}.eml").read_bytes()).hexdigest()
        pk = id_of_sha.get(sha)
        counts = table.setdefault(kind, Counter())
        counts["messages"] += 1
        counts["recorded"] += pk is not None
        counts["processed"] += pk in processed
        counts["with_problem"] += bool(codes.get(pk))
        counts["quarantined"] += "quarantined" in codes.get(pk, ())
        for code in codes.get(pk, ()):
            counts[f"code:{code}"] += 1
    return {kind: dict(counts) for kind, counts in table.items()}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", default=str(RESULTS / "hostile.json"))
    parser.add_argument("--keep", action="store_true", help="leave the inputs and data_dir (650 MB) in /tmp")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="bench-hostile-"))
    try:
        return _run(args, work)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


def _run(args: argparse.Namespace, work: Path) -> int:
    start = time.perf_counter()
    kinds = write_inputs(work / "inputs", args.n, args.seed)
    made = time.perf_counter() - start
    sizes = sorted((p.stat().st_size for p in (work / "inputs").iterdir()), reverse=True)
    before = set(marker_files())
    config = write_config(work / "run")
    scratch, cwd = work / "tmp", work / "cwd"
    scratch.mkdir()
    cwd.mkdir()
    run = run_cli(config, ["import", str(work / "inputs")], cli_env(TMPDIR=str(scratch)), timeout=1800, cwd=cwd)
    table = outcome(config, work / "inputs", kinds)
    outside = sorted(set(marker_files()) - before) + [str(p) for p in (*scratch.rglob("*"), *cwd.rglob("*"))]
    totals, controls = Counter(), Counter()
    for kind, counts in table.items():
        (controls if kind in BENIGN else totals).update({k: v for k, v in counts.items() if not k.startswith("code:")})
    report_rows = [[kind + (" (benign control)" if kind in BENIGN else ""), c["messages"], c.get("recorded", 0),
                    c.get("processed", 0), c.get("with_problem", 0), c.get("quarantined", 0)]
                   for kind, c in sorted(table.items())]
    report_rows.append(["total hostile", totals["messages"], totals["recorded"], totals["processed"],
                        totals["with_problem"], totals["quarantined"]])
    print_table(f"hostile input: {args.n} messages through import (made in {made:.1f} s)", report_rows,
                ["mutation", "messages", "recorded", "processed", "with problem", "quarantined"])
    summary = [["import exit code", run.returncode], ["import seconds", run.seconds],
               ["largest input MB", sizes[0] / 1e6], ["peak memory MB (PSS, all processes)", run.peak_pss_mb],
               ["peak RSS MB (largest process)", run.peak_rss_mb], ["files written outside data_dir", len(outside)]]
    print_table("hostile input: outcome", summary)
    clean = controls["processed"] - controls["with_problem"]
    print(f"\nhostile: {totals['messages']} hostile messages, exit {run.returncode}, {totals['recorded']} recorded, "
          f"{totals['processed']} processed, {totals['with_problem']} with a problem ({totals['quarantined']} "
          f"quarantined), {len(outside)} files outside "
          f"data_dir; {controls['messages']} benign controls, {clean} read cleanly; peak {run.peak_pss_mb:.0f} MB PSS")
    write_json(Path(args.out), {"n": args.n, "seed": args.seed, "exit": run.returncode, "seconds": run.seconds,
                                "stdout": run.stdout.strip(), "stderr_tail": run.stderr[-3000:],
                                "largest_input_bytes": sizes[0], "peak_pss_mb": run.peak_pss_mb,
                                "peak_rss_largest_mb": run.peak_rss_mb, "outside_data_dir": outside[:50],
                                "totals": dict(totals), "benign_controls": dict(controls), "by_mutation": table})
    processed = totals["processed"] + controls["processed"] == totals["messages"] + controls["messages"]
    return 0 if run.returncode == 0 and not outside and processed else 1


if __name__ == "__main__":
    sys.exit(main())
