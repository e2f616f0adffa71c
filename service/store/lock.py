"""One active worker per database: a lock the operating system or the server drops when the holder dies.

SQLite: flock on `<database>.lock` beside the file (the kernel releases it with the process).
PostgreSQL: a session advisory lock on a connection of its own (the server releases it when the
connection ends, so also when the process is killed).
"""
from __future__ import annotations

import fcntl
import hashlib
import os
from pathlib import Path
from typing import Protocol

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from ..errors import ServiceError

# Stable across versions and processes: both sides of a worker pair must compute the same key.
WORKER_LOCK_KEY = int.from_bytes(hashlib.sha256(b"report-mail-service:worker").digest()[:8], "big", signed=True)


class LockError(ServiceError):
    """The lock cannot be had: another worker holds it, or it cannot be made for this database."""


class WorkerLock(Protocol):
    def acquire(self) -> bool: ...  # True when this process now holds the lock; never blocks
    def held(self) -> bool: ...  # still held (a dropped database connection loses it)
    def release(self) -> None: ...
    def describe(self) -> str: ...


class FileLock:
    """flock(2) on a file; a second open of the same file, even in this process, does not get it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> bool:
        if self._fd is not None:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())  # for people looking: which process holds it
        self._fd = fd
        return True

    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = None

    def describe(self) -> str:
        try:  # the holder wrote its pid; reading needs no lock
            holder = self.path.read_text().strip()
        except OSError:
            holder = ""
        return f"lock file {self.path}" + (f", held by pid {holder}" if holder and self._fd is None else "")


class AdvisoryLock:
    """pg_try_advisory_lock on a dedicated connection (outside any pool, never recycled)."""

    def __init__(self, url: str, key: int = WORKER_LOCK_KEY) -> None:
        self.url, self.key = url, key
        self._engine = create_engine(url, poolclass=NullPool)
        self._conn: Connection | None = None

    def acquire(self) -> bool:
        if self._conn is not None:
            return True
        conn = self._engine.connect()
        got = conn.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": self.key}).scalar()
        conn.commit()  # the lock is per session, not per transaction: nothing stays open
        if not got:
            conn.close()
            return False
        self._conn = conn
        return True

    def held(self) -> bool:
        if self._conn is None:
            return False
        try:
            self._conn.execute(text("SELECT 1")).scalar()
            self._conn.commit()
            return True
        except DBAPIError:
            self._conn = None  # the session is gone and its lock with it
            return False

    def release(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()  # ending the session releases its advisory locks
            except DBAPIError:
                pass
            self._conn = None
        self._engine.dispose()

    def describe(self) -> str:
        return f"PostgreSQL advisory lock {self.key}"


def worker_lock(database_url: str) -> WorkerLock:
    """The single-worker lock for this database URL."""
    if database_url.startswith("sqlite:///") and database_url != "sqlite:///:memory:":
        path = Path(database_url.removeprefix("sqlite:///"))
        return FileLock(path.with_name(path.name + ".lock"))
    if database_url.startswith(("postgresql:", "postgresql+")):
        return AdvisoryLock(database_url)
    raise LockError(f"no single-worker lock for {database_url.split(':', 1)[0]} databases: "
                    f"use a SQLite file or PostgreSQL")
