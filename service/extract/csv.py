"""Reader for .csv: bytes -> one grid (utf-8-sig, utf-8, then gb18030; , tab or ;)."""
from __future__ import annotations

import csv
import io

from ..config import LimitsSection
from ..text import clean_cell
from .bounds import ReadBounds
from .grid import Grid

DELIMITERS = ",\t;"


def decode_text(content: bytes) -> str:
    """Text in the first encoding that decodes cleanly (Excel in China saves GBK)."""
    for encoding in ("utf-8-sig", "utf-8"):
        try:
            return content.decode(encoding)
        except UnicodeDecodeError:
            continue
    return content.decode("gb18030", errors="replace")


def sniff_delimiter(text: str) -> str:
    """The delimiter among , tab ; that the first lines use most consistently."""
    sample = "\n".join(text.splitlines()[:30])
    try:
        return csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
    except csv.Error:
        counts = {d: sample.count(d) for d in DELIMITERS}
        return max(counts, key=counts.get)


def read_csv(content: bytes, name: str = "CSV", bounds: ReadBounds | None = None) -> list[Grid]:
    """One grid within the bounds; cells exactly as written, surrounding whitespace stripped."""
    bounds = bounds or ReadBounds.for_attachment(name, LimitsSection())
    limits = bounds.limits
    text = decode_text(content)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sniff_delimiter(text))
    cells: list[list[str]] = []
    for row in reader:  # stop at the first row past a bound: never hold more than the limits
        if len(cells) >= limits.max_rows or len(row) > limits.max_columns:
            rows, columns = len(cells) + 1, len(row)
            bounds.admits(name, rows, columns, f"第 {rows} 行，{columns} 列")
            return []
        cells.append([clean_cell(v) for v in row])
    columns = max(map(len, cells), default=0)
    return [Grid(sheet=name, cells=cells, merges_known=False)] if bounds.admits(
        name, len(cells), columns, f"{len(cells)} 行 × {columns} 列") else []
