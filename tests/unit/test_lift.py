"""Big mail: base64 bodies set aside before the stdlib parses the rest; same Message, a fraction of the memory."""
import base64
import io
import random
import time
import tracemalloc
import zipfile

import pytest

from service.config import LimitsSection
from service.extract import extract_attachment
from service.parse import parse_message
from service.parse.lift import MIN_RUN_BYTES, lift
from tests.builders import SHANGHAI, make_email
from tests.table_builders import HEADER, make_docx, make_xlsx

ROWS = [HEADER, ["1", "芙蓉区", "芙蓉区商务局", "年货节", "直播带货", "销售额120万元", ""]]
NEVER = 1 << 62  # lift_above that turns lifting off


def _blob(size: int, seed: int = 1) -> bytes:
    return random.Random(seed).randbytes(size)


def _both(raw: bytes):
    """The message parsed whole and parsed with every long run lifted out."""
    return (parse_message(raw, LimitsSection(), SHANGHAI, lift_above=NEVER),
            parse_message(raw, LimitsSection(), SHANGHAI, lift_above=0))


def _with_big_file(name: str, size: int, table: bytes) -> bytes:
    """An Office file padded with an incompressible picture, as photos make real ones big."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(table)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            target.writestr(info, source.read(info))
        target.writestr(name, _blob(size), compress_type=zipfile.ZIP_STORED)
    return out.getvalue()


def _cut_inside_last_base64(raw: bytes, cut: int) -> bytes:
    end = raw.rindex(b"\r\n--")
    return raw[:end - cut] + raw[end:]


ATTACHMENT = _blob(300_000)
BIG = make_email(attachments=[("附件1.xlsx", ATTACHMENT), ("照片.jpg", _blob(200_000, 2))])


@pytest.mark.parametrize("raw", [
    BIG,
    BIG.replace(b"\r\n", b"\n"),  # LF-only mail
    _cut_inside_last_base64(BIG, 1),  # padding missing: decoded with a defect, like the stdlib
    _cut_inside_last_base64(BIG, 2),
    _cut_inside_last_base64(BIG, 3),  # one character too many: left to the stdlib
    BIG[:len(BIG) // 2],  # truncated mid-attachment, no closing boundary
    BIG.replace(b"\r\n", b"\r\n!!\r\n", 20000)[:len(BIG)],  # junk lines inside the base64
    make_email(body="正文" * 40_000, body_encoding="quoted-printable"),  # QP lines look like base64
    make_email(body="正文" * 40_000, body_encoding="base64"),
    make_email(attachments=[("转发.eml", BIG, "message/rfc822")]),  # a client base64-encoded the forward
    make_email(attachments=[("原始邮件.eml", BIG, "application/octet-stream")]),  # Foxmail's forward
    make_email(attachments=[("统计表.xlsx", ATTACHMENT)], forwarded=True),
    BIG.replace(b"Content-Transfer-Encoding: base64", b"Content-Transfer-Encoding: 7bit", 2),
    BIG + b"lifted-base64-0-0\r\n",  # a sender cannot forge a token
], ids=["plain", "lf-only", "cut-1", "cut-2", "cut-3", "truncated", "junk-lines", "qp-body", "base64-body",
        "encoded-forward", "eml-forward", "rfc822-forward", "7bit-labelled", "forged-token"])
def test_a_message_parsed_with_its_base64_lifted_out_is_the_message_parsed_whole(raw):
    whole, lifted = _both(raw)
    assert lifted == whole


def test_the_skeleton_of_a_big_message_is_small_and_the_runs_are_whole_lines():
    skeleton, lifted = lift(BIG, 0)
    assert len(skeleton) < 5000 and len(lifted.runs) == 2
    for run in lifted.runs.values():
        assert BIG[run.start - 1:run.start] == b"\n" and BIG[run.end:run.end + 2] == b"\r\n"
    assert lift(BIG.replace(b"lifted-base64-0-", b""), 0)[0] != lift(BIG + b"lifted-base64-0-", 0)[0]


def test_small_mail_and_runs_shorter_than_the_minimum_are_left_alone():
    small = make_email(attachments=[("附件1.xlsx", _blob(MIN_RUN_BYTES // 2))])
    assert lift(small)[0] is small and lift(small, 0)[0] is small


@pytest.mark.parametrize("raw", [b"A\n\n" * 3_000_000, b"A" * 9_000_000, (b"A" * 30_000 + b" ") * 300,
                                 b"\r" + b"QUJD\r" * 2_000_000],
                         ids=["empty-lines", "one-line", "short-stretches", "lone-cr"])
def test_lifting_stays_linear_on_pathological_input(raw):
    started = time.perf_counter()
    lift(raw, 0)
    assert time.perf_counter() - started < 2


def test_parsing_a_big_message_holds_about_its_decoded_attachment_not_nine_times_the_message():
    attachment = _blob(12 * 1024 * 1024)
    raw = make_email(attachments=[("照片.jpg", attachment)])
    tracemalloc.start()
    try:
        msg = parse_message(raw, LimitsSection(), SHANGHAI)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert msg.attachments[0].content == attachment
    assert peak < len(attachment) * 1.3  # the stdlib alone took about 7x len(raw)


@pytest.mark.parametrize("name, table, sheet", [
    ("附件1.xlsx", make_xlsx(ROWS), "xl/media/image1.png"),
    ("附件1.docx", make_docx(ROWS), "word/media/image1.png"),
], ids=["xlsx", "docx"])
def test_a_30_mb_office_attachment_is_parsed_and_its_table_extracted(name, table, sheet):
    started = time.perf_counter()
    content = _with_big_file(sheet, 30 * 1024 * 1024, table)
    msg = parse_message(make_email(attachments=[(name, content)]), LimitsSection(), SHANGHAI)
    [attachment] = msg.attachments
    assert attachment.content == content and msg.problems == ()
    extraction = extract_attachment(attachment)
    assert [row.get("county") for t in extraction.tables for row in t.rows] == ["芙蓉区"]
    assert time.perf_counter() - started < 5


def test_the_base64_of_a_big_attachment_is_decoded_like_the_stdlib_does():
    data = _blob(100_000)
    text = base64.b64encode(data)
    lines = b"\r\n".join(text[i:i + 76] for i in range(0, len(text), 76))
    raw = (b"Content-Type: application/octet-stream; name=a.bin\r\nContent-Transfer-Encoding: base64\r\n\r\n"
           + lines + b"\r\n")
    whole, lifted = _both(raw)
    assert lifted == whole and lifted.attachments[0].content == data


def test_an_attachment_over_the_size_limit_in_big_mail_is_refused_without_being_decoded():
    raw = make_email(attachments=[("照片.jpg", _blob(3 * 1024 * 1024)), ("附件1.xlsx", ATTACHMENT)])
    limits = LimitsSection(max_attachment_bytes=1024 * 1024)
    tracemalloc.start()
    try:
        lifted = parse_message(raw, limits, SHANGHAI)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert lifted == parse_message(raw, limits, SHANGHAI, lift_above=NEVER)
    [problem] = lifted.problems
    assert (problem.code, problem.detail) == ("attachment_too_large", "3145728 bytes")
    assert peak < 1024 * 1024
