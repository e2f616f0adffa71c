"""parse_message on hostile traits: whatever is repaired, cut or renamed is recorded as a Problem."""
import pytest

from service.config import LimitsSection
from service.parse import parse_message
from service.parse.headers import MAX_HEADER_BYTES, MAX_HEADERS
from tests.builders import SHANGHAI, make_email, make_xlsx, make_zip

XLSX = make_xlsx([["县（市、区）", "活动名称"], ["芙蓉区", "年货节"]])
SUBJECT = "长沙市“2022湖南网上年货节”活动全面总结"
BODY = "您好！附件是我市促消费活动进展情况，请查收。"


def _parse(raw: bytes, limits: LimitsSection = LimitsSection()):
    return parse_message(raw, limits, SHANGHAI)


def _codes(msg) -> list[str]:
    return [p.code for p in msg.problems]


@pytest.mark.parametrize("label", ["utf-8", "big5", "shift_jis", "iso-8859-1", "us-ascii"])
@pytest.mark.parametrize("style", ["b", "raw", "q-split"])
def test_gbk_mail_under_a_lying_label_reads_right_and_the_label_is_one_problem(label, style):
    msg = _parse(make_email(subject=SUBJECT, body=BODY, charset="gbk", charset_label=label, subject_style=style))
    assert (msg.subject, msg.text.strip()) == (SUBJECT, BODY)
    [problem] = msg.problems
    assert problem.code == "charset_mislabelled" and f"“{label}”" in problem.message_zh
    assert "邮件正文" in problem.message_zh and "GB18030" in problem.message_zh
    assert ("邮件标题" in problem.message_zh) == (style != "raw")  # raw 8-bit subjects carry no label


@pytest.mark.parametrize("label, shown", [("x-unknown", "“x-unknown”"), ("utf-99", "“utf-99”"),
                                          ("gbk\x00", "“gbk\\x00”"), ('"', "（空）")])
def test_an_unknown_or_broken_label_is_a_problem_naming_it_safely(label, shown):
    msg = _parse(make_email(subject=SUBJECT, body=BODY, charset="gbk", charset_label=label))
    assert (msg.subject, msg.text.strip()) == (SUBJECT, BODY)
    assert _codes(msg) == ["unknown_charset"] and shown in msg.problems[0].message_zh
    assert "\x00" not in msg.problems[0].message_zh + msg.problems[0].detail


@pytest.mark.parametrize("charset, subject, body", [
    ("big5", "長沙市“2022湖南網上年貨節”活動全面總結", "您好！附件是我市促消費活動進展情況，請查收。"),
    ("shift_jis", "東京都の報告書", "添付ファイルをご確認ください。"),
    ("iso-8859-1", "Rapport d'activité", "Ci-joint le résumé. Grüße"),
    ("gbk", SUBJECT, BODY), ("utf-8", SUBJECT, BODY),
])
def test_mail_really_in_its_labelled_charset_has_no_problem(charset, subject, body):
    msg = _parse(make_email(subject=subject, body=body, charset=charset, sender="x@example.gov.cn"))
    assert (msg.subject, msg.text.strip(), msg.problems) == (subject, body, ())


def test_a_huge_subject_is_cut_on_a_whole_word_with_a_problem():
    msg = _parse(make_email(subject="长沙市活动总结" * 5000))
    assert _codes(msg) == ["header_truncated"] and "Subject" in msg.problems[0].message_zh
    assert 1000 < len(msg.subject) < MAX_HEADER_BYTES and set(msg.subject) == set("长沙市活动总结")


def test_a_megabyte_header_line_is_a_problem_and_the_mail_is_read():
    raw = b"X-Long: " + b"a" * 1_000_000 + b"\r\n" + make_email(subject=SUBJECT, attachments=[("附件1.xlsx", XLSX)])
    msg = _parse(raw)
    assert _codes(msg) == ["header_truncated"] and "X-Long" in msg.problems[0].message_zh
    assert msg.subject == SUBJECT and [a.filename for a in msg.attachments] == ["附件1.xlsx"]


def test_thousands_of_headers_are_a_problem_and_the_mail_is_read():
    msg = _parse(make_email(subject=SUBJECT, headers={f"X-Junk-{n}": "x" * 50 for n in range(MAX_HEADERS + 1)},
                            attachments=[("附件1.xlsx", XLSX)]))
    assert _codes(msg) == ["too_many_headers"] and msg.subject == SUBJECT and len(msg.attachments) == 1


