"""A real Dovecot for tests: foreground master on a free loopback port, throwaway config.

Plain text on 127.0.0.1, passwd-file users with {PLAIN} passwords, Maildir per user. Needs the Debian
packages dovecot-imapd + dovecot-core. As root the mail processes run as `nobody`; without root every
process runs as the current user (Dovecot's rootless mode).
"""
from __future__ import annotations

import grp
import itertools
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Iterable

from imapclient import IMAPClient

from service.config import MailboxSection

INSTALL_HINT = (
    "Dovecot is required by the IMAP integration tests and they are never skipped: "
    "install it with `apt-get install -y dovecot-imapd` (Debian/Ubuntu)."
)

CONFIG = """\
# Throwaway test config written by tests/dovecot.py; nothing is included from /etc/dovecot.
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
instance_name = test-dovecot-{port}
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
mail_fsync = never
first_valid_uid = {first_uid}
last_valid_uid = 0
mail_location = maildir:~/Maildir
imap_id_log = *
# Each command's end is logged so tests can prove the order of ID and EXAMINE.
log_debug = event=imap_command_finished
passdb {{
  driver = passwd-file
  # One file per user: a new user is a new file, so no stale cache of an older passwd file.
  args = scheme=PLAIN username_format=%u {root}/users/%u
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/mail/%u
}}
{rootless}service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
"""


# Without root, every Dovecot process runs as the current user and nothing is chrooted.
ROOTLESS = """\
default_internal_user = {user}
default_internal_group = {group}
default_login_user = {user}
service anvil {{
  chroot =
}}
service imap-login {{
  chroot =
}}
"""


class DovecotMissing(RuntimeError):
    """Dovecot is not installed (or not usable) on this machine."""


@dataclass(frozen=True)
class Account:
    """One mailbox user on the test server."""

    user: str
    password: str


def find_dovecot() -> str:
    """Path of the dovecot binary (often in /usr/sbin, outside a non-root PATH)."""
    found = shutil.which("dovecot") or shutil.which("dovecot", path="/usr/sbin:/usr/local/sbin")
    if not found:
        raise DovecotMissing(INSTALL_HINT)
    return found


