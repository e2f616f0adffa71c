"""Fixtures for integration tests against real servers (never skipped: CI installs them)."""
from __future__ import annotations

from typing import Iterator

import pytest

# --- Dovecot (IMAP): one server per session, one user per test ------------------------------------
from tests.dovecot import Account, Dovecot, DovecotMissing


@pytest.fixture(scope="session")
def dovecot_server() -> Iterator[Dovecot]:
    """A real Dovecot on a free loopback port; fails (not skips) when it cannot run."""
    try:
        server = Dovecot.create()
    except DovecotMissing as err:
        pytest.fail(str(err), pytrace=False)
    yield server
    server.destroy()


@pytest.fixture
def dovecot(dovecot_server: Dovecot) -> Dovecot:
    """The session server, started again if an earlier test stopped it."""
    dovecot_server.start()
    return dovecot_server


@pytest.fixture
def imap_account(dovecot: Dovecot) -> Account:
    """A fresh user with an empty mailbox, so tests never see each other's mail."""
    return dovecot.add_user()

# --- end Dovecot ----------------------------------------------------------------------------------


# --- PostgreSQL: one throwaway cluster per session, one database per test --------------------------
from tests.postgres import Postgres, PostgresMissing  # noqa: E402  (grouped with its fixtures)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[Postgres]:
    """A real PostgreSQL (own cluster, or SERVICE_TEST_POSTGRES_URL); fails (not skips) when missing."""
    try:
        server = Postgres.create()
    except PostgresMissing as err:
        pytest.fail(str(err), pytrace=False)
    yield server
    server.destroy()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path) -> str:
    """A fresh empty database: a SQLite file, then a PostgreSQL database (tests run on both)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'db' / 'service.db'}"
    return request.getfixturevalue("postgres_server").new_database()

# --- end PostgreSQL --------------------------------------------------------------------------------


# --- SMTP: a real aiosmtpd server per test -------------------------------------------------------
from tests.smtp_server import SmtpServer  # noqa: E402  (grouped with its fixture)


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    """An aiosmtpd server on a free loopback port that keeps what it receives."""
    server = SmtpServer.start()
    yield server
    server.stop()
