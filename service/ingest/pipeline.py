"""Pipeline: raw bytes -> archive -> commit -> derive (parse, extract, attribute) -> record; reprocess.

Mail goes in batches: a batch is archived, synced and committed (with its IMAP watermarks) before
anything can fail; then derived (service/ingest/derive.py, always in bounded worker processes, see pool.py)
while the next batches are fetched, and written in one transaction per batch, in order.
Everything after the archive is derived and can be rebuilt from it by `reprocess`.
"""
from __future__ import annotations

import logging
import re
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Iterable, Iterator

from ..decide.decisions import registered_senders
from ..model import Attribution, Fetched, Message, Problem, SenderAuth, StoredMessage
from ..staff import RegisteredSender
from .derive import INTERNAL_ERROR_ZH, Derived, Job, empty_result, failed, quarantined
from .pool import Deriver

if TYPE_CHECKING:  # the shell wires the App; the pipeline is handed one
    from ..app import App

log = logging.getLogger(__name__)

BATCH_MESSAGES = 50  # recorded in one commit, derived together, written in one transaction
BATCH_BYTES = 32 * 1024 * 1024  # fewer messages when mail is large: bounds memory
IN_FLIGHT = 1  # batches deriving while the next one is fetched, archived and recorded
IN_FLIGHT_BYTES = 64 * 1024 * 1024  # ... unless they are big: parsing holds several times its input
BY_ARCHIVE_BYTES = 1024 * 1024  # bigger mail goes to the deriver by sha256, read from the archive there
BeforeStoring = Callable[[list["Outcome"]], None]
_MESSAGE_ID = re.compile(rb"^message-id:[ \t]*(.*(?:\r?\n[ \t].*)*)", re.IGNORECASE | re.MULTILINE)


@dataclass(frozen=True)
class Outcome:
    """What ingesting one raw message did (for the CLI, the worker's log and receipts).

    `parsed` carries the message's headers and attachment names, not the attachments' bytes.
    """

    message: int  # store id
    is_new: bool
    duplicate: bool = False
    city: str | None = None
    deadline: str | None = None
    is_report: bool = False
    rows: int = 0
    problems: tuple[Problem, ...] = ()
    parsed: Message | None = None
    attribution: Attribution | None = None
    auth: SenderAuth = SenderAuth()  # what vouches for the sender (no receipt to a failed one)


@dataclass
class _Work:
    """One batch on its way: its messages, what is known already, and the derive in progress."""

    stored: list[StoredMessage]
    ready: dict[int, Derived]  # duplicates and unreadable archives: nothing to derive
    todo: list[int]  # ids handed to the deriver, in order
    derived: Callable[[], list[Derived]]
    size: int = 0  # raw bytes being derived
    skipped: list[Outcome] = field(default_factory=list)  # already archived before


def header_message_id(raw: bytes) -> str:
    """Message-ID from the header block only, without a full parse (dedupe happens before parsing)."""
    ends = [at for at in (raw.find(b"\r\n\r\n"), raw.find(b"\n\n")) if at >= 0]
    head = raw[:min(ends)] if ends else raw  # not split(): that copies the whole body
    match = _MESSAGE_ID.search(head)
    if not match:
        return ""
    return re.sub(rb"\s+", b"", match.group(1)).decode("ascii", "replace")[:500]


def batches(items: Iterable[Fetched], size: int = BATCH_MESSAGES,
            max_bytes: int = BATCH_BYTES) -> Iterator[list[Fetched]]:
    """Consecutive runs of 1, 2, 4 ... up to `size` messages (and about `max_bytes` bytes).

    Growing: the first messages of a poll are stored at once (and a stop request is honoured
    soon), a backlog goes in batches big enough to share out among the workers.
    """
    batch: list[Fetched] = []
    total, limit = 0, 1
    for item in items:
        batch.append(item)
        total += len(item.raw)
        del item  # the caller empties a batch once archived: hold its bytes nowhere else
        if len(batch) >= limit or total >= max_bytes:
            yield batch
            batch, total, limit = [], 0, min(2 * limit, size)
    if batch:
        yield batch


def ingest(app: App, fetched: Fetched) -> Outcome:
    """Archive, record and process one raw message. Never raises on bad input."""
    with Deriver(app.config, app.converter, workers=1, lookup=app.txt_lookup) as deriver:
        return next(ingest_batches(app, [fetched], deriver))[0]


