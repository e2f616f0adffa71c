"""Alembic migrations on SQLite and PostgreSQL: they build schema.metadata exactly, upgrade old data,
and run at start only when safe."""
from __future__ import annotations

import threading
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from service.cli import main
from service.store import Store, make_engine
from service.store.migrations import (
    BASELINE,
    HEAD,
    SchemaError,
    alembic_config,
    pending_revisions,
)
from service.store.schema import metadata

NOW = datetime(2022, 1, 5, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


def schema_differences(url: str) -> list:
    """What autogenerate would change to make the database match schema.metadata."""
    engine = make_engine(url)
    with engine.connect() as conn:
        found = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
    engine.dispose()
    return found


def migrate_to(url: str, revision: str) -> None:
    """Run the real migration scripts (not the create_all fast path) up to `revision`."""
    engine = make_engine(url)
    with engine.connect() as conn:
        command.upgrade(alembic_config(conn), revision)
        conn.commit()
    engine.dispose()


def revision_of(url: str) -> str | None:
    engine = make_engine(url)
    with engine.connect() as conn:
        found = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    engine.dispose()
    return found


def test_head_is_the_newest_script_and_every_script_is_safe_at_start() -> None:
    scripts = ScriptDirectory.from_config(alembic_config())
    assert scripts.get_current_head() == HEAD
    assert pending_revisions(BASELINE) == [("0002", True), ("0003", True), ("0004", True), ("0005", True), ("0006", True), ("0007", True)]


def test_the_migration_scripts_build_exactly_the_store_schema(database_url: str) -> None:
    migrate_to(database_url, "head")
    assert schema_differences(database_url) == []


def test_a_new_database_gets_the_same_schema_stamped_at_head(database_url: str) -> None:
    Store.open(database_url).close()
    assert schema_differences(database_url) == []
    assert revision_of(database_url) == HEAD


def test_an_older_database_is_upgraded_at_start_and_keeps_its_data(database_url: str) -> None:
    migrate_to(database_url, BASELINE)
    old = Store(make_engine(database_url))
    old.set_health("poll_ok", "3 new", NOW)
    old.close()

    store = Store.open(database_url)
    assert store.get_health("poll_ok") == ("3 new", NOW)
    assert revision_of(database_url) == HEAD
    assert {"purged", "quarantine"} <= set(inspect(store.engine).get_table_names())
    store.close()


def test_a_database_made_before_migrations_is_stamped_and_upgraded(database_url: str) -> None:
    engine = make_engine(database_url)
    later = ("purged", "quarantine", "decisions", "problem_numbers", "users", "web_sessions")  # tables the migrations add
    legacy = [t for t in metadata.sorted_tables if t.name not in later]
    metadata.create_all(engine, tables=legacy)
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE problems DROP COLUMN number"))  # 0004 adds it
        for column in ("auth_verdict", "auth_dkim", "auth_dkim_domain", "auth_aligned", "auth_spf", "auth_dmarc",
                       "auth_authserv_id", "sender_unverified"):  # 0006 adds them
            conn.execute(text(f"ALTER TABLE results DROP COLUMN {column}"))
        for column in ("template", "fields", "figures"):  # 0007 puts them in place of one column per 2022 field
            conn.execute(text(f"ALTER TABLE rows DROP COLUMN {column}"))
        for column in ("seq", "county", "organiser", "name", "content", "effect", "note"):
            conn.execute(text(f"ALTER TABLE rows ADD COLUMN {column} TEXT NOT NULL DEFAULT ''"))
        for column in ("participants", "products", "sales_wan"):
            conn.execute(text(f"ALTER TABLE rows ADD COLUMN {column} FLOAT"))
    engine.dispose()

    Store.open(database_url).close()
    assert revision_of(database_url) == HEAD
    assert schema_differences(database_url) == []


def test_a_revision_from_a_newer_version_is_refused(database_url: str) -> None:
    Store.open(database_url).close()
    engine = make_engine(database_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    engine.dispose()
    with pytest.raises(SchemaError, match="9999"):
        Store.open(database_url)


def test_processes_opening_a_new_database_at_once_create_it_once(database_url: str) -> None:
    errors: list[BaseException] = []

    def open_it() -> None:
        try:
            Store.open(database_url).close()
        except BaseException as err:  # collected for the assertion below
            errors.append(err)

    threads = [threading.Thread(target=open_it) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert revision_of(database_url) == HEAD


def test_the_migrate_command_reports_what_it_did(database_url: str, tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("SERVICE_DATABASE_URL", database_url)
    monkeypatch.setenv("SERVICE_DATA_DIR", str(tmp_path / "data"))
    migrate_to(database_url, BASELINE)
    assert main(["migrate"]) == 0
    assert f"{BASELINE} -> {HEAD}" in capsys.readouterr().out
    assert main(["migrate"]) == 0
    assert f"schema at {HEAD}" in capsys.readouterr().out
