"""Mail arrives: local files (a Maildir or a folder of .eml files) -> Fetched raw messages.

The embedded default reads <data_dir>/mailbox; `import` reads any paths given. IMAP lives in
fetch_imap.py; both feed the same pipeline.
"""
from __future__ import annotations

import logging
import os
import stat
from pathlib import Path
from typing import Iterable, Iterator, NamedTuple, Protocol

from ..model import Fetched

log = logging.getLogger(__name__)

_SKIP_NAMES = {"dovecot-uidlist", "dovecot-uidvalidity", "dovecot.index", "dovecot.index.log",
               "dovecot.index.cache", "dovecot-keywords", "maildirfolder", ".DS_Store"}


class SourceState(Protocol):
    """What a source may ask about earlier polls (implemented by store.Store)."""

    def get_watermark(self, folder: str) -> tuple[int, int] | None: ...
    def has_delivery(self, source_id: str) -> bool: ...
    def delivery_ids(self, prefix: str) -> set[str]: ...


class Source(Protocol):
    def fetch_new(self, state: SourceState) -> Iterator[Fetched]: ...
    def close(self) -> None: ...


class Unreadable(NamedTuple):
    """A file that was listed as mail but could not be read: skipped, logged and counted."""

    path: Path
    reason: str


def _is_mail_name(path: Path) -> bool:
    name = path.name
    if name in _SKIP_NAMES or name.startswith(".") or name.startswith("dovecot"):
        return False
    return path.suffix.lower() not in {".tmp", ".lock"}


def mail_files(paths: Iterable[Path]) -> Iterator[Path]:
    """Every mail file under the given files/folders (Maildir new/ and cur/ included), sorted.

    Whatever sits where mail is expected is listed, readable or not (a folder named x.eml in new/,
    a broken link, a FIFO): read_mail_file refuses it and the caller reports it.
    """
    for path in paths:
        if path.is_dir():
            if (path / "tmp").is_dir() and ((path / "new").is_dir() or (path / "cur").is_dir()):
                # Maildir: tmp/ holds half-delivered mail, never read it
                candidates = [*(path / "new").glob("*"), *(path / "cur").glob("*")]
            else:  # folders are walked into, not read
                candidates = [p for p in path.rglob("*") if "tmp" not in p.relative_to(path).parts[:-1]
                              and not p.is_dir()]
            yield from sorted(p for p in candidates if _is_mail_name(p))
        else:
            yield path


def file_kind(mode: int) -> str | None:
    """What a non-regular file is, in words for staff; None for a regular file."""
    for test, kind in ((stat.S_ISREG, None), (stat.S_ISDIR, "文件夹 (directory)"), (stat.S_ISFIFO, "管道 (FIFO)"),
                       (stat.S_ISCHR, "设备 (device)"), (stat.S_ISBLK, "设备 (device)"), (stat.S_ISSOCK, "套接字 (socket)")):
        if test(mode):
            return kind
    return "特殊文件 (special file)"


def read_mail_file(path: Path) -> bytes:
    """The bytes of a regular file; OSError for anything else, which is never read from.

    O_NONBLOCK: opening a FIFO without a writer would otherwise hang the poll; the type is checked
    on the open descriptor, so a file swapped for a FIFO or /dev/zero after listing is refused too.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as fh:
        kind = file_kind(os.fstat(fd).st_mode)
        if kind is not None:
            raise OSError(f"不是普通文件，未读取：{kind}")
        return fh.read()


def unreadable(path: Path, err: OSError) -> Unreadable:
    """The record (and log line) of a mail file that could not be read; the others go on."""
    reason = err.strerror if err.strerror else str(err)
    log.warning("skipped unreadable mail file %s: %s", path, reason)
    return Unreadable(path, reason)


class FolderSource:
    """New files in a local mailbox folder; the files themselves are never moved or changed."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.skipped: list[Unreadable] = []  # files of the last poll that could not be read (tried again next poll)

    def fetch_new(self, state: SourceState) -> Iterator[Fetched]:
        if not self.root.exists():
            log.warning("mailbox folder %s does not exist yet", self.root)
            return
        seen = state.delivery_ids("folder:")
        self.skipped = []
        for path in mail_files([self.root]):
            source_id = f"folder:{path.relative_to(self.root).as_posix()}"
            if source_id in seen:
                continue
            try:
                raw = read_mail_file(path)
            except OSError as err:  # unreadable, a folder, a FIFO, gone since listing: one file, not the poll
                self.skipped.append(unreadable(path, err))
                continue
            yield Fetched(source_id=source_id, raw=raw)

    def close(self) -> None:
        pass


def fetch_files(paths: Iterable[Path], skipped: list[Unreadable] | None = None) -> Iterator[Fetched]:
    """Fetched messages from .eml files / folders / Maildirs named on the command line; files that
    cannot be read are appended to `skipped` and the others go on."""
    for path in mail_files(paths):
        try:
            raw = read_mail_file(path)
        except OSError as err:
            if skipped is not None:
                skipped.append(unreadable(path, err))
            continue
        yield Fetched(source_id=f"import:{path.resolve().as_posix()}", raw=raw)
