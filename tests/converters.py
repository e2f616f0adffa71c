"""A real document converter for tests: any .doc becomes the .docx it was made with.

Module-level and frozen, like the service's own converters, so a derive worker can unpickle it.
"""
from __future__ import annotations

from dataclasses import dataclass

from service.extract.convert import Converted, NoConversion


@dataclass(frozen=True)
class FixedDocx:
    """Converts every .doc to `docx` (bytes made by python-docx); handles nothing else."""

    docx: bytes

    def handles(self, kind: str) -> bool:
        return kind == "doc"

    def convert(self, content: bytes, kind: str) -> Converted:
        if kind != "doc":
            raise NoConversion(kind)
        return Converted("docx", self.docx)
