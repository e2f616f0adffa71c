"""sniff_kind judges files by content, whatever their extension says."""
import io
import random
import struct
import zipfile

import pytest

from pathlib import Path

from service.parse.sniff import sniff_kind
from tests.attack_builders import xls_with_cell_at
from tests.builders import make_cfb, make_docx, make_xls, make_xlsx

XLSX = make_xlsx([["县（市、区）", "活动名称"], ["芙蓉区", "年货节"]])
DOCX = make_docx([["序号", "活动名称"], ["1", "年货节"]])
XLS = make_xls([["县（市、区）", "活动名称"], ["芙蓉区", "年货节"]])
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 32


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


ODS = _zip({"mimetype": b"application/vnd.oasis.opendocument.spreadsheet", "content.xml": b"<x/>"})
ODT = _zip({"mimetype": b"application/vnd.oasis.opendocument.text", "content.xml": b"<x/>"})
MACRO_TYPES = b'<Types><Override ContentType="application/vnd.ms-excel.sheet.macroEnabled.main+xml"/></Types>'
XLSM = _zip({"[Content_Types].xml": MACRO_TYPES, "xl/workbook.xml": b"<workbook/>", "xl/vbaProject.bin": b"\0"})
BIFF_BOF = struct.pack("<HH", 0x0809, 16) + b"\0" * 16
WORD_FIB = struct.pack("<HHHHHH", 0xA5EC, 0xC1, 0, 0, 0, 0x0000)
WORD_FIB_ENCRYPTED = struct.pack("<HHHHHH", 0xA5EC, 0xC1, 0, 0, 0, 0x0100)


@pytest.mark.parametrize("content, filename, kind", [
    (XLSX, "统计表.xlsx", "xlsx"),
    (XLSX, "统计表.xls", "xlsx"),
    (XLSX, "统计表", "xlsx"),
    (XLSX, "统计表.et", "xlsx"),  # a WPS name on real xlsx content is still xlsx
    (XLSX[:len(XLSX) // 2], "截断.xlsx", "xlsx"),  # truncated: member names still visible
    (XLSM, "宏.xlsx", "xlsm"),
    (DOCX, "总结.xlsx", "docx"),
    (ODS, "统计表.xls", "ods"),
    (ODT, "总结.odt", "unknown"),
    (_zip({"a.xlsx": XLSX}), "附件.xlsx", "zip"),
    (XLS, "统计表.xlsx", "xls"),
    (XLS, "统计表.et", "et"),
    (make_cfb({"Book": BIFF_BOF}), "old.xls", "xls"),
    (make_cfb({"WordDocument": WORD_FIB, "1Table": b"\0"}), "总结.docx", "doc"),
    (make_cfb({"WordDocument": WORD_FIB}), "总结.wps", "wps"),
    (make_cfb({"EncryptionInfo": b"\4\0\4\0", "EncryptedPackage": b"\0" * 5000}), "加密.xlsx", "encrypted"),
    (make_cfb({"Workbook": BIFF_BOF + struct.pack("<HH", 0x002F, 6) + b"\1\0" * 3}), "加密.xls", "encrypted"),
    (make_cfb({"WordDocument": WORD_FIB_ENCRYPTED}), "加密.doc", "encrypted"),
    (make_cfb({"PowerPoint Document": b"\0"}), "slides.ppt", "unknown"),
    (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "扫描件.xlsx", "pdf"),
    (b"\r\n%PDF-1.4\n", "scan.pdf", "pdf"),
    (PNG, "截图.xlsx", "image"),
    (b"\xff\xd8\xff\xe0\0\x10JFIF", "photo", "image"),
    (b"{\\rtf1\\ansi\\ansicpg936 x}", "总结.doc", "rtf"),
    ("<html><body><table><tr><td>长沙</td></tr></table></body></html>".encode("gbk"), "导出.xls", "html"),
    (b"\xef\xbb\xbf<!DOCTYPE html><html></html>", "page.htm", "html"),
    ("序号,县（市、区）,活动名称\n1,芙蓉区,年货节\n".encode("gbk"), "统计表.csv", "csv"),
    ("序号,县（市、区）\n1,芙蓉区\n".encode("utf-8"), "统计表.txt", "text"),
    ("序号\t县\n".encode("utf-16"), "统计表.csv", "csv"),  # Excel "Unicode text"
    ("请查收".encode("gbk"), "说明.txt", "text"),
    (b"Received: from x\r\nFrom: a@b.cn\r\nSubject: hi\r\n\r\nbody", "fwd.dat", "eml"),
    (b"Subject: hi\r\n\r\nbody", "原始邮件.eml", "eml"),
    (b"Rar!\x1a\x07\x00" + bytes(range(256)), "附件.xlsx", "rar"),
    (b"Rar!\x1a\x07\x01\x00" + bytes(range(256)), "附件", "rar"),
    (b"7z\xbc\xaf\x27\x1c\x00\x04" + bytes(32), "附件.zip", "7z"),
    (b"\x78\x9f\x3e\x22\x01\x00" + bytes(32), "winmail.dat", "tnef"),
    (b"", "empty.xlsx", "unknown"),
])
def test_kind_is_judged_from_content_not_the_name(content, filename, kind):
    assert sniff_kind(content, filename) == kind


def test_hostile_compound_files_yield_a_kind_without_raising():
    rng = random.Random(7)
    base = make_cfb({"Workbook": BIFF_BOF})
    for _ in range(300):
        data = bytearray(base)
        for _ in range(rng.randint(1, 40)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        assert sniff_kind(bytes(data[:rng.randrange(8, len(data) + 1)]), "x.xls") in {"xls", "encrypted", "unknown"}


DOC_2022 = (Path(__file__).parents[1] / "data" / "statistics-2022.doc").read_bytes()  # a real Word 97 file


# The kinds the hand-written compound-file reader gave before olefile replaced it, per extension.
@pytest.mark.parametrize("content, kinds", [
    (XLS, ("xls", "et", "xls")),
    (xls_with_cell_at(65535, 255), ("xls", "et", "xls")),
    (DOC_2022, ("doc", "doc", "wps")),
    (make_cfb({"Book": BIFF_BOF}), ("xls", "et", "xls")),
    (make_cfb({"WordDocument": WORD_FIB, "1Table": b"\0"}), ("doc", "doc", "wps")),
    (make_cfb({"EncryptionInfo": b"\4\0\4\0", "EncryptedPackage": b"\0" * 5000}), ("encrypted",) * 3),
    (make_cfb({"WordDocument": WORD_FIB_ENCRYPTED}), ("encrypted",) * 3),
    (make_cfb({"PowerPoint Document": b"\0"}), ("unknown",) * 3),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600, ("unknown",) * 3),  # too short for a header
])
def test_every_compound_file_sample_keeps_the_kind_it_had_before_olefile(content, kinds):
    assert tuple(sniff_kind(content, name) for name in ("a.xls", "a.et", "a.wps")) == kinds
