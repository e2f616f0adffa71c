"""County check: a row's 县（市、区） against the city's county-level divisions."""
from __future__ import annotations

import pytest

from service.config import City
from service.decide.validate import validate_rows
from service.model import Row

CHANGSHA = City(name="长沙市", aliases=("长沙",),
                counties=("芙蓉区", "天心区", "岳麓区", "开福区", "雨花区", "望城区", "长沙县", "浏阳市", "宁乡市"))
XIANGXI = City(name="湘西土家族苗族自治州", aliases=("湘西州", "湘西"),
               counties=("吉首市", "泸溪县", "凤凰县", "花垣县", "保靖县", "古丈县", "永顺县", "龙山县"))
SHAOYANG = City(name="邵阳市", aliases=("邵阳",), counties=("双清区", "城步苗族自治县", "邵东市"))


def row(county: str, n: int = 5) -> Row:
    return Row({"county": county, "name": "年货节"}, source_row=n)


def codes(city: City, county: str) -> list[str]:
    return [p.code for p in validate_rows([row(county)], city, "附件1.xlsx")]


@pytest.mark.parametrize("county", [
    "芙蓉区", "芙蓉", " 岳麓区 ", "长沙县", "长沙", "长沙市", "全市", "市本级", "市直", "长沙市本级",
    "长沙市芙蓉区", "望城县", "宁乡县", "浏阳", "芙蓉区、天心区", "芙蓉区（马王堆街道）", "",
])
def test_counties_of_the_city_and_city_level_entries_raise_no_problem(county):
    assert codes(CHANGSHA, county) == []


@pytest.mark.parametrize(("city", "county"), [
    (XIANGXI, "湘西州"), (XIANGXI, "吉首"), (XIANGXI, "凤凰县"),
    (SHAOYANG, "城步"), (SHAOYANG, "城步苗族自治县"), (SHAOYANG, "邵东县"),
])
def test_short_old_and_autonomous_names_are_accepted_in_any_city(city, county):
    assert codes(city, county) == []


@pytest.mark.parametrize("county", ["湘江新区", "长沙经开区", "长沙高新区", "浏阳经济技术开发区", "望城经济开发区"])
def test_development_zones_are_kept_with_an_informational_problem(county):
    problems = validate_rows([row(county, 7)], CHANGSHA, "附件1.xlsx")
    assert [p.code for p in problems] == ["development_zone"]
    assert problems[0].message_zh == f"第 7 行 县（市、区）'{county}' 为功能区，非县级行政区，已保留"


@pytest.mark.parametrize("county", ["株洲县", "醴陵市", "岳阳楼区", "芙蓉区、醴陵市", "不详"])
def test_counties_outside_the_city_are_unknown_county(county):
    problems = validate_rows([row(county, 9)], CHANGSHA, "附件1.xlsx")
    assert [(p.code, p.row, p.file) for p in problems] == [("unknown_county", 9, "附件1.xlsx")]
    assert problems[0].message_zh == f"第 9 行 县（市、区）'{county}' 不在长沙市辖区内"


def test_each_row_is_checked_on_its_own():
    rows = [row("芙蓉区", 5), row("醴陵市", 6), row("湘江新区", 7)]
    assert [(p.code, p.row) for p in validate_rows(rows, CHANGSHA, "a.xlsx")] == [
        ("unknown_county", 6), ("development_zone", 7)]
