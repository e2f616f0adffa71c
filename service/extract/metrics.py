"""Extract stage, 活动成效 free text -> Metrics (参与主体数量, 商品数量, 销售额 in 万元): the face.

How a text is read: extract/effect_figures.py. Texts that differ only in their digits read alike, so
a template's reading is kept as a shape and later texts only fill in their digits: extract/effect_shapes.py.
"""
from __future__ import annotations

from functools import lru_cache

from ..model import Metrics
from .effect_figures import Vocabulary, read_in_full
from .effect_shapes import shaped_metrics
from .template import default_vocabulary


def parse_metrics(text: str, vocab: Vocabulary | None = None) -> Metrics:
    """Read participants, products and sales (万元) from one free-text cell, with the template's keywords
    (default: the shipped template's)."""
    if not text:
        return Metrics()
    return _parse_metrics(text, vocab or default_vocabulary())


@lru_cache(maxsize=4096)  # the same text recurs (copied rows, resends); Metrics and Problem are frozen
def _parse_metrics(text: str, vocab: Vocabulary) -> Metrics:
    found = shaped_metrics(text, vocab)
    return read_in_full(text, vocab) if found is None else found
