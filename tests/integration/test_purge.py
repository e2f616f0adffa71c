"""`purge --before` through the CLI on SQLite and PostgreSQL: a dry run lists, --yes deletes, and
purged mail never comes back from the mailbox."""
from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from service.cli import main
from service.store import Store
from tests.builders import make_email
from tests.conftest import DEFAULT_TOML
from tests.table_builders import HEADER, SAMPLE_ROWS, make_xlsx

TZ = ZoneInfo("Asia/Shanghai")


def at(iso: str) -> datetime:
    return datetime.fromisoformat(iso).replace(tzinfo=TZ)


def deliver(maildir: Path, name: str, raw: bytes) -> None:
    for sub in ("tmp", "new", "cur"):
        (maildir / sub).mkdir(parents=True, exist_ok=True)
    (maildir / "new" / name).write_bytes(raw)


@pytest.fixture
def service(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """`python -m service` in-process on the shipped config, this database and a local Maildir."""
    data = tmp_path / "data"
    monkeypatch.setenv("SERVICE_DATA_DIR", str(data))
    monkeypatch.setenv("SERVICE_DATABASE_URL", database_url)

    def run(*argv: str) -> int:
        return main(["--config", str(DEFAULT_TOML), *argv])
    run.data = data
    run.url = database_url
    return run


def test_purge_lists_first_then_deletes_mail_data_and_files_before_the_day(service, capsys):
    mailbox = service.data / "mailbox"
    deliver(mailbox, "1.eml", make_email(subject="长沙市网上年货节活动组织情况", received=at("2022-01-04T10:00"),
                                        message_id="<old@changsha>"))
    deliver(mailbox, "2.eml", make_email(
        subject="长沙市网上年货节活动总结", received=at("2022-02-06T10:00"), message_id="<new@changsha>",
        attachments=[("附件1.xlsx", make_xlsx([HEADER, *SAMPLE_ROWS]))]))
    assert service("poll", "--now", "2022-02-06T12:00") == 0
    assert service("remind", "--now", "2022-01-04T09:00") == 0  # outbox files and sent log, January
    archived = sorted((service.data / "archive").rglob("*.eml"))
    outbox_before = sorted((service.data / "outbox").glob("*.eml"))
    assert len(archived) == 2 and outbox_before
    capsys.readouterr()

    assert service("purge", "--before", "2022-02-01", "--now", "2022-03-01T10:00") == 0
    listing = capsys.readouterr().out
    assert "组织情况" in listing and "活动总结" not in listing and "dry run" in listing
    assert sorted((service.data / "archive").rglob("*.eml")) == archived

    assert service("purge", "--before", "2022-02-01", "--now", "2022-03-01T10:00", "--yes") == 0
    store = Store.open(service.url)
    assert [m.message_id for m in store.stored_messages()] == ["<new@changsha>"]
    assert len(list((service.data / "archive").rglob("*.eml"))) == 1
    assert not list((service.data / "outbox").glob("202201*.eml"))
    assert not [r for r in store.sent_records() if r.created_at < at("2022-02-01T00:00")]
    assert store.rows([m.id for m in store.stored_messages()])  # what stays keeps its rows
    store.close()

    assert service("poll", "--now", "2022-03-01T11:00") == 0  # the purged file is still in the Maildir
    store = Store.open(service.url)
    assert len(store.stored_messages()) == 1
    store.close()


def test_purge_refuses_a_day_after_today(service, capsys):
    assert service("purge", "--before", "2022-03-02", "--now", "2022-03-01T10:00", "--yes") == 1
    assert "after today" in capsys.readouterr().err
