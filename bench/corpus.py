"""A deterministic corpus of city mail for the benchmarks: message i depends only on (profile, seed, i).

Built with the tests' builders (real openpyxl/xlwt/python-docx/zipfile output), then made
byte-reproducible (openpyxl and python-docx stamp the current time into their zips).
Profiles: "realistic" (mixed formats, GBK and UTF-8, 20-200 rows, some problems, plus unrelated
mail) and "xlsx100" (every message one 100-row xlsx, the shape of the issue's reference figures).
"""
from __future__ import annotations

import io
import random
import re
import zipfile
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

import docx
from docx.oxml import parse_xml
from docx.oxml.ns import nsdecls

from service.config import City, load_config
from tests import table_builders
from tests.builders import make_email
from tests.table_builders import HEADER, TITLE, activity_row, make_csv, make_xls, make_xlsx

ROOT = Path(__file__).resolve().parent.parent
TZ = ZoneInfo("Asia/Shanghai")
FIXED_ZIP_TIME = (2022, 1, 3, 10, 0, 0)
PROFILES = ("realistic", "xlsx100")
# (format, weight) of the realistic submissions; the rest of the mix is problems and unrelated mail
FORMATS = [("xlsx", 30), ("xls", 12), ("docx", 8), ("csv", 8), ("zip", 12), ("forward", 8),
           ("forward_eml", 4), ("xlsx_merged", 8), ("problem", 10)]
PROBLEMS = ["no_attachment", "pdf", "truncated_xlsx", "no_header", "unregistered", "raw_gbk_subject",
            "resend_same_id", "unknown_county"]
ACTIVITIES = [*table_builders.ACTIVITIES, ("{c}老字号年货展", "线下展销，线上同步", "活动效果良好，群众反响热烈")]
DEADLINE_SUBJECTS = {"plan": "关于“1+1+N”分会场活动实施计划的报备", "progress": "“2022湖南网上年货节”活动组织情况",
                     "summary": "“2022湖南网上年货节”活动全面总结"}
DEADLINE_DAYS = {"plan": ("2021-12-20", 12), "progress": ("2021-12-28", 10), "summary": ("2022-01-25", 16)}
PDF = b"%PDF-1.4\n% bench\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d49444154789c63f8cfc0f01f0005000201e2a4bd5c0000000049454e44ae426082")


@dataclass(frozen=True)
class Item:
    """One message of the corpus and what it is (for reports and checks)."""

    raw: bytes
    internaldate: datetime
    kind: str  # the format or problem it exercises, or "unrelated"
    rows: int  # table rows written into it


@lru_cache(maxsize=1)
def cities() -> tuple[City, ...]:
    return load_config(ROOT / "config" / "service.toml", environ={}).cities


def unrelated_count(profile: str, n: int) -> int:
    """Unrelated mail mixed into a realistic corpus: one in twenty."""
    return n // 20 if profile == "realistic" else 0


def corpus_size(profile: str, n: int) -> int:
    return n + unrelated_count(profile, n)


def make_item(profile: str, seed: int, i: int, n: int) -> Item:
    """Message i of the corpus (0 <= i < corpus_size): submissions first, then unrelated mail, interleaved."""
    rng = random.Random(f"{profile}:{seed}:{i}")
    if profile == "xlsx100":
        return _reference_item(rng, i)
    extra = unrelated_count(profile, n)
    if extra and i % 21 == 20 and i // 21 < extra:
        return _unrelated_item(rng, i)
    return _submission(rng, i)


# --- reproducible office files -------------------------------------------------------------------

