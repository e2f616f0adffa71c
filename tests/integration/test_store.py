"""The store on a real SQLite file and a real PostgreSQL database: dedupe facts, watermarks, sent log, aware times."""
from __future__ import annotations

import os
import stat
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from service.ingest.derive import empty_result
from service.model import AttachmentInfo, MessageResult, Problem, TableUnit
from service.store import Store
from tests.rows import activity_row
from tests.store_helpers import record_one, stored

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2022, 1, 5, 9, 0, tzinfo=TZ)


def open_store(where: Path | str) -> Store:
    """A store on a SQLite file under a folder, or on a database URL (the `database_url` fixture)."""
    return Store.open(where if isinstance(where, str) else f"sqlite:///{where / 'db' / 'service.db'}")


def test_the_same_bytes_are_recorded_once_however_often_delivered(database_url):
    store = open_store(database_url)
    first = record_one(store, sha256="a" * 64, message_id="<1@x>", size=10, source_id="imap:INBOX:1:1",
                                 source_received_at=NOW, now=NOW)
    again = record_one(store, sha256="a" * 64, message_id="<1@x>", size=10, source_id="imap:INBOX:1:2",
                                 source_received_at=NOW, now=NOW)
    assert first == (1, True) and again == (1, False)
    assert store.has_delivery("imap:INBOX:1:2") and len(store.stored_messages()) == 1


def test_other_bytes_with_a_known_message_id_are_kept_as_a_duplicate(database_url):
    store = open_store(database_url)
    record_one(store, sha256="a" * 64, message_id="<1@x>", size=10, source_id="s1",
                         source_received_at=None, now=NOW)
    pk, is_new = record_one(store, sha256="b" * 64, message_id="<1@x>", size=11, source_id="s2",
                                      source_received_at=None, now=NOW)
    assert is_new and stored(store, pk).duplicate_of == 1


def test_times_come_back_aware_and_equal(database_url):
    store = open_store(database_url)
    pk, _ = record_one(store, sha256="c" * 64, message_id="", size=1, source_id="",
                                 source_received_at=NOW, now=NOW)
    got = stored(store, pk).source_received_at
    assert got == NOW and got.tzinfo is not None and got.utcoffset() == timedelta(0)


def test_derived_rows_and_problems_are_replaced_not_added(database_url):
    store = open_store(database_url)
    pk, _ = record_one(store, sha256="d" * 64, message_id="<4@x>", size=1, source_id="",
                                 source_received_at=NOW, now=NOW)
    result = empty_result(NOW, subject="总结")
    row = activity_row(filename="附件1.xlsx", sheet="Sheet1", source_row=4, seq="1", county="芙蓉区",
                    organiser="芙蓉区商务局", name="年货节“云上”启动", content="线上直播", effect="销售额1.2亿元", note="",
                    participants=None, products=Decimal("3000"), sales_wan=Decimal("12000"))
    problem = Problem(code="ambiguous_metric", message_zh="销售额无法确定", detail="x" * 10, file="附件1.xlsx", row=None)
    store.replace_results([(pk, result, [problem], [row, row._replace(source_row=5, values={**row.values, "seq": "2"})])])
    first = store.problems([pk])[pk]
    store.replace_results([(pk, result, [problem], [row, row._replace(source_row=5, values={**row.values, "seq": "2"})])])
    got = store.rows([pk])[pk]
    assert [(r.get("seq"), r.source_row) for r in got] == [("1", 4), ("2", 5)]
    assert got[0] == row
    assert store.problems([pk]) == {pk: (replace(problem, number=first[0].number),)}
    assert first[0].number is not None  # the number staff use (`resolve`) is kept through the replace
    assert store.results()[0].subject == "总结"


def test_a_problem_keeps_its_number_and_a_new_one_gets_a_new_number(database_url):
    store = open_store(database_url)
    pk, _ = record_one(store, sha256="h" * 64, message_id="<h@x>", size=1, source_id="",
                       source_received_at=NOW, now=NOW)
    result = empty_result(NOW)
    a, b = Problem("unknown_county", "甲", file="x.xlsx", row=3), Problem("unknown_county", "乙", file="x.xlsx", row=4)
    store.replace_results([(pk, result, [a, a], [])])  # the same problem twice is two problems
    before = [p.number for p in store.problems([pk])[pk]]
    store.replace_results([(pk, result, [b, a, a], [])])
    after = {(p.message_zh, p.number) for p in store.problems([pk])[pk]}
    assert len(set(before)) == 2 and {("甲", n) for n in before} <= after
    assert next(n for text, n in after if text == "乙") not in before


