"""Issue 15: the statistics table is configuration. No alias, title or keyword of the shipped 2022
template is written in service/ (its string constants, docstrings and comments aside), and template
errors are one clear line naming the key."""
from __future__ import annotations

import ast

import pytest

from service.config import default_tables
from service.errors import ConfigError
from tests.conftest import ROOT, config_data, make_config


def string_constants(path) -> list[str]:
    """The string literals of a module that are not docstrings."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                  and node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
    return [node.value for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings]


# Words of the template that are also something else in the code: the 附件1 layout's own 序号 column
# (the workbook renumbers it); county values (validate.py's 全市各县市区, 区县市); the units the free-text
# reader knows for a count of goods (款/SKU/单品, what "products" means); and ordinary words of letters
# and problems (问题编号, 邮件编号, 市州名称, 备注, the campaign's name 网上年货节 in previews).
NOT_THE_TABLES = {"序号", "县市区", "区县", "sku", "单品", "编号", "名称", "备注", "年货"}


def template_words() -> set[str]:
    """The shipped template's titles, aliases and keywords (but NOT_THE_TABLES)."""
    table = default_tables()[0]
    words = set()
    for f in table.fields:
        words.update({*f.aliases, *f.exact_aliases, f.title, *(k for k in f.keywords if k.isalpha())})
    return {w for w in words if len(w) >= 2} - NOT_THE_TABLES


def test_no_alias_title_or_keyword_of_the_2022_table_is_written_in_the_code():
    words = template_words()
    assert {"活动名称", "举办单位", "销售额", "参与主体数量", "商户"} <= words  # the scan looks for the right things
    found = []
    for path in sorted((ROOT / "service").rglob("*.py")):
        for text in string_constants(path):
            found += [f"{path.relative_to(ROOT)}: {w!r} in {text[:40]!r}" for w in words if w in text]
    assert found == []


def tables_with(change) -> list[dict]:
    tables = config_data()["tables"]
    change(tables[0])
    return tables


@pytest.mark.parametrize("change, message", [
    (lambda t: t["fields"][2].update(kind="number"),
     'table "activities".field "organiser": kind: unknown kind "number" (seq, text, county, integer, decimal, money)'),
    (lambda t: t["fields"][2].update(aliases=["名称"]),
     'table "activities": fields: alias "名称" is used by both organiser and name'),
    (lambda t: t["fields"][9].update(unit="美元"),
     'table "activities".field "sales_wan": unit: a money field needs unit = "元", "万元" or "亿元" (got "美元")'),
    (lambda t: t["fields"][7].update(from_text="note2"),
     'table "activities": fields: participants.from_text names "note2", which is not a text field of this table'),
])
def test_a_template_error_is_one_line_naming_the_key(tmp_path, change, message):
    with pytest.raises(ConfigError) as err:
        make_config(tmp_path, tables=tables_with(change))
    assert str(err.value) == message


def test_a_deadline_naming_a_missing_table_is_one_line(tmp_path):
    data = config_data()
    with pytest.raises(ConfigError) as err:
        make_config(tmp_path, deadlines=[{**d, "table": "activity"} if d["id"] == "summary" else d
                                         for d in data["deadlines"]])
    assert str(err.value) == 'deadline "summary".table: no [[tables]] with id "activity" (known: activities)'
