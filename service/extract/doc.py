"""Reader for legacy Word .doc: bytes -> grids, via antiword (DocBook output).

Fallback when antiword is missing: LibreOffice headless converts to .docx.
The same conversion serves WPS .et/.wps when LibreOffice is installed.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path
from typing import Iterator
from xml.etree import ElementTree

from ..config import LimitsSection
from ..text import clean_cell
from .bounds import ReadBounds
from .docx import PREAMBLE_LINES, read_docx
from .grid import Grid, ReadProblem

ANTIWORD_TIMEOUT = 30  # seconds; antiword is fast, a hang means a hostile file
OFFICE_TIMEOUT = 120  # seconds; LibreOffice's first start builds its profile


def read_doc(content: bytes, bounds: ReadBounds | None = None) -> list[Grid]:
    """Tables of a Word 97-2003 document within the bounds, with the paragraphs before each."""
    bounds = bounds or ReadBounds.for_attachment("", LimitsSection())
    antiword = shutil.which("antiword")
    if antiword:
        # antiword's text is no larger than the document, so the tables are counted once read
        grids = grids_from_docbook(_run_antiword(antiword, content))
        return [grid for grid in grids if _admitted(grid, bounds)]
    if office_binary():
        return read_docx(convert_with_office(content, "doc", "docx"), bounds)
    raise ReadProblem("unreadable_attachment", "未安装 antiword，无法读取 .doc", "antiword not on PATH")


def _run_antiword(binary: str, content: bytes) -> str:
    """DocBook XML text of the document (UTF-8 whatever the locale)."""
    with tempfile.TemporaryDirectory(prefix="extract-doc-") as tmp:
        path = Path(tmp) / "input.doc"
        path.write_bytes(content)
        env = {"PATH": os.environ.get("PATH", ""), "HOME": tmp, "LANG": "C.UTF-8"}
        done = subprocess.run([binary, "-m", "UTF-8.txt", "-x", "db", str(path)], capture_output=True,
                              timeout=ANTIWORD_TIMEOUT, env=env, check=False)
    if done.returncode != 0 or not done.stdout.strip():
        raise ValueError(f"antiword exit {done.returncode}: {done.stderr.decode('utf-8', 'replace')[:300]}")
    return done.stdout.decode("utf-8", errors="replace")


def grids_from_docbook(xml_text: str) -> list[Grid]:
    """One grid per <informaltable>, preamble = text lines since the previous table."""
    # drop the DOCTYPE: it names an external DTD that must never be fetched
    body = xml_text[xml_text.find("<book"):] if "<book" in xml_text else xml_text
    root = ElementTree.fromstring(body)
    grids: list[Grid] = []
    pending: list[str] = []
    for kind, value in _blocks(root):
        if kind == "text":
            pending.append(value)
            continue
        lines = [clean_cell(line) for line in "".join(pending).splitlines()]
        preamble = tuple(line for line in lines if line)[-PREAMBLE_LINES:]
        grids.append(Grid(sheet=f"表格{len(grids) + 1}", cells=_table_cells(value),
                          preamble=preamble, merges_known=False))
        pending = []
    return grids


def _admitted(grid: Grid, bounds: ReadBounds) -> bool:
    rows, columns = len(grid.cells), max(map(len, grid.cells), default=0)
    return bounds.admits(grid.sheet, rows, columns, f"{rows} 行 × {columns} 列")


def _blocks(elem: ElementTree.Element) -> Iterator[tuple[str, object]]:
    """Text pieces and tables in document order (tables not descended into)."""
    if elem.tag in ("informaltable", "table"):
        yield "table", elem
        return
    if elem.tag in ("bookinfo", "title"):
        return
    if elem.text:
        yield "text", elem.text
    for child in elem:
        yield from _blocks(child)
        if child.tail:
            yield "text", child.tail


def _table_cells(table: ElementTree.Element) -> list[list[str]]:
    """Rows of entry texts; line breaks inside an entry are kept."""
    return [[clean_cell("".join(entry.itertext())) for entry in row.iter("entry")]
            for row in table.iter("row")]


def office_binary() -> str | None:
    """Path of LibreOffice's soffice/libreoffice, if installed."""
    return shutil.which("soffice") or shutil.which("libreoffice")


def convert_with_office(content: bytes, source_ext: str, target_ext: str) -> bytes:
    """Convert with LibreOffice headless in a private profile; raises on failure or timeout."""
    binary = office_binary()
    if not binary:
        raise FileNotFoundError("LibreOffice (soffice) not installed")
    with tempfile.TemporaryDirectory(prefix="extract-office-") as tmp:
        source = Path(tmp) / f"input.{source_ext}"
        source.write_bytes(content)
        profile = Path(tmp, "profile").as_uri()  # a private profile: parallel runs do not lock each other
        command = [binary, f"-env:UserInstallation={profile}", "--headless", "--norestore",
                   "--convert-to", target_ext, "--outdir", str(Path(tmp) / "out"), str(source)]
        _run_killing_group(command, OFFICE_TIMEOUT, {**os.environ, "HOME": tmp})
        target = Path(tmp) / "out" / f"input.{target_ext}"
        if not target.exists():
            raise ValueError(f"LibreOffice could not convert .{source_ext} to .{target_ext}")
        return target.read_bytes()


def _run_killing_group(command: list[str], timeout: float, env: dict[str, str]) -> None:
    """Run, and on timeout kill the whole process group (soffice forks soffice.bin)."""
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               env=env, start_new_session=True)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        raise
