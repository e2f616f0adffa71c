"""The pipeline on a real SQLite file and archive: crash recovery, per-message isolation, dedupe."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from service import jobs, pipeline
from service.model import Fetched
from service.status import load_states
from service.track import state_of
from tests.builders import make_email
from tests.table_builders import HEADER, SAMPLE_ROWS, make_xlsx

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2022, 2, 10, 12, 0, tzinfo=TZ)


def report(n: int = 1, rows=SAMPLE_ROWS) -> bytes:
    return make_email(subject="长沙市网上年货节活动总结", attachments=[("附件1.xlsx", make_xlsx([HEADER, *rows]))],
                      received=datetime(2022, 2, 6, 10, n, tzinfo=TZ), message_id=f"<r{n}@changsha>")


def archive_only(app, raw: bytes, source_id: str) -> int:
    """What a crash right after the archive commit leaves behind: bytes and record, nothing derived."""
    digest = app.archive.store(raw)
    pk, _ = app.store.record_message(sha256=digest, message_id=pipeline.header_message_id(raw), size=len(raw),
                                     source_id=source_id, source_received_at=None, now=NOW)
    return pk


def test_a_message_left_unprocessed_by_a_crash_is_finished_by_the_next_poll(app):
    archive_only(app, report(), "folder:new/1")
    assert app.store.unprocessed_ids() == [1]
    counts = jobs.ingest_all(app, [])
    assert counts.reports == 1 and app.store.unprocessed_ids() == []
    assert state_of(load_states(app.store, app.config, NOW), "长沙市", "summary").rows == len(SAMPLE_ROWS)


def test_reprocess_rebuilds_everything_from_the_archive(app):
    jobs.ingest_all(app, [Fetched("a", report(1)), Fetched("b", report(2, SAMPLE_ROWS[:2]))])
    before = load_states(app.store, app.config, NOW)
    app.store.clear_all_derived()
    assert state_of(load_states(app.store, app.config, NOW), "长沙市", "summary").state == "missing"
    assert pipeline.reprocess(app) == 2
    assert load_states(app.store, app.config, NOW) == before


def test_a_message_that_fails_inside_the_pipeline_is_recorded_and_the_others_go_on(app):
    broken = archive_only(app, report(1), "x")
    app.archive.path_for(app.store.stored_message(broken).sha256).unlink()  # the disk lost it
    counts = jobs.ingest_all(app, [Fetched("y", report(2))])
    problems = app.store.problems([broken])
    assert [p["code"] for p in problems] == ["internal_error"]
    assert counts.new == 1 and counts.reports == 1
    assert state_of(load_states(app.store, app.config, NOW), "长沙市", "summary").state == "on_time"


def test_the_same_message_fetched_twice_is_archived_and_counted_once(app):
    raw = report()
    first = pipeline.ingest(app, Fetched("imap:INBOX:1:5", raw))
    second = pipeline.ingest(app, Fetched("imap:INBOX:1:9", raw))
    assert first.is_new and not second.is_new and first.message == second.message
    assert len(app.store.stored_messages()) == 1
    assert app.store.has_delivery("imap:INBOX:1:9")
