"""Extract stage: Attachment (+ the document Converter app.py chose) -> Extraction(tables, problems).

Dispatches on the sniffed kind to one reader per format (xlsx, xls, docx, doc, csv, pdf), each bounded
(bounds) and returning Grids; normalise turns each Grid into a Table: header finds the header row,
rows turns the grid under it into Rows (each row's 活动成效 figures by metrics: effect_figures reads,
effect_shapes caches), meta_lines reads 填报单位/联系人. Never raises: a bad file is a Problem.
"""
from __future__ import annotations

import logging
import struct
from typing import Callable

import python_calamine
import xlrd

from ..config import LimitsSection, default_tables
from ..model import Attachment, Extraction, Problem, Table
from ..tables import TableTemplate
from .bounds import ReadBounds, RowBudget, check_office_parts
from .convert import CONVERSION_FAILURES, Converter, NoConversion, NoConverter
from .csv import read_csv
from .doc import read_doc
from .docx import read_docx
from .grid import Grid, ReadProblem
from .normalise import normalise_grid
from .xls import read_xls
from .xlsx import read_xlsx

log = logging.getLogger(__name__)

Reader = Callable[[bytes, ReadBounds], list[Grid]]
READERS: dict[str, Reader] = {
    "xlsx": read_xlsx, "xlsm": read_xlsx, "ods": read_xlsx, "xls": read_xls, "docx": read_docx,
}
CONVERTED_KINDS = {"doc"}  # read through the converter (service/extract/doc.py)
WORD_KINDS = {"docx", "doc", "wps", "pdf"}  # prose reports are legitimate: no table is no problem
# WPS formats: the kind whose reader tries the usual BIFF8/Word 97 content before a converter does
WPS_FORMATS: dict[str, str] = {"et": "xls", "wps": "doc"}
NATIVE_FAILURES = (ReadProblem, ValueError, TypeError, IndexError, KeyError, AssertionError, struct.error,
                   *CONVERSION_FAILURES, xlrd.XLRDError, xlrd.compdoc.CompDocError)
FORMAT_PHRASES = {"pdf": " .pdf 格式", "image": "图片", "rtf": " .rtf 格式", "html": "网页（.html）格式",
                  "et": " WPS .et 格式", "wps": " WPS .wps 格式", "unknown": "无法识别的格式"}
SILENT_KINDS = {"text", "eml", "zip", "7z", "rar", "tnef"}  # bodies and containers: unpacked in parse
OFFICE_ZIPS = {"xlsx", "xlsm", "ods", "docx"}


def extract_attachments(attachments: tuple[Attachment, ...], limits: LimitsSection, converter: Converter,
                        templates: tuple[TableTemplate, ...] | None = None) -> tuple[list[Table], list[Problem]]:
    """Tables and problems of all the attachments of one message, which share its row budget;
    legacy formats (.doc, WPS) go through `converter`; tables are found by the config's templates."""
    budget = RowBudget(limits.max_rows_per_message)
    tables: list[Table] = []
    problems: list[Problem] = []
    for attachment in attachments:
        found = extract_attachment(attachment, limits, budget, converter, templates)
        tables.extend(found.tables)
        problems.extend(found.problems)
    return tables, problems


def extract_attachment(att: Attachment, limits: LimitsSection | None = None,
                       budget: RowBudget | None = None, converter: Converter = NoConverter(),
                       templates: tuple[TableTemplate, ...] | None = None) -> Extraction:
    """Tables and problems of one attachment; any reader failure becomes a Problem.

    budget: the rows the message's other attachments left (default: a message of its own).
    converter: reads .doc and the WPS files not in Word 97/BIFF8 form (default: none installed).
    templates: the config's [[tables]] (default: the shipped 2022 template).
    """
    kind = "csv" if att.kind == "text" and att.filename.lower().endswith((".csv", ".tsv")) else att.kind
    if kind in SILENT_KINDS:
        return Extraction()
    if kind == "encrypted":
        return Extraction(problems=(_encrypted(att.filename),))
    bounds = ReadBounds.for_attachment(att.filename, limits or LimitsSection(), budget)
    try:
        grids = _read_grids(kind, att, bounds, converter)
    except ReadProblem as err:
        return Extraction(problems=(Problem(err.code, err.message_zh, err.detail, file=att.filename),))
    except python_calamine.PasswordError as err:
        return Extraction(problems=(_encrypted(att.filename, repr(err)),))
    except Exception as err:  # noqa: BLE001 - any library failure on a bad file is data, not a crash
        if isinstance(err, xlrd.XLRDError) and "encrypted" in str(err).lower():
            return Extraction(problems=(_encrypted(att.filename, repr(err)),))
        log.info("extract: %s (%s) unreadable: %r", att.filename, kind, err)
        return Extraction(problems=(Problem("unreadable_attachment",
                                            f"附件“{att.filename}”无法读取（文件损坏或格式不符）",
                                            detail=repr(err), file=att.filename),))
    # a sheet refused for its size is its own problem: no_header would only add noise
    found = tables_from_grids(grids, att.filename, spreadsheet=kind not in WORD_KINDS and not bounds.problems,
                              templates=templates or default_tables())
    return Extraction(found.tables, tuple(bounds.problems) + found.problems)


