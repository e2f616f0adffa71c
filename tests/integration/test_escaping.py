"""CR, LF, ESC, NUL and bidi overrides from mail are escaped wherever the service shows or sends them:
`messages`, the text digest, receipts (subject and body) and the In-Reply-To/References headers."""
from __future__ import annotations

import email
from datetime import datetime, timedelta
from email import policy
from pathlib import Path

import pytest

from service.cli import main
from service.model import Outgoing, Problem
from service.outgoing.receipt import plan_receipt
from service.outgoing.transports import build_email
from service.text import escaped
from tests.builders import SHANGHAI, make_email
from tests.conftest import DEFAULT_TOML
from tests.table_builders import HEADER, SAMPLE_ROWS, make_xlsx

# what a hostile subject carries: a forged second line, a terminal escape, a right-to-left override
EVIL = "长沙市活动全面总结\r\n#99 2022-02-07 长沙市 summary 报送 boss@example.gov.cn 《伪造》\x1b[2J\u202egpj.exe\x00\u2066"
RAW = ("\r", "\n", "\x1b", "\u202e", "\x00", "\u2066")


def has_raw(text: str, allowed_newlines: bool = True) -> bool:
    return any(char in text for char in RAW if not (allowed_newlines and char == "\n"))


@pytest.mark.parametrize("text, shown", [
    ("a\r\nb", "a\\r\\nb"), ("\x1b[31m红", "\\x1b[31m红"), ("\u202egpj.exe", "\\u202egpj.exe"),
    ("x\x00y\x7f\x85", "x\\x00y\\x7f\\x85"), ("\u2066\u2067\u2068\u2069\u200e\u200f\u061c", "\\u2066\\u2067\\u2068"
                                                "\\u2069\\u200e\\u200f\\u061c"),
    ("\u2028\u2029", "\\u2028\\u2029"), ("长沙市（报表）：“年货节” 1,234.5", "长沙市（报表）：“年货节” 1,234.5"), ("", ""),
])
def test_escaped_writes_controls_and_bidi_characters_as_visible_escapes(text, shown):
    assert escaped(text) == shown


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("SERVICE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SERVICE_DATABASE_URL", f"sqlite:///{tmp_path / 'data' / 'service.db'}")
    monkeypatch.setenv("SERVICE_CONFIG", str(DEFAULT_TOML))
    mail = tmp_path / "evil.eml"
    mail.write_bytes(make_email(subject=EVIL, charset="utf-8", sender="长沙\u202e局\r\n <changsha@example.gov.cn>",
                                attachments=[("附件1\u202exslx.xlsx", make_xlsx([HEADER, *SAMPLE_ROWS]))],
                                date=datetime(2022, 2, 7, 10, tzinfo=SHANGHAI)))
    assert main(["import", str(mail), "--now", "2022-02-07T12:00"]) == 0
    return main


def test_messages_shows_a_hostile_subject_on_its_own_line_escaped(cli, capsys):
    capsys.readouterr()
    assert cli(["messages", "--now", "2022-02-07T12:00"]) == 0
    out = capsys.readouterr().out
    assert not has_raw(out)
    [line] = [line for line in out.splitlines() if line.startswith("#")]  # the forged "#99" stays inside it
    assert "\\r\\n#99" in line and "\\x1b[2J\\u202egpj.exe\\x00\\u2066" in line


def test_the_text_digest_escapes_subjects_and_names_from_mail(cli, capsys):
    capsys.readouterr()
    assert cli(["digest", "--dry-run", "--now", "2022-02-08T08:30"]) == 0
    out = capsys.readouterr().out
    assert "\\u202egpj.exe" in out and not has_raw(out)


def test_a_receipt_escapes_the_subject_it_quotes():
    import tempfile

    from tests.conftest import make_config

    config = make_config(Path(tempfile.mkdtemp()))
    now = datetime(2022, 2, 7, 17, tzinfo=SHANGHAI)
    out = plan_receipt(config, message_id="<a1@example.gov.cn>", sender="changsha@example.gov.cn", subject=EVIL,
                       received_at=now - timedelta(minutes=5), city="长沙市", deadline="summary", rows=1,
                       problems=[Problem("x", "附件“a\u202exslx.xlsx”无法读取", file="a\u202exslx.xlsx")],
                       auto_generated=False, now=now)
    assert not has_raw(out.subject, allowed_newlines=False) and not has_raw(out.text) and not has_raw(out.html)
    # letters drop what cannot be seen (service/outgoing/receipt.py's safe quoting) rather than show escapes
    assert out.subject.startswith("回复：长沙市活动全面总结 #99") and "“axslx.xlsx”" in out.text


@pytest.mark.parametrize("parent", ["<a1\x1b[2J\u202eb@example.gov.cn>", "<a1@x>\r\nBcc: everyone@example.com",
                                    "<a1\x00@x>"])
def test_in_reply_to_and_references_carry_no_control_or_bidi_characters(parent):
    out = Outgoing(key="receipt:x", kind="receipt", to=("changsha@example.gov.cn",), subject="回执", text="收到",
                   html="", city="长沙市", deadline="summary", in_reply_to=parent)
    raw = build_email(out, "hndzsw@163.com", "湖南省商务厅", datetime(2022, 2, 7, 17, tzinfo=SHANGHAI), "163.com")
    sent = email.message_from_bytes(raw, policy=policy.default)
    assert sent["Bcc"] is None and sent["In-Reply-To"] == sent["References"] == escaped(parent)
    assert not has_raw(raw.decode("utf-8").replace("\r\n", ""), allowed_newlines=False)
