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
