"""Extract stage, 活动成效 text -> Metrics from a cache of shapes (readings of texts apart from their digits).

The full reading is extract/effect_figures.py; extract/metrics.py asks here first.
"""
from __future__ import annotations

import re
from decimal import Decimal

from ..model import Metrics
from .effect_figures import (
    ANY_NUMBER,
    GROWTH,
    GROWTH_WORD,
    M_MULT,
    M_NUM,
    M_NUM_AT,
    Figure,
    Vocabulary,
    ambiguous_problem,
    figure_slots,
    normalise_but_growth,
    settled,
)
from .numbers import CN_BIG
from .numbers import parse_decimal as _parse_decimal

# Rows of one table repeat their phrasing with other numbers ("参与企业120家，销售额860万元"). Every
# pattern here sees a digit only as "a digit", so texts that differ only in their digits (the
# template: each 0-9/０-９ made "0", positions kept) read the same: the same figures, kinds, parts and
# clauses. A shape keeps that reading, with each figure's number as the places its digits come from;
# later texts of the template only fill in their digits (9 us instead of 29). A template's first
# text is read in full and only its second builds the shape, so one-off phrasings cost little more
# than before (+2 us; bench/bench_metrics.py). tests/unit/test_metrics.py checks shapes against the full reading.
MAX_SHAPES = 4096
_DIGIT_CHAR = re.compile(r"[0-9０-９]")  # one at a time: the template keeps every position
_ASCII_DIGIT = re.compile(r"[0-9]")
_ASCII_DIGITS = {0xFF10 + d: 0x30 + d for d in range(10)}
_UNSHAPED = False  # a template whose digits cannot be followed (NFKC made digits of ① and the like)
Slot = tuple  # (kind, pieces: digit indexes and literal characters of the number, or None; mult, part, clause)
Shape = tuple[tuple[Slot, ...], bool]  # the slots, and whether no field has two


def shaped_metrics(text: str, vocab: Vocabulary | None = None) -> Metrics | None:
    """The metrics of text read from its template's shape; None: no shape (yet), read it in full.
    (The shapes are kept per vocabulary: vocab.shapes, vocab.seen_once; default: the shipped template's.)"""
    if vocab is None:
        from .template import default_vocabulary
        vocab = default_vocabulary()
    template = _DIGIT_CHAR.sub("0", text)
    shape = vocab.shapes.get(template)
    if shape is None:
        if template not in vocab.seen_once:  # a shape pays from a template's third text on: none for one-offs
            _bounded_add(vocab.seen_once, template, True)
            return None
        shape = _shape(text, template.count("0"), vocab)
        _bounded_add(vocab.shapes, template, shape)
    if shape is _UNSHAPED:
        return None
    slots, one_per_field = shape
    digits = "".join(_DIGIT_CHAR.findall(text)).translate(_ASCII_DIGITS)
    if one_per_field:
        return _one_per_field(text, slots, digits, vocab)
    return settled(text, [Figure(kind, _slot_value(pieces, mult, kind, digits) if pieces else None, part, clause)
                          for kind, pieces, mult, part, clause in slots], vocab)


def _one_per_field(text: str, slots: tuple[Slot, ...], digits: str, vocab: Vocabulary) -> Metrics:
    """settled for the usual shape, at most one figure per field: its value, or None with a problem."""
    if not slots:
        return Metrics()
    values: dict[str, Decimal | None] = {"participants": None, "products": None, "sales": None}
    unreadable = set()
    for kind, pieces, mult, _part, _clause in slots:
        value = _slot_value(pieces, mult, kind, digits) if pieces else None
        if value is None:
            unreadable.add(kind)
        else:
            values[kind] = value
    problems = tuple(ambiguous_problem(text, name_zh, vocab.text_zh) for kind, name_zh in vocab.names_zh.items()
                     if kind in unreadable)
    return Metrics(values["participants"], values["products"], values["sales"], problems)


def _bounded_add(cache: dict, key: str, value: object) -> None:
    """Keep a worker's memory flat: a full cache starts over."""
    if len(cache) >= MAX_SHAPES:
        cache.clear()
    cache[key] = value


def _shape(text: str, digit_count: int, vocab: Vocabulary) -> Shape | bool:
    """The slots of text's figures, or _UNSHAPED when its digits cannot be followed."""
    before_growth = normalise_but_growth(text)
    digit_places = [m.start() for m in _ASCII_DIGIT.finditer(before_growth)]
    if len(digit_places) != digit_count:
        return _UNSHAPED
    source = range(len(digit_places))  # norm's n-th digit is text's source[n]-th
    norm = before_growth
    if GROWTH_WORD.search(before_growth):
        spans = [m.span() for m in GROWTH.finditer(before_growth)]
        source = [k for k, i in enumerate(digit_places) if not any(a <= i < b for a, b in spans)]
        norm = GROWTH.sub("", before_growth)
    index = dict(zip((m.start() for m in _ASCII_DIGIT.finditer(norm)), source))
    if not norm or not ANY_NUMBER.search(norm):
        return (), True
    slots = []
    for kind, g, part, clause in figure_slots(norm, vocab):
        pieces = None
        if g is not None:
            at = g[M_NUM_AT]
            pieces = _compact(tuple(index.get(at + i, c) for i, c in enumerate(g[M_NUM])))
        slots.append((kind, pieces, g[M_MULT] if g else None, part, clause))
    return tuple(slots), len({slot[0] for slot in slots}) == len(slots)


def _compact(pieces: tuple) -> tuple:
    """(slice, suffix) for the usual number, a run of consecutive digits then characters ("860万")."""
    ints = [p for p in pieces if type(p) is int]
    n = len(ints)
    if n and pieces[:n] == tuple(range(ints[0], ints[0] + n)):
        return slice(ints[0], ints[0] + n), "".join(pieces[n:])
    return pieces


def _slot_value(pieces: tuple, mult: str | None, kind: str, digits: str) -> Decimal | None:
    first = pieces[0]
    number = _parse_decimal(digits[first] + pieces[1] if type(first) is slice
                            else "".join(digits[p] if type(p) is int else p for p in pieces))
    if number is None:
        return None
    if mult:
        number *= CN_BIG[mult]
    return number / 10**4 if kind == "sales" else number  # sales are kept in 万元
