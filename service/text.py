"""Chinese text normalising shared by attribution and extraction.

Full-width forms, stray spaces and line breaks are folded so that
"县（市、区）", "县(市、区)" and "县 (市、区)" compare equal.
"""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_SPACE = re.compile(r"[\s\u3000\u00a0\u200b\ufeff]+")
_CACHED_LEN = 64  # short texts (headers, counties, units, 序号) repeat on every row and sheet: memoised


def fold(text: str) -> str:
    """NFKC (full-width -> half-width), no whitespace at all, lower-case Latin."""
    if not text:
        return ""
    if len(text) <= _CACHED_LEN:
        return _fold_short(text)
    return _fold(text)


def _fold(text: str) -> str:
    return _SPACE.sub("", unicodedata.normalize("NFKC", text)).lower()


# strings are immutable, so a folded value can be shared; bounded to keep a worker's memory flat
_fold_short = lru_cache(maxsize=16384)(_fold)


def clean_cell(value: object) -> str:
    """A cell value as text, surrounding whitespace stripped, inner text kept exactly."""
    if value is None:
        return ""
    return str(value).strip().strip("\u3000\ufeff").strip()