def reproducible_zip(data: bytes) -> bytes:
    """The same OOXML package with fixed zip timestamps and core.xml dates (no wall clock in the bytes)."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            content = source.read(info.filename)
            if info.filename == "docProps/core.xml":
                content = re.sub(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", b"2022-01-03T02:00:00Z", content)
            fixed = zipfile.ZipInfo(info.filename, date_time=FIXED_ZIP_TIME)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            target.writestr(fixed, content)
    return out.getvalue()


def fast_docx(rows: list[list[object]], paragraphs: list[str]) -> bytes:
    """A .docx with one real Word table, its XML written at once (python-docx's cell() is quadratic)."""
    document = docx.Document()
    for text in paragraphs:
        document.add_paragraph(text)
    width = max(len(r) for r in rows)

    def cell(value: object) -> str:
        text = escape("" if value is None else str(value))
        return (f'<w:tc><w:tcPr><w:tcW w:w="1200" w:type="dxa"/></w:tcPr><w:p><w:r>'
                f'<w:t xml:space="preserve">{text}</w:t></w:r></w:p></w:tc>')
    body = "".join("<w:tr>" + "".join(cell(r[c] if c < len(r) else "") for c in range(width)) + "</w:tr>"
                   for r in rows)
    table = parse_xml(f'<w:tbl {nsdecls("w")}><w:tblPr><w:tblStyle w:val="TableGrid"/>'
                      f'<w:tblW w:w="0" w:type="auto"/></w:tblPr><w:tblGrid>'
                      + '<w:gridCol w:w="1200"/>' * width + f"</w:tblGrid>{body}</w:tbl>")
    document.element.body.insert(len(document.element.body) - 1, table)  # before sectPr
    out = io.BytesIO()
    document.save(out)
    return reproducible_zip(out.getvalue())


# --- rows and files ------------------------------------------------------------------------------

def activity_rows(rng: random.Random, counties: tuple[str, ...], n: int, unknown: bool = False) -> list[list]:
    """n rows of the 重点活动统计表 with figures the metrics parser reads."""
    rows = []
    for i in range(n):
        county = counties[rng.randrange(len(counties))]
        if unknown and i % 17 == 3:
            county = "某某新县"
        rows.append([*activity_row(rng, i + 1, county, ACTIVITIES), "" if rng.random() < 0.8 else "线上线下同步"])
    return rows


def county_merges(rows: list[list], first: int) -> tuple[list[list], list[tuple[int, int, int, int]]]:
    """Rows sorted by county with the county column merged over each run (as offices lay them out)."""
    ordered = sorted(rows, key=lambda r: str(r[1]))
    merges, start = [], 0
    for r in range(1, len(ordered) + 1):
        if r == len(ordered) or ordered[r][1] != ordered[start][1]:
            if r - start > 1:
                merges.append((first + start, 1, first + r - 1, 1))
                for row in ordered[start + 1:r]:
                    row[1] = ""
            start = r
    return ordered, merges


def title_rows(city: str) -> list[list]:
    return [[TITLE], [f"填报单位（盖章）：{city}商务局"], ["联系人：张敏 职务：科长 联系方式：13800000000 邮箱：略"]]


def table_file(kind: str, city: str, rows: list[list], rng: random.Random) -> tuple[str, bytes]:
    """(attachment name, bytes) of the 附件1 table in one format."""
    title = title_rows(city)
    stem = f"附件1：{city}重点活动统计表"
    if kind == "xls":
        return f"{stem}.xls", make_xls([HEADER, *rows], title_rows=title, merges=[(0, 0, 0, 6)])
    if kind == "docx":
        return f"{stem}.docx", fast_docx([HEADER, *rows], [TITLE, title[1][0], title[2][0]])
    if kind == "csv":
        return f"{city}重点活动统计表.csv", make_csv([HEADER, *rows], encoding=rng.choice(["gbk", "utf-8-sig"]))
    merges = [(0, 0, 0, 6)]
    if kind == "xlsx_merged":
        rows, county = county_merges([list(r) for r in rows], first=len(title) + 1)
        merges += county
    return f"{stem}.xlsx", reproducible_zip(make_xlsx([HEADER, *rows], title_rows=title, merges=merges))


# --- messages ------------------------------------------------------------------------------------

def _moment(rng: random.Random, deadline: str) -> datetime:
    start, days = DEADLINE_DAYS[deadline]
    day = datetime.fromisoformat(start).replace(tzinfo=TZ) + timedelta(days=rng.randrange(days))
    return day.replace(hour=rng.randint(8, 21), minute=rng.randrange(60), second=rng.randrange(60))


def _submission(rng: random.Random, i: int) -> Item:
    city = rng.choice(cities())
    short = city.aliases[0] if city.aliases else city.name
    fmt = rng.choices([f for f, _ in FORMATS], weights=[w for _, w in FORMATS])[0]
    problem = rng.choice(PROBLEMS) if fmt == "problem" else ""
    deadline = rng.choices(["plan", "progress", "summary"], weights=[1, 2, 7])[0]
    at = _moment(rng, deadline)
    n_rows = rng.randint(20, 200)
    rows = activity_rows(rng, city.counties, n_rows, unknown=problem == "unknown_county")
    table_kind = fmt if fmt in ("xlsx", "xls", "docx", "csv", "xlsx_merged") else "xlsx"
    if fmt == "zip":
        table_kind = rng.choice(["xlsx", "xls"])
    attachments = [table_file(table_kind, city.name, rows, rng)]
    if fmt == "zip" and rng.random() < 0.5:
        attachments.append((f"{short}活动总结.docx", fast_docx([["说明"], ["见附件1"]], [f"{city.name}商务局"])))
    charset = "gbk" if rng.random() < 0.6 else "utf-8"
    kwargs = dict(
        subject=f"{short}{DEADLINE_SUBJECTS[deadline]}", sender=f"{city.name}商务局 <{city.emails[0]}>",
        body=f"您好！附件是{city.name}的报送材料，请查收。", attachments=attachments, charset=charset,
        charset_label="gb2312" if charset == "gbk" and rng.random() < 0.5 else None,
        date=at - timedelta(minutes=1), received=at, message_id=f"<bench-{i}-{rng.getrandbits(32):08x}@bench.example>",
        forwarded=fmt in ("forward", "forward_eml"), forward_as="eml" if fmt == "forward_eml" else "rfc822",
        zipped=fmt == "zip", zip_name=f"{short}报送材料.zip",
        filename_style=rng.choice(["rfc2231", "rfc2047", "raw"] if charset == "gbk" else ["rfc2231", "rfc2047"]),
        subject_style=rng.choice(["b", "b-split", "q-split"]))
    kind = problem or fmt
    _apply_problem(problem, kwargs, rng, city, rows)
    raw = make_email(**kwargs)
    return Item(raw, at, kind, 0 if problem in ("no_attachment", "pdf", "truncated_xlsx", "no_header") else n_rows)


def _apply_problem(problem: str, kwargs: dict, rng: random.Random, city: City, rows: list[list]) -> None:
    """Turn a good submission into one with a typical defect (recorded as a problem downstream)."""
    if problem == "no_attachment":
        kwargs["attachments"] = []
    elif problem == "pdf":
        kwargs["attachments"] = [(f"{city.name}统计表.pdf", PDF)]
    elif problem == "truncated_xlsx":
        name, content = kwargs["attachments"][0]
        kwargs["attachments"] = [(name, content[: len(content) // 2])]
    elif problem == "no_header":
        sheet = reproducible_zip(make_xlsx([["说明"], ["本市活动情况见正文"], *[[r[3]] for r in rows[:20]]]))
        kwargs["attachments"] = [(f"{city.name}情况说明.xlsx", sheet)]
    elif problem == "unregistered":
        kwargs["sender"] = f"小王 <wang{rng.randrange(1000)}@qq.example>"
    elif problem == "raw_gbk_subject":
        kwargs.update(charset="gbk", charset_label=None, subject_style="raw", filename_style="raw")
    elif problem == "resend_same_id":  # a city's client resending under one Message-ID: later ones are duplicates
        kwargs["message_id"] = f"<bench-resend-{city.emails[0]}@bench.example>"


def _reference_item(rng: random.Random, i: int) -> Item:
    """The issue's reference shape: ~13 KB, one 100-row xlsx."""
    city = rng.choice(cities())
    at = _moment(rng, "summary")
    rows = activity_rows(rng, city.counties, 100)
    name, content = table_file("xlsx", city.name, rows, rng)
    raw = make_email(subject=f"{city.name}{DEADLINE_SUBJECTS['summary']}", sender=f"{city.name}商务局 <{city.emails[0]}>",
                     attachments=[(name, content)], date=at, received=at,
                     message_id=f"<ref-{i}-{rng.getrandbits(32):08x}@bench.example>",
                     charset=rng.choice(["gbk", "utf-8"]))
    return Item(raw, at, "xlsx", 100)


def _unrelated_item(rng: random.Random, i: int) -> Item:
    """Mail that is not a report: newsletters, auto-replies, notices, a photo."""
    at = _moment(rng, rng.choice(["progress", "summary"]))
    choice = rng.randrange(4)
    mid = f"<other-{i}-{rng.getrandbits(32):08x}@elsewhere.example>"
    if choice == 0:
        raw = make_email(subject=f"电商周报第{i}期", sender="newsletter@ecommerce-news.example", charset="utf-8",
                         body="本周电商要闻……" * 20, html="<p>本周电商要闻</p>" * 20, date=at, message_id=mid,
                         headers={"Precedence": "bulk"})
    elif choice == 1:
        city = rng.choice(cities())
        raw = make_email(subject="自动回复：关于报送活动情况的通知", sender=f"{city.name}商务局 <{city.emails[0]}>",
                         headers={"Auto-Submitted": "auto-replied"}, date=at, message_id=mid)
    elif choice == 2:
        raw = make_email(subject="关于召开全省电子商务工作会议的通知", sender="office@other-dept.example",
                         attachments=[("会议通知.pdf", PDF)], date=at, message_id=mid)
    else:
        raw = make_email(subject="照片", sender="friend@mail.example", attachments=[("IMG_0001.png", PNG)],
                         charset="utf-8", date=at, message_id=mid)
    return Item(raw, at, "unrelated", 0)