def _read_grids(kind: str, att: Attachment, bounds: ReadBounds, converter: Converter) -> list[Grid]:
    """Grids from the reader for kind; WPS files are tried as xls/doc, then converted."""
    if kind == "csv":
        return read_csv(att.content, name=att.filename, bounds=bounds)
    if kind == "pdf":
        from .pdf import read_pdf  # noqa: PLC0415 - pdfplumber costs ~100 ms of import per process: only for a PDF

        return read_pdf(att.content, bounds, name=att.filename)
    if kind in OFFICE_ZIPS:
        check_office_parts(att.content, att.filename, bounds.limits)
    if kind in READERS:
        return READERS[kind](att.content, bounds)
    if kind in CONVERTED_KINDS:
        return read_doc(att.content, bounds, converter)
    if kind in WPS_FORMATS:
        return _read_wps(kind, att, bounds, converter)
    raise ReadProblem("unsupported_format", _unsupported_message(att.filename, kind), detail=f"kind={kind}")


def _read_wps(kind: str, att: Attachment, bounds: ReadBounds, converter: Converter) -> list[Grid]:
    """WPS .et/.wps: most are BIFF8/Word 97 inside, else the converter (LibreOffice) may convert them."""
    native = WPS_FORMATS[kind]
    try:
        return _read_grids(native, att, bounds, converter)
    except NATIVE_FAILURES as err:
        log.info("extract: %s not readable as %s: %r", att.filename, f"read_{native}", err)
    try:
        converted = converter.convert(att.content, kind)
    except NoConversion as err:
        raise ReadProblem("unsupported_format", _unsupported_message(att.filename, kind),
                          detail="no LibreOffice") from err
    except CONVERSION_FAILURES as err:
        # e.g. LibreOffice installed without Calc: the city can still resend as .xlsx
        raise ReadProblem("unsupported_format", _unsupported_message(att.filename, kind), repr(err)) from err
    check_office_parts(converted.content, att.filename, bounds.limits)
    return READERS[converted.kind](converted.content, bounds)


def _unsupported_message(filename: str, kind: str) -> str:
    """Names the format, so the city knows what to send instead."""
    what = FORMAT_PHRASES.get(kind, f" .{kind} 格式")
    return f"附件“{filename}”为{what}，无法自动读取表格，请以 .xlsx 重新报送"


def _encrypted(filename: str, detail: str = "") -> Problem:
    return Problem("encrypted_attachment", f"附件“{filename}”设有密码保护，无法读取，请取消密码后重新报送",
                   detail=detail, file=filename)


def tables_from_grids(grids: list[Grid], filename: str, spreadsheet: bool,
                      templates: tuple[TableTemplate, ...] | None = None) -> Extraction:
    """Normalise every grid; a spreadsheet without any header is a no_header problem."""
    templates = templates or default_tables()
    tables: list[Table] = []
    problems: list[Problem] = []
    for grid in grids:
        table, found = normalise_grid(grid, filename, templates)
        problems.extend(found)
        if table is not None:
            tables.append(table)
    if not tables and spreadsheet:
        problems.append(Problem("no_header", f"附件“{filename}”中未找到{_headline(templates[0])}的表头（"
                                f"{_header_hint(templates[0])}……）", file=filename))
    return Extraction(tables=tuple(tables), problems=tuple(problems))


def _headline(template: TableTemplate) -> str:
    """"重点活动统计表" of "附件1 重点活动统计表": the table's own name, without its attachment number."""
    return template.title.split()[-1]


def _header_hint(template: TableTemplate) -> str:
    """The first headings a city would look for: 序号, the county and the required fields."""
    shown = [f.name_zh for f in template.fields if f.kind in ("seq", "county") or f.required]
    return "、".join(shown[:3])
