"""The kept snapshot (store/kept.py) on a real SQLite file and a real PostgreSQL database: after any
commit of another connection it is what a fresh Store.snapshot() reads, and without one it is not read."""
from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from service.model import MessageResult, Problem
from service.store import Store
from service.store.changes import ChangeToken
from service.store.kept import KeptSnapshot
from tests.integration.conftest import database_url, postgres_server  # noqa: F401 - fixtures
from tests.rows import activity_row
from tests.store_helpers import record_one

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2022, 1, 5, 9, 0, tzinfo=TZ)


def open_store(where: str) -> Store:
    return Store.open(where)


def report(store: Store, n: int, city: str = "长沙市", figure: str = "10", rows: int = 2) -> int:
    """Message n: a report of `city` with `rows` rows of that figure and one problem; returns its id."""
    at = NOW + timedelta(minutes=n)
    pk, _ = record_one(store, sha256=hashlib.sha256(str(n).encode()).hexdigest(), message_id=f"<{n}@x>", size=1,
                       source_id=f"s{n}", source_received_at=at, now=at)
    derive(store, pk, at, city, figure, rows)
    return pk


def derive(store: Store, pk: int, at: datetime, city: str, figure: str, rows: int) -> None:
    result = MessageResult(sender="a@b.cn", subject=f"报送 {pk}", received_at=at, city=city, deadline="progress",
                           is_report=True, auto_generated=False, unregistered_sender=False, city_source="sender",
                           deadline_source="keyword", tables=1)
    found = [activity_row("附件1.xlsx", "Sheet1", 5 + i, str(i + 1), "芙蓉区", "商务局", "活动", "", "", "",
                          Decimal(figure), None, Decimal("1.5")) for i in range(rows)]
    store.replace_results([(pk, result, [Problem("no_header", "没有表头", file="附件1.xlsx")], found)])


def same(kept: KeptSnapshot, store: Store) -> None:
    fresh, mine = store.snapshot(), kept.current()
    assert mine.results == fresh.results and dict(mine.problems) == dict(fresh.problems)
    assert dict(mine.row_counts) == dict(fresh.row_counts) and mine.decisions == fresh.decisions
    assert mine.sent == fresh.sent and dict(mine.health) == dict(fresh.health)


def test_the_kept_snapshot_follows_every_commit_of_another_process(database_url):  # noqa: F811
    reader, writer = open_store(database_url), open_store(database_url)  # two engines: two processes' pools
    kept = KeptSnapshot(reader)
    first = report(writer, 1)
    same(kept, writer)
    report(writer, 2, city="株洲市")  # new mail
    same(kept, writer)
    derive(writer, first, NOW, "湘潭市", "99", 3)  # reprocess: the same message derived again
    same(kept, writer)
    writer.record_decision("ignore", str(first), {}, "ann", "", NOW)  # a decision
    same(kept, writer)
    writer.set_health("poll_ok", "", NOW)
    same(kept, writer)
    writer.purge_messages([first], NOW)
    same(kept, writer)
    assert [r.message for r in kept.current().results] == [2]
    kept.close(), reader.close(), writer.close()


def test_without_a_commit_the_kept_snapshot_is_not_read_again(database_url):  # noqa: F811
    store = open_store(database_url)
    report(store, 1)
    kept = KeptSnapshot(store)
    assert kept.current() is kept.current()
    report(store, 2)
    assert len(kept.current().results) == 2
    kept.close(), store.close()


def test_the_change_token_moves_with_another_connections_commit_only(database_url):  # noqa: F811
    reader, writer = open_store(database_url), open_store(database_url)
    token = ChangeToken(reader.engine)
    before = token.read()
    assert before is not None and token.read() == before
    reader.snapshot()  # reading changes nothing
    assert token.read() == before
    writer.set_health("poll_ok", "", NOW)
    assert token.read() != before
    token.close(), reader.close(), writer.close()


def test_rewriting_derived_records_is_counted_and_new_mail_is_not(database_url):  # noqa: F811
    store = open_store(database_url)
    kept = KeptSnapshot(store)
    first = report(store, 1)
    report(store, 2)
    kept.current()
    assert kept.rewrites == 0
    derive(store, first, NOW, "长沙市", "20", 2)
    kept.current()
    assert kept.rewrites == 1
    store.clear_all_derived()
    assert kept.current().results == () and kept.rewrites == 2
    kept.close(), store.close()


def test_the_figures_are_the_rows_template_and_exact_figures_in_order(database_url):  # noqa: F811
    store = open_store(database_url)
    pk = report(store, 1, figure="0.123456", rows=3)
    kept = KeptSnapshot(store)
    assert kept.figures([pk]) == {pk: tuple((r.table, r.figures) for r in store.rows([pk])[pk])}
    assert kept.figures([pk])[pk][0] == ("activities", {"participants": Decimal("0.123456"), "sales_wan": Decimal("1.5")})
    kept.close(), store.close()


@pytest.mark.parametrize("times", [3])
def test_a_health_row_counting_rewrites_reads_back_as_an_aware_time(database_url, times):  # noqa: F811
    store = open_store(database_url)
    pk = report(store, 1)
    for _ in range(times):
        derive(store, pk, NOW, "长沙市", "1", 1)
    value, at = store.get_health("derived_rewrites")
    assert value == str(times) and at.tzinfo is not None
    store.close()
