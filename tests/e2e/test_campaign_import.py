"""A season of city mail through the CLI: `import`, `status --json` at chosen moments, `reprocess`.

Every case of the core issue is one email here; the assertions read the JSON contract.
"""
from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from service.cli import main
from service.store.archive import sha256_of
from tests.builders import make_7z, make_email, make_rar, make_tnef
from tests.table_builders import HEADER, SAMPLE_ROWS, TITLE_ROWS, make_docx, make_pdf, make_scanned_pdf, make_xlsx

TZ = ZoneInfo("Asia/Shanghai")


def at(iso: str) -> datetime:
    return datetime.fromisoformat(iso).replace(tzinfo=TZ)


def table(rows=SAMPLE_ROWS, unit="填报单位（盖章）：长沙市商务局") -> bytes:
    return make_xlsx([HEADER, *rows], title_rows=[TITLE_ROWS[0], [unit], TITLE_ROWS[2]])


def zhuzhou_rows() -> list[list]:
    return [[1, "醴陵市", "醴陵市商务局", "醴陵瓷器年货节", "直播", "参与企业30家，销售额500万元", ""],
            [2, "攸县", "攸县商务局", "攸县香干网上行", "电商专区", "参与商户20户，销售额80万元", ""]]


def campaign_mail() -> dict[str, bytes]:
    """name -> raw email; each one is a case the service must get right."""
    plan_doc = make_docx([], paragraphs_before=["长沙市网上年货节实施方案", "一、活动时间……"], tables=0)
    return {
        # GBK subject split mid-character, RFC 2231 filename, registered sender, on time
        "01_changsha_progress.eml": make_email(
            subject="长沙市网上年货节活动组织情况", subject_style="b-split", filename_style="rfc2231",
            attachments=[("长沙市2022网上年货节实施方案.docx", plan_doc)],
            received=at("2022-01-04T10:12"), message_id="<cs-progress@changsha.example.gov.cn>"),
        # RFC 2047 filename, the table, on time
        "02_changsha_summary.eml": make_email(
            subject="长沙市网上年货节活动总结", filename_style="rfc2047",
            attachments=[("附件1：长沙市重点活动统计表.xlsx", table(SAMPLE_ROWS[:3]))],
            received=at("2022-02-06T16:00"), message_id="<cs-summary-1@changsha.example.gov.cn>"),
        # resubmitted with one more row after the deadline: rows replaced, still on time
        "03_changsha_summary_v2.eml": make_email(
            subject="（更正）长沙市网上年货节活动总结", attachments=[("附件1.xlsx", table(SAMPLE_ROWS))],
            received=at("2022-02-08T09:30"), message_id="<cs-summary-2@changsha.example.gov.cn>"),
        # zipped table with GBK member names, late
        "04_zhuzhou_late_zip.eml": make_email(
            subject="株洲市网上年货节总结", sender="株洲市商务局 <zhuzhou@example.gov.cn>", zipped=True,
            zip_name="株洲市材料.zip",
            attachments=[("附件1：株洲市统计表.xlsx", table(zhuzhou_rows(), "填报单位：株洲市商务局"))],
            received=at("2022-02-09T11:00"), message_id="<zz-summary@zhuzhou.example.gov.cn>"),
        # forwarded by a colleague from a registered address
        "05_xiangtan_forwarded.eml": make_email(
            subject="转发：湘潭市网上年货节活动总结", sender="湘潭市商务局 <xiangtan@example.gov.cn>",
            forwarded=True, attachments=[("湘潭市统计表.xlsx", table(
                [[1, "湘潭县", "湘潭县商务局", "湘潭县年货节", "直播", "参与企业10家，销售额100万元", ""]],
                "填报单位：湘潭市商务局"))],
            received=at("2022-02-05T09:00"), message_id="<xt-summary@xiangtan.example.gov.cn>"),
        # "见附件" without an attachment: a problem, not a report
        "06_hengyang_no_attachment.eml": make_email(
            subject="衡阳市网上年货节活动组织情况", sender="衡阳市商务局 <hengyang@example.gov.cn>",
            body="详见附件。", received=at("2022-01-05T17:00"), message_id="<hy-progress@hengyang.example.gov.cn>"),
        # corrupt workbook: counts as a report, with a problem and no rows
        "07_shaoyang_corrupt.eml": make_email(
            subject="邵阳市网上年货节活动总结", sender="邵阳市商务局 <shaoyang@example.gov.cn>",
            attachments=[("邵阳市统计表.xlsx", table()[:900])],
            received=at("2022-02-07T20:00"), message_id="<sy-summary@shaoyang.example.gov.cn>"),
        # unknown sender naming a city in the subject: accepted, flagged
        "08_yueyang_unregistered.eml": make_email(
            subject="岳阳市网上年货节活动组织情况", sender="小李 <xiaoli@qq.com>",
            attachments=[("岳阳市组织情况.docx", make_docx([], paragraphs_before=["岳阳市活动组织情况"], tables=0))],
            received=at("2022-01-05T11:00"), message_id="<yy-progress@qq.com>"),
        # unrelated mail: archived and listed, never counted
        "09_newsletter.eml": make_email(
            subject="Weekly newsletter", sender="news@example.com", charset="utf-8",
            body="Hello", received=at("2022-01-06T08:00"), message_id="<news@example.com>"),
        # path tricks in the attachment name
        "10_changde_path_trick.eml": make_email(
            subject="常德市网上年货节活动组织情况", sender="常德市商务局 <changde@example.gov.cn>",
            attachments=[("../../../../etc/passwd.docx", plan_doc)],
            received=at("2022-01-05T15:00"), message_id="<cd-progress@changde.example.gov.cn>"),
        # the same message delivered twice with other Received headers: a duplicate
        "11_changsha_summary_again.eml": make_email(
            subject="长沙市网上年货节活动总结", filename_style="rfc2047",
            attachments=[("附件1：长沙市重点活动统计表.xlsx", table(SAMPLE_ROWS[:3]))],
            received=at("2022-02-06T16:05"), message_id="<cs-summary-1@changsha.example.gov.cn>"),
    }


