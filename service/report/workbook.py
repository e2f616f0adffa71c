"""Write a Summary as xlsx (汇总/概况/问题/per city), CSV or JSON: values only, deterministic, atomic.

The same data gives the same bytes (fixed document and zip timestamps), so a diff of two
compiled workbooks shows real changes only. Sheet content is in workbook_sheets.py.
"""
from __future__ import annotations

import csv
import io
import json
import os
import tempfile
import zipfile
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Iterable, Sequence

from .summary import Summary

# Text a spreadsheet program could take for a formula when it opens a CSV (formula injection).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def write_atomically(path: Path, data: bytes) -> None:
    """Temp file in the same folder, fsynced, then renamed: a reader never sees half a file, a crash
    never leaves an empty one under the real name, and a failed write (disk full) leaves no temp file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())  # the bytes reach the disk before the rename makes them the file
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _sync_folder(path.parent)


def _sync_folder(folder: Path) -> None:
    """Make a rename in folder durable (POSIX: fsync the directory)."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def csv_safe(value: object) -> object:
    """Prefix formula-looking text with ' so Excel shows it as text when opening the CSV."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return "" if value is None else value


def csv_bytes(header: Sequence[str], rows: Iterable[Sequence[object]]) -> bytes:
    """UTF-8 with BOM, so Excel opens Chinese text right."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([csv_safe(v) for v in row])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def json_bytes(summary: Summary) -> bytes:
    """The rows as JSON objects (English keys, Chinese column names alongside) and the totals."""
    document = {
        "campaign": summary.campaign, "unit": summary.unit,
        "deadline": {"id": summary.deadline.id, "title": summary.deadline.title,
                     "due": summary.deadline.due.isoformat()},
        "as_of": summary.as_of.isoformat(), "columns": dict(zip(summary.layout.keys, summary.layout.columns)),
        "rows": [dict(zip(summary.layout.keys, row)) for row in summary.rows], "totals": summary.totals(),
    }
    return (json.dumps(document, ensure_ascii=False, indent=2, default=json_number) + "\n").encode("utf-8")


def json_number(value: object) -> float:
    """A Decimal figure as a JSON number: up to 15 significant digits (every figure the parser
    produces below 10^9) float's shortest repr writes exactly the decimal's digits."""
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def summary_workbook_bytes(summary: Summary, per_city: bool = False) -> bytes:
    """汇总, 概况, 问题 (and one sheet per city with rows) as .xlsx bytes; same data -> same bytes."""
    from openpyxl import (
        Workbook,  # imported here: commands other than compile/demo never need it
    )
    from openpyxl.writer.excel import ExcelWriter

    from .sheets import (
        city_sheets,
        named_styles,
        overview_sheet,
        problems_sheet,
        summary_sheet,
    )

    wb = Workbook()
    wb.remove(wb.active)
    for style in named_styles():
        wb.add_named_style(style)
    arrays: dict = {}  # style name -> StyleArray, shared by the sheets
    widths = summary_sheet(wb, arrays, summary)
    overview_sheet(wb, arrays, summary)
    problems_sheet(wb, arrays, summary)
    if per_city:
        city_sheets(wb, arrays, summary, widths)
    wb.active = 0
    stamp = summary.as_of.astimezone(timezone.utc).replace(tzinfo=None, microsecond=0)
    wb.properties.created = wb.properties.modified = stamp  # openpyxl's defaults are "now"
    wb.properties.creator = wb.properties.lastModifiedBy = summary.unit
    wb.properties.title = summary.title
    buffer = io.BytesIO()
    # ExcelWriter rather than wb.save(), which would stamp "now" into docProps/core.xml.
    ExcelWriter(wb, FixedTimeZip(buffer, summary.as_of)).save()
    return buffer.getvalue()


class FixedTimeZip(zipfile.ZipFile):
    """A zip whose members all carry one date (zipfile stamps the current time or a file's mtime)."""

    def __init__(self, file: io.BytesIO, when: datetime) -> None:
        super().__init__(file, "w", zipfile.ZIP_DEFLATED, allowZip64=True)
        self.date_time = when.replace(tzinfo=None).timetuple()[:6]

    def writestr(self, name: str | zipfile.ZipInfo, data: bytes | str, *args: object, **kwargs: object) -> None:
        if not isinstance(name, zipfile.ZipInfo):
            name = zipfile.ZipInfo(name, date_time=self.date_time)
            name.compress_type = zipfile.ZIP_DEFLATED
        super().writestr(name, data, *args, **kwargs)

    def write(self, filename: str, arcname: str | None = None, *args: object, **kwargs: object) -> None:
        self.writestr(arcname or Path(filename).name, Path(filename).read_bytes())


def export_bytes(summary: Summary, suffix: str, per_city: bool = False) -> bytes:
    """The file for a path suffix: .csv (UTF-8 with BOM), .json, else .xlsx."""
    if suffix == ".csv":
        return csv_bytes(summary.layout.columns, summary.rows)
    if suffix == ".json":
        return json_bytes(summary)
    return summary_workbook_bytes(summary, per_city)
