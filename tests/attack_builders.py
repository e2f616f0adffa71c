"""Hostile office files and zips of issue 19 (bounds before allocation, nothing counted twice).

Each is a few KB built from real openpyxl/xlwt/python-docx/zipfile output, then edited where the
attack lives: a cell at XFD1048576, a Word gridSpan of 200,000,000, a part inflating to 1 GB, a zip
whose central directory lists one member 100 times. Shared by the tests and bench/hostile_bounds.py.
"""
from __future__ import annotations

import io
import random
import re
import struct
import zipfile
from functools import lru_cache

import xlwt

from tests.table_builders import make_docx, make_xlsx

ZIP_DATE = (2022, 1, 3, 10, 0, 0)


def replace_part(package: bytes, name: str, edit) -> bytes:
    """The zip with one part's bytes passed through edit(bytes) -> bytes; the rest copied as is."""
    source = zipfile.ZipFile(io.BytesIO(package))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for info in source.infolist():
            data = source.read(info)
            archive.writestr(zipfile.ZipInfo(info.filename, date_time=ZIP_DATE),
                             edit(data) if info.filename == name else data, compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()


@lru_cache(maxsize=None)
def xlsx_with_cell_at(ref: str) -> bytes:
    """A one-sheet xlsx with a cell at A1 and one at ref (XFD1048576: 2.4 KB zipped, 512 GB in calamine)."""
    row = re.match(r"[A-Z]+(\d+)", ref).group(1)
    cell = f'<row r="{row}"><c r="{ref}"><v>1</v></c></row></sheetData>'.encode()
    return replace_part(make_xlsx([["县（市、区）"]]), "xl/worksheets/sheet1.xml",
                        lambda xml: xml.replace(b"</sheetData>", cell))


@lru_cache(maxsize=None)
def xls_with_cell_at(row: int, column: int) -> bytes:
    """A BIFF8 .xls with a cell at A1 and one at (row, column); (65535, 255) is IV65536."""
    book = xlwt.Workbook(encoding="utf-8")
    sheet = book.add_sheet("Sheet1")
    sheet.write(0, 0, "县（市、区）")
    sheet.write(row, column, 1)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _docx_document_edit(edit) -> bytes:
    return replace_part(make_docx([["序号", "县（市、区）"], [1, "芙蓉区"]]), "word/document.xml", edit)


@lru_cache(maxsize=None)
def docx_with_grid_span(span: int = 200_000_000) -> bytes:
    """A Word table whose first cell spans `span` grid columns."""
    return _docx_document_edit(lambda xml: xml.replace(
        b"<w:tcPr>", b'<w:tcPr><w:gridSpan w:val="%d"/>' % span, 1))


@lru_cache(maxsize=None)
def docx_with_grid_before(before: int = 200_000_000, tag: bytes = b"gridBefore") -> bytes:
    """A Word table whose first row starts `before` empty grid columns in (or ends them: gridAfter)."""
    return _docx_document_edit(lambda xml: re.sub(
        rb"<w:tr( [^>]*)?>", lambda m: m.group(0) + b'<w:trPr><w:%s w:val="%d"/></w:trPr>' % (tag, before), xml,
        count=1))


@lru_cache(maxsize=None)
def docx_with_huge_part(name: str = "word/document.xml", size: int = 1 << 30, random_bytes: bool = False) -> bytes:
    """A docx whose part `name` inflates to `size` bytes of spaces (1 GB is ~1 MB zipped), streamed
    so the test never holds it; random_bytes: incompressible instead (a large part under any ratio)."""
    base = zipfile.ZipFile(io.BytesIO(make_docx([["序号", "县（市、区）"], [1, "芙蓉区"]])))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for info in base.infolist():
            if info.filename != name:
                archive.writestr(zipfile.ZipInfo(info.filename, date_time=ZIP_DATE), base.read(info),
                                 compress_type=zipfile.ZIP_DEFLATED)
        info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
        info.compress_type = zipfile.ZIP_DEFLATED
        with archive.open(info, "w", force_zip64=True) as member:
            # a random MiB repeated: deflate's 32 KB window never sees the repeat
            block = random.Random(0).randbytes(1 << 20) if random_bytes else b" " * (1 << 20)
            for _ in range(size // len(block)):
                member.write(block)
    return out.getvalue()


def zip_listing_one_member(name: str, data: bytes, entries: int = 100) -> bytes:
    """A zip holding `data` once whose central directory lists it `entries` times (all at one local header)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(zipfile.ZipInfo(name, date_time=ZIP_DATE), data, compress_type=zipfile.ZIP_DEFLATED)
    raw = buffer.getvalue()
    end = raw.rindex(b"PK\x05\x06")
    _disk, _cd_disk, _count_here, _count, cd_size, cd_offset = struct.unpack_from("<HHHHII", raw, end + 4)
    central = raw[cd_offset:cd_offset + cd_size]
    record = bytearray(raw[end:])
    struct.pack_into("<HHII", record, 8, entries, entries, cd_size * entries, cd_offset)
    return raw[:cd_offset] + central * entries + bytes(record)
