"""The workbench's pure parts: SVG charts, download headers, the login pause, figures as shown."""
from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from xml.etree import ElementTree
from zoneinfo import ZoneInfo

import pytest

from service.web.auth import (
    FAILURES_BEFORE_PAUSE,
    MAX_PAUSE,
    PAUSE,
    LoginThrottle,
    password_problem,
)
from service.web.charts import per_city, reports_per_day
from service.web.files import attachment_headers
from service.web.server import shown_figure

T0 = datetime(2022, 1, 5, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


def test_the_charts_are_well_formed_svg_with_text_from_config_escaped() -> None:
    days = reports_per_day({date(2022, 1, 4): 3, date(2022, 1, 5): 6}, [(date(2022, 1, 5), "<进展>&")])
    per = per_city([("长沙市", Decimal("12.5")), ("<b>", None)], " 万元", "销售额")
    for svg in (days, per, reports_per_day({}, []), per_city([], "", "空")):
        ElementTree.fromstring(svg)  # parses: every text escaped
    assert "&lt;进展&gt;&amp; 01-05" in days and "12.50 万元" in per and "&lt;b&gt;" in per and "<b>" not in per


@pytest.mark.parametrize("name, fallback, encoded", [
    ("附件1：统计表.xlsx", "__1____.xlsx", "%E9%99%84%E4%BB%B61%EF%BC%9A%E7%BB%9F%E8%AE%A1%E8%A1%A8.xlsx"),
    ('a"b;c\\d.csv', "a_b_c_d.csv", "a%22b%3Bc%5Cd.csv"),
    ("", "file", ""),
])
def test_a_download_is_an_attachment_with_an_ascii_fallback_and_the_utf8_name(name, fallback, encoded) -> None:
    assert attachment_headers(name)["content-disposition"] == \
        f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}"


def test_failed_logins_pause_that_name_from_that_address_doubling_up_to_an_hour() -> None:
    throttle = LoginThrottle()
    for n in range(FAILURES_BEFORE_PAUSE):
        assert throttle.paused_until("ann", "10.0.0.1", T0) is None
        throttle.failed("ann", "10.0.0.1", T0)
    assert throttle.paused_until("ann", "10.0.0.1", T0) == T0 + PAUSE
    assert throttle.paused_until("ann", "10.0.0.2", T0) is None and throttle.paused_until("bob", "10.0.0.1", T0) is None
    assert throttle.paused_until("ann", "10.0.0.1", T0 + PAUSE) is None  # over: one more try
    throttle.failed("ann", "10.0.0.1", T0 + PAUSE)
    assert throttle.paused_until("ann", "10.0.0.1", T0 + PAUSE) == T0 + 3 * PAUSE
    for _ in range(10):
        throttle.failed("ann", "10.0.0.1", T0)
    assert throttle.paused_until("ann", "10.0.0.1", T0) == T0 + MAX_PAUSE
    throttle.succeeded("ann", "10.0.0.1")
    assert throttle.paused_until("ann", "10.0.0.1", T0) is None


def test_figures_lose_the_stores_trailing_zeros_and_a_short_password_is_refused() -> None:
    assert [shown_figure(v) for v in (Decimal("120.000000"), Decimal("0.50"), 3, None)] == ["120", "0.5", "3", ""]
    assert password_problem("short") and not password_problem("long enough")
    assert timedelta(0) < PAUSE < MAX_PAUSE
