"""The single-worker lock on a real SQLite file and a real PostgreSQL server: one holder, freed on death."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from service.store.lock import AdvisoryLock, FileLock, LockError, worker_lock

HOLD = textwrap.dedent("""
    import sys, time
    from service.store.lock import worker_lock
    lock = worker_lock(sys.argv[1])
    print("held" if lock.acquire() else "refused", flush=True)
    time.sleep(60)
""")


def hold_in_child(url: str) -> subprocess.Popen:
    """A process that takes the lock and sleeps; returns once it holds it."""
    child = subprocess.Popen([sys.executable, "-c", HOLD, url], stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "held"
    return child


def test_the_lock_kind_follows_the_database_url(tmp_path) -> None:
    assert isinstance(worker_lock(f"sqlite:///{tmp_path}/x/service.db"), FileLock)
    assert worker_lock(f"sqlite:///{tmp_path}/x/service.db").path == tmp_path / "x" / "service.db.lock"
    assert isinstance(worker_lock("postgresql+psycopg://u@127.0.0.1:1/db"), AdvisoryLock)
    with pytest.raises(LockError, match="mysql"):
        worker_lock("mysql://u@h/db")


def test_only_one_holder_at_a_time_and_release_frees_it(database_url: str) -> None:
    first, second = worker_lock(database_url), worker_lock(database_url)
    assert first.acquire() and first.held()
    assert second.acquire() is False
    assert first.acquire() is True  # re-acquiring what one holds is a no-op
    first.release()
    assert second.acquire() is True
    second.release()


def test_a_killed_holder_frees_the_lock(database_url: str) -> None:
    child = hold_in_child(database_url)
    lock = worker_lock(database_url)
    try:
        assert lock.acquire() is False
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        deadline = time.monotonic() + 10  # PostgreSQL ends the session when it sees the socket close
        while not lock.acquire():
            assert time.monotonic() < deadline, "the lock of a killed process was not released"
            time.sleep(0.05)
        assert lock.held()
    finally:
        child.kill()
        child.wait()
        lock.release()


def test_the_lock_file_is_private_and_names_its_holder(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'data' / 'service.db'}"
    child = hold_in_child(url)
    try:
        lock = worker_lock(url)
        assert lock.acquire() is False
        assert f"pid {child.pid}" in lock.describe()
        assert (lock.path.stat().st_mode & 0o777) == 0o600
    finally:
        child.kill()
        child.wait()


@pytest.mark.postgres
def test_a_dropped_database_connection_is_noticed_as_a_lost_lock(postgres_server) -> None:
    url = postgres_server.new_database()
    lock = worker_lock(url)
    assert lock.acquire()
    import psycopg

    with psycopg.connect(postgres_server.admin_url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND database = "
                      "(SELECT oid FROM pg_database WHERE datname = %s)", (url.rsplit("/", 1)[1],))
    assert lock.held() is False
    other = worker_lock(url)
    assert other.acquire()
    other.release()
    lock.release()