def test_a_snapshot_reads_back_every_record_a_job_needs_as_written(database_url):
    store = open_store(database_url)
    report, later, duplicate = (record_one(store, sha256=c * 64, message_id=f"<{c}@x>" if c != "g" else "<e@x>",
                                           size=1, source_id=c, source_received_at=NOW, now=NOW)[0] for c in "efg")
    row = activity_row("附件1.xlsx", "Sheet1", 4, "1", "芙蓉区", "芙蓉区商务局", "启动", "直播", "销售额0.3万元", "",
                    None, Decimal("0.1"), Decimal("0.3"))
    units = (TableUnit("附件1.xlsx", "Sheet1", "长沙市商务局", "王敏", "科长", "13812345678", ""),)
    result = MessageResult("a@x", "报送", NOW, "长沙市", "summary", True, False, False, "sender", "keyword", 1,
                           (AttachmentInfo("附件1.xlsx", "xlsx", "a.zip"),), units)
    problem = Problem("unknown_county", "县不在辖区内", "x" * 5000, "附件1.xlsx", 4)
    store.replace_results([(report, result, [problem], [row]),
                           (later, replace(result, received_at=NOW + timedelta(days=1)), [], [row, row]),
                           (duplicate, empty_result(NOW), [], [])])
    store.set_health("poll_ok", "1 new", NOW)
    claim(store)
    snapshot = store.snapshot(with_rows=True)
    first = snapshot.results[0]
    assert (first.message, first.message_id, first.duplicate_of) == (report, "<e@x>", None)
    assert first.attachments == result.attachments and first.units == units and first.received_at == NOW
    assert snapshot.results[2].duplicate_of == report and not snapshot.results[2].is_version
    number = snapshot.problems[report][0].number  # given by the store (stable through reprocess)
    assert number is not None
    assert snapshot.problems == {report: (replace(problem, detail="x" * 4000, number=number),)}  # as the table keeps it
    assert snapshot.rows == {report: (row,), later: (row, row)} and snapshot.row_counts == {report: 1, later: 2}
    assert [s.key for s in snapshot.sent] == ["k1"] and snapshot.sent_keys() == {"k1"}
    assert snapshot.health_of("poll_ok") == ("1 new", NOW)
    assert store.snapshot().rows is None  # rows only when asked
    today = snapshot.at(NOW)
    assert [r.message for r in today.results] == [report, duplicate] and later not in today.rows


def test_a_watermark_only_moves_forward_unless_uidvalidity_changes(database_url):
    store = open_store(database_url)
    store.record_messages([], NOW, {"INBOX": (7, 10)})
    store.record_messages([], NOW, {"INBOX": (7, 5)})
    assert store.get_watermark("INBOX") == (7, 10)
    store.record_messages([], NOW, {"INBOX": (8, 2)})
    assert store.get_watermark("INBOX") == (8, 2)


def test_the_sent_log_records_the_attempt_before_the_result(database_url):
    store = open_store(database_url)
    store.record_send_attempt(key="k1", kind="upcoming", city="长沙市", deadline="progress",
                              recipients=["a@x"], subject="提醒", now=NOW)
    assert store.sent_record("k1").status == "sending" and "k1" in store.sent_keys()
    store.record_send_result("k1", ok=False, error="refused", now=NOW)
    assert "k1" not in store.sent_keys()
    store.record_send_attempt(key="k1", kind="upcoming", city="长沙市", deadline="progress",
                              recipients=["a@x"], subject="提醒", now=NOW)
    store.record_send_result("k1", ok=True, now=NOW)
    record = store.sent_record("k1")
    assert (record.status, record.attempts, record.recipients) == ("sent", 2, ("a@x",))


def test_health_values_are_overwritten(database_url):
    store = open_store(database_url)
    store.set_health("poll_ok", "INBOX", NOW)
    store.set_health("poll_ok", "INBOX", NOW + timedelta(hours=1))
    value, at = store.get_health("poll_ok")
    assert value == "INBOX" and at == (NOW + timedelta(hours=1)).astimezone(timezone.utc)


def test_the_database_file_is_readable_by_the_service_user_only(tmp_path):
    open_store(tmp_path)
    mode = stat.S_IMODE(os.stat(tmp_path / "db" / "service.db").st_mode)
    assert mode == 0o600


def claim(store, key: str = "k1") -> bool:
    return store.claim_send(key=key, kind="upcoming", city="长沙市", deadline="progress",
                            recipients=["a@x"], subject="提醒", now=NOW)


def test_a_key_is_claimed_once_and_again_only_after_a_failure_or_a_deferral(database_url):
    store = open_store(database_url)
    assert claim(store) is True
    assert claim(store) is False  # being sent: a second claimant (another `remind`) backs off
    store.record_send_result("k1", ok=False, deferred=True, error="server down", now=NOW)
    assert store.sent_record("k1").status == "retry" and "k1" not in store.sent_keys()
    assert claim(store) is True
    store.record_send_result("k1", ok=False, error="550 refused", now=NOW)
    assert claim(store) is True
    store.record_send_result("k1", ok=True, now=NOW)
    assert claim(store) is False and store.sent_record("k1").attempts == 3


def test_two_stores_claiming_the_same_key_at_once_give_one_winner_and_no_error(database_url):
    from concurrent.futures import ThreadPoolExecutor

    stores = [open_store(database_url) for _ in range(4)]
    with ThreadPoolExecutor(4) as pool:
        won = list(pool.map(lambda s: [claim(s, f"k{i}") for i in range(20)], stores))
    assert [sum(column) for column in zip(*won)] == [1] * 20
    for s in stores:
        s.record_skipped(key="stale-1", kind="upcoming", city="长沙市", deadline="progress",
                         recipients=[], subject="x", now=NOW)  # logging a stale key twice is no error
        s.close()
