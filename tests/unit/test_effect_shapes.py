"""Shapes (service.extract.effect_shapes): a template's cached reading gives what the full reading gives."""
from __future__ import annotations

import random

import pytest

from service.extract import metrics
from service.extract.effect_figures import read_in_full
from service.extract.template import default_vocabulary
from tests.unit.test_metrics import CASES


def _other_digits(text: str, rng: random.Random) -> str:
    """The same text with every digit replaced (ASCII by ASCII, full-width by full-width)."""
    return "".join(str(rng.randint(0, 9)) if "0" <= c <= "9" else chr(0xFF10 + rng.randint(0, 9)) if "０" <= c <= "９"
                   else c for c in text)


@pytest.mark.parametrize("text", [c.values[0] for c in CASES] + ["参与企业①２０家，销售额３,５６０万元", "同比增长35%，销售额达1200万元"])
def test_texts_differing_only_in_digits_read_as_the_full_reading_does(text):
    # the second and later texts of a template are read from its cached shape
    rng = random.Random(text)
    for variant in (text, _other_digits(text, rng), _other_digits(text, rng), _other_digits(text, rng)):
        full = read_in_full(variant)
        assert metrics._parse_metrics.__wrapped__(variant, default_vocabulary()) == full
