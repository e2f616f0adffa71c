"""The pipeline on a real SQLite file and archive: crash recovery, per-message isolation, dedupe."""
from __future__ import annotations

import os
from datetime import datetime
from zoneinfo import ZoneInfo

from service import jobs
from service.decide.status import states_at
from service.decide.track import state_of
from service.ingest import pipeline, pool
from service.ingest.derive import Job
from service.model import Fetched
from tests.builders import make_email
from tests.store_helpers import record_one, stored
from tests.table_builders import HEADER, SAMPLE_ROWS, make_xlsx

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2022, 2, 10, 12, 0, tzinfo=TZ)


def report(n: int = 1, rows=SAMPLE_ROWS) -> bytes:
    return make_email(subject="长沙市网上年货节活动总结", attachments=[("附件1.xlsx", make_xlsx([HEADER, *rows]))],
                      received=datetime(2022, 2, 6, 10, n, tzinfo=TZ), message_id=f"<r{n}@changsha>")


def archive_only(app, raw: bytes, source_id: str) -> int:
    """What a crash right after the archive commit leaves behind: bytes and record, nothing derived."""
    digest = app.archive.store(raw)
    pk, _ = record_one(app.store, sha256=digest, message_id=pipeline.header_message_id(raw), size=len(raw),
                                     source_id=source_id, source_received_at=None, now=NOW)
    return pk


def test_a_message_left_unprocessed_by_a_crash_is_finished_by_the_next_poll(app):
    archive_only(app, report(), "folder:new/1")
    assert app.store.unprocessed_ids() == [1]
    counts = jobs.ingest_all(app, [])
    assert counts.reports == 1 and app.store.unprocessed_ids() == []
    assert state_of(states_at(app.config, app.store.snapshot(), NOW), "长沙市", "summary").rows == len(SAMPLE_ROWS)


def test_reprocess_rebuilds_everything_from_the_archive(app):
    jobs.ingest_all(app, [Fetched("a", report(1)), Fetched("b", report(2, SAMPLE_ROWS[:2]))])
    before = states_at(app.config, app.store.snapshot(), NOW)
    app.store.clear_all_derived()
    assert state_of(states_at(app.config, app.store.snapshot(), NOW), "长沙市", "summary").state == "missing"
    assert pipeline.reprocess(app) == 2
    assert states_at(app.config, app.store.snapshot(), NOW) == before


def test_a_message_that_fails_inside_the_pipeline_is_recorded_and_the_others_go_on(app):
    broken = archive_only(app, report(1), "x")
    app.archive.path_for(stored(app.store, broken).sha256).unlink()  # the disk lost it
    counts = jobs.ingest_all(app, [Fetched("y", report(2))])
    problems = app.store.problems([broken])[broken]
    assert [p.code for p in problems] == ["internal_error"]
    assert counts.new == 1 and counts.reports == 1
    assert state_of(states_at(app.config, app.store.snapshot(), NOW), "长沙市", "summary").state == "on_time"


def test_the_same_message_fetched_twice_is_archived_and_counted_once(app):
    raw = report()
    first = pipeline.ingest(app, Fetched("imap:INBOX:1:5", raw))
    second = pipeline.ingest(app, Fetched("imap:INBOX:1:9", raw))
    assert first.is_new and not second.is_new and first.message == second.message
    assert len(app.store.stored_messages()) == 1
    assert app.store.has_delivery("imap:INBOX:1:9")


class _Capturing:
    """A deriver that keeps the jobs it is given and derives them in this process, as workers do."""

    def __init__(self, config, converter) -> None:
        self.config, self.converter, self.jobs = config, converter, []

    def submit(self, jobs):
        self.jobs.extend(jobs)
        return lambda: [pool.derive_loaded(job, self.config, self.converter) for job in jobs]


def test_big_mail_reaches_the_deriver_by_its_archive_name_not_its_bytes(app):
    photo = os.urandom(pipeline.BY_ARCHIVE_BYTES)  # with the table: over the limit
    big = make_email(subject="长沙市网上年货节活动总结", message_id="<big@changsha>",
                     attachments=[("附件1.xlsx", make_xlsx([HEADER, *SAMPLE_ROWS])), ("现场照片.jpg", photo)],
                     received=datetime(2022, 2, 6, 10, 0, tzinfo=TZ))
    deriver = _Capturing(app.config, app.converter)
    fetched = [Fetched("big", big), Fetched("small", report(2))]
    outcomes = [o for batch in pipeline.ingest_batches(app, fetched, deriver) for o in batch]
    assert [(len(j.raw), bool(j.sha256)) for j in deriver.jobs] == [(0, True), (len(report(2)), False)]
    assert deriver.jobs[0].sha256 == stored(app.store, outcomes[0].message).sha256
    assert [o.rows for o in outcomes] == [len(SAMPLE_ROWS), len(SAMPLE_ROWS)]


def test_big_mail_missing_from_the_archive_is_an_internal_error_on_that_message(app):
    job = Job(b"", None, NOW, sha256="0" * 64)
    derived = pool.derive_loaded(job, app.config, app.converter)
    assert [p.code for p in derived.problems] == ["internal_error"] and derived.rows == ()
