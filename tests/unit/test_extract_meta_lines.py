"""Meta lines: 填报单位/联系人/职务/联系方式/邮箱 read from the lines above, before and under a table."""
from __future__ import annotations

import pytest

from service.extract.meta_lines import parse_meta
from tests.grid_samples import CONTACT, HEADER, ROW1, TITLE, UNIT, normalised


def test_the_contact_lines_above_the_header_fill_the_table_meta():
    found, _ = normalised([TITLE, UNIT, CONTACT, HEADER, ROW1])
    assert (found.unit, found.contact, found.contact_title, found.phone, found.email) == (
        "长沙市商务局", "王敏", "科长", "13812345678", "cssw@example.com")


@pytest.mark.parametrize(("lines", "expected"), [
    (["填报单位（盖章）：长沙市商务局"], {"unit": "长沙市商务局"}),
    (["填报单位(盖章): 株洲市商务局  填报日期：2022年2月7日"], {"unit": "株洲市商务局"}),
    (["填报单位（盖章）：", "联系人：_______________ 职务：_______________ 联系方式：_______________ 邮箱：___"], {}),
    (["联系人\u0001王敏\u0001职务\u0001科长\u0001联系方式\u0001 0731-88888888\u0001邮箱\u0001a@b.cn"],
     {"contact": "王敏", "contact_title": "科长", "phone": "0731-88888888", "email": "a@b.cn"}),
    (["填表人：李四 联系电话：13900001111 E-mail：li@x.cn"], {"contact": "李四", "phone": "13900001111", "email": "li@x.cn"}),
])
def test_contact_lines_are_read_whether_the_value_is_in_the_same_or_the_next_cell(lines, expected):
    blank = {"unit": "", "contact": "", "contact_title": "", "phone": "", "email": ""}
    assert parse_meta(lines) == {**blank, **expected}


def test_contact_lines_in_word_paragraphs_and_footers_are_read_too():
    found, _ = normalised([HEADER, ROW1, ["填表人：", "李四", "", "联系电话：", "13900001111", "", ""]],
                     preamble=["填报单位（盖章）：湘潭市商务局"])
    assert (found.unit, found.contact, found.phone, len(found.rows)) == ("湘潭市商务局", "李四", "13900001111", 1)
