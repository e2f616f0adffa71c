"""Purge: the one way anything is deleted. Mail received before a date -> a plan -> applied on request.

The plan (pure) lists the messages (raw archive files and everything derived), the sent-log
entries and outbox files made before the date. Applying deletes the database records first, in one
transaction, then the files; a file left by a crash in between is found again as an orphan.
IMAP watermarks are kept and purged deliveries are remembered, so polls never fetch them again.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Iterable, Mapping
from zoneinfo import ZoneInfo

from ..clock import end_of_day
from ..errors import ServiceError
from ..model import SentRecord, StoredMessage
from .archive import Archive
from .queries import Store

log = logging.getLogger(__name__)
OUTBOX_STAMP = "%Y%m%dT%H%M%S"  # send.safe_filename's prefix, local time of sending


@dataclass(frozen=True)
class ArchiveFile:
    path: Path
    sha256: str
    modified: datetime


@dataclass(frozen=True)
class PurgePlan:
    before: date
    cutoff: datetime  # the first instant of `before`, local time: everything earlier goes
    messages: tuple[StoredMessage, ...]
    sent_keys: tuple[str, ...]
    files: tuple[Path, ...]  # archive files of those messages, orphans, outbox files

    @property
    def empty(self) -> bool:
        return not (self.messages or self.sent_keys or self.files)


def plan_purge(before: date, now: datetime, tz: ZoneInfo, *, messages: Iterable[StoredMessage],
               sent: Iterable[SentRecord], archive: Iterable[ArchiveFile], outbox: Iterable[Path],
               received: Mapping[int, datetime] | None = None, derived: Iterable[Path] = ()) -> PurgePlan:
    """What `purge --before` deletes; refuses a date after today (only finished time can be purged).

    A message's date is `received` (the attributed receipt time) when known, else the server's
    INTERNALDATE, else when it was ingested. `derived` files (the workbook) hold data of every
    message: they go whenever a message goes, and are rebuilt from what stays.
    """
    if before > now.astimezone(tz).date():
        raise ServiceError(f"purge --before {before}: a date after today would delete mail still arriving")
    cutoff = end_of_day(before - timedelta(days=1), tz)
    stored = list(messages)
    received = received or {}
    chosen = {m.id for m in stored if received.get(m.id, m.source_received_at or m.ingested_at) < cutoff}
    # A later copy of a purged message (same Message-ID) points at it: it goes too.
    chosen |= {m.id for m in stored if m.duplicate_of in chosen}
    purged = tuple(m for m in stored if m.id in chosen)
    purged_shas, known_shas = {m.sha256 for m in purged}, {m.sha256 for m in stored}
    # An old file no message points to was left by a purge that crashed before its files went.
    files = [a.path for a in archive
             if a.sha256 in purged_shas or (a.sha256 not in known_shas and a.modified < cutoff)]
    files += [p for p in outbox if (stamp := outbox_time(p, tz)) is not None and stamp < cutoff]
    files += list(derived) if purged else []
    return PurgePlan(before=before, cutoff=cutoff, messages=purged,
                     sent_keys=tuple(r.key for r in sent if r.created_at < cutoff), files=tuple(sorted(files)))


def outbox_time(path: Path, tz: ZoneInfo) -> datetime | None:
    """When an outbox file was written, from its name; None for names the outbox did not make."""
    try:
        return datetime.strptime(path.name[:15], OUTBOX_STAMP).replace(tzinfo=tz)
    except ValueError:
        return None


def archive_files(archive: Archive) -> list[ArchiveFile]:
    """Every raw message file in the archive (orphans included), with its modification time."""
    found = []
    for path in sorted(archive.root.glob("??/??/*.eml")):
        modified = datetime.fromtimestamp(path.stat().st_mtime, tz=timezone.utc)
        found.append(ArchiveFile(path, path.stem, modified))
    return found


def apply_purge(plan: PurgePlan, store: Store, now: datetime) -> None:
    """Delete the records (one transaction), then the files."""
    store.purge_messages([m.id for m in plan.messages], now)
    store.delete_sent(plan.sent_keys)
    for path in plan.files:
        path.unlink(missing_ok=True)
    log.info("purge before %s: %d messages, %d sent-log entries, %d files deleted",
             plan.before, len(plan.messages), len(plan.sent_keys), len(plan.files))
