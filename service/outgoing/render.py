"""Render: template name + plain context -> (subject, text, html), from editable Jinja2 files.

Each template is three files in templates/: <name>.subject.j2, <name>.txt.j2, <name>.html.j2.
Contexts are plain values (str, int, date, lists, dicts) so staff can edit wording safely.
"""
from __future__ import annotations

import re
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

from jinja2 import (
    Environment,
    FileSystemLoader,
    StrictUndefined,
    TemplateError,
    select_autoescape,
)

from ..config import City, Config, default_tables
from ..errors import ConfigError
from ..resources import shipped_folder
from ..text import escaped

TEMPLATES_DIR = shipped_folder("templates")  # inside the wheel, or the checkout's templates/
PARTS = ("subject", "txt", "html")
KIND_LABELS = {"upcoming": "截止前提醒", "overdue": "逾期提醒", "receipt": "回执", "digest": "每日汇总"}


def cn_date(value: date | datetime) -> str:
    """2022年1月5日"""
    return f"{value.year}年{value.month}月{value.day}日"


def cn_datetime(value: datetime) -> str:
    """2022年1月5日 09:00"""
    return f"{cn_date(value)} {value:%H:%M}"


def cn_md(value: date | datetime) -> str:
    """1月5日 (for table cells, where the year is obvious)."""
    return f"{value.month}月{value.day}日"


def cn_number(value: float | int | None, digits: int = 2) -> str:
    """12 / 12.5 / 1,234.56; "—" for unknown, so totals never print None."""
    if value is None:
        return "—"
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.{digits}f}".rstrip("0").rstrip(".")


def addressee_of(city: City) -> str:
    """称呼 in letters: city.addressee, else 长沙市商务局 / 湘西州商务局."""
    if city.addressee:
        return city.addressee
    if city.name.endswith("市"):
        return city.name + "商务局"
    # An autonomous prefecture is addressed by its short form (湘西州), not the full 土家族苗族自治州.
    short = sorted((a for a in city.aliases if a.endswith("州")), key=len)
    return (short[0] if short else city.name) + "商务局"


def common_context(config: Config, now: datetime) -> dict[str, Any]:
    """What every letter needs: campaign, signature, contact line and the date line."""
    reminders = config.reminders
    return {
        "campaign": {
            "name": config.campaign.name,
            "organiser": config.campaign.organiser,
            "mailbox": config.campaign.mailbox_address,
            "notice": config.campaign.notice or f"《关于开展“{config.campaign.name}”活动的通知》",
            "overdue_note": config.campaign.overdue_note,
        },
        "contact": {"name": reminders.contact_name, "phone": reminders.contact_phone},
        "today": now.astimezone(config.tz).date(),
    }


