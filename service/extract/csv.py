"""Reader for .csv: bytes -> one grid (utf-8-sig, utf-8, then gb18030; , tab or ;)."""
from __future__ import annotations

import csv
import io

from ..text import clean_cell
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


def read_csv(content: bytes, name: str = "CSV") -> list[Grid]:
    """One grid; cells exactly as written, surrounding whitespace stripped."""
    text = decode_text(content)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sniff_delimiter(text))
    cells = [[clean_cell(v) for v in row] for row in reader]
    return [Grid(sheet=name, cells=cells, merges_known=False)]
