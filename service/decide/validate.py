"""Validate stage, pure: a city's rows + its City config + the table template -> problems with the county
field's values (县（市、区）).

Accepts short forms (芙蓉 = 芙蓉区), old names (宁乡县 -> 宁乡市), city-level entries
(全市, 市本级) and development zones (kept, noted); anything else is unknown_county.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

from ..config import City, default_tables
from ..model import Problem, Row
from ..tables import TableTemplate
from ..text import fold

# Renamed since the offices last updated their templates (hunan-divisions.md)
OLD_NAMES = {"望城县": "望城区", "宁乡县": "宁乡市", "株洲县": "渌口区", "邵东县": "邵东市", "祁阳县": "祁阳市"}
CITY_LEVEL = ("全市", "全州", "市本级", "州本级", "本级", "市直", "州直", "市级", "州级", "市区", "城区", "中心城区",
              "全市各县市区", "各县市区", "全域")
ZONE_WORDS = ("经开区", "经济开发区", "经济技术开发区", "高新区", "高新技术产业开发区", "新区", "园区", "开发区",
              "示范区", "试验区", "保税区", "管理区", "度假区", "产业园", "工业园", "风景名胜区")
_SEPARATORS = re.compile(r"[、，,;；/／和及]+")
_PARENS = re.compile(r"\(.*?\)")
_ETHNIC = re.compile(r"(?:苗族|侗族|瑶族|土家族)+自治县$")


def validate_rows(rows: Iterable[Row], city: City, filename: str,
                  template: TableTemplate | None = None) -> list[Problem]:
    """One problem per row whose county (the template's county field; default template: the shipped one)
    is not in the city (or is a development zone)."""
    template = template or default_tables()[0]
    key = template.key_of_kind("county")
    if key is None:
        return []
    label = template.field(key).name_zh
    known = county_forms(city)
    problems = []
    verdicts: dict[str, str] = {}  # a sheet repeats its few counties on every row
    for row in rows:
        value = row.get(key).strip()
        if not value:
            continue
        verdict = verdicts.get(value)
        if verdict is None:
            verdict = verdicts[value] = county_verdict(value, city, known)
        if verdict == "zone":
            problems.append(Problem("development_zone",
                                    f"第 {row.source_row} 行 {label}'{value}' 为功能区，非县级行政区，已保留",
                                    detail=value, file=filename, row=row.source_row))
        elif verdict == "unknown":
            problems.append(Problem("unknown_county", f"第 {row.source_row} 行 {label}'{value}' 不在{city.name}辖区内",
                                    detail=value, file=filename, row=row.source_row))
    return problems


def county_forms(city: City) -> set[str]:
    """Folded full and short names of the city's counties (芙蓉区 -> 芙蓉, 城步苗族自治县 -> 城步)."""
    forms = set()
    for county in city.counties:
        full = fold(county)
        forms.update({full, short_form(full)})
    return {f for f in forms if f}


def short_form(name: str) -> str:
    """A county name without its 区/县/市 suffix (自治县 too); 津市市 -> 津市."""
    stripped = _ETHNIC.sub("", name)
    if stripped != name:
        return stripped
    return name[:-1] if len(name) >= 2 and name[-1] in "区县市" else name


def county_verdict(value: str, city: City, known: set[str]) -> str:
    """"ok", "zone" or "unknown" for one written county value (several may be listed)."""
    parts = [p for p in _SEPARATORS.split(fold(value)) if p]
    verdicts = [_part_verdict(p, city, known) for p in parts] or ["ok"]
    for worst in ("unknown", "zone"):
        if worst in verdicts:
            return worst
    return "ok"


def _part_verdict(part: str, city: City, known: set[str]) -> str:
    """Verdict for one county name, also after dropping the city's name written before it."""
    part = _PARENS.sub("", part)  # 芙蓉区（马王堆街道）
    city_names = _city_names(city.names, city.name)
    candidates = [part] + [part[len(n):] for n in city_names if part.startswith(n) and len(part) > len(n)]
    for candidate in candidates:
        if candidate in city_names or candidate in CITY_LEVEL or OLD_NAMES.get(candidate, candidate) in known:
            return "ok"
    if any(word in part for word in ZONE_WORDS):
        return "zone"
    return "unknown"


@lru_cache(maxsize=256)
def _city_names(names: tuple[str, ...], name: str) -> list[str]:
    """Folded names of a city (and its short form), longest first; callers only read the list."""
    return sorted({fold(n) for n in names} | {short_form(fold(name))}, key=len, reverse=True)
