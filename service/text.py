"""Chinese text normalising shared by attribution and extraction; text from mail made safe to show.

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


# What rewrites what a terminal, a letter or a header shows: C0/C1 controls (CR, LF, ESC, NUL), the line
# and paragraph separators, and the bidi controls (U+202E shows "gpj.exe" as "exe.jpg").
_HIDDEN = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_SHORT_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def escaped(text: str) -> str:
    """Text from mail on one honest line: control, line-breaking and bidi characters written as
    \\n, \\r, \\x1b, \\u202e (for `messages`, the digest, outgoing headers)."""
    return _HIDDEN.sub(_escape, text) if text else text


def _escape(match: re.Match) -> str:
    char = match.group()
    code = ord(char)
    return _SHORT_ESCAPES.get(char) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
