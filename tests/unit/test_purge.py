"""purge: what `purge --before DATE` would delete, decided from values (nothing is touched here)."""
from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from service.errors import ServiceError
from service.model import SentRecord, StoredMessage
from service.store.purge import ArchiveFile, outbox_time, plan_purge

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2022, 3, 1, 10, 0, tzinfo=TZ)


def at(iso: str) -> datetime:
    return datetime.fromisoformat(iso).replace(tzinfo=TZ)


def message(pk: int, received: str | None, ingested: str = "2022-02-20T10:00", duplicate_of: int | None = None):
    return StoredMessage(pk, f"{pk:064x}", f"<{pk}@x>", at(received) if received else None, at(ingested), duplicate_of)


def sent(key: str, created: str) -> SentRecord:
    return SentRecord(key, "upcoming", "长沙市", "progress", ("a@x",), "提醒", "sent", 1, "", at(created), at(created))


def archived(pk: int, modified: str = "2022-02-20T10:00") -> ArchiveFile:
    sha = f"{pk:064x}"
    return ArchiveFile(Path(f"archive/{sha[:2]}/{sha[2:4]}/{sha}.eml"), sha, at(modified))


def plan(before: date, messages=(), sent_log=(), archive=(), outbox=()):
    return plan_purge(before, NOW, TZ, messages=messages, sent=sent_log, archive=archive, outbox=outbox)


def test_mail_received_before_the_day_goes_with_its_archive_file():
    messages = [message(1, "2022-01-04T10:00"), message(2, "2022-02-07T23:59"), message(3, "2022-02-08T00:00")]
    found = plan(date(2022, 2, 8), messages, archive=[archived(1), archived(2), archived(3)])
    assert [m.id for m in found.messages] == [1, 2]
    assert found.cutoff == at("2022-02-08T00:00")
    assert found.files == tuple(sorted([archived(1).path, archived(2).path]))


def test_without_a_server_date_the_ingestion_time_decides():
    found = plan(date(2022, 2, 1), [message(1, None, ingested="2022-01-31T12:00"),
                                    message(2, None, ingested="2022-02-01T12:00")])
    assert [m.id for m in found.messages] == [1]


def test_a_later_copy_of_a_purged_message_goes_with_it():
    messages = [message(1, "2022-01-04T10:00"), message(2, "2022-02-10T10:00", duplicate_of=1)]
    assert [m.id for m in plan(date(2022, 2, 1), messages).messages] == [1, 2]


def test_old_sent_log_entries_and_outbox_files_go_newer_ones_stay():
    log = [sent("reminder:a", "2022-01-04T09:00"), sent("reminder:b", "2022-02-08T09:00")]
    outbox = [Path("outbox/20220104T090000_reminder_a.eml"), Path("outbox/20220208T090000_reminder_b.eml"),
              Path("outbox/notes.eml")]
    found = plan(date(2022, 2, 1), sent_log=log, outbox=outbox)
    assert found.sent_keys == ("reminder:a",)
    assert found.files == (Path("outbox/20220104T090000_reminder_a.eml"),)


def test_an_old_archive_file_no_message_points_to_is_an_orphan_and_goes():
    kept = message(5, "2022-02-20T10:00")
    files = [archived(5, "2022-01-01T00:00"), archived(6, "2022-01-01T00:00"), archived(7, "2022-02-20T00:00")]
    found = plan(date(2022, 2, 1), [kept], archive=files)
    assert found.files == (archived(6).path,)  # 7 is recent: maybe being ingested right now


def test_nothing_before_the_date_is_an_empty_plan():
    assert plan(date(2021, 1, 1), [message(1, "2022-01-04T10:00")]).empty


def test_a_date_after_today_is_refused():
    with pytest.raises(ServiceError, match="after today"):
        plan(date(2022, 3, 2))


def test_outbox_names_carry_their_local_writing_time():
    assert outbox_time(Path("20220104T090005_digest_2022-01-04.eml"), TZ) == at("2022-01-04T09:00:05")
    assert outbox_time(Path("readme.eml"), TZ) is None


def test_the_attributed_receipt_time_decides_over_the_ingestion_time():
    backfill = [message(1, None, ingested="2022-02-20T10:00"), message(2, None, ingested="2022-02-20T10:00")]
    found = plan_purge(date(2022, 2, 1), NOW, TZ, messages=backfill, sent=(), archive=(), outbox=(),
                       received={1: at("2022-01-04T10:00"), 2: at("2022-02-03T10:00")})
    assert [m.id for m in found.messages] == [1]


def test_the_workbook_goes_whenever_a_message_goes():
    workbook = Path("data/汇总表.xlsx")
    found = plan_purge(date(2022, 2, 1), NOW, TZ, messages=[message(1, "2022-01-04T10:00")], sent=(), archive=(),
                       outbox=(), derived=[workbook])
    assert found.files == (workbook,)
    nothing = plan_purge(date(2022, 2, 1), NOW, TZ, messages=[message(1, "2022-02-04T10:00")], sent=(), archive=(),
                         outbox=(), derived=[workbook])
    assert nothing.files == ()
