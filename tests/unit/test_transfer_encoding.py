"""Attachments whose Content-Transfer-Encoding lies are still read by content (and the lie is a Problem)."""
import base64
import binascii
from datetime import datetime

import pytest

from service.config import LimitsSection
from service.extract.convert import NoConverter
from service.ingest.derive import Job, derive
from service.parse import parse_message
from tests.builders import SHANGHAI, make_email
from tests.conftest import make_config
from tests.table_builders import HEADER, SAMPLE_ROWS, make_xls, make_xlsx

XLSX = make_xlsx([HEADER, *SAMPLE_ROWS])
XLS = make_xls([HEADER, *SAMPLE_ROWS])
BASE64 = b"\r\n".join(base64.encodebytes(XLSX).splitlines()) + b"\r\n"


def lying(declared: str, body: bytes, content: bytes = XLSX) -> bytes:
    """A report whose 附件1.xlsx part declares `declared` but carries `body` (the builder writes base64)."""
    raw = make_email(subject="长沙市网上年货节活动总结", attachments=[("附件1.xlsx", content)])
    honest = b"\r\n".join(base64.encodebytes(content).splitlines()) + b"\r\n"
    start = raw.index(honest)
    head_at = raw.rindex(b"Content-Transfer-Encoding: base64", 0, start)
    head = raw[:head_at] + (b"Content-Transfer-Encoding: " + declared.encode() if declared else b"X-Note: none")
    return head + raw[head_at + len(b"Content-Transfer-Encoding: base64"):start] + body + raw[start + len(honest):]


CASES = {
    "base64 over raw xlsx bytes": ("base64", XLSX, XLSX),
    "base64 over raw xls bytes": ("base64", XLS, XLS),
    "quoted-printable over raw xlsx bytes": ("quoted-printable", XLSX, XLSX),
    "7bit over base64 text": ("7bit", BASE64, XLSX),
    "8bit over base64 text": ("8bit", BASE64, XLSX),
    "binary over base64 text": ("binary", BASE64, XLSX),
    "no encoding over base64 text": ("", BASE64, XLSX),
}


@pytest.mark.parametrize("declared, body, content", CASES.values(), ids=CASES.keys())
def test_a_part_whose_transfer_encoding_lies_is_read_by_content(declared, body, content):
    msg = parse_message(lying(declared, body, content), LimitsSection(), SHANGHAI)
    [attachment] = msg.attachments
    assert attachment.content == content and attachment.kind in ("xlsx", "xls")
    assert [p.code for p in msg.problems] == ["transfer_encoding_mislabelled"]
    assert "附件1.xlsx" in msg.problems[0].message_zh and "传输编码" in msg.problems[0].message_zh


def test_the_rows_of_a_report_with_a_lying_transfer_encoding_are_counted(tmp_path):
    derived = derive(Job(lying("base64", XLSX), None, datetime(2022, 1, 3, 12, tzinfo=SHANGHAI)), make_config(tmp_path),
                     NoConverter())
    assert len(derived.rows) == len(SAMPLE_ROWS) and derived.attribution.city == "长沙市"


@pytest.mark.parametrize("declared, body", [
    ("base64", b"\r\n".join(base64.encodebytes(b"plain,csv\r\n1,2\r\n").splitlines()) + b"\r\n"),
    ("7bit", b"plain text that is no file\r\n"),
    ("quoted-printable", binascii.b2a_qp("县,人数\n芙蓉区,12\n".encode("gbk")).replace(b"\n", b"\r\n")),
])
def test_honest_transfer_encodings_are_no_problem(declared, body):
    raw = lying(declared, body)
    assert [p.code for p in parse_message(raw, LimitsSection(), SHANGHAI).problems] == []