def county_rows(*counties: str) -> list[list]:
    return [[i, county, f"{county}商务局", f"{county}年货节", "直播", f"参与企业{10 * i}家，销售额{100 * i}万元", ""]
            for i, county in enumerate(counties, start=1)]


def format_mail() -> dict[str, bytes]:
    """One summary in each format read since issue 18: PDF (text and scanned), 7z, rar, winmail.dat."""
    def summary(city: str, sender: str, attachment: tuple[str, bytes], day: str) -> bytes:
        return make_email(subject=f"{city}网上年货节活动总结", sender=f"{city}商务局 <{sender}@example.gov.cn>",
                          attachments=[attachment], received=at(f"2022-02-{day}T10:00"),
                          message_id=f"<{sender}-summary@{sender}.example.gov.cn>")

    zhangjiajie = county_rows("永定区", "武陵源区", "慈利县")
    return {
        "21_zhangjiajie_pdf.eml": summary("张家界市", "zhangjiajie", ("附件1：张家界市统计表.pdf", make_pdf(
            [HEADER, *zhangjiajie], [TITLE_ROWS[0], ["填报单位：张家界市商务局"]], rows_per_page=2)), "05"),
        "22_yiyang_scan.eml": summary("益阳市", "yiyang", ("益阳市统计表（盖章）.pdf", make_scanned_pdf()), "06"),
        "23_chenzhou_7z.eml": summary("郴州市", "chenzhou", ("郴州市材料.7z", make_7z(
            {"附件1：郴州市统计表.xlsx": table(county_rows("北湖区", "苏仙区"), "填报单位：郴州市商务局")})), "06"),
        "24_yongzhou_rar.eml": summary("永州市", "yongzhou", ("永州市材料.rar", make_rar(
            {"永州/附件1.xlsx": table(county_rows("零陵区"), "填报单位：永州市商务局")}, gbk_names=True)), "07"),
        "25_huaihua_winmail.eml": summary("怀化市", "huaihua", ("winmail.dat", make_tnef(
            {"附件1：怀化市统计表.xlsx": table(county_rows("鹤城区", "中方县", "沅陵县", "洪江市"),
                                            "填报单位：怀化市商务局")})), "07"),
    }