class Renderer:
    """Jinja2 with StrictUndefined (a missing value fails loudly) and autoescape for HTML only."""

    def __init__(self, templates_dir: Path = TEMPLATES_DIR) -> None:
        self.templates_dir = Path(templates_dir)
        self.env = Environment(
            loader=FileSystemLoader(str(self.templates_dir)),
            undefined=StrictUndefined,
            autoescape=select_autoescape(enabled_extensions=("html.j2",), default_for_string=False,
                                         default=False),
            keep_trailing_newline=True,
            trim_blocks=True,
            lstrip_blocks=True,
            finalize=_shown,  # every {{ value }}: text from mail cannot break lines or turn itself around
        )
        self.env.filters.update(cn_date=cn_date, cn_datetime=cn_datetime, cn_md=cn_md,
                                cn_number=cn_number)

    def render(self, name: str, **ctx: Any) -> tuple[str, str, str]:
        """(subject on one line, plain text, html) for the template `name`."""
        subject = self.env.get_template(f"{name}.subject.j2").render(ctx)
        text = self.env.get_template(f"{name}.txt.j2").render(ctx)
        html = self.env.get_template(f"{name}.html.j2").render(ctx)
        return " ".join(subject.split()), _tidy_text(text), html

    def template_names(self) -> list[str]:
        """Names that have a subject template; files starting with "_" are shared partials."""
        return sorted(p.name.removesuffix(".subject.j2")
                      for p in self.templates_dir.glob("*.subject.j2") if not p.name.startswith("_"))

    def check_templates(self, samples: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        """Render every template once with sample values, so a broken template fails at start."""
        samples = SAMPLE_CONTEXTS if samples is None else samples
        names = self.template_names()
        if not names:
            raise ConfigError(f"templates: none found in {self.templates_dir}")
        for name in names:
            if name not in samples:
                raise ConfigError(f"templates: no sample context for {name!r}")
            for part in PARTS:
                if not (self.templates_dir / f"{name}.{part}.j2").is_file():
                    raise ConfigError(f"templates: {name}.{part}.j2 is missing")
            try:
                self.render(name, **samples[name])
            except (TemplateError, TypeError, ValueError) as err:
                raise ConfigError(f"templates: {name}: {err}") from err


def _shown(value: Any) -> Any:
    """A value as printed by a template: strings (Markup kept Markup) with control and bidi characters escaped."""
    return type(value)(escaped(value)) if isinstance(value, str) else value


@lru_cache(maxsize=1)
def default_renderer() -> Renderer:
    """The renderer over the repository's templates/ folder (used when none is passed)."""
    return Renderer(TEMPLATES_DIR)


def _tidy_text(text: str) -> str:
    # Template control lines leave runs of blank lines; a letter wants at most one.
    text = re.sub(r"[ \t]+\n", "\n", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"


# Sample contexts: the shape each module passes (tests check real contexts render too).
_COMMON = {
    "campaign": {"name": "2022湖南网上年货节", "organiser": "湖南省商务厅电子商务处",
                 "mailbox": "hndzsw@163.com", "notice": "《湖南省商务厅关于开展“2022湖南网上年货节”活动的通知》",
                 "overdue_note": "本次活动属于真抓实干考核项，"},
    "contact": {"name": "刘琦", "phone": "0731-82287166"},
    "today": date(2022, 1, 4),
}
_DEADLINE = {"id": "progress", "title": "活动组织情况", "due": date(2022, 1, 5), "required": True, "table": None,
             "request": "活动组织情况", "invitation": "", "condition": "需要报送", "otherwise": "如无需报送"}
_SAMPLE_TABLE = default_tables()[0]  # previews show the shipped template's names
_TABLE = {"headline": _SAMPLE_TABLE.headline, "row_name": _SAMPLE_TABLE.row_name}
_SAMPLE_TOTALS = [{"name": f.name_zh, "value": value, "unit": f.unit}
                  for f, value in zip(_SAMPLE_TABLE.figures, (120, 3400, 1520.5, 0, 0))]
_REMINDER = {**_COMMON, "addressee": "长沙市商务局", "city": "长沙市", "deadline": _DEADLINE,
             "conditional": False, "days_left": 1, "workdays_left": 1, "days_over": 1,
             "workdays_over": 1}
_CELL = {"deadline": "progress", "state": "on_time", "label": "按时", "date": date(2022, 1, 4),
         "versions": 2, "rows": 0, "problems": 1, "bg": "#e6f4ea", "fg": "#137333"}
_PROBLEM = {"city": "长沙市", "file": "统计表.xlsx", "row": 3,
            "message_zh": f"第 3 行 {_SAMPLE_TABLE.field('county').name_zh}'长沙新区' 不在长沙市辖区内", "code": "unknown_county"}

SAMPLE_CONTEXTS: dict[str, dict[str, Any]] = {
    "reminder_upcoming": _REMINDER,
    "reminder_overdue": {**_REMINDER, "deadline": {**_DEADLINE, "id": "summary", "table": _TABLE}},
    "receipt": {**_COMMON, "addressee": "长沙市商务局", "city": "长沙市", "deadline": {**_DEADLINE, "table": _TABLE},
                "original_subject": "长沙市活动组织情况", "other_sender": "", "received_at": datetime(2022, 1, 4, 16, 20),
                "rows": 12, "wants_table": True, "late": False, "replaces": datetime(2022, 1, 3, 10, 0),
                "problems": [{"file": "统计表.xlsx", "text": _PROBLEM["message_zh"]}]},
    "digest": {**_COMMON, "now": datetime(2022, 1, 4, 8, 30), "deadlines": [_DEADLINE],
               "matrix": [{"city": "长沙市", "cells": [_CELL]}],
               "counts": [{**_DEADLINE, "on_time": 1, "late": 0, "missing": 0, "pending": 12, "exempt": 1}],
               "arrived": [{"city": "长沙市", "deadline": "活动组织情况",
                            "received_at": datetime(2022, 1, 3, 16, 0), "subject": "组织情况", "rows": 0}],
               "problems": [_PROBLEM], "problems_more": 2,
               "unattributed": [{"message": 7, "sender": "x@qq.com", "subject": "年货节",
                                 "received_at": datetime(2022, 1, 3, 17, 0)}],
               "decisions": [{"at": datetime(2022, 1, 3, 18, 0), "by": "张三", "text": "郴州市 活动组织情况 免报",
                              "note": "电话告知"}],
               "sent_ok_by_kind": [{"kind": "截止前提醒", "count": 3}],
               "sent_failed": [{"kind": "回执", "city": "株洲市", "deadline": "活动组织情况",
                                "sent_at": datetime(2022, 1, 3, 9, 0), "status": "failed",
                                "error": "timeout"}],
               "stale": [{"deadline": "活动组织情况", "count": 3, "cities": 2, "kinds": "截止前提醒 3",
                          "first": datetime(2022, 1, 3, 9, 0), "last": datetime(2022, 1, 4, 9, 0)}],
               "stale_count": 3,
               "totals": _SAMPLE_TOTALS,
               "totals_heading": _SAMPLE_TABLE.overview_heading or _SAMPLE_TABLE.headline,
               "poll": {"last_ok": datetime(2022, 1, 4, 8, 0), "error": "timeout", "stale": True,
                        "hours": 0.5},
               "warnings": ["2027年的法定节假日未知"],
               "reminders_held": "邮箱已 45 分钟未成功收取，催报提醒暂缓发出", "alert": ""},
}
