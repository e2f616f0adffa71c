"""Config errors a person can act on: pydantic's errors and decoding failures as sentences.

Input: the parsed TOML and a ValidationError (or the file's bytes). Output: one line per error,
naming the city or deadline by name (not by index), the key, and what to do.
"""
from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any, get_args

from pydantic import BaseModel, ValidationError

from .errors import ConfigError

# Lists of tables, named by the key a person recognises them by.
_NAMED_TABLES = {"cities": "name", "deadlines": "id", "tables": "id", "fields": "key"}
_NESTED_TABLES = {"fields"}  # named after their table: table "activities".field "sales"


def utf8_text(raw: bytes, path: Path) -> str:
    """The file as text; a file that is not UTF-8 is a ConfigError saying where and what to do."""
    try:
        return raw.decode("utf-8-sig")  # Notepad may write a BOM; TOML itself would refuse it
    except UnicodeDecodeError as err:
        line_start = raw.rfind(b"\n", 0, err.start) + 1
        line, column = raw.count(b"\n", 0, err.start) + 1, err.start - line_start + 1
        looks_like = ""
        try:
            raw.decode("gb18030")
            looks_like = " (it looks like GBK/GB18030)"
        except UnicodeDecodeError:
            pass
        raise ConfigError(f"{path}: not UTF-8{looks_like}: byte 0x{raw[err.start]:02x} at line {line}, "
                          f"byte {column} of that line; save the file as UTF-8 "
                          f"(记事本/WPS: 另存为, 编码选 UTF-8)") from err


def validation_report(err: ValidationError, data: dict, model: type[BaseModel]) -> str:
    """One line per error: where (city or deadline by name, then the key) and what is wrong."""
    lines = []
    for error in err.errors():
        loc = tuple(error["loc"])
        names_a_key = error["type"] in ("extra_forbidden", "missing") and loc and isinstance(loc[-1], str)
        where = _where(loc[:-1] if names_a_key else loc, data)
        what = _what(error, loc, model)
        lines.append(f"{where}: {what}" if where else what)
    return "\n".join(dict.fromkeys(lines))


def _where(keys: tuple, data: dict) -> str:
    """`长沙市`, `deadline "plan".due`, `mailbox.port`, `长沙市.emails item 2`: the place keys name."""
    parts: list[str] = []
    node: Any = data
    for i, part in enumerate(keys):
        table = keys[i - 1] if i else None
        if isinstance(part, int):
            item = node[part] if isinstance(node, (list, tuple)) and part < len(node) else None
            if table in _NESTED_TABLES:
                parts[-1] = _table_item_name(table, part, item)
            elif table in _NAMED_TABLES:
                parts = [_table_item_name(table, part, item)]
            else:
                parts.append(f"item {part + 1}")
            node = item
        else:
            parts.append(str(part))
            node = node.get(part) if isinstance(node, dict) else None
    return ".".join(parts).replace(".item ", " item ")


def _table_item_name(table: str, index: int, item: Any) -> str:
    key = _NAMED_TABLES[table]
    name = item.get(key) if isinstance(item, dict) else None
    if not isinstance(name, str) or not name:
        return f"[[{table}]] number {index + 1}"
    singular = {"deadlines": "deadline", "tables": "table", "fields": "field"}
    return name if table == "cities" else f'{singular[table]} "{name}"'


def _what(error: dict, loc: tuple, model: type[BaseModel]) -> str:
    kind, key = error["type"], (loc[-1] if loc and isinstance(loc[-1], str) else None)
    if kind == "extra_forbidden" and key:
        return f'unknown key "{key}"{_suggestion(key, _model_at(model, loc[:-1]))}'
    if kind == "missing" and key:
        if len(loc) == 1:
            return f"missing [{key}]" if key != "deadlines" and key != "cities" else f"missing [[{key}]]"
        return f'missing key "{key}"'
    ctx_error = (error.get("ctx") or {}).get("error")
    if kind in ("value_error", "assertion_error") and ctx_error is not None:
        message = str(ctx_error)
    else:
        message = error["msg"].replace("a valid tuple", "a list")  # TOML has arrays, not tuples
    value = error.get("input")
    if kind not in ("value_error", "assertion_error") and isinstance(value, (str, int, float, bool)):
        message += f" (got {str(value)[:60]!r})"
    return message


def _suggestion(key: str, model: type[BaseModel] | None) -> str:
    if model is None:
        return ""
    close = difflib.get_close_matches(key, list(model.model_fields), n=1, cutoff=0.6)
    return f' (did you mean "{close[0]}"?)' if close else ""


def _model_at(model: type[BaseModel], loc: tuple) -> type[BaseModel] | None:
    """The config model class that holds the keys at loc (list indexes skipped)."""
    current: type[BaseModel] | None = model
    for part in loc:
        if isinstance(part, int):
            continue
        field = current.model_fields.get(part) if current else None
        current = _model_in(field.annotation) if field else None
    return current


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _model_in(arg)
        if found:
            return found
    return None
