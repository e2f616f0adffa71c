"""Write xlsx/CSV files from summary rows: values only, never formulas, written atomically."""
from __future__ import annotations

import csv
import io
import os
import tempfile
from pathlib import Path
from typing import Iterable, Sequence

from openpyxl import Workbook
from openpyxl.cell.cell import Cell
from openpyxl.styles import Alignment, Font

# Text a spreadsheet program could take for a formula (CSV/formula injection).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def set_value(cell: Cell, value: object) -> None:
    """Write a value; any text is stored as text even when it looks like a formula."""
    cell.value = value
    if isinstance(value, str):
        cell.data_type = "s"  # openpyxl would otherwise store "=..." as a formula


def write_atomically(path: Path, data: bytes) -> None:
    """Temp file in the same folder + rename: a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def table_workbook_bytes(title: str, header: Sequence[str], rows: Iterable[Sequence[object]],
                         sheet: str = "汇总") -> bytes:
    """A one-sheet workbook: title row, header row, rows."""
    wb = Workbook()
    ws = wb.active
    ws.title = sheet
    set_value(ws.cell(row=1, column=1), title)
    ws.cell(row=1, column=1).font = Font(bold=True, size=14)
    for col, name in enumerate(header, start=1):
        set_value(ws.cell(row=2, column=col), name)
        ws.cell(row=2, column=col).font = Font(bold=True)
    for r, values in enumerate(rows, start=3):
        for col, value in enumerate(values, start=1):
            set_value(ws.cell(row=r, column=col), value)
            ws.cell(row=r, column=col).alignment = Alignment(wrap_text=True, vertical="top")
    ws.freeze_panes = "A3"
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


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
