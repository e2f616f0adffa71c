"""Every shape of 附件1 a city sends, as real xlsx, xls, docx and csv files."""
from __future__ import annotations

import pytest

from service.extract import extract_attachment
from service.model import Attachment
from tests.grid_samples import CONTACT, HEADER, ROW1, ROW2, TITLE, UNIT
from tests.table_builders import make_csv, make_docx, make_xls, make_xlsx

FORMATS = {
    "xlsx": lambda cells, merged: (make_xlsx(cells, merges=merged), "xlsx"),
    "xls": lambda cells, merged: (make_xls(cells, merges=merged), "xls"),
    "docx": lambda cells, merged: (make_docx(cells, merges=merged), "docx"),
    "csv": lambda cells, merged: (make_csv(cells), "csv"),
}


@pytest.mark.parametrize(("shape", "cells", "merged"), [
    ("header on the first row", [HEADER, ROW1, ROW2], ()),
    ("title, 填报单位 and 联系人 lines above", [TITLE, UNIT, CONTACT, HEADER, ROW1, ROW2], [(0, 0, 0, 6)]),
    ("half-width parentheses and line breaks",
     [["序号", "县(市、区)", "举办\n单位", "活动\n名称", "活动形式及\n具体内容", "活动成效\n(含参与主体数量)", "备注"], ROW1, ROW2], ()),
    ("reordered columns",
     [[HEADER[i] for i in (3, 1, 0, 2, 5, 4, 6)], [ROW1[i] for i in (3, 1, 0, 2, 5, 4, 6)],
      [ROW2[i] for i in (3, 1, 0, 2, 5, 4, 6)]], ()),
    ("extra and empty columns",
     [["", "序号", "县（市、区）", "", "举办单位", "活动名称", "活动时间", "活动形式及具体内容", "活动成效", "备注"],
      ["", "1", "芙蓉区", "", "芙蓉区商务局", "年货节启动仪式", "1月10日", "直播带货", "参与企业120家", ""],
      ["", "2", "岳麓区", "", "岳麓区商务局", "岳麓山下年货云购", "1月12日", "直播专场", "参与商家85家", ""]], ()),
    ("only 活动名称 and two other fields", [["活动名称", "主办单位", "成效"], ["年货节启动仪式", "a", "b"],
                                      ["岳麓山下年货云购", "c", "d"]], ()),
    ("header split over two rows as 活动形式及 / 具体内容",
     [["序号", "县（市、区）", "举办单位", "活动名称", "活动形式及", "活动成效", "备注"],
      ["", "", "", "", "具体内容", "（含参与主体数量、商品数量、销售额等）", ""], ROW1, ROW2], ()),
    ("header split over two rows with 活动成效 merged over sub-columns",
     [["序号", "县（市、区）", "活动名称", "活动成效", "", "", "备注"],
      ["", "", "", "参与主体数量", "商品数量", "销售额", ""],
      ["1", "芙蓉区", "年货节启动仪式", "120家", "3000款", "1.2亿元", ""],
      ["2", "岳麓区", "岳麓山下年货云购", "85家", "", "4500万元", ""]],
     [(0, 3, 0, 5), (0, 0, 1, 0), (0, 1, 1, 1), (0, 2, 1, 2), (0, 6, 1, 6)]),
    ("header over a page break repeated", [HEADER, ROW1, HEADER, ROW2], ()),
    ("column numbers under the header", [HEADER, ["1", "2", "3", "4", "5", "6", "7"], ROW1, ROW2], ()),
    ("example row and 合计 row",
     [HEADER, ["示例", "XX区", "XX商务局", "XX年货节", "直播", "参与企业10家", ""], ROW1, ROW2,
      ["合计", "", "", "", "", "参与企业205家", ""]], ()),
    ("例： in the name and 总计 in the county",
     [HEADER, ["", "", "", "例：芙蓉区年货节", "", "", ""], ROW1, ROW2, ["", "总计", "", "", "", "", ""]], ()),
    ("template rows with only a 序号, blank rows and a footer",
     [HEADER, ROW1, ["", "", "", "", "", "", ""], ROW2, ["3", "", "", "", "", "", ""], ["4"],
      ["注：销售额单位为万元", "", "", "", "", "", ""]], ()),
])
@pytest.mark.parametrize("fmt", FORMATS)
def test_the_table_is_found_whatever_its_shape_in_every_format(fmt, shape, cells, merged):
    content, kind = FORMATS[fmt](cells, merged)
    found = extract_attachment(Attachment(filename=f"附件1.{kind}", content=content, kind=kind))
    assert [[r.get("name") for r in t.rows] for t in found.tables] == [["年货节启动仪式", "岳麓山下年货云购"]], shape
    assert [p.code for p in found.problems] == []


