"""docs/configuration.md cannot drift from the config model: every key of every section is
documented with its default, and every documented key exists."""
from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path
from typing import Any, Iterator, get_args

import pytest
from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from service.config import Config
from tests.conftest import ROOT

REFERENCE = ROOT / "docs" / "configuration.md"
ROW = re.compile(r"^\| `([a-z_]+)` \| `([^`]*)` \| (.+) \|$", re.MULTILINE)


def as_toml(value: Any) -> str:
    """A default as the page shows it: TOML literals, `unset` for None."""
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, Path)):
        return json.dumps(str(value), ensure_ascii=False)
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, tuple):
        return "[" + ", ".join(as_toml(v) for v in value) + "]"
    raise TypeError(f"no rendering for {value!r}")


def model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return next((m for m in map(model_in, get_args(annotation)) if m), None)


def sections(model: type[BaseModel], prefix: str = "") -> Iterator[tuple[str, type[BaseModel]]]:
    """(heading, model) for every table in the config, found by walking model_fields recursively."""
    for name, field in model.model_fields.items():
        inner = model_in(field.annotation)
        if inner is None:
            continue
        is_list = "tuple" in str(field.annotation)
        yield (f"[[{prefix}{name}]]" if is_list else f"[{prefix}{name}]"), inner
        yield from sections(inner, prefix=f"{prefix}{name}.")


def documented(heading: str) -> dict[str, tuple[str, str]]:
    """key -> (default, meaning) from the table under `## `heading``."""
    text = REFERENCE.read_text(encoding="utf-8")
    start = text.index(f"## `{heading}`")
    end = text.find("\n## ", start + 1)
    return {key: (default, meaning) for key, default, meaning in ROW.findall(text[start:end if end > 0 else None])}


ALL_SECTIONS = list(sections(Config))


def test_the_reference_covers_the_sections_the_issue_asks_for():
    headings = {heading for heading, _ in ALL_SECTIONS}
    assert {f"[{name}]" for name in ("reminders", "receipts", "digest", "calendar", "worker", "health", "limits",
                                     "smtp", "mailbox", "plausibility")} <= headings


@pytest.mark.parametrize("heading, model", ALL_SECTIONS, ids=[h for h, _ in ALL_SECTIONS])
def test_every_key_is_documented_with_its_default_and_nothing_else_is(heading, model):
    rows = documented(heading)
    for key, field in model.model_fields.items():
        assert key in rows, f"docs/configuration.md: {heading} {key} is not documented"
        required = field.default is PydanticUndefined and field.default_factory is None
        expected = "required" if required else as_toml(field.default)
        assert rows[key][0] == expected, f"{heading} {key}: documented default {rows[key][0]}, model says {expected}"
        assert len(rows[key][1].strip()) > 5, f"{heading} {key}: no meaning given"
    assert set(rows) <= set(model.model_fields), f"{heading}: documented keys that do not exist"


def test_the_readme_and_the_shipped_config_point_to_the_reference():
    assert "docs/configuration.md" in (ROOT / "README.md").read_text(encoding="utf-8")
    assert "docs/configuration.md" in (ROOT / "config" / "service.toml").read_text(encoding="utf-8")
