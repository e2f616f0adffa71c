"""Ground: a campaign's statistics table as configuration ([[tables]] in the TOML), validated at start.

A template names the table's fields in order (the 汇总 sheet's columns): how each is recognised in a
header (aliases), what it holds (kind) and whether every header must have it. Numeric fields are the
figures a city's totals add up; one may also be read from a text field's free text (from_text, reads,
keywords) when the table has no column for it. The 2022 template is declared in the shipped
config/service.toml, and a config without [[tables]] gets that one (config.py).
"""
from __future__ import annotations

import re
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

KINDS = ("seq", "text", "county", "integer", "decimal", "money")
NUMERIC_KINDS = frozenset({"integer", "decimal", "money"})
READS = ("participants", "products", "sales")  # what the free-text reader can find (extract/effect_figures.py)
MONEY_UNITS = {"元": Decimal(1), "万元": Decimal(10_000), "亿元": Decimal(100_000_000)}
KEY = r"^[a-z][a-z0-9_]*$"
RESERVED_KEYS = ("city", "file", "received")  # the 汇总 sheet's 市州, 来源文件, 收到日期
DEFAULT_WIDTHS = {"seq": (6, 8), "county": (10, 16), "text": (12, 30), "integer": (10, 14), "decimal": (10, 14),
                  "money": (12, 16)}


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class TableField(_Frozen):
    """One column of the table: its key, heading, header aliases and kind."""

    key: str = Field(pattern=KEY)
    title: str = Field(min_length=1)  # the 汇总 sheet's column heading
    label: str = ""  # its short name in problems and letters (default: title)
    kind: str = "text"  # one of KINDS; checked below so the error lists them
    aliases: tuple[str, ...] = ()  # header texts: exact, prefix, or contained in a short heading
    exact_aliases: tuple[str, ...] = ()  # header texts that count only as the whole cell ("名称")
    required: bool = False  # every header has it; a row without it is a problem
    width: tuple[int, int] | None = None  # (min, max) column width in the workbook, Excel units (default by kind)
    unit: str = ""  # money: 元 | 万元 | 亿元, the unit figures are kept and shown in; counts: 家, 款 (shown)
    # A numeric field the table has no column for is read from this text field's free text:
    from_text: str = ""
    reads: Literal["", "participants", "products", "sales"] = ""
    keywords: tuple[str, ...] = ()  # nouns next to a number that make it this figure (regex allowed)
    # Plausibility: a figure over these is flagged and kept out of every total until staff confirm it.
    max_per_row: float | None = Field(default=None, gt=0)
    max_per_city: float | None = Field(default=None, gt=0)
    jump_floor: float = Field(default=0, ge=0)  # a previous city total below it is compared as it

    @model_validator(mode="after")
    def _kind_fits(self) -> "TableField":
        if self.kind not in KINDS:
            raise ValueError(f'kind: unknown kind "{self.kind}" ({", ".join(KINDS)})')
        if not self.aliases and not self.exact_aliases:
            raise ValueError("aliases: a field needs at least one header alias")
        if self.kind == "money" and self.unit not in MONEY_UNITS:
            raise ValueError(f'unit: a money field needs unit = "元", "万元" or "亿元" (got "{self.unit}")')
        if self.unit and self.kind not in NUMERIC_KINDS:
            raise ValueError("unit: only a numeric field (integer, decimal, money) has a unit")
        if (self.from_text or self.reads or self.keywords) and self.kind not in NUMERIC_KINDS:
            raise ValueError("from_text: only a numeric field (integer, decimal, money) can be read from text")
        if bool(self.from_text) != bool(self.reads) or (self.from_text and not self.keywords):
            raise ValueError("from_text: reading a figure from text needs from_text, reads and keywords together")
        if self.reads == "sales" and self.kind != "money":
            raise ValueError('reads: "sales" is an amount of money: the field\'s kind must be "money"')
        for word in self.keywords:
            try:
                re.compile(word)
            except re.error as err:
                raise ValueError(f'keywords: "{word}" is not a valid pattern ({err})') from err
        return self

    @property
    def widths(self) -> tuple[int, int]:
        return self.width or DEFAULT_WIDTHS[self.kind]

    @property
    def name_zh(self) -> str:
        return self.label or self.title

    @property
    def numeric(self) -> bool:
        return self.kind in NUMERIC_KINDS


