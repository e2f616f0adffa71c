"""Cell values as people see them, shared by the spreadsheet readers."""
from __future__ import annotations

import datetime as dt

import pytest

from service.extract.grid import format_value


@pytest.mark.parametrize(("value", "text"), [
    (None, ""),
    (1.0, "1"),
    (13812345678.0, "13812345678"),
    (7312287166.0, "7312287166"),
    (1.5, "1.5"),
    (0.1 + 0.2, "0.3"),
    (-3.0, "-3"),
    (12000, "12000"),
    (True, "TRUE"),
    (dt.date(2022, 1, 10), "2022-01-10"),
    (dt.datetime(2022, 1, 10, 0, 0), "2022-01-10"),
    (dt.datetime(2022, 1, 10, 9, 30), "2022-01-10 09:30:00"),
    (dt.time(8, 30), "08:30:00"),
    ("  芙蓉区\u3000", "芙蓉区"),
    ("活动形式及\n具体内容", "活动形式及\n具体内容"),
])
def test_a_cell_value_reads_as_the_text_a_person_sees(value, text):
    assert format_value(value) == text
