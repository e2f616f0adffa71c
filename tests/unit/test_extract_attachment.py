"""extract_attachment: dispatch on the sniffed kind; never raises, every failure is a Problem."""
from __future__ import annotations

from pathlib import Path

import pytest

from service.app import installed_converter
from service.extract import extract_attachment
from service.extract.convert import NoConverter
from service.model import Attachment
from tests.table_builders import HEADER, SAMPLE_ROWS, make_docx, make_xls, make_xlsx, template_rows

DATA = Path(__file__).resolve().parent.parent / "data"


def extract(content: bytes, name: str, kind: str, converter=None):
    """Read as derive does, with the converter the app would pick from PATH now (unless given)."""
    return extract_attachment(Attachment(filename=name, content=content, kind=kind),
                              converter=converter or installed_converter())


@pytest.mark.parametrize(("name", "kind", "message"), [
    ("统计表.jpg", "image", "附件“统计表.jpg”为图片，无法自动读取表格，请以 .xlsx 重新报送"),
    ("统计表.rtf", "rtf", "附件“统计表.rtf”为 .rtf 格式，无法自动读取表格，请以 .xlsx 重新报送"),
    ("统计表.htm", "html", "附件“统计表.htm”为网页（.html）格式，无法自动读取表格，请以 .xlsx 重新报送"),
    ("统计表.bin", "unknown", "附件“统计表.bin”为无法识别的格式，无法自动读取表格，请以 .xlsx 重新报送"),
])
def test_formats_without_a_table_reader_are_a_problem_naming_the_format(name, kind, message):
    found = extract(b"%PDF-1.4 whatever", name, kind)
    assert found.tables == ()
    assert [(p.code, p.message_zh, p.file) for p in found.problems] == [("unsupported_format", message, name)]


@pytest.mark.parametrize(("name", "kind", "fmt"), [("统计表.et", "et", " WPS .et"), ("总结.wps", "wps", " WPS .wps")])
def test_wps_files_without_libreoffice_are_a_problem_naming_wps(monkeypatch, tmp_path, name, kind, fmt):
    monkeypatch.setenv("PATH", str(tmp_path))
    found = extract(b"\xd0\xcf\x11\xe0", name, kind)
    assert [p.message_zh for p in found.problems] == [f"附件“{name}”为{fmt} 格式，无法自动读取表格，请以 .xlsx 重新报送"]


@pytest.mark.parametrize(("name", "kind", "fmt"), [("统计表.et", "et", " WPS .et"), ("总结.wps", "wps", " WPS .wps")])
def test_wps_files_with_no_converter_are_the_same_precise_problem(name, kind, fmt):
    found = extract(b"\xd0\xcf\x11\xe0", name, kind, converter=NoConverter())
    assert [(p.code, p.message_zh, p.detail) for p in found.problems] == [
        ("unsupported_format", f"附件“{name}”为{fmt} 格式，无法自动读取表格，请以 .xlsx 重新报送", "no LibreOffice")]


def test_a_wps_document_in_word_97_format_is_read_like_a_doc():
    found = extract((DATA / "statistics-2022.doc").read_bytes(), "总结.wps", "wps")
    assert [r.get("name") for r in found.tables[0].rows] == [r[3] for r in SAMPLE_ROWS]


def test_a_wps_et_workbook_in_biff8_format_is_read_like_an_xls():
    found = extract(make_xls(template_rows()), "统计表.et", "et")
    assert [r.get("name") for r in found.tables[0].rows] == [r[3] for r in SAMPLE_ROWS]


def test_a_password_protected_file_asks_for_the_password_to_be_removed():
    found = extract(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1EncryptedPackage", "附件1.xlsx", "encrypted")
    assert [(p.code, p.message_zh) for p in found.problems] == [
        ("encrypted_attachment", "附件“附件1.xlsx”设有密码保护，无法读取，请取消密码后重新报送")]


@pytest.mark.parametrize("kind", ["text", "eml", "zip"])
def test_text_mail_and_containers_yield_nothing_and_no_problem(kind):
    assert extract("请查收附件。".encode(), "正文.txt", kind) == extract(b"", "x", kind)
    assert extract(b"", "x", kind).problems == ()


@pytest.mark.parametrize(("content", "kind"), [
    (make_docx([HEADER, SAMPLE_ROWS[0]]), "xlsx"),  # a docx named .xlsx
    (b"PK\x03\x04" + b"\0" * 50, "docx"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 500, "xls"),
    (b"garbage", "ods"),
    (b"\xff\xfe\x00", "csv"),
])
def test_a_file_that_is_not_what_its_kind_says_is_an_unreadable_attachment_never_an_exception(content, kind):
    found = extract(content, "附件1", kind)
    assert found.tables == ()
    assert {p.code for p in found.problems} <= {"unreadable_attachment", "no_header"}
    assert found.problems


def test_every_row_gets_its_metrics_from_活动成效():
    found = extract(make_xlsx([HEADER, *SAMPLE_ROWS]), "附件1.xlsx", "xlsx")
    figures = [r.figures for r in found.tables[0].rows]
    assert [f["participants"] for f in figures] == [120, 85, 60, 45]
    assert [f["sales_wan"] for f in figures] == [12000, 4500, 3200, 1800]