class TableTemplate(_Frozen):
    """A statistics table: its fields in order, and the words that mark totals and examples."""

    id: str = Field(pattern=KEY)
    title: str = Field(min_length=1)  # e.g. "附件1 重点活动统计表"
    fields: tuple[TableField, ...]
    total_words: tuple[str, ...] = ()  # a row whose 序号, county, required or first text fields start so is a total
    example_words: tuple[str, ...] = ()  # ... or an example (also: a text field holding only such a word)
    marker_fields: tuple[str, ...] = ()  # where those words are looked for (default: seq, county, required)
    min_fields: int = Field(default=3, ge=1)  # a header names the required fields and this many in all
    # How the workbook counts rows: "合计（12 项活动）", "活动数", and the heading over the figures in 概况.
    row_name: str = "行"
    measure_word: str = ""
    overview_heading: str = ""  # default: the title without its 附件 number

    @model_validator(mode="after")
    def _consistent(self) -> "TableTemplate":
        keys = [f.key for f in self.fields]
        if reserved := next((f.key for f in self.fields if f.key in RESERVED_KEYS
                             or (f.key == "seq" and f.kind != "seq")), None):
            raise ValueError(f'fields: key "{reserved}" is reserved for the workbook\'s own columns '
                             f'(seq is the 序号 field\'s, of kind "seq")')
        if not keys:
            raise ValueError("fields: a table needs at least one field")
        if twice := next((k for i, k in enumerate(keys) if k in keys[:i]), None):
            raise ValueError(f'fields: key "{twice}" is used by more than one field')
        owner: dict[str, str] = {}
        for f in self.fields:
            for alias in (*f.aliases, *f.exact_aliases):
                if owner.get(alias, f.key) != f.key:
                    raise ValueError(f'fields: alias "{alias}" is used by both {owner[alias]} and {f.key}')
                owner[alias] = f.key
        by_key = {f.key: f for f in self.fields}
        for f in self.fields:
            if f.from_text and (f.from_text not in by_key or by_key[f.from_text].kind != "text"):
                raise ValueError(f'fields: {f.key}.from_text names "{f.from_text}", which is not a text field '
                                 f'of this table')
        read = [(f.from_text, f.reads) for f in self.fields if f.from_text]
        if len(set(read)) != len(read):
            raise ValueError("fields: two figures read the same thing from the same text field")
        for kind in ("seq", "county"):
            if sum(f.kind == kind for f in self.fields) > 1:
                raise ValueError(f'fields: at most one field of kind "{kind}"')
        if unknown := [k for k in self.marker_fields if k not in by_key]:
            raise ValueError(f'marker_fields: no field "{unknown[0]}" in this table')
        if not any(f.required for f in self.fields):
            raise ValueError("fields: at least one field must be required (how a header is recognised)")
        return self

    @property
    def headline(self) -> str:
        """"重点活动统计表" of "附件1 重点活动统计表": the table's own name."""
        return self.title.split()[-1]

    def field(self, key: str) -> TableField:
        for f in self.fields:
            if f.key == key:
                return f
        raise KeyError(key)

    @property
    def figures(self) -> tuple[TableField, ...]:
        """The numeric fields, in order: what a city's totals add up."""
        return tuple(f for f in self.fields if f.numeric)

    @property
    def texts(self) -> tuple[TableField, ...]:
        """The fields kept as text (seq, county and text kinds), in order."""
        return tuple(f for f in self.fields if not f.numeric)

    def key_of_kind(self, kind: str) -> str | None:
        """The key of the table's one seq (or county) field, if it has one."""
        return next((f.key for f in self.fields if f.kind == kind), None)

    @property
    def markers(self) -> tuple[str, ...]:
        """Fields where a total or example word marks the row."""
        if self.marker_fields:
            return self.marker_fields
        return tuple(f.key for f in self.fields if f.kind in ("seq", "county") or f.required)
