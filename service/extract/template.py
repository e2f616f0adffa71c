"""Extract stage: a TableTemplate (config) compiled once per process into what the readers test per cell.

Aliases are folded and listed once, the total/example words and their first characters made into
one search, the required fields' alias endings into a pre-check: the same fast paths the 2022 table
had as module constants, built from the config instead (lru_cache: one compile per template per worker).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from ..tables import TableField, TableTemplate
from ..text import fold
from .effect_figures import Vocabulary

# Code points NFKC may fold into a CJK character or ASCII: Kangxi and CJK radicals, enclosed and
# compatibility ideographs, full-width forms. Scanned once per template for the characters it needs.
_COMPAT_RANGES = ((0x2E80, 0x2FDF), (0x3200, 0x33FF), (0xF900, 0xFAFF), (0xFE30, 0xFE4F), (0xFF00, 0xFFEF),
                  (0x1F100, 0x1F2FF), (0x2F800, 0x2FA1F))


def folding_into(chars: str) -> str:
    """chars and every character whose fold() holds one of them (tests/unit/test_extract_rows.py checks
    the ranges against a scan of all of Unicode for the shipped template)."""
    wanted = set(chars)
    extra = [chr(cp) for lo, hi in _COMPAT_RANGES for cp in range(lo, hi + 1)
             if chr(cp) not in wanted and any(w in fold(chr(cp)) for w in wanted)]
    return "".join(sorted(wanted)) + "".join(extra)


@dataclass(frozen=True, eq=False)
class Compiled:
    """One template, ready for header matching and row reading."""

    template: TableTemplate
    folded_aliases: tuple[tuple[str, str], ...]  # (field key, folded alias), in field order
    exact_only: frozenset[str]  # folded aliases that match only a whole cell
    required: tuple[str, ...]
    required_alias_re: re.Pattern  # any folded alias of a required field
    required_alias_ends: str  # the last characters of those aliases (and what NFKC folds into them)
    seq: str | None  # the key of the 序号 field
    county: str | None  # the key of the county field
    markers: tuple[str, ...]  # fields where a total/example word marks the row
    skip_words: tuple[str, ...]  # folded total and example words
    example_words: frozenset[str]
    skip_starts: str  # the first characters of skip_words and 例, and what folds into them
    skip_start_re: re.Pattern  # any of skip_starts
    other_texts: tuple[str, ...]  # text fields that mark an example only when they hold just the word
    max_example: int
    content_keys: tuple[str, ...]  # fields that make a row more than a 序号 or a county
    figures: tuple[TableField, ...]
    # (text field, figures read from it, the free-text reader's keywords for them)
    text_figures: tuple[tuple[str, tuple[TableField, ...], Vocabulary], ...]

    @property
    def id(self) -> str:
        return self.template.id


def default_compiled() -> Compiled:
    """The shipped template, compiled (what the readers use when given none: tests and tools)."""
    from ..config import default_tables
    return compile_template(default_tables()[0])


def default_vocabulary() -> Vocabulary:
    """The free-text reader's keywords of the shipped template."""
    return default_compiled().text_figures[0][2]


@lru_cache(maxsize=16)
def compile_template(template: TableTemplate) -> Compiled:
    fields = template.fields
    folded = tuple((f.key, fold(a)) for f in fields for a in (*f.aliases, *f.exact_aliases))
    exact = frozenset(fold(a) for f in fields for a in f.exact_aliases)
    required = tuple(f.key for f in fields if f.required)
    required_aliases = [a for k, a in folded if k in required]
    skip = tuple(fold(w) for w in (*template.total_words, *template.example_words))
    texts = tuple(f.key for f in fields if f.kind == "text" and f.key not in template.markers)
    text_figures = _text_figures(template)
    return Compiled(
        template=template, folded_aliases=folded, exact_only=exact, required=required,
        required_alias_re=re.compile("|".join(map(re.escape, sorted(required_aliases, key=len, reverse=True)))),
        required_alias_ends=folding_into("".join(a[-1] for a in required_aliases if a)),
        seq=template.key_of_kind("seq"), county=template.key_of_kind("county"), markers=template.markers,
        skip_words=skip, example_words=frozenset(fold(w) for w in template.example_words),
        skip_starts=(starts := folding_into("".join(w[0] for w in skip if w) + "例")),
        skip_start_re=re.compile(f"[{re.escape(starts)}]"),
        other_texts=texts, max_example=max((len(fold(w)) for w in template.example_words), default=0),
        content_keys=tuple(f.key for f in fields if f.kind not in ("seq", "county")),
        figures=template.figures, text_figures=text_figures,
    )


def _text_figures(template: TableTemplate) -> tuple[tuple[str, tuple[TableField, ...], Vocabulary], ...]:
    by_text: dict[str, list[TableField]] = {}
    for f in template.figures:
        if f.from_text:
            by_text.setdefault(f.from_text, []).append(f)
    return tuple((text, tuple(found), _vocabulary(template.field(text), found)) for text, found in by_text.items())


def _vocabulary(text: TableField, figures: list[TableField]) -> Vocabulary:
    """The reader's keywords per kind it looks for, and the names its problems use."""
    return Vocabulary({f.reads: f.keywords for f in figures}, {f.reads: f.name_zh for f in figures},
                            text.name_zh)