def ingest_batches(app: App, items: Iterable[Fetched], deriver: Deriver,
                   before_storing: BeforeStoring | None = None) -> Iterator[list[Outcome]]:
    """Outcomes batch by batch, in order; every batch is committed before its derive starts.

    before_storing(outcomes) runs between a batch's derive and its commit (receipts go out there:
    after a crash the batch is derived again and the sent log skips what already went out).
    """
    works = (_recorded(app, batch, deriver) for batch in batches(items))
    return _written_in_order(app, works, before_storing)


def _recorded(app: App, batch: list[Fetched], deriver: Deriver) -> _Work:
    """Archive (one sync), record with the watermarks (one commit), then start deriving the new ones."""
    digests = app.archive.store_many([f.raw for f in batch])
    found = [dict(sha256=d, message_id=header_message_id(f.raw), size=len(f.raw), source_id=f.source_id,
                  source_received_at=f.received_at) for d, f in zip(digests, batch)]
    marks = {f.folder: (f.uidvalidity, f.uid) for f in batch if f.uid}  # ascending: the last one wins
    recorded = app.store.record_messages(found, app.clock(), marks)
    raws, skipped = {}, []
    for (stored, is_new), fetched in zip(recorded, batch):
        if not is_new:
            log.info("message %s: already archived (%s), skipped", stored.id, fetched.source_id)
            skipped.append(Outcome(stored.id, is_new=False))
        elif len(fetched.raw) < BY_ARCHIVE_BYTES:  # bigger mail is read back from the archive by the deriver
            raws[stored.id] = fetched.raw
    batch.clear()  # archived: big mail is read back by the deriver, not held here
    work = _submitted(app, [stored for stored, is_new in recorded if is_new], deriver, raws)
    work.skipped = skipped
    return work


def _submitted(app: App, stored: list[StoredMessage], deriver: Deriver,
               raws: dict[int, bytes] | None = None, set_aside: dict[int, str] | None = None) -> _Work:
    """Hand the batch's messages to the deriver (raw bytes from `raws`, else from the archive);
    messages in `set_aside` (quarantined: id -> reason) keep their quarantine and are not derived."""
    ready: dict[int, Derived] = {}
    todo: list[int] = []
    jobs: list[Job] = []
    size = 0
    registered = registered_senders(app.store.decisions(), app.config)  # a registration counts from the next batch
    for s in stored:
        if set_aside and s.id in set_aside:
            ready[s.id] = quarantined(s.ingested_at, set_aside[s.id])
            continue
        if s.duplicate_of is not None:
            log.info("message %s: duplicate delivery of message %s (same Message-ID)", s.id, s.duplicate_of)
            problem = Problem("duplicate", f"与已收到的邮件（编号 {s.duplicate_of}）重复，已忽略", detail=s.message_id)
            at = s.source_received_at or s.ingested_at  # when the office got it, as for other mail
            ready[s.id] = Derived(empty_result(at), (problem,))
            continue
        try:
            job, job_bytes = _job(app, s, (raws or {}).get(s.id), registered)
        except OSError as err:  # the disk lost it: recorded, and the others go on
            problem = Problem("internal_error", INTERNAL_ERROR_ZH, detail=f"{type(err).__name__}: {err}")
            ready[s.id] = failed(s.ingested_at, problem, f"archive unreadable: {err}")
            continue
        todo.append(s.id)
        jobs.append(job)
        size += job_bytes
    return _Work(stored, ready, todo, deriver.submit(jobs) if jobs else list, size)


def _job(app: App, stored: StoredMessage, raw: bytes | None,
         registered: tuple[RegisteredSender, ...] = ()) -> tuple[Job, int]:
    """The job for a message and the bytes it stands for; without `raw`, small mail is loaded from the
    archive here and big mail (BY_ARCHIVE_BYTES or more) is left there for the deriver to read."""
    if raw is None:
        size = app.archive.path_for(stored.sha256).stat().st_size
        if size >= BY_ARCHIVE_BYTES:
            return Job(b"", stored.source_received_at, stored.ingested_at, stored.sha256, registered), size
        raw = app.archive.load(stored.sha256)
    return Job(raw, stored.source_received_at, stored.ingested_at, registered=registered), len(raw)


