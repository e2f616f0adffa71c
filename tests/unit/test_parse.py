"""parse_message: raw bytes in, Message out, whatever the sender's client did."""
import random
from datetime import datetime, timezone

import pytest

from service.config import LimitsSection
from service.parse import parse_message, safe_filename
from tests.builders import DEFAULT_DATE, SHANGHAI, make_cfb, make_email, make_xlsx

XLSX = make_xlsx([["县（市、区）", "活动名称"], ["芙蓉区", "年货节"]])
LONG_NAME = "湖南省长沙市2022年“消费促进月”重点活动统计表（附件1）.xlsx"


def _parse(raw: bytes, limits: LimitsSection = LimitsSection()):
    return parse_message(raw, limits, SHANGHAI)


@pytest.mark.parametrize("style", ["b", "b-split", "q-split", "raw"])
@pytest.mark.parametrize("label", ["gbk", "gb2312", "GB18030"])
def test_subjects_decode_however_the_client_encoded_them(style, label):
    subject = "关于朱镕基纪念馆2022年促消费活动进展情况的报告"  # 镕 is outside GB2312
    msg = _parse(make_email(subject=subject, charset_label=label, subject_style=style))
    assert msg.subject == subject and msg.problems == ()


@pytest.mark.parametrize("encoding", ["base64", "quoted-printable", "8bit"])
def test_a_gb2312_labelled_body_with_gbk_only_characters_reads_whole(encoding):
    body = "朱镕基同志视察长沙。\n活动共吸引参与主体120家。"
    msg = _parse(make_email(body=body, charset_label="gb2312", body_encoding=encoding))
    assert msg.text.replace("\r\n", "\n") == body and msg.problems == ()


@pytest.mark.parametrize("style", ["rfc2231", "rfc2047", "raw"])
@pytest.mark.parametrize("name", ["统计表.xlsx", LONG_NAME, "朱镕基纪念馆活动.xlsx"])
def test_attachment_names_decode_in_every_style_clients_use(style, name):
    msg = _parse(make_email(attachments=[(name, XLSX)], filename_style=style, charset_label="gb2312"))
    assert [(a.filename, a.kind) for a in msg.attachments] == [(name, "xlsx")]
    assert msg.attachments[0].declared_type == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def test_sender_address_is_lower_cased_and_the_display_name_decoded():
    msg = _parse(make_email(sender="长沙市商务局 <ChangSha@Example.GOV.cn>"))
    assert (msg.sender, msg.sender_name) == ("changsha@example.gov.cn", "长沙市商务局")


def test_a_missing_from_falls_back_to_return_path():
    raw = make_email(sender="x@y.cn").replace(b"From: x@y.cn", b"Return-Path: <Bounce@Y.cn>")
    assert _parse(raw).sender == "bounce@y.cn"


def test_ids_keep_their_angle_brackets_and_lose_whitespace():
    raw = make_email(message_id="<abc@ex.cn>",
                     headers={"In-Reply-To": "<r1@ex.cn>", "References": "<r0@ex.cn>\r\n <r1@ex.cn>"})
    msg = _parse(raw)
    assert (msg.message_id, msg.in_reply_to, msg.references) == ("<abc@ex.cn>", "<r1@ex.cn>", "<r0@ex.cn> <r1@ex.cn>")
    assert _parse(make_email().replace(b"Message-ID:", b"X-Gone:")).message_id == ""


def test_received_time_comes_from_the_topmost_received_header_in_the_office_timezone():
    newest = datetime(2022, 1, 10, 2, 0, tzinfo=timezone.utc)
    older = datetime(2022, 1, 9, 23, 0, tzinfo=timezone.utc)
    msg = _parse(make_email(received=[newest, older], date="Sun, 09 Jan 2022 22:59:00 +0000"))
    assert msg.received == newest and msg.received.tzinfo == SHANGHAI and msg.received.hour == 10
    assert msg.date == datetime(2022, 1, 10, 6, 59, tzinfo=SHANGHAI)


@pytest.mark.parametrize("date, expected", [
    ("Mon, 3 Jan 2022 10:00:00 +0800 (CST)", DEFAULT_DATE),
    ("Mon, 3 Jan 2022 10:00:00", DEFAULT_DATE),  # no offset: the office's local time
    ("Mon, 3 Jan 2022 02:00:00 -0000", DEFAULT_DATE),  # RFC 5322: -0000 is UTC
    ("3 Jan 2022 02:00:00 GMT", DEFAULT_DATE),
    ("2022-01-03 10:00:00", DEFAULT_DATE),
    ("not a date", None),
    ("Mon, 31 Feb 2022 10:00:00 +0800", None),
])
def test_dates_are_aware_and_unreadable_dates_are_none(date, expected):
    assert _parse(make_email(date=date)).date == expected