def test_an_ordinary_long_received_chain_is_not_too_many_headers():
    assert _parse(make_email(headers={f"X-Trace-{n}": "relay" for n in range(100)})).problems == ()


@pytest.mark.parametrize("name, shown", [
    ("../../../../tmp/x.xlsx", "x.xlsx"), ("/etc/x.xlsx", "x.xlsx"), ("..\\..\\x.xlsx", "x.xlsx"),
    ("a\x00b.xlsx", "ab.xlsx"), ("附件\r\nx.xlsx", "附件x.xlsx"), ("\u202ex.exe", "x.exe"),
    ("x\x07\x1b[31m.xlsx", "x[31m.xlsx"), ("." * 300, "attachment"), ("长" * 300 + ".xlsx", None),
])
def test_a_filename_changed_by_sanitising_is_a_problem_showing_the_original(name, shown):
    msg = _parse(make_email(attachments=[(name, XLSX)], charset="utf-8"))
    [attachment] = msg.attachments
    assert shown is None or attachment.filename == shown
    assert _codes(msg) == ["unsafe_filename"]
    problem = msg.problems[0]
    assert problem.file == attachment.filename and problem.detail.startswith(repr(name)[:50])
    assert len(problem.detail) <= 301 and "\x00" not in problem.detail and "\r" not in problem.detail


@pytest.mark.parametrize("name", ["统计表.xlsx", "2022年 附件1（长沙市）.xlsx", "report-v2.final.xlsx"])
def test_ordinary_filenames_are_no_problem(name):
    assert _parse(make_email(attachments=[(name, XLSX)])).problems == ()


def test_zip_members_climbing_out_of_the_archive_are_one_problem_per_zip():
    tables = [make_xlsx([["县（市、区）", "活动名称"], ["芙蓉区", f"年货节{n}"]]) for n in range(4)]  # distinct: copies are read once
    data = make_zip(dict(zip(["../../../tmp/x.xlsx", "/etc/y.xlsx", "a/../../z.xlsx", "ok/统计表.xlsx"], tables)))
    msg = _parse(make_email(attachments=[("材料.zip", data)]))
    assert [a.filename for a in msg.attachments] == ["x.xlsx", "y.xlsx", "z.xlsx", "统计表.xlsx"]
    [problem] = msg.problems
    assert (problem.code, problem.file) == ("unsafe_filename", "材料.zip") and "3 个文件" in problem.message_zh
    assert "'../../../tmp/x.xlsx'" in problem.detail


def test_zip_members_in_ordinary_folders_are_no_problem():
    data = make_zip({"长沙市/统计表.xlsx": XLSX, "长沙市\\说明.txt": b"hi"})
    assert _parse(make_email(attachments=[("材料.zip", data)])).problems == ()


def test_lf_only_mail_is_ordinary_unix_mail_and_no_problem():
    raw = make_email(subject=SUBJECT, body=BODY, attachments=[("附件1.xlsx", XLSX)]).replace(b"\r\n", b"\n")
    msg = _parse(raw)
    assert (msg.subject, msg.problems, [a.kind for a in msg.attachments]) == (SUBJECT, (), ["xlsx"])


def test_mail_over_max_message_bytes_keeps_its_headers_and_asks_staff_to_open_it():
    raw = make_email(subject=SUBJECT, sender="长沙市商务局 <changsha@example.gov.cn>", attachments=[("附件1.xlsx", XLSX)])
    msg = _parse(raw, LimitsSection(max_message_bytes=len(raw) - 1))
    assert (msg.subject, msg.sender, msg.attachments) == (SUBJECT, "changsha@example.gov.cn", ())
    assert _codes(msg) == ["message_too_large"] and "已存档" in msg.problems[0].message_zh
    assert _parse(raw, LimitsSection(max_message_bytes=len(raw))).problems == ()


def test_mail_whose_unliftable_part_is_huge_keeps_its_headers_and_asks_staff_to_open_it():
    raw = make_email(subject=SUBJECT, body="正文" * 2_000_000, body_encoding="quoted-printable",
                     attachments=[("附件1.xlsx", XLSX)])
    msg = _parse(raw)
    assert (msg.subject, msg.attachments, _codes(msg)) == (SUBJECT, (), ["message_too_large"])
    assert "base64" in msg.problems[0].message_zh and "已存档" in msg.problems[0].message_zh
