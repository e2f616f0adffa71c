"""Extract stage helper: the bounds a reader checks before it allocates.

The used range of each sheet or Word table (rows x columns from A1), the rows of one attachment
and of one message, and the inflated size of every part of an office zip. A cell at XFD1048576
costs a few bytes in the file and 512 GB in calamine, so each reader asks `admits` first and a
refused sheet becomes a Problem while the rest of the message is still read.
"""
from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass, field

from ..config import LimitsSection
from ..model import Problem
from ..parse.sniff import ZIP_ERRORS
from .grid import Merge, ReadProblem

MB = 1024 * 1024


@dataclass
class RowBudget:
    """Sheet rows all the attachments of one message may still read (mutable, shared)."""

    rows_left: int


@dataclass
class ReadBounds:
    """What the reader of one attachment may allocate; what it refuses is collected in `problems`."""

    filename: str
    limits: LimitsSection
    message: RowBudget
    rows_left: int  # rows all sheets of this attachment may still read
    problems: list[Problem] = field(default_factory=list)

    @classmethod
    def for_attachment(cls, filename: str, limits: LimitsSection, message: RowBudget | None = None) -> "ReadBounds":
        budget = message if message is not None else RowBudget(limits.max_rows_per_message)
        return cls(filename, limits, budget, limits.max_rows)

    def admits(self, sheet: str, rows: int, columns: int, extent: str) -> bool:
        """True (and the rows counted) when a sheet of rows x columns may be read, else a Problem.

        extent: how the range shows to staff, e.g. "XFD1048576" or "3 行 × 200000000 列".
        """
        limits = self.limits
        where = f"附件“{self.filename}”中的“{sheet}”"
        if rows > limits.max_rows or columns > limits.max_columns:
            self._refuse("sheet_too_large", f"{where}表格范围过大（{extent}），超出上限 {limits.max_rows} 行 × "
                         f"{limits.max_columns} 列，未读取，请检查后重新报送",
                         f"{sheet}: {rows} rows x {columns} columns > max_rows={limits.max_rows}, "
                         f"max_columns={limits.max_columns}")
            return False
        if rows > self.rows_left:
            self._refuse("too_many_rows", f"附件“{self.filename}”中各表格合计超过 {limits.max_rows} 行，"
                         f"“{sheet}”未读取，请检查后重新报送", f"{sheet}: {rows} rows, max_rows={limits.max_rows}")
            return False
        if rows > self.message.rows_left:
            self._refuse("too_many_rows", f"邮件中各附件的表格合计超过 {limits.max_rows_per_message} 行，{where}未读取，"
                         "请检查后重新报送", f"{sheet}: {rows} rows, max_rows_per_message={limits.max_rows_per_message}")
            return False
        self.rows_left -= rows
        self.message.rows_left -= rows
        return True

    def _refuse(self, code: str, message_zh: str, detail: str) -> None:
        self.problems.append(Problem(code, message_zh, detail=detail, file=self.filename))


def check_office_parts(content: bytes, filename: str, limits: LimitsSection) -> None:
    """Raise ReadProblem when any part of an xlsx/docx/ods (images too, not only XML) or their sum
    inflates past the limits, judged on the declared sizes before anything is inflated.

    The declared sizes bind: zipfile and calamine's zip reader stop a member at its declared size.
    """
    try:
        infos = zipfile.ZipFile(io.BytesIO(content)).infolist()
    except ZIP_ERRORS:
        return  # the reader names what is wrong with the file
    for info in infos:
        if info.file_size > limits.max_part_bytes:
            raise ReadProblem("part_too_large", f"附件“{filename}”中的“{info.filename[:100]}”解压后 {info.file_size / MB:.0f} MB，"
                              f"超出上限 {limits.max_part_bytes / MB:.0f} MB，未读取，请检查后重新报送",
                              detail=f"{info.filename[:200]}: declared {info.file_size} > max_part_bytes="
                                     f"{limits.max_part_bytes}")
    total = sum(info.file_size for info in infos)
    if total > limits.max_unpacked_bytes:
        raise ReadProblem("part_too_large", f"附件“{filename}”解压后合计 {total / MB:.0f} MB，超出上限 "
                          f"{limits.max_unpacked_bytes / MB:.0f} MB，未读取，请检查后重新报送",
                          detail=f"declared {total} in {len(infos)} parts > max_unpacked_bytes={limits.max_unpacked_bytes}")


def column_letters(index: int) -> str:
    """0 -> A, 16383 -> XFD (Excel's column names)."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def cell_name(rows: int, columns: int) -> str:
    """The bottom-right cell of a range of rows x columns from A1, e.g. XFD1048576."""
    return f"{column_letters(max(columns, 1) - 1)}{max(rows, 1)}"


def clipped_merges(merged: list[Merge], rows: int, columns: int) -> list[Merge]:
    """Merged ranges cut to the grid: a merge reaching row 1048576 would have the normaliser fill a
    million positions, and beyond the last cell there is nothing to fill."""
    return [(r0, c0, min(r1, rows - 1), min(c1, columns - 1)) for r0, c0, r1, c1 in merged
            if 0 <= r0 < rows and 0 <= c0 < columns]