def test_an_unreadable_date_is_a_problem():
    assert [p.code for p in _parse(make_email(date="yesterday")).problems] == ["bad_date"]


def test_no_received_header_means_no_received_time():
    assert _parse(make_email()).received is None


@pytest.mark.parametrize("forward_as", ["rfc822", "eml"])
def test_attachments_of_forwarded_mail_are_taken_with_the_forwarded_subject_as_origin(forward_as):
    msg = _parse(make_email(subject="长沙市活动进展", attachments=[("统计表.xlsx", XLSX)], forwarded=True,
                            forward_as=forward_as))
    assert msg.subject == "转发：长沙市活动进展"
    assert [(a.filename, a.kind, a.origin) for a in msg.attachments] == [("统计表.xlsx", "xlsx", "长沙市活动进展")]
    assert msg.text == "转发的邮件见附件。"


def test_a_forward_of_a_zip_has_both_containers_in_its_origin():
    msg = _parse(make_email(subject="株洲报送", attachments=[("统计表.xlsx", XLSX)], zipped=True, forwarded=True))
    assert [(a.filename, a.origin) for a in msg.attachments] == [("统计表.xlsx", "株洲报送/附件.zip")]


def test_a_forwarded_message_part_wrongly_base64_encoded_is_still_unpacked():
    inner = make_email(subject="衡阳报送", attachments=[("统计表.xlsx", XLSX)])
    msg = _parse(make_email(attachments=[("fwd.eml", inner, "message/rfc822")]))
    assert b"Content-Type: message/rfc822" in make_email(attachments=[("fwd.eml", inner, "message/rfc822")])
    assert [(a.filename, a.origin) for a in msg.attachments] == [("统计表.xlsx", "衡阳报送")]


def test_forwards_nested_deeper_than_max_depth_stop_with_a_problem():
    raw = make_email(attachments=[("统计表.xlsx", XLSX)])
    for _ in range(3):
        raw = make_email(attachments=[("转发.eml", raw, "message/rfc822")])
    msg = _parse(raw, LimitsSection(max_depth=2))
    assert [p.code for p in msg.problems] == ["too_deep"] and msg.attachments == ()


def test_text_parts_with_a_filename_and_inline_files_are_attachments():
    raw = make_email(attachments=[("说明.txt", "请查收".encode("gbk"), "text/plain"),
                                  ("统计表.xlsx", XLSX)])
    raw = raw.replace(b"Content-Disposition: attachment", b"Content-Disposition: inline")
    assert [(a.filename, a.kind) for a in _parse(raw).attachments] == [("说明.txt", "text"), ("统计表.xlsx", "xlsx")]


def test_an_html_only_message_gets_text_derived_from_the_html():
    raw = make_email(body="", html="<html><body><p>您好：</p><div>附件请查收&nbsp;谢谢</div></body></html>")
    raw = raw.replace(b"Content-Type: text/plain", b"Content-Type: text/x-ignored")
    msg = _parse(raw)
    assert msg.text == "您好：\n附件请查收 谢谢" and "<p>" in msg.html


def test_a_password_protected_xlsx_is_sniffed_as_encrypted():
    cfb = make_cfb({"EncryptionInfo": b"\4\0\4\0", "EncryptedPackage": b"\0" * 5000})
    assert [a.kind for a in _parse(make_email(attachments=[("统计表.xlsx", cfb)])).attachments] == ["encrypted"]


def test_an_attachment_over_the_size_limit_is_refused_with_a_problem():
    msg = _parse(make_email(attachments=[("统计表.xlsx", XLSX)]), LimitsSection(max_attachment_bytes=100))
    assert msg.attachments == () and [p.code for p in msg.problems] == ["attachment_too_large"]


def test_truncated_mime_still_yields_a_message_with_a_problem():
    raw = make_email(attachments=[("统计表.xlsx", XLSX)])
    msg = _parse(raw[:len(raw) - 600])
    assert msg.subject == "长沙市2022年促消费活动进展情况"
    assert {"malformed_mime", "broken_encoding"} & {p.code for p in msg.problems}


def test_broken_base64_is_decoded_as_far_as_it_goes_with_a_problem():
    raw = make_email(attachments=[("统计表.xlsx", XLSX)])
    start = raw.index(b"UEsDB")
    raw = raw[:start + 10] + b"!!*" + raw[start + 10:]
    msg = _parse(raw)
    assert [a.filename for a in msg.attachments] == ["统计表.xlsx"]
    assert [(p.code, p.file) for p in msg.problems] == [("broken_encoding", "统计表.xlsx")]


