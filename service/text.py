"""Chinese text normalising shared by attribution and extraction.

Full-width forms, stray spaces and line breaks are folded so that
"县（市、区）", "县(市、区)" and "县 (市、区)" compare equal.
"""
from __future__ import annotations

import re
import unicodedata

_SPACE = re.compile(r"[\s\u3000\u00a0\u200b\ufeff]+")


def fold(text: str) -> str:
    """NFKC (full-width -> half-width), no whitespace at all, lower-case Latin."""
    return _SPACE.sub("", unicodedata.normalize("NFKC", text or "")).lower()


def clean_cell(value: object) -> str:
    """A cell value as text, surrounding whitespace stripped, inner text kept exactly."""
    if value is None:
        return ""
    return str(value).strip().strip("\u3000\ufeff").strip()
