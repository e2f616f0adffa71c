"""Schema migrations (Alembic, configured in code): a database -> the schema of this version (HEAD).

Every process opening the store calls ensure_schema: one SELECT when the schema is current. A new
database is created from schema.metadata and stamped HEAD (Alembic's recommended fast path); an
older one is upgraded at start only when every pending revision says `safe_at_start`, else
`service migrate` does it. A revision this code does not know (a newer version ran) is refused.

Changing schema.metadata: draft a revision with autogenerate against a database at HEAD, set its
`safe_at_start`, and move HEAD. In Python:
    from alembic import command; from service.store.migrations import alembic_config
    cfg = alembic_config(); cfg.set_main_option("sqlalchemy.url", "sqlite:///var/service.db")
    command.revision(cfg, "what changed", autogenerate=True, rev_id="0007")
"""
from __future__ import annotations

import logging
from contextlib import contextmanager
from typing import Any, Iterator

from sqlalchemy import Column, MetaData, String, Table, insert, inspect, select, text
from sqlalchemy.engine import Connection, Engine

from ...errors import ServiceError
from ..schema import metadata

log = logging.getLogger(__name__)

HEAD = "0007"  # newest revision in versions/; a test checks it against Alembic's own answer
BASELINE = "0001"  # what create_all made before migrations existed
SCRIPT_LOCATION = "service.store:migrations"
MIGRATION_LOCK_KEY = 0x7265706F72746D69  # pg_advisory_xact_lock key, "reportmi": serialises migrators

# Alembic's own version table, written directly so a new database needs no Alembic import.
_version_metadata = MetaData()
alembic_version = Table("alembic_version", _version_metadata,
                        Column("version_num", String(32), primary_key=True))


class SchemaError(ServiceError):
    """The database schema cannot be used or changed safely by this version of the service."""


def stored_revision(conn: Connection) -> str | None:
    """The revision stamped in the database, None when it has none (new or pre-migration)."""
    if not inspect(conn).has_table("alembic_version"):
        return None
    return conn.execute(select(alembic_version.c.version_num)).scalar()


def ensure_schema(engine: Engine, *, explicit: bool = False) -> tuple[str | None, str]:
    """Bring the schema to HEAD; returns (revision before, HEAD). explicit: also unsafe revisions."""
    with engine.connect() as conn:
        before = stored_revision(conn)
    if before == HEAD:
        return before, HEAD
    with _migration_lock(engine) as conn:
        before = stored_revision(conn)  # again: another process may have migrated meanwhile
        if before == HEAD:
            return before, HEAD
        if before is None and not inspect(conn).get_table_names():
            _create_fresh(conn)
            return None, HEAD
        _upgrade(conn, before or BASELINE, explicit, stamp_baseline=before is None)
    return before, HEAD


def _create_fresh(conn: Connection) -> None:
    metadata.create_all(conn)
    _version_metadata.create_all(conn)
    conn.execute(insert(alembic_version).values(version_num=HEAD))
    log.info("database created at schema revision %s", HEAD)


def _upgrade(conn: Connection, start: str, explicit: bool, *, stamp_baseline: bool) -> None:
    from alembic import command

    pending = pending_revisions(start)
    unsafe = [rev for rev, safe in pending if not safe]
    if unsafe and not explicit:
        raise SchemaError(f"database schema is at {start}; revisions {', '.join(unsafe)} must be applied "
                          f"deliberately (back up first): run `service migrate`")
    if stamp_baseline:  # tables made by create_all before migrations existed: they are the baseline
        _version_metadata.create_all(conn)
        conn.execute(insert(alembic_version).values(version_num=BASELINE))
        log.warning("database had no schema revision: stamped as %s", BASELINE)
    command.upgrade(alembic_config(conn), HEAD)
    log.info("database schema upgraded %s -> %s", start, HEAD)


def pending_revisions(start: str) -> list[tuple[str, bool]]:
    """(revision, safe_at_start) from just after `start` up to HEAD, oldest first."""
    from alembic.script import ScriptDirectory
    from alembic.script.revision import RevisionError
    from alembic.util import CommandError

    scripts = ScriptDirectory.from_config(alembic_config())
    try:
        found = list(scripts.iterate_revisions(HEAD, start))
    except (CommandError, RevisionError) as err:
        raise SchemaError(f"database schema revision {start!r} is unknown to this version of the service "
                          f"(was it migrated by a newer version?): {err}") from err
    return [(s.revision, bool(getattr(s.module, "safe_at_start", False)))
            for s in reversed(found) if s.revision != start]


def alembic_config(connection: Connection | None = None) -> Any:
    """Alembic's Config without an alembic.ini: the scripts ship inside the package."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    config.attributes["connection"] = connection
    return config


@contextmanager
def _migration_lock(engine: Engine) -> Iterator[Connection]:
    """One transaction that only one process at a time holds: schema changes never race."""
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        elif engine.dialect.name == "sqlite":
            # pysqlite would not open a transaction before DDL; IMMEDIATE takes the write lock now.
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        yield conn
        conn.commit()