@pytest.mark.parametrize("raw", [
    b"", b"\x00\xff" * 1000, b"Subject: " + b"\xff" * 200_000 + b"\r\n\r\nbody",
    b"Content-Type: multipart/mixed\r\n\r\nno boundary", b"From: <<<@@@>>>\r\nDate: Mon, 99 Foo 99999 99:99\r\n",
    b"Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: message/rfc822\r\n\r\n",
    b"Subject: =?gbk?B?" + b"A" * 100_000 + b"?=\r\n\r\n",
])
def test_garbage_yields_a_message_and_never_raises(raw):
    assert _parse(raw).message_id == ""


def _nested_multiparts(levels: int) -> bytes:
    parts = b"".join(b"--b%d\r\nContent-Type: multipart/mixed; boundary=b%d\r\n\r\n" % (i, i + 1)
                     for i in range(levels))
    return b"Subject: x\r\nContent-Type: multipart/mixed; boundary=b0\r\n\r\n" + parts


@pytest.mark.parametrize("levels", [150, 3000])  # past our cap; past the stdlib parser's recursion limit
def test_absurdly_nested_multiparts_are_a_problem_not_a_crash(levels):
    assert "mime_too_deep" in [p.code for p in _parse(_nested_multiparts(levels)).problems]


def test_a_message_with_thousands_of_parts_is_read_up_to_a_cap():
    raw = b"Content-Type: multipart/mixed; boundary=x\r\n\r\n" + b"".join(
        b"--x\r\nContent-Type: application/octet-stream; name=a%d.bin\r\n\r\nabc%d\r\n" % (i, i) for i in range(3000))
    msg = _parse(raw + b"--x--\r\n")
    assert 0 < len(msg.attachments) < 3000 and [p.code for p in msg.problems] == ["too_many_parts"]


def test_random_damage_to_a_real_message_never_raises():
    rng = random.Random(2022)
    base = make_email(attachments=[("统计表.xlsx", XLSX)], zipped=True, forwarded=True, filename_style="raw")
    for _ in range(200):
        data = bytearray(base[:rng.randrange(len(base) + 1)])
        for _ in range(rng.randint(0, 20)):
            if data:
                data[rng.randrange(len(data))] = rng.randrange(256)
        _parse(bytes(data))


@pytest.mark.parametrize("headers, sender, subject, content_type", [
    ({"Auto-Submitted": "auto-replied"}, None, None, None),
    ({"X-Autoreply": "yes"}, None, None, None),
    ({"X-Autorespond": "Vacation"}, None, None, None),
    ({"Precedence": "bulk"}, None, None, None),
    ({"Precedence": "auto_reply"}, None, None, None),
    ({"X-Loop": "hndzsw@163.com"}, None, None, None),
    ({}, "MAILER-DAEMON@163.com", None, None),
    ({}, "Mail Delivery System <postmaster@example.gov.cn>", None, None),
    ({}, "noreply@example.gov.cn", None, None),
    ({}, "no-reply@example.gov.cn", None, None),
    ({}, None, "自动回复：长沙市活动进展", None),
    ({}, None, "Auto Reply: 您的来信已收到", None),
    ({}, None, "Undeliverable: 促消费活动", None),
    ({}, None, "Delivery Status Notification (Failure)", None),
    ({}, None, "系统退信", None),
    ({}, None, None, "multipart/report; report-type=delivery-status"),
])
def test_auto_replies_and_bounces_are_marked_auto_generated(headers, sender, subject, content_type):
    kwargs = {k: v for k, v in (("sender", sender), ("subject", subject)) if v}
    raw = make_email(headers=headers, content_type=content_type, **kwargs)
    assert _parse(raw).auto_generated


def test_an_ordinary_report_is_not_auto_generated():
    assert not _parse(make_email(headers={"Auto-Submitted": "no"}, attachments=[("a.xlsx", XLSX)])).auto_generated


@pytest.mark.parametrize("name, safe", [
    ("统计表.xlsx", "统计表.xlsx"),
    ("../../etc/passwd", "passwd"),
    ("C:\\Users\\张三\\桌面\\统计表.xlsx", "统计表.xlsx"),
    ("/abs/path/统计表.xls", "统计表.xls"),
    ("统计\x00表\x07.xlsx", "统计表.xlsx"),
    ("evil\u202egpj.exe", "evilgpj.exe"),  # right-to-left override spoofs the extension
    ('a<b>c:d"e|f?g*.xls', "a_b_c_d_e_f_g_.xls"),
    ("统计表.xlsx. . ", "统计表.xlsx"),
    (".", "attachment"), ("..", "attachment"), ("", "attachment"), ("dir/", "attachment"), ("  ", "attachment"),
])
def test_safe_filename_keeps_a_bare_chinese_name(name, safe):
    assert safe_filename(name) == safe


def test_safe_filename_caps_length_and_keeps_the_extension():
    name = safe_filename("长" * 300 + ".xlsx")
    assert name.endswith("长.xlsx") and len(name.encode("utf-8")) <= 200