def test_pdf_7z_rar_and_winmail_dat_reports_give_their_rows_and_a_scan_counts_with_a_problem(
        env, capsys, tmp_path):
    formats = tmp_path / "formats"
    formats.mkdir()
    for name, raw in format_mail().items():
        (formats / name).write_bytes(raw)
    run(capsys, "import", str(formats), "--now", "2022-02-10T12:00")
    s = status(capsys, "2022-02-10T12:00")
    rows = {city: (s[city]["summary"]["state"], s[city]["summary"]["rows"])
            for city in ("张家界市", "益阳市", "郴州市", "永州市", "怀化市")}
    assert rows == {"张家界市": ("on_time", 3), "益阳市": ("on_time", 0), "郴州市": ("on_time", 2),
                    "永州市": ("on_time", 1), "怀化市": ("on_time", 4)}
    assert s["益阳市"]["summary"]["problems"] == ["附件“益阳市统计表（盖章）.pdf”为扫描件，无法读取文字，请同时报送 Excel 版本"]
    assert all(s[city]["summary"]["problems"] == [] for city in ("张家界市", "郴州市", "永州市", "怀化市"))


def season_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database_url: str = "") -> Path:
    """tmp_path with the season's mail in mail/, the data folder in data/ and the database at
    `database_url` (default a SQLite file in data/), set for the CLI through the environment."""
    data = tmp_path / "data"
    monkeypatch.setenv("SERVICE_DATA_DIR", str(data))
    monkeypatch.setenv("SERVICE_DATABASE_URL", database_url or f"sqlite:///{data / 'service.db'}")
    monkeypatch.delenv("SERVICE_CONFIG", raising=False)
    monkeypatch.chdir(Path(__file__).resolve().parents[2])
    mail = tmp_path / "mail"
    mail.mkdir()
    for name, raw in campaign_mail().items():
        (mail / name).write_bytes(raw)
    return tmp_path


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return season_folder(tmp_path, monkeypatch)


def run(capsys, *argv: str) -> str:
    capsys.readouterr()
    assert main(list(argv)) == 0
    return capsys.readouterr().out


def status(capsys, now: str) -> dict:
    doc = json.loads(run(capsys, "status", "--json", "--now", now))
    return {c["city"]: c["reports"] for c in doc["cities"]}


def test_a_season_of_mail_gives_the_right_states_rows_and_problems(env, capsys):
    run(capsys, "import", str(env / "mail"), "--now", "2022-02-10T12:00")
    s = status(capsys, "2022-02-10T12:00")
    assert s["长沙市"]["progress"]["state"] == "on_time"
    assert s["长沙市"]["summary"] == {**s["长沙市"]["summary"], "state": "on_time", "rows": 4, "versions": 2}
    assert s["长沙市"]["summary"]["received_at"].startswith("2022-02-06T16:00")
    assert (s["株洲市"]["summary"]["state"], s["株洲市"]["summary"]["rows"]) == ("late", 2)
    assert (s["湘潭市"]["summary"]["state"], s["湘潭市"]["summary"]["rows"]) == ("on_time", 1)
    assert s["衡阳市"]["progress"]["state"] == "missing"
    assert s["邵阳市"]["summary"]["state"] == "on_time" and s["邵阳市"]["summary"]["rows"] == 0
    assert any("无法读取" in p for p in s["邵阳市"]["summary"]["problems"])
    assert s["岳阳市"]["progress"]["state"] == "on_time"
    assert any("未登记" in p for p in s["岳阳市"]["progress"]["problems"])
    assert s["常德市"]["progress"]["state"] == "on_time"
    assert s["长沙市"]["plan"]["state"] == "missing"


def test_status_at_an_earlier_moment_ignores_mail_received_after_it(env, capsys):
    run(capsys, "import", str(env / "mail"), "--now", "2022-02-10T12:00")
    s = status(capsys, "2022-01-05T12:00")
    assert s["长沙市"]["progress"]["state"] == "on_time"
    assert s["岳阳市"]["progress"]["state"] == "on_time"
    assert s["衡阳市"]["progress"]["state"] == "pending"
    assert s["长沙市"]["summary"]["state"] == "pending" and s["长沙市"]["summary"]["rows"] == 0