def free_port() -> int:
    """A currently unused TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Dovecot:
    """A running test server with helpers to add users, APPEND mail and look behind the client's back."""

    host = "127.0.0.1"

    def __init__(self, binary: str, root: Path, port: int) -> None:
        self.binary = binary
        self.root = root
        self.port = port
        self.config_path = root / "dovecot.conf"
        self.log_path = root / "dovecot.log"
        self._process: subprocess.Popen | None = None
        self._users = itertools.count(1)
        # As root, mail is owned by `nobody` (Debian's `dovecot` user is below first_valid_uid).
        self._rootless = os.geteuid() != 0
        self._mail_uid = os.geteuid() if self._rootless else pwd.getpwnam("nobody").pw_uid
        self._mail_gid = os.getegid() if self._rootless else grp.getgrnam("nogroup").gr_gid

    @classmethod
    def create(cls) -> "Dovecot":
        """Write a config under a fresh 0755 temp dir (the mail processes must reach it) and start."""
        binary = find_dovecot()
        root = Path(tempfile.mkdtemp(prefix="dovecot-test-"))
        root.chmod(0o755)
        server = cls(binary, root, free_port())
        server._write_files()
        server.start()
        return server

    def _write_files(self) -> None:
        (self.root / "mail").mkdir(mode=0o755)
        os.chown(self.root / "mail", self._mail_uid, self._mail_gid)
        (self.root / "users").mkdir(mode=0o755)  # read by the auth process (user `dovecot` as root)
        rootless = ROOTLESS.format(user=pwd.getpwuid(self._mail_uid).pw_name,
                                   group=grp.getgrgid(self._mail_gid).gr_name) if self._rootless else ""
        self.config_path.write_text(CONFIG.format(
            root=self.root, port=self.port, uid=self._mail_uid, gid=self._mail_gid,
            first_uid=min(self._mail_uid, 500) or 1, rootless=rootless))

    # --- process -------------------------------------------------------------------------

    def start(self, timeout: float = 15.0) -> None:
        """Start the master in the foreground and wait until the port greets."""
        if self.running:
            return
        self._process = subprocess.Popen(
            [self.binary, "-F", "-c", str(self.config_path)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            start_new_session=True)  # own process group: stop() takes the imap children down too
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                err = self._process.stderr.read().decode(errors="replace") if self._process.stderr else ""
                raise DovecotMissing(f"dovecot exited with {self._process.returncode}: {err}\n{self.log_text()}")
            if self._greets():
                return
            time.sleep(0.05)
        self.stop()
        raise DovecotMissing(f"dovecot did not answer on port {self.port} within {timeout}s\n{self.log_text()}")

    def _greets(self) -> bool:
        try:
            with socket.create_connection((self.host, self.port), timeout=1) as sock:
                return sock.recv(100).startswith(b"* OK")
        except OSError:
            return False

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def stop(self) -> None:
        """Stop the server like a crash would for clients: master and every imap process, connections cut."""
        if self._process is None:
            return
        group = self._process.pid
        # The master alone would leave running imap processes serving their open connections.
        self._signal_group(group, signal.SIGTERM)
        try:
            self._process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        deadline = time.monotonic() + 5
        while self._signal_group(group, 0) and time.monotonic() < deadline:
            time.sleep(0.02)
        self._signal_group(group, signal.SIGKILL)
        if self._process.stderr:
            self._process.stderr.close()
        self._process = None
        self._wait_port_closed()

    @staticmethod
    def _signal_group(group: int, sig: int) -> bool:
        """Send sig to the process group; False once no process of it is left."""
        try:
            os.killpg(group, sig)
            return True
        except ProcessLookupError:
            return False

    def _wait_port_closed(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self._greets():
            time.sleep(0.05)

    def restart(self) -> None:
        self.stop()
        self.start()

    def destroy(self) -> None:
        """Stop and remove every file of this server."""
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_size(self) -> int:
        """Current log length, to read only what a test caused: log_text()[offset:]."""
        return len(self.log_text())

    def wait_for_log(self, needle: str, since: int = 0, timeout: float = 5.0) -> str:
        """Log text after offset `since`, once `needle` shows up in it (the log process lags a little)."""
        deadline = time.monotonic() + timeout
        while True:
            text = self.log_text()[since:]
            if needle in text or time.monotonic() > deadline:
                return text
            time.sleep(0.02)

    # --- users and mail ----------------------------------------------------------------------

    def add_user(self, prefix: str = "user") -> Account:
        """A fresh user with a random password, in its own passwd-file."""
        account = Account(f"{prefix}{next(self._users)}", secrets.token_urlsafe(12))
        path = self.root / "users" / account.user
        path.write_text(f"{account.user}:{{PLAIN}}{account.password}\n")
        path.chmod(0o644)
        return account

    def mailbox(self, account: Account, **overrides) -> MailboxSection:
        """The [mailbox] config section reaching this server as `account`."""
        values = dict(kind="imap", host=self.host, port=self.port, security="none",
                      user=account.user, password=account.password, timeout=10.0)
        values.update(overrides)
        return MailboxSection(**values)

    def connect(self, account: Account) -> IMAPClient:
        """A logged-in client of our own, separate from the code under test."""
        client = IMAPClient(self.host, self.port, ssl=False, timeout=10)
        client.login(account.user, account.password)
        client.normalise_times = False
        return client

    def append(self, account: Account, raw: bytes, folder: str = "INBOX",
               when: datetime | None = None) -> None:
        """APPEND one message without flags (so it is unseen)."""
        with self.connect(account) as client:
            if not client.folder_exists(folder):
                client.create_folder(folder)
            client.append(folder, raw, flags=(), msg_time=when)

    def append_many(self, account: Account, raws: Iterable[bytes], folder: str = "INBOX",
                    chunk: int = 500) -> None:
        """MULTIAPPEND in chunks: 10,000 small messages take a few seconds."""
        with self.connect(account) as client:
            if not client.folder_exists(folder):
                client.create_folder(folder)
            batch: list[bytes] = []
            for raw in raws:
                batch.append(raw)
                if len(batch) == chunk:
                    client.multiappend(folder, batch)
                    batch = []
            if batch:
                client.multiappend(folder, batch)

    def flags(self, account: Account, folder: str = "INBOX") -> dict[int, tuple[bytes, ...]]:
        """FLAGS of every message, read over a separate read-only connection."""
        with self.connect(account) as client:
            client.select_folder(folder, readonly=True)
            uids = client.search("ALL")
            fetched = client.fetch(uids, ["FLAGS"]) if uids else {}
            return {uid: fetched[uid][b"FLAGS"] for uid in uids}

    def uidvalidity(self, account: Account, folder: str = "INBOX") -> int:
        with self.connect(account) as client:
            return client.folder_status(folder, ["UIDVALIDITY"])[b"UIDVALIDITY"]

    def last_uid(self, account: Account, folder: str = "INBOX") -> int:
        with self.connect(account) as client:
            return client.folder_status(folder, ["UIDNEXT"])[b"UIDNEXT"] - 1

    def set_uidvalidity(self, account: Account, value: int, folder: str = "INBOX") -> None:
        """Give the folder a new UIDVALIDITY, as a server does after rebuilding its index."""
        doveadm = shutil.which("doveadm") or shutil.which("doveadm", path="/usr/bin:/usr/sbin") or "doveadm"
        subprocess.run([doveadm, "-c", str(self.config_path), "mailbox", "update", "-u", account.user,
                        "--uid-validity", str(value), folder],
                       check=True, capture_output=True, timeout=30)

    def recreate_folder(self, account: Account, folder: str) -> None:
        """DELETE and CREATE a (non-INBOX) folder: new UIDVALIDITY, messages gone."""
        with self.connect(account) as client:
            client.delete_folder(folder)
            client.create_folder(folder)


def sample_message(n: int, subject: str = "report") -> bytes:
    """A small distinct RFC 5322 message (CRLF line ends, as stored by the server)."""
    return (f"From: city{n}@example.cn\r\nTo: office@example.cn\r\nSubject: {subject} {n}\r\n"
            f"Message-ID: <msg{n}.{secrets.token_hex(4)}@example.cn>\r\n\r\nbody {n}\r\n").encode()


class MemoryState:
    """The caller's side of the ImapSource contract: deliveries and per-folder watermarks in memory."""

    def __init__(self) -> None:
        self.watermarks: dict[str, tuple[int, int]] = {}
        self.deliveries: set[str] = set()

    def get_watermark(self, folder: str) -> tuple[int, int] | None:
        return self.watermarks.get(folder)

    def has_delivery(self, source_id: str) -> bool:
        return source_id in self.deliveries

    def delivery_ids(self, prefix: str) -> set[str]:
        return {s for s in self.deliveries if s.startswith(prefix)}

    def commit(self, fetched) -> None:
        """What the pipeline does after archiving a message: record it, then move the watermark."""
        self.deliveries.add(fetched.source_id)
        self.watermarks[fetched.folder] = (fetched.uidvalidity, fetched.uid)
