"""Replaying the campaign's reminders and digest through the CLI into a real SMTP server (aiosmtpd)."""
from __future__ import annotations

import json
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import tomli_w

from service.cli import main
from tests.builders import make_email
from tests.conftest import config_data
from tests.smtp_server import HOST, SmtpServer
from tests.table_builders import HEADER, SAMPLE_ROWS, make_xlsx

TZ = ZoneInfo("Asia/Shanghai")
SMTP_PASSWORD = "AuthCodeXyz123"


@pytest.fixture
def smtp(tmp_path: Path):
    (tmp_path / "cert").mkdir()
    server = SmtpServer.start(security="starttls", cert_dir=tmp_path / "cert", user="hndzsw@163.com",
                              password=SMTP_PASSWORD)
    yield server
    server.stop()


@pytest.fixture
def config_path(tmp_path: Path, smtp: SmtpServer, monkeypatch) -> Path:
    data = config_data()
    data["service"] = {**data["service"], "data_dir": str(tmp_path / "data"),
                       "database_url": f"sqlite:///{tmp_path / 'data' / 'service.db'}"}
    data["smtp"] = {"kind": "smtp", "host": HOST, "port": smtp.port, "security": "starttls",
                    "user": "hndzsw@163.com", "timeout": 5.0, "ca_file": str(smtp.cert)}
    path = tmp_path / "service.toml"
    path.write_bytes(tomli_w.dumps(data).encode("utf-8"))
    monkeypatch.setenv("SERVICE_SMTP_PASSWORD", SMTP_PASSWORD)
    for key in ("SERVICE_DATA_DIR", "SERVICE_DATABASE_URL", "SERVICE_CONFIG"):
        monkeypatch.delenv(key, raising=False)
    return path


def cli(capsys, config: Path, *argv: str) -> str:
    capsys.readouterr()
    assert main(["--config", str(config), *argv]) == 0
    return capsys.readouterr().out


def import_changsha_summary(capsys, config: Path, tmp_path: Path, received: str, message_id: str,
                            now: str) -> None:
    """长沙's summary with the 附件1 table, received at `received`, imported as at `now`."""
    mail = tmp_path / "mail"
    mail.mkdir(exist_ok=True)
    (mail / f"{message_id.strip('<>')}.eml").write_bytes(make_email(
        subject="长沙市网上年货节活动总结", attachments=[("附件1.xlsx", make_xlsx([HEADER, *SAMPLE_ROWS]))],
        received=datetime.fromisoformat(received).replace(tzinfo=TZ), message_id=message_id))
    cli(capsys, config, "import", str(mail), "--now", now)


def remind_json(capsys, config: Path, now: str, *extra: str) -> list[dict]:
    return json.loads(cli(capsys, config, "remind", "--json", "--now", now, *extra))


REPLAY = [  # (moment, reminders expected then), in campaign order, on one database
    ("2021-12-27T09:00", set()),
    ("2021-12-28T09:00", {("plan", "upcoming")}),                           # 3rd working day before 12-31
    ("2021-12-29T09:00", set()),
    ("2021-12-30T09:00", {("plan", "upcoming"), ("progress", "upcoming")}),  # 1st before 12-31, 3rd before 01-05
    ("2021-12-31T09:00", set()),
    ("2022-01-03T09:00", set()),                                             # 01-01..03 New Year holiday
    ("2022-01-04T09:00", {("progress", "upcoming")}),                        # 1st working day before 01-05
    ("2022-01-06T09:00", {("progress", "overdue")}),                         # no overdue notice for the plan
    ("2022-01-27T09:00", set()),
    ("2022-01-28T09:00", {("summary", "upcoming")}),                         # 3rd working day before 02-07
    ("2022-01-29T09:00", set()),                                             # Saturday, make-up day, nothing due
    ("2022-01-30T09:00", {("summary", "upcoming")}),                         # Sunday make-up day: 1st before 02-07
    ("2022-02-01T09:00", set()),                                             # Spring Festival holiday
    ("2022-02-07T09:00", set()),
    ("2022-02-08T09:00", {("summary", "overdue")}),
    ("2022-02-09T09:00", set()),
]


def test_replaying_the_campaign_reminders_fall_on_the_official_working_days(capsys, config_path, smtp):
    for now, expected in REPLAY:
        planned = remind_json(capsys, config_path, now, "--dry-run")
        sent = remind_json(capsys, config_path, now)
        assert {(r["deadline"], r["kind"]) for r in sent} == expected, now
        assert planned == sent, now
        assert all(r["to"] and r["city"] for r in sent)
        assert remind_json(capsys, config_path, now) == [], now
    assert len(smtp.messages) == 14 * sum(len(e) for _, e in REPLAY)


def test_reminders_go_only_to_cities_without_a_report_and_never_twice(capsys, tmp_path, config_path, smtp):
    import_changsha_summary(capsys, config_path, tmp_path, "2022-01-29T15:00", "<cs@x>", now="2022-01-29T16:00")
    receipts = len(smtp.messages)
    assert receipts == 1 and smtp.messages[0].message["In-Reply-To"] == "<cs@x>"

    sent = remind_json(capsys, config_path, "2022-01-30T09:00")
    assert len(sent) == 13 and "长沙市" not in {r["city"] for r in sent}
    assert len(smtp.messages) == receipts + 13
    assert remind_json(capsys, config_path, "2022-01-30T09:00") == []
    assert remind_json(capsys, config_path, "2022-01-30T15:00") == []
    assert len(smtp.messages) == receipts + 13
    reminder = smtp.messages[-1].message
    assert reminder["Subject"].startswith("【提醒】") and "商务局：" in reminder.get_body(("plain",)).get_content()


def test_a_report_received_after_the_moment_does_not_excuse_a_city(capsys, tmp_path, config_path):
    import_changsha_summary(capsys, config_path, tmp_path, "2022-02-06T10:00", "<cs-late@x>", now="2022-02-10T00:00")
    due = remind_json(capsys, config_path, "2022-01-30T09:00", "--dry-run")
    assert "长沙市" in {r["city"] for r in due}


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.srcs: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.srcs += [v for k, v in attrs if k in ("src", "href") and v]


def test_the_digest_reaches_the_staff_through_smtp_with_html_and_text(capsys, config_path, smtp):
    out = cli(capsys, config_path, "digest", "--now", "2022-01-06T08:30")
    assert "[sent]" in out
    message = smtp.messages[-1].message
    assert message["To"] == "hndzsw@163.com" and "每日汇总" in message["Subject"]
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "长沙市" in text and "未报" in text
    parser = _Tags()
    parser.feed(html)
    assert "table" in parser.tags and parser.srcs == []
    assert "{{" not in html and "{{" not in text
    assert "[skipped]" in cli(capsys, config_path, "digest", "--now", "2022-01-06T09:30")


def test_the_digest_can_carry_the_current_workbook(capsys, tmp_path, config_path, smtp):
    import io

    import openpyxl

    config_path.write_text(config_path.read_text(encoding="utf-8") + "\n[digest]\nattach_workbook = true\n",
                           encoding="utf-8")
    import_changsha_summary(capsys, config_path, tmp_path, "2022-02-06T10:00", "<cs-wb@x>", now="2022-02-10T00:00")
    cli(capsys, config_path, "digest", "--now", "2022-02-10T08:30")
    message = smtp.messages[-1].message
    files = [p for p in message.iter_attachments() if p.get_filename().endswith(".xlsx")]
    assert len(files) == 1
    book = openpyxl.load_workbook(io.BytesIO(files[0].get_content()))
    assert "长沙市" in [c.value for row in book["汇总"].iter_rows() for c in row]
