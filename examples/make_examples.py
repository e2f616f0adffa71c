"""Write the demo's sample city mail (examples/mail/*.eml), deterministic from a seed.

Made with the same builders as the tests (real openpyxl/xlwt/python-docx/zipfile output), in the
shapes city offices really send: xlsx, xls, docx tables, GBK csv, zips, forwards, a pdf, a
resubmission, an unregistered sender, an auto-reply and a newsletter.

    python examples/make_examples.py            # rewrites examples/mail/
"""
from __future__ import annotations

import random
import sys
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from service.config import load_config  # noqa: E402
from tests.builders import make_email  # noqa: E402
from tests.table_builders import HEADER, TITLE, activity_row, make_csv, make_docx, make_xls, make_xlsx  # noqa: E402

TZ = ZoneInfo("Asia/Shanghai")
OUT = ROOT / "examples" / "mail"


def at(day: str, hour: int, minute: int = 0) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, minute=minute, tzinfo=TZ)


def activity_rows(rng: random.Random, counties: list[str], n: int) -> list[list[object]]:
    rows = []
    for i in range(n):
        county = counties[i % len(counties)]
        rows.append([*activity_row(rng, i + 1, county), ""])
    return rows


def table_file(kind: str, city: str, rows: list[list[object]]) -> tuple[str, bytes]:
    title = [[TITLE], [f"填报单位（盖章）：{city}商务局"], ["联系人：张敏 职务：科长 联系方式：0731-8888xxxx 邮箱：略"]]
    grid = [HEADER, *rows]
    if kind == "xls":
        return f"附件1：{city}重点活动统计表.xls", make_xls(grid, title_rows=title)
    if kind == "docx":
        return f"附件1：{city}重点活动统计表.docx", make_docx(grid, paragraphs_before=[TITLE, title[1][0]])
    if kind == "csv":
        return f"{city}重点活动统计表.csv", make_csv(grid, encoding="gbk")
    return f"附件1：{city}重点活动统计表.xlsx", make_xlsx(grid, title_rows=title, merges=[(0, 0, 0, 6)])


def prose_docx(title: str, city: str) -> bytes:
    return make_docx([], paragraphs_before=[title, f"{city}商务局", "一、活动安排……", "二、重点活动……"], tables=0)


def sender_of(city) -> str:
    return f"{city.name}商务局 <{city.emails[0]}>"


def build(seed: int = 2022) -> dict[str, bytes]:
    """file name -> raw email for the whole demo campaign."""
    rng = random.Random(seed)
    config = load_config(ROOT / "config" / "service.toml", environ={})
    cities = list(config.cities)
    mail: dict[str, bytes] = {}
    formats = ["xlsx", "xls", "docx", "csv", "xlsx", "zip", "forward", "xlsx", "xls", "docx", "xlsx", "pdf",
               "xlsx", "xlsx"]
    for i, city in enumerate(cities):
        short = city.aliases[0] if city.aliases else city.name
        if i % 3 == 0:  # cities running "1+1+N" sub-venues report their plan
            mail[f"{i:02d}a_{city.emails[0].split('@')[0]}_plan.eml"] = make_email(
                subject=f"{short}关于“1+1+N”分会场活动实施计划的报备", sender=sender_of(city),
                attachments=[(f"{short}分会场活动实施计划.docx", prose_docx("分会场活动实施计划", city.name))],
                received=at("2021-12-%d" % (27 + i % 4), 10 + i % 6), message_id=f"<plan-{i}@demo.example>")
        if i != 9:  # 郴州 never reports its progress
            day = "2022-01-0%d" % (4 + i % 2) if i != 6 else "2022-01-07"  # 常德 is late
            mail[f"{i:02d}b_{city.emails[0].split('@')[0]}_progress.eml"] = make_email(
                subject=f"{short}“2022湖南网上年货节”活动组织情况", sender=sender_of(city),
                attachments=[(f"{short}网上年货节实施方案.docx", prose_docx("网上年货节实施方案", city.name))],
                received=at(day, 9 + i % 8, 5 * i % 60), message_id=f"<progress-{i}@demo.example>",
                charset="gbk" if i % 2 else "utf-8")
        if i == 12:  # 娄底 misses the summary
            continue
        rows = activity_rows(rng, list(city.counties), rng.randint(3, 8))
        kind = formats[i]
        name, content = table_file("xlsx" if kind in {"zip", "forward", "pdf"} else kind, city.name, rows)
        attachments = [(f"{short}网上年货节活动总结.docx", prose_docx("活动全面总结", city.name)), (name, content)]
        if kind == "pdf":
            attachments = [(f"{short}统计表.pdf", b"%PDF-1.4\n% demo\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n")]
        day = "2022-02-0%d" % (3 + i % 5) if i != 4 else "2022-02-08"  # 邵阳 is late
        mail[f"{i:02d}c_{city.emails[0].split('@')[0]}_summary.eml"] = make_email(
            subject=f"{short}“2022湖南网上年货节”活动全面总结", sender=sender_of(city), attachments=attachments,
            zipped=kind == "zip", zip_name=f"{short}总结材料.zip", forwarded=kind == "forward",
            received=at(day, 10 + i % 7, 3 * i % 60), message_id=f"<summary-{i}@demo.example>",
            filename_style=["rfc2231", "rfc2047", "raw"][i % 3])
    changsha = cities[0]
    more = activity_rows(rng, list(changsha.counties), 9)
    mail["00d_changsha_summary_corrected.eml"] = make_email(
        subject="（更正版）长沙“2022湖南网上年货节”活动全面总结", sender=sender_of(changsha),
        attachments=[table_file("xlsx", changsha.name, more)], received=at("2022-02-08", 15, 20),
        message_id="<summary-0-v2@demo.example>")
    mail["90_unregistered_yiyang.eml"] = make_email(
        subject="益阳市网上年货节补充材料", sender="小王 <wang.xiaoming@qq.com>",
        attachments=[table_file("xlsx", "益阳市", activity_rows(rng, ["南县", "安化县", "益阳高新区"], 3))],
        received=at("2022-02-07", 21, 40), message_id="<yiyang-extra@qq.example>")
    mail["91_auto_reply.eml"] = make_email(
        subject="自动回复：关于开展“2022湖南网上年货节”活动的通知", sender="永州市商务局 <yongzhou@example.gov.cn>",
        headers={"Auto-Submitted": "auto-replied"}, received=at("2021-12-22", 9, 1),
        message_id="<auto@demo.example>")
    mail["92_newsletter.eml"] = make_email(
        subject="电商周报第52期", sender="newsletter@ecommerce-news.example", charset="utf-8",
        body="本周电商要闻……", received=at("2022-01-12", 7, 0), message_id="<news-52@demo.example>")
    return mail


def write_samples(out: Path, mail: dict[str, bytes]) -> None:
    """The folder holds exactly these .eml files (older samples removed)."""
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.eml"):
        old.unlink()
    for name, raw in sorted(mail.items()):
        (out / name).write_bytes(raw)
    print(f"wrote {len(list(out.glob('*.eml')))} messages to {out}")


def main() -> None:
    write_samples(OUT, build())


if __name__ == "__main__":
    main()
