"""Mail arrives: local files (a Maildir or a folder of .eml files) -> Fetched raw messages.

The embedded default reads <data_dir>/mailbox; `import` reads any paths given. IMAP lives in
fetch_imap.py; both feed the same pipeline.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Iterable, Iterator, Protocol

from .model import Fetched

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


def _is_mail_file(path: Path) -> bool:
    name = path.name
    if name in _SKIP_NAMES or name.startswith(".") or name.startswith("dovecot"):
        return False
    return path.is_file() and path.suffix.lower() not in {".tmp", ".lock"}


def mail_files(paths: Iterable[Path]) -> Iterator[Path]:
    """Every mail file under the given files/folders (Maildir new/ and cur/ included), sorted."""
    for path in paths:
        if path.is_dir():
            if (path / "tmp").is_dir() and ((path / "new").is_dir() or (path / "cur").is_dir()):
                # Maildir: tmp/ holds half-delivered mail, never read it
                candidates = [*(path / "new").glob("*"), *(path / "cur").glob("*")]
            else:
                candidates = [p for p in path.rglob("*") if "tmp" not in p.relative_to(path).parts[:-1]]
            yield from sorted(p for p in candidates if _is_mail_file(p))
        elif path.is_file():
            yield path


class FolderSource:
    """New files in a local mailbox folder; the files themselves are never moved or changed."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def fetch_new(self, state: SourceState) -> Iterator[Fetched]:
        if not self.root.exists():
            log.warning("mailbox folder %s does not exist yet", self.root)
            return
        seen = state.delivery_ids("folder:")
        for path in mail_files([self.root]):
            source_id = f"folder:{path.relative_to(self.root).as_posix()}"
            if source_id in seen:
                continue
            yield Fetched(source_id=source_id, raw=path.read_bytes())

    def close(self) -> None:
        pass


def fetch_files(paths: Iterable[Path]) -> Iterator[Fetched]:
    """Fetched messages from .eml files / folders / Maildirs named on the command line."""
    for path in mail_files(paths):
        yield Fetched(source_id=f"import:{path.resolve().as_posix()}", raw=path.read_bytes())
