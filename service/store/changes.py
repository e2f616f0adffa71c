"""How a long-running reader knows the store changed (shell, store): a cheap token that moves with every
commit of any process, and a counter of rewrites of what was derived before.

Input: the engine; output: a token to compare (None: this database gives none, read again every time)
and the rewrite count. Written by queries.py inside the transactions that rewrite derived records.
"""
from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import Integer, Text, cast, func, select
from sqlalchemy.dialects.postgresql import insert as postgres_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Engine

from .schema import health

# health key counting the transactions that replaced or deleted records derived earlier (re-derive,
# reprocess, purge): while it stands, a message's result, problems and rows are the ones read before.
REWRITES_KEY = "derived_rewrites"


class ChangeToken:
    """A value that differs after any commit to the database, by any process, since it was last read.

    SQLite: `PRAGMA data_version` on a connection kept for it alone (the pragma moves with commits of
    every other connection, ours included, and never with its own: it only reads the pragma).
    PostgreSQL: the current transaction snapshot (xmin:xmax:in-progress ids): two reads with the same
    snapshot see the same rows, and any write transaction that starts or ends changes it (other
    databases' too: a needless re-read, never a stale one). Others, and SQLite in memory (one database per
    connection): None, always read again.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.lock = threading.Lock()  # the web serves from a thread pool; one sqlite3 connection
        self.held: Any = None

    def read(self) -> object | None:
        dialect = self.engine.dialect.name
        if dialect == "sqlite" and self.engine.url.database not in (None, "", ":memory:"):
            with self.lock:
                if self.held is None:
                    self.held = self.engine.raw_connection()
                    self.held.detach()  # kept out of the pool: it never counts against its size
                return ("sqlite", self.held.cursor().execute("PRAGMA data_version").fetchone()[0])
        if dialect == "postgresql":
            with self.engine.connect() as conn:
                # pg_current_snapshot from PostgreSQL 13; txid_current_snapshot, its older name, before
                name = "pg_current_snapshot" if (conn.dialect.server_version_info or (0,)) >= (13,) \
                    else "txid_current_snapshot"
                return ("postgresql", conn.exec_driver_sql(f"SELECT {name}()::text").scalar())
        return None

    def close(self) -> None:
        with self.lock:
            if self.held is not None:
                self.held.close()
                self.held = None


def count_rewrite(conn: Connection) -> None:
    """Add one to the rewrite count, in the caller's transaction (one atomic upsert on both databases)."""
    dialect = conn.dialect.name
    make = sqlite_insert if dialect == "sqlite" else postgres_insert if dialect == "postgresql" else None
    if make is None:
        return
    statement = make(health).values(key=REWRITES_KEY, value="1", at=func.current_timestamp())
    conn.execute(statement.on_conflict_do_update(
        index_elements=[health.c.key],
        set_=dict(value=cast(cast(health.c.value, Integer) + 1, Text), at=func.current_timestamp())))


def read_rewrites(conn: Connection) -> int:
    """How many rewrites of derived records the store has seen (0: none since the key began)."""
    value = conn.execute(select(health.c.value).where(health.c.key == REWRITES_KEY)).scalar()
    return int(value or 0)
