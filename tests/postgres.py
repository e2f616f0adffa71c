"""A real PostgreSQL for tests: a throwaway cluster on a free loopback port, one database per test.

Uses the Debian package's binaries (/usr/lib/postgresql/<v>/bin). PostgreSQL refuses to run as root,
so as root the cluster belongs to the `postgres` system user the package created. With
SERVICE_TEST_POSTGRES_URL set (a superuser URL), that server is used instead and nothing is started.
"""
from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg

from tests.dovecot import free_port

INSTALL_HINT = ("PostgreSQL is required by the store and worker tests and they are never skipped: "
                "install it with `apt-get install -y postgresql` (Debian/Ubuntu), or set "
                "SERVICE_TEST_POSTGRES_URL to a server's superuser URL.")


class PostgresMissing(RuntimeError):
    """No PostgreSQL binaries on this machine (and no SERVICE_TEST_POSTGRES_URL)."""


def find_bindir() -> Path:
    """The newest installed PostgreSQL's bin folder (Debian keeps them out of PATH)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[4]))
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).parent
    raise PostgresMissing(INSTALL_HINT)


class Postgres:
    """A server and a way to make fresh databases on it, as SQLAlchemy URLs."""

    def __init__(self, admin_url: str, process: subprocess.Popen | None = None, root: Path | None = None) -> None:
        self.admin_url = admin_url  # libpq form, for psycopg
        self._process = process
        self._root = root
        self._names = itertools.count(1)

    @classmethod
    def create(cls) -> "Postgres":
        """Use SERVICE_TEST_POSTGRES_URL, else initdb and start a cluster of our own."""
        url = os.environ.get("SERVICE_TEST_POSTGRES_URL")
        if url:
            return cls(url.replace("postgresql+psycopg://", "postgresql://"))
        return cls._start_own(find_bindir())

    @classmethod
    def _start_own(cls, bindir: Path) -> "Postgres":
        root = Path(tempfile.mkdtemp(prefix="postgres-test-"))
        root.chmod(0o755)
        data, port = root / "data", free_port()
        run_as = _owner_prefix(root)
        subprocess.run([*run_as, str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
                        "--no-sync", "-E", "UTF8", "--locale=C"], check=True, capture_output=True, timeout=120)
        # Durability is not under test: fsync off keeps CREATE DATABASE and commits fast.
        process = subprocess.Popen(
            [*run_as, str(bindir / "postgres"), "-D", str(data), "-p", str(port), "-k", str(root),
             "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off",
             "-c", "full_page_writes=off", "-c", "max_connections=100"],
            stdout=subprocess.DEVNULL, stderr=open(root / "server.log", "wb"), start_new_session=True)
        server = cls(f"postgresql://postgres@127.0.0.1:{port}/postgres", process, root)
        server._wait_ready()
        return server

    def _wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                raise PostgresMissing(f"postgres exited with {self._process.returncode}: {self.log_text()}")
            try:
                psycopg.connect(self.admin_url, connect_timeout=2).close()
                return
            except psycopg.OperationalError:
                time.sleep(0.1)
        raise PostgresMissing(f"postgres did not accept connections within {timeout}s: {self.log_text()}")

    def log_text(self) -> str:
        path = self._root / "server.log" if self._root else None
        return path.read_text(errors="replace") if path and path.exists() else ""

    def new_database(self) -> str:
        """A fresh empty database; its SQLAlchemy URL (psycopg 3 driver)."""
        name = f"test_{os.getpid()}_{next(self._names)}"
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
        base = self.admin_url.rsplit("/", 1)[0]
        return f"{base.replace('postgresql://', 'postgresql+psycopg://', 1)}/{name}"

    def destroy(self) -> None:
        """Stop our own cluster (fast shutdown) and remove its files; a given server is left alone."""
        if self._process is not None:
            self._process.send_signal(signal.SIGINT)  # "fast" shutdown; SIGTERM ("smart") waits for clients
            try:
                self._process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        if self._root is not None:
            shutil.rmtree(self._root, ignore_errors=True)


def _owner_prefix(root: Path) -> list[str]:
    """As root: give `root` to the postgres user and run the server as that user; else run as we are."""
    if os.geteuid() != 0:
        return []
    try:
        user = pwd.getpwnam("postgres")
    except KeyError as err:
        raise PostgresMissing(INSTALL_HINT) from err
    os.chown(root, user.pw_uid, user.pw_gid)
    return ["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--init-groups", "--"]
