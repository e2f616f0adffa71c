"""Charset labels naming Python codecs that are no charsets (idna, punycode, escapes) or holding a NUL."""
from datetime import datetime

import pytest

from service.config import LimitsSection
from service.extract.convert import NoConverter
from service.ingest.derive import Job, derive
from service.parse import parse_message
from service.parse.charset import codec_for, decode_bytes
from tests.builders import SHANGHAI, make_email, make_xlsx
from tests.conftest import make_config
from tests.table_builders import HEADER, SAMPLE_ROWS

BODY = "您好！附件是我市促消费活动进展情况，请查收。"
XLSX = make_xlsx([HEADER, *SAMPLE_ROWS])
HOSTILE = ["idna", "punycode", "utf-8\x00", "gb\x00k", "unicode_escape", "raw-unicode-escape", "undefined"]


@pytest.mark.parametrize("label", HOSTILE)
def test_labels_naming_codecs_that_are_no_charsets_promise_no_codec(label):
    assert codec_for(label) is None


@pytest.mark.parametrize("label", HOSTILE)
def test_gbk_bytes_under_such_a_label_read_as_gbk_with_an_unknown_charset_issue(label):
    decoded = decode_bytes(BODY.encode("gbk"), label)
    assert decoded.text == BODY and [i.code for i in decoded.issues] == ["unknown_charset"]


@pytest.mark.parametrize("label", HOSTILE)
def test_an_8bit_body_under_such_a_label_is_a_charset_problem_and_the_table_is_still_read(tmp_path, label):
    raw = make_email(subject="长沙市网上年货节活动总结", body=BODY, charset="gbk", charset_label=label, body_encoding="8bit",
                     attachments=[("附件1.xlsx", XLSX)])
    derived = derive(Job(raw, None, datetime(2022, 1, 3, 12, tzinfo=SHANGHAI)), make_config(tmp_path),
                     NoConverter())
    codes = [p.code for p in derived.problems]
    assert "internal_error" not in codes and "unknown_charset" in codes, derived.error
    assert len(derived.rows) == len(SAMPLE_ROWS)
    assert derived.message.text.strip() == BODY


@pytest.mark.parametrize("label", HOSTILE)
def test_big_mail_with_lifted_base64_reads_the_same_under_such_a_label(label):
    photo = bytes(range(256)) * 400  # 100 KB: base64 runs long enough to be lifted
    raw = make_email(body=BODY, charset="gbk", charset_label=label, body_encoding="8bit",
                     attachments=[("附件1.xlsx", XLSX), ("photo.bin", photo, "application/octet-stream")])
    lifted = parse_message(raw, LimitsSection(), SHANGHAI, lift_above=1)
    assert lifted == parse_message(raw, LimitsSection(), SHANGHAI, lift_above=len(raw) + 1)
    assert [a.content for a in lifted.attachments] == [XLSX, photo] and lifted.text.strip() == BODY
