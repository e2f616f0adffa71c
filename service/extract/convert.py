"""Document conversion, the extract stage's one seam: legacy bytes (.doc, WPS .wps/.et) -> Converted.

A Converter turns a format our readers cannot open into one they can: antiword gives DocBook
text for a .doc, LibreOffice headless gives .docx/.xlsx. Which programs exist is decided once, in
`service/app.py`, and the choice crosses to the derive workers by pickling, so every
implementation is a small frozen value (a program's path) and the readers never look at PATH.
"""
from __future__ import annotations

import os
import signal
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Protocol

ANTIWORD_TIMEOUT = 30  # seconds; antiword is fast, a hang means a hostile file
OFFICE_TIMEOUT = 120  # seconds; LibreOffice's first start builds its profile
# what a converter that is present can still fail with on a hostile or odd file
CONVERSION_FAILURES = (OSError, ValueError, subprocess.TimeoutExpired)


@dataclass(frozen=True)
class Converted:
    """A converted document: `kind` names the reader it needs (docbook, docx, xlsx)."""

    kind: str
    content: bytes


class NoConversion(Exception):
    """No converter at hand handles this kind; the reader turns it into the problem the city sees."""

    def __init__(self, kind: str) -> None:
        super().__init__(f"no converter for .{kind}")
        self.kind = kind


class Converter(Protocol):
    """Converts one attachment's bytes of a legacy kind (doc, wps, et); picklable."""

    def handles(self, kind: str) -> bool: ...

    def convert(self, content: bytes, kind: str) -> Converted:
        """Raises NoConversion when not handled, CONVERSION_FAILURES when the program fails."""
        ...


@dataclass(frozen=True)
class NoConverter:
    """Neither antiword nor LibreOffice installed: every conversion is a NoConversion."""

    def handles(self, kind: str) -> bool:
        return False

    def convert(self, content: bytes, kind: str) -> Converted:
        raise NoConversion(kind)


@dataclass(frozen=True)
class Antiword:
    """antiword at `binary`: Word 97-2003 .doc -> DocBook XML (UTF-8 whatever the locale)."""

    binary: str

    def handles(self, kind: str) -> bool:
        return kind == "doc"

    def convert(self, content: bytes, kind: str) -> Converted:
        if not self.handles(kind):
            raise NoConversion(kind)
        with tempfile.TemporaryDirectory(prefix="extract-doc-") as tmp:
            path = Path(tmp) / "input.doc"
            path.write_bytes(content)
            env = {"PATH": os.environ.get("PATH", ""), "HOME": tmp, "LANG": "C.UTF-8"}
            done = subprocess.run([self.binary, "-m", "UTF-8.txt", "-x", "db", str(path)], capture_output=True,
                                  timeout=ANTIWORD_TIMEOUT, env=env, check=False)
        if done.returncode != 0 or not done.stdout.strip():
            raise ValueError(f"antiword exit {done.returncode}: {done.stderr.decode('utf-8', 'replace')[:300]}")
        return Converted("docbook", done.stdout)


@dataclass(frozen=True)
class LibreOffice:
    """LibreOffice headless at `binary`, in a private profile: .doc/.wps -> .docx, .et -> .xlsx."""

    binary: str
    TARGETS: ClassVar[dict[str, str]] = {"doc": "docx", "wps": "docx", "et": "xlsx"}

    def handles(self, kind: str) -> bool:
        return kind in self.TARGETS

    def convert(self, content: bytes, kind: str) -> Converted:
        if not self.handles(kind):
            raise NoConversion(kind)
        target_ext = self.TARGETS[kind]
        with tempfile.TemporaryDirectory(prefix="extract-office-") as tmp:
            source = Path(tmp) / f"input.{kind}"
            source.write_bytes(content)
            profile = Path(tmp, "profile").as_uri()  # a private profile: parallel runs do not lock each other
            command = [self.binary, f"-env:UserInstallation={profile}", "--headless", "--norestore",
                       "--convert-to", target_ext, "--outdir", str(Path(tmp) / "out"), str(source)]
            _run_killing_group(command, OFFICE_TIMEOUT, {**os.environ, "HOME": tmp})
            target = Path(tmp) / "out" / f"input.{target_ext}"
            if not target.exists():
                raise ValueError(f"LibreOffice could not convert .{kind} to .{target_ext}")
            return Converted(target_ext, target.read_bytes())


@dataclass(frozen=True)
class FirstHandling:
    """Several converters: a kind goes to the first that handles it, with no second try when it
    fails (antiword before LibreOffice for a .doc; a .doc antiword cannot read is unreadable)."""

    converters: tuple[Converter, ...]

    def handles(self, kind: str) -> bool:
        return any(c.handles(kind) for c in self.converters)

    def convert(self, content: bytes, kind: str) -> Converted:
        for converter in self.converters:
            if converter.handles(kind):
                return converter.convert(content, kind)
        raise NoConversion(kind)


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