def _written_in_order(app: App, works: Iterator[_Work],
                      before_storing: BeforeStoring | None) -> Iterator[list[Outcome]]:
    """Write each batch when derived, in order, keeping up to IN_FLIGHT batches (IN_FLIGHT_BYTES) deriving.

    Closed early (a stop request, a mailbox error), it still stores the batches already recorded.
    """
    pending: deque[_Work] = deque()
    try:
        for work in works:
            pending.append(work)
            while len(pending) > IN_FLIGHT or (pending and sum(w.size for w in pending) > IN_FLIGHT_BYTES):
                yield _written(app, pending.popleft(), before_storing)
        while pending:
            yield _written(app, pending.popleft(), before_storing)
    finally:
        while pending:
            _written(app, pending.popleft(), before_storing)


def _written(app: App, work: _Work, before_storing: BeforeStoring | None = None) -> list[Outcome]:
    """Store one batch's derived records in one transaction; returns its outcomes."""
    found = dict(work.ready)
    found.update(zip(work.todo, work.derived()))
    outcomes = [_outcome(s, found[s.id]) for s in work.stored]
    if before_storing:
        before_storing(outcomes)
    app.store.replace_results([(s.id, found[s.id].result, found[s.id].problems, found[s.id].rows)
                               for s in work.stored],
                              {s.id: found[s.id].quarantined for s in work.stored if found[s.id].quarantined},
                              app.clock())
    return outcomes + work.skipped


def _outcome(stored: StoredMessage, derived: Derived) -> Outcome:
    pk = stored.id
    if stored.duplicate_of is not None:
        return Outcome(pk, is_new=True, duplicate=True)
    if derived.error:
        log.error("message %s: internal error while processing\n%s", pk, derived.error)
    a = derived.attribution
    if a is None:
        return Outcome(pk, is_new=True, problems=derived.problems)
    log.info("message %s: city=%s deadline=%s report=%s rows=%d problems=%d sender=%s%s", pk, a.city, a.deadline,
             a.is_report, len(derived.rows), len(derived.problems), derived.result.auth.verdict,
             " (held: unverified)" if derived.result.sender_unverified else "")
    return Outcome(pk, True, False, a.city, a.deadline, a.is_report, len(derived.rows), derived.problems,
                   derived.message, a, derived.result.auth)


def process(app: App, pk: int) -> Outcome:
    """Parse, extract, attribute and record one archived message; errors become problems."""
    with Deriver(app.config, app.converter, workers=1, lookup=app.txt_lookup) as deriver:
        return _written(app, _submitted(app, app.store.stored_messages_by_id([pk]), deriver))[0]


def _process_all(app: App, stored: list[StoredMessage], deriver: Deriver | None,
                 before_storing: BeforeStoring | None = None,
                 set_aside: dict[int, str] | None = None) -> Iterator[list[Outcome]]:
    """Process archived messages batch by batch, on the given deriver or a pool of this one's own."""
    if deriver is None:
        with Deriver(app.config, app.converter, lookup=app.txt_lookup) as own:
            yield from _process_all(app, stored, own, before_storing, set_aside)
        return
    runs = (stored[i:i + BATCH_MESSAGES] for i in range(0, len(stored), BATCH_MESSAGES))
    works = (_submitted(app, run, deriver, set_aside=set_aside) for run in runs)
    yield from _written_in_order(app, works, before_storing)


def process_pending(app: App, deriver: Deriver | None = None,
                    before_storing: BeforeStoring | None = None) -> list[Outcome]:
    """Finish messages a crash left archived but unprocessed (called before each poll/import)."""
    if app.store.count_unprocessed() <= 0:  # the usual case, in a fraction of unprocessed_ids' time
        return []
    pending = app.store.unprocessed_ids()
    log.warning("processing %d message(s) left unprocessed by an earlier stop", len(pending))
    stored = [s for i in range(0, len(pending), 500) for s in app.store.stored_messages_by_id(pending[i:i + 500])]
    return [outcome for batch in _process_all(app, stored, deriver, before_storing) for outcome in batch]


def reprocess(app: App, include_quarantined: bool = False, deriver: Deriver | None = None) -> int:
    """Rebuild every derived record from the archive; returns the number of messages processed.

    Quarantined messages keep their quarantine record unless include_quarantined: then they are tried
    again (under the same bounds) and leave the quarantine if they now go through.
    """
    set_aside = {} if include_quarantined else app.store.quarantined()
    app.store.clear_all_derived()
    return sum(len(batch) for batch in _process_all(app, app.store.stored_messages(), deriver, None, set_aside))
