"""A snapshot kept between reads (shell, store): the web workbench asks for the store's state on every
request, and most requests follow no change at all.

Input: a Store; output: the Snapshot Store.snapshot() would give at that moment (without rows), read
again only in part: nothing when no process committed anything since (changes.ChangeToken), only the
messages new to the results table while nothing derived earlier was rewritten (changes.REWRITES_KEY:
a stored message's result, problems and rows change only by a rewrite, which counts itself), and the
small fact tables (decisions, the sent log, health) whole.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Iterable

from sqlalchemy import select

from ..model import Problem, Snapshot, StoredResult
from .changes import ChangeToken, read_rewrites
from .decision_log import read_decisions
from .records import (
    read_figures,
    read_problems,
    read_results,
    read_row_counts,
    read_transaction,
    sent_record,
)
from .schema import health, results, sent


@dataclass
class Derived:
    """The derived records kept: per message its result, problems and row count."""

    results: dict[int, StoredResult] = field(default_factory=dict)
    problems: dict[int, tuple[Problem, ...]] = field(default_factory=dict)
    row_counts: dict[int, int] = field(default_factory=dict)

    def add(self, conn: Any, ids: Iterable[int] | None) -> None:
        """Read the given messages' records (None: every message's)."""
        ids = None if ids is None else sorted(ids)
        if ids == []:
            return
        found = read_results(conn, ids), read_problems(conn, ids), read_row_counts(conn, ids)
        # kept only once all three were read: a failed read leaves no message with part of its records
        self.results.update((r.message, r) for r in found[0])
        self.problems.update(found[1])
        self.row_counts.update(found[2])

    def drop(self, ids: Iterable[int]) -> None:
        for m in ids:
            for kept in (self.results, self.problems, self.row_counts):
                kept.pop(m, None)


class KeptSnapshot:
    """One per long-running reader; safe to share between the threads serving requests."""

    def __init__(self, store: Any) -> None:
        self.engine = store.engine
        self.token = ChangeToken(self.engine)
        self.lock = threading.Lock()
        self.seen: object | None = None  # the token the kept snapshot was read under
        self.rewrites = -1  # the rewrite count the kept records were read under
        self.derived = Derived()
        self.snapshot = Snapshot()

    def current(self) -> Snapshot:
        """The store's state now: the kept snapshot when no commit happened since it was read."""
        with self.lock:
            token = self.token.read()  # before reading: a commit in between is read again next time
            if token is None or token != self.seen:
                self.snapshot = self._read(token is not None)
                self.seen = token
            return self.snapshot

    def figures(self, message_ids: Iterable[int]) -> dict[int, tuple[tuple[str, dict], ...]]:
        """message -> its rows' (template id, figures) (records.read_figures), read now."""
        with self.engine.connect() as conn:
            return read_figures(conn, message_ids)

    def _read(self, incremental: bool) -> Snapshot:
        with read_transaction(self.engine) as conn:
            rewrites = read_rewrites(conn)
            if not incremental or rewrites != self.rewrites:
                fresh = Derived()
                fresh.add(conn, None)
                self.derived = fresh
            else:
                now_there = set(conn.execute(select(results.c.message)).scalars())
                kept = set(self.derived.results)
                self.derived.drop(kept - now_there)
                self.derived.add(conn, now_there - kept)
            # without a token (neither SQLite nor PostgreSQL) rewrites are not counted: a new value on each
            # read tells the users of `rewrites` (the web's figure charts) to keep nothing either
            self.rewrites = rewrites if incremental else min(self.rewrites, 0) - 1
            d = self.derived
            return Snapshot(
                results=tuple(d.results[m] for m in sorted(d.results)), problems=dict(sorted(d.problems.items())),
                row_counts=dict(d.row_counts),
                sent=tuple(sent_record(r) for r in conn.execute(select(sent).order_by(sent.c.created_at, sent.c.key))),
                health={r.key: (r.value, r.at) for r in conn.execute(select(health))},
                decisions=tuple(read_decisions(conn)))

    def close(self) -> None:
        self.token.close()
