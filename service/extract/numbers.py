"""Numbers as Chinese offices write them: "三千", "一万二", "1.5万", "３，５６０", "二〇二二".

Decimal, so that sums of 万元 figures stay exact.
"""
from __future__ import annotations

import re
import unicodedata
from decimal import Decimal

CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4,
             "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
CN_UNITS = {"十": 10, "百": 100, "千": 1000}
CN_BIG = {"万": 10**4, "亿": 10**8}
CN_CHARS = "".join(CN_DIGITS) + "".join(CN_UNITS) + "".join(CN_BIG)

# A comma between a digit and exactly three digits is a thousands separator ("3,560.5").
THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
_TOKEN = re.compile(rf"\d+(?:\.\d+)?|[{CN_CHARS}]")
_PLAIN_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_NUMBER_THEN_BIG = re.compile(r"(\d+(?:\.\d+)?)([万亿])")


def parse_chinese_number(text: str) -> float | None:
    """"三千" -> 3000.0, "1.5万" -> 15000.0, "３，５６０" -> 3560.0; None when not a number."""
    value = parse_decimal(THOUSANDS.sub("", unicodedata.normalize("NFKC", text or "").strip()))
    return None if value is None else float(value)


def parse_decimal(text: str) -> Decimal | None:
    """A number already NFKC-normalised, without thousands separators; None when not a number."""
    if _PLAIN_NUMBER.fullmatch(text):  # "120", "3560.5": the one-token case of the loop below
        return Decimal(text)
    big = _NUMBER_THEN_BIG.fullmatch(text)
    if big:  # "860万", "1.2亿": the two-token case
        return Decimal(big[1]) * CN_BIG[big[2]]
    tokens = _TOKEN.findall(text)
    if not text or "".join(tokens) != text:
        return None
    if len(tokens) > 1 and all(t in CN_DIGITS for t in tokens):  # "二〇二二", read digit by digit
        return Decimal("".join(str(CN_DIGITS[t]) for t in tokens))
    total = section = Decimal(0)
    number: Decimal | None = None
    last_unit = 1
    for token in tokens:
        if token in CN_UNITS or token in CN_BIG:
            if token in CN_UNITS:
                section += (Decimal(1) if number is None else number) * CN_UNITS[token]
            else:
                alone = 0 if (total or section or number is not None) else 1  # "万" alone ("0万" is 0)
                total = (total + section + (alone if number is None else number)) * CN_BIG[token]
                section = Decimal(0)
            number, last_unit = None, CN_UNITS.get(token, CN_BIG.get(token))
        elif token == "零" and len(tokens) > 1:
            continue  # "一百零五": 零 only holds a place
        elif number is not None:
            return None  # two numbers in a row: "3一"
        else:
            number = Decimal(CN_DIGITS[token]) if token in CN_DIGITS else Decimal(token)
    if number is not None and last_unit >= 100 and tokens[-1] in CN_DIGITS and tokens[-2] != "零":
        number *= last_unit // 10  # "一万二" is 12000, "三千五" is 3500
    return total + section + (number or 0)
