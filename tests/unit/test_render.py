"""render: editable templates, checked at start; HTML safe for webmail, text readable on its own."""
from __future__ import annotations

import shutil
from datetime import date, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from service.config import City
from service.errors import ConfigError
from service.model import ReportState
from service.outgoing.calendar import WorkCalendar
from service.outgoing.digest import build_digest
from service.outgoing.remind import due_reminders
from service.outgoing.render import (
    SAMPLE_CONTEXTS,
    TEMPLATES_DIR,
    Renderer,
    addressee_of,
    cn_date,
    cn_datetime,
    cn_number,
)
from tests.conftest import make_config

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2022, 1, 6, 8, 30, tzinfo=TZ)
EXTERNAL = ("http://", "https://", "//", "cid:")


class Page(HTMLParser):
    """What webmail cares about: tags, attributes, table body rows and their cell texts."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str]] = []
        self.rows: list[list[str]] = []
        self._in_body = False
        self._cell: list[str] | None = None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs += [(k, v or "") for k, v in attrs]
        if tag == "tbody":
            self._in_body = True
        elif tag == "tr" and self._in_body:
            self.rows.append([])
        elif tag == "td" and self._in_body:
            self._cell = []

    def handle_endtag(self, tag):
        if tag == "tbody":
            self._in_body = False
        elif tag == "td" and self._cell is not None:
            self.rows[-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


@pytest.fixture
def digest_html(config) -> str:
    states = [ReportState("长沙市", "progress", "on_time", first_received_at=datetime(2022, 1, 4, 16, tzinfo=TZ)),
              ReportState("株洲市", "progress", "late", first_received_at=datetime(2022, 1, 6, 8, tzinfo=TZ)),
              ReportState("湘潭市", "progress", "missing")]
    out = build_digest(config, WorkCalendar(config.calendar), now=NOW, states=states, arrived=[],
                       problems=[{"city": "长沙市", "file": "<b>a.xlsx</b>", "row": 1, "code": "x",
                                  "message_zh": "第 1 行 <script>alert(1)</script>"}],
                       unattributed=[], sent=[], stale=[], totals={}, last_poll_ok=NOW - timedelta(hours=3),
                       last_poll_error=None, warnings=[])
    return out.html


def test_the_shipped_templates_all_render_with_sample_values():
    Renderer(TEMPLATES_DIR).check_templates()


def test_every_template_has_a_sample_and_every_sample_a_template():
    assert Renderer(TEMPLATES_DIR).template_names() == sorted(SAMPLE_CONTEXTS)


@pytest.mark.parametrize("broken", [
    "{{ no_such_value }}",            # StrictUndefined: a typo fails, not an empty string
    "{% if %}",                       # syntax error
    "{{ deadline.due|no_such_filter }}",
])
def test_a_broken_template_fails_at_start_not_at_nine(tmp_path: Path, broken: str):
    shutil.copytree(TEMPLATES_DIR, tmp_path, dirs_exist_ok=True)
    (tmp_path / "reminder_overdue.txt.j2").write_text(broken, encoding="utf-8")
    with pytest.raises(ConfigError, match="reminder_overdue"):
        Renderer(tmp_path).check_templates()


def test_a_template_without_its_html_part_fails_at_start(tmp_path: Path):
    shutil.copytree(TEMPLATES_DIR, tmp_path, dirs_exist_ok=True)
    (tmp_path / "receipt.html.j2").unlink()
    with pytest.raises(ConfigError, match="receipt.html.j2"):
        Renderer(tmp_path).check_templates()


def test_staff_wording_changes_need_no_code(tmp_path: Path):
    shutil.copytree(TEMPLATES_DIR, tmp_path, dirs_exist_ok=True)
    (tmp_path / "receipt.subject.j2").write_text("收到：{{ original_subject }}", encoding="utf-8")
    subject, _, _ = Renderer(tmp_path).render("receipt", **SAMPLE_CONTEXTS["receipt"])
    assert subject == "收到：长沙市活动组织情况"


@pytest.mark.parametrize("value, filter_, expected", [
    (date(2022, 1, 5), cn_date, "2022年1月5日"),
    (datetime(2022, 1, 5, 9, 0), cn_date, "2022年1月5日"),
    (datetime(2022, 1, 5, 9, 0), cn_datetime, "2022年1月5日 09:00"),
    (datetime(2021, 12, 31, 23, 59), cn_datetime, "2021年12月31日 23:59"),
    (1520.5, cn_number, "1,520.5"),
    (3400.0, cn_number, "3,400"),
    (None, cn_number, "—"),
])
def test_chinese_date_and_number_filters(value, filter_, expected):
    assert filter_(value) == expected


@pytest.mark.parametrize("city, expected", [
    (City(name="长沙市", aliases=("长沙",)), "长沙市商务局"),
    (City(name="湘西土家族苗族自治州", aliases=("湘西州", "湘西", "湘西自治州")), "湘西州商务局"),
    (City(name="长沙市", addressee="长沙市商务局电商科"), "长沙市商务局电商科"),
])
def test_letters_address_the_city_office_politely(city: City, expected: str):
    assert addressee_of(city) == expected


def test_html_escapes_values_but_text_keeps_them(config):
    ctx = {**SAMPLE_CONTEXTS["receipt"], "problems": [{"file": "", "text": "第 1 行 <b>x</b> & y"}]}
    _, text, html = Renderer(TEMPLATES_DIR).render("receipt", **ctx)
    assert "第 1 行 <b>x</b> & y" in text
    assert "第 1 行 &lt;b&gt;x&lt;/b&gt; &amp; y" in html


def test_the_digest_table_has_one_row_per_city_with_states(digest_html: str):
    page = Page(digest_html)
    assert len(page.rows) == 14
    assert all(len(row) == 1 + 3 for row in page.rows)
    by_city = {row[0]: row[1:] for row in page.rows}
    assert by_city["长沙市"][1] == "按时（1月4日）"
    assert by_city["株洲市"][1] == "逾期（1月6日）"
    assert by_city["湘潭市"][1] == "未报"
    assert by_city["湘潭市"][2] == "待报"
    assert by_city["湘西土家族苗族自治州"][0] == "—"


def test_the_digest_html_is_self_contained_for_webmail(digest_html: str):
    page = Page(digest_html)
    assert not {"style", "link", "script", "img", "iframe"} & set(page.tags)
    assert not [v for k, v in page.attrs if k in ("src", "href") and v.startswith(EXTERNAL)]
    assert "{{" not in digest_html and "{%" not in digest_html
    assert "<script>" not in digest_html and "&lt;script&gt;" in digest_html
    assert all("class" != k for k, _ in page.attrs)  # no stylesheet to give classes meaning


def test_the_digest_html_flags_a_silent_mailbox(digest_html: str):
    assert "邮箱已 3.0 小时未成功收取" in digest_html


@pytest.mark.parametrize("contact, line", [
    ({"contact_name": "省商务厅电子商务处 张三", "contact_phone": "0731-1234567"},
     "联系人：省商务厅电子商务处 张三　电话：0731-1234567　邮箱：hndzsw@163.com"),
    ({"contact_name": "", "contact_phone": ""}, "邮箱：hndzsw@163.com"),
])
def test_the_signature_shows_the_configured_contact_and_omits_what_is_unset(tmp_path, contact, line):
    config = make_config(tmp_path, reminders=contact)
    to_send, _ = due_reminders(config, WorkCalendar(config.calendar), [], set(),
                               datetime(2022, 1, 4, 9, 0, tzinfo=TZ))
    letter = next(o for o in to_send if o.city == "长沙市")
    assert letter.text.splitlines()[-2] == line
    assert "联系人：&nbsp;" not in letter.html and ("联系人" in letter.html) == bool(contact["contact_name"])
    assert ("电话" in letter.html) == bool(contact["contact_phone"])


def test_letters_have_salutation_official_body_signature_contact_and_date(config):
    to_send, _ = due_reminders(config, WorkCalendar(config.calendar), [], set(),
                               datetime(2022, 1, 4, 9, 0, tzinfo=TZ))
    letter = next(o for o in to_send if o.city == "长沙市" and o.deadline == "progress")
    lines = letter.text.splitlines()
    assert lines[0] == "长沙市商务局："
    assert "根据《湖南省商务厅关于开展“2022湖南网上年货节”活动的通知》要求，请于2022年1月5日前报送活动组织情况" in letter.text
    assert lines[-3:] == ["湖南省商务厅电子商务处",
                          "电话：0731-82287166　邮箱：hndzsw@163.com",
                          "2022年1月4日"]
    assert "\n\n\n" not in letter.text and "{{" not in letter.text
    page = Page(letter.html)
    assert not {"style", "link", "script", "img"} & set(page.tags)
    assert "长沙市商务局：" in letter.html and "2022年1月4日" in letter.html


def test_every_shipped_sample_renders_a_one_line_subject():
    renderer = Renderer(TEMPLATES_DIR)
    for name, ctx in SAMPLE_CONTEXTS.items():
        subject, text, _ = renderer.render(name, **ctx)
        assert subject and "\n" not in subject and "  " not in subject
        assert text.endswith("\n") and not text.startswith("\n")