def test_messages_lists_unattributed_mail_duplicates_and_missing_attachments(env, capsys):
    run(capsys, "import", str(env / "mail"), "--now", "2022-02-10T12:00")
    docs = json.loads(run(capsys, "messages", "--json"))
    by_subject = {d["subject"]: d for d in docs}
    assert len(docs) == 11
    news = by_subject["Weekly newsletter"]
    assert news["city"] is None and not news["is_report"]
    assert [p["code"] for p in news["problems"]] == ["unattributed"]
    hengyang = by_subject["衡阳市网上年货节活动组织情况"]
    assert not hengyang["is_report"] and "no_attachment" in [p["code"] for p in hengyang["problems"]]
    duplicates = [d for d in docs if any(p["code"] == "duplicate" for p in d["problems"])]
    assert len(duplicates) == 1 and not duplicates[0]["is_report"]
    changde = by_subject["常德市网上年货节活动组织情况"]
    assert [a["filename"] for a in changde["attachments"]] == ["passwd.docx"]


def test_the_archive_holds_every_message_byte_for_byte_and_nothing_escapes_it(env, capsys):
    run(capsys, "import", str(env / "mail"), "--now", "2022-02-10T12:00")
    archive = env / "data" / "archive"
    for path in (env / "mail").iterdir():
        raw = path.read_bytes()
        digest = sha256_of(raw)
        assert (archive / digest[:2] / digest[2:4] / f"{digest}.eml").read_bytes() == raw
    assert not (env / "etc").exists() and not (env / "data" / "etc").exists()
    assert not [p for p in env.rglob("*passwd*")]


def test_import_sends_receipts_only_for_recent_reports_never_for_old_or_unattributed_mail(env, capsys):
    import email

    run(capsys, "import", str(env / "mail"), "--now", "2022-02-10T12:00")
    receipts = [email.message_from_bytes(p.read_bytes()) for p in (env / "data" / "outbox").glob("*.eml")]
    threads = sorted(m["In-Reply-To"] for m in receipts)
    # within 72 hours of --now: 长沙 v2 (02-08), 邵阳 (02-07 20:00), 株洲 (02-09); older mail gets none
    assert threads == ["<cs-summary-2@changsha.example.gov.cn>", "<sy-summary@shaoyang.example.gov.cn>",
                       "<zz-summary@zhuzhou.example.gov.cn>"]
    shaoyang = next(m for m in receipts if m["In-Reply-To"].startswith("<sy-"))
    text = next(p for p in shaoyang.walk() if p.get_content_type() == "text/plain")
    assert "无法读取" in text.get_payload(decode=True).decode(text.get_content_charset())
    again = run(capsys, "reprocess", "--now", "2022-02-10T12:00")
    assert len(list((env / "data" / "outbox").glob("*.eml"))) == 3, again

def test_importing_again_adds_nothing_and_reprocess_reproduces_the_same_status(env, capsys):
    run(capsys, "import", str(env / "mail"), "--now", "2022-02-10T12:00")
    before = status(capsys, "2022-02-10T12:00")
    again = run(capsys, "import", str(env / "mail"), "--now", "2022-02-11T12:00")
    assert "新邮件 0" in again and "已存在 11" in again
    run(capsys, "reprocess", "--now", "2022-02-11T12:00")
    assert status(capsys, "2022-02-10T12:00") == before


def test_compile_writes_one_row_per_activity_in_the_official_city_order(env, capsys):
    import openpyxl

    run(capsys, "import", str(env / "mail"), "--now", "2022-02-10T12:00")
    out = env / "汇总.xlsx"
    run(capsys, "compile", "--out", str(out), "--now", "2022-02-10T12:00")
    ws = openpyxl.load_workbook(out).worksheets[0]
    values = [[c.value for c in row] for row in ws.iter_rows()]
    header_at = next(i for i, r in enumerate(values) if "活动名称" in r)
    header = values[header_at]
    cities = [r[header.index("市州")] for r in values[header_at + 1:] if r[header.index("市州")]]
    assert cities == ["长沙市"] * 4 + ["株洲市"] * 2 + ["湘潭市"]
    assert all(c.data_type != "f" for row in ws.iter_rows() for c in row)


def test_a_bad_attachment_never_stops_the_rest_of_an_import(env, capsys):
    bomb = b"Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: application/zip\r\n" \
           b"Content-Disposition: attachment; filename=a.zip\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!!\r\n"
    (env / "mail" / "00_garbage.eml").write_bytes(bomb + b"\x00\xff" * 100)
    out = run(capsys, "import", str(env / "mail"), "--now", "2022-02-10T12:00")
    assert "新邮件 12" in out
    assert status(capsys, "2022-02-10T12:00")["株洲市"]["summary"]["rows"] == 2
