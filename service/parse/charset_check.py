"""Charset layer, second opinion: 8-bit bytes a label's codec read "successfully" -> the truer reading.

GBK bytes labelled big5, shift_jis or latin-1 decode without error into garbage (長鈺, ｳ､ﾉｳ, ³¤É³).
The label is overruled only when its reading is implausible for its own script and GB18030 or
UTF-8 reads the same bytes as ordinary simplified Chinese; genuine Big5, Japanese and Latin-1
text stays as labelled (tests/unit/test_charset.py has both directions).
"""
from __future__ import annotations

import codecs
from functools import cache
from typing import Callable

ALTERNATIVES = ("utf-8", "gb18030")
SAMPLE_CHARS = 20_000  # enough to judge; bodies can be long
MIN_CHINESE = 2  # characters of evidence before a label is overruled
CHINESE_SHARE = 0.9  # ordinary simplified Chinese: GB2312 level 1 and punctuation, nearly always
PLAUSIBLE_SHARE = 0.9  # a label's own reading at least this plausible is kept
_BIG5 = frozenset({"big5", "big5hkscs", "cp950"})
_JAPANESE = frozenset({"shift_jis", "cp932", "euc_jp", "shift_jis_2004", "shift_jisx0213", "euc_jis_2004",
                       "euc_jisx0213", "iso2022_jp", "iso2022_jp_1", "iso2022_jp_2", "iso2022_jp_3",
                       "iso2022_jp_ext", "iso2022_jp_2004"})


def truer_reading(data: bytes, text: str, codec: str) -> tuple[str, str] | None:
    """(text, codec) of GB18030 or UTF-8 when `text` (data read by the label's codec) is garbage."""
    name = codecs.lookup(codec).name
    if name in ALTERNATIVES:
        return None
    plausibility = _plausibility_function(name)
    if plausibility is None or plausibility(text[:SAMPLE_CHARS]) >= PLAUSIBLE_SHARE:
        return None
    for alternative in ALTERNATIVES:
        try:
            candidate = data.decode(alternative)
        except UnicodeDecodeError:
            continue
        if is_ordinary_chinese(candidate[:SAMPLE_CHARS]):
            return candidate, alternative
    return None


def is_ordinary_chinese(text: str) -> bool:
    """Non-ASCII characters that are, nearly all, common simplified Chinese characters or punctuation."""
    wide = [ch for ch in text if ord(ch) > 0x7F]
    common = sum(ch in _common_chinese() for ch in wide)
    return common >= MIN_CHINESE and common >= CHINESE_SHARE * len(wide)


def _plausibility_function(name: str) -> Callable[[str], float] | None:
    """How a codec's reading is judged; None for codecs we never overrule (UTF-16, Korean, ...)."""
    if name in _BIG5:
        return lambda text: _share(text, _common_big5())
    if name in _JAPANESE:
        return lambda text: _share(text, _common_japanese())
    if _is_single_byte(name):
        return _isolated_share
    return None


def _share(text: str, common: frozenset[str]) -> float:
    wide = [ch for ch in text if ord(ch) > 0x7F]
    return sum(ch in common for ch in wide) / len(wide) if wide else 1.0


def _isolated_share(text: str) -> float:
    """Latin-1 text has accented letters between ASCII ones (café); GBK read as Latin-1 comes in pairs."""
    wide = [i for i, ch in enumerate(text) if ord(ch) > 0x7F]
    if not wide:
        return 1.0
    taken = set(wide)
    alone = sum(i - 1 not in taken and i + 1 not in taken for i in wide)
    return alone / len(wide)


@cache
def _is_single_byte(name: str) -> bool:
    """One character per byte, mostly defined (UTF-8 also gives 128 characters: all U+FFFD)."""
    text = bytes(range(0x80, 0x100)).decode(name, "replace")
    return len(text) == 0x80 and text.count("\ufffd") < 0x40


def _characters(codec: str, leads: range, trails: list[int]) -> frozenset[str]:
    found = set()
    for lead in leads:
        for trail in trails:
            try:
                found.add(bytes((lead, trail)).decode(codec))
            except UnicodeDecodeError:
                continue
    return frozenset(found)


@cache
def _common_chinese() -> frozenset[str]:
    """GB2312 punctuation and full-width forms (rows 1-3) and the 3,755 level-1 characters."""
    trails = list(range(0xA1, 0xFF))
    return _characters("gb2312", range(0xA1, 0xA4), trails) | _characters("gb2312", range(0xB0, 0xD8), trails)


@cache
def _common_big5() -> frozenset[str]:
    """Big5 symbols and the 5,401 frequent characters (常用字, A440-C67E)."""
    return _characters("big5", range(0xA1, 0xC7), [*range(0x40, 0x7F), *range(0xA1, 0xFF)])


@cache
def _common_japanese() -> frozenset[str]:
    """Shift_JIS symbols, full-width letters, kana and the JIS level-1 kanji (no half-width kana)."""
    trails = [*range(0x40, 0x7F), *range(0x80, 0xFD)]
    return _characters("shift_jis", range(0x81, 0x85), trails) | _characters("shift_jis", range(0x88, 0xA0), trails)
