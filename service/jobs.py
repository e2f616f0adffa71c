"""The service's jobs (poll, receipts, remind, digest), each one call with `now` from the app's clock.

The CLI and the worker call these; they gather inputs from the store (remind, digest and compile: one
Store.snapshot each), call the pure views and planners (status, remind, receipt, digest, summary) and
apply the result (send, record).
"""
from __future__ import annotations

import logging
from contextlib import closing
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Iterable

from .app import App
from .config import Config
from .decide.decisions import corrected, describe, registered_senders
from .decide.status import states_at
from .errors import SourceError
from .ingest import pipeline
from .ingest.folder import Unreadable
from .ingest.imap_session import MailboxLoginError
from .ingest.login_backoff import (
    LoginBackedOff,
    after_refusal,
    backoff_message,
    blocking,
    credentials_fingerprint,
    load_backoff,
    save_backoff,
)
from .ingest.pool import Deriver
from .model import Fetched, Outgoing, Snapshot, StoredResult
from .outgoing.calendar import WorkCalendar
from .outgoing.digest import build_digest
from .outgoing.receipt import plan_receipt, receipt_wanted, within_hourly_limit
from .outgoing.remind import due_reminders, hold_reason
from .outgoing.sent_log import record_stale, send_all, send_once
from .report.summary import HUMAN_CODES_EXCLUDED, Summary, summary_at, table_totals

log = logging.getLogger(__name__)


@dataclass
class IngestCounts:
    new: int = 0
    already: int = 0
    reports: int = 0
    problems: int = 0
    receipts: int = 0
    unreadable: list[Unreadable] = field(default_factory=list)  # files a folder poll could not read


def ingest_all(app: App, items: Iterable[Fetched], on_progress=None,
               window_from: datetime | None = None) -> IngestCounts:
    """Ingest fetched messages in batches; each batch and its IMAP watermark are committed before parsing.

    on_progress(done) is called after each batch is stored (the worker stops there when asked to).
    window_from: where the receipt window counts back from (the last good poll; default now).
    """
    counts = IngestCounts()

    def send_receipts(outcomes: list[pipeline.Outcome]) -> None:
        counts.receipts += sum(send_receipt(app, outcome, window_from) == "sent" for outcome in outcomes)

    # One send batch: with SMTP down, the circuit stops the receipts after a few, not each its backoff.
    with app.sender.batch(), Deriver(app.config, app.converter, lookup=app.txt_lookup) as deriver:  # a pool, started only for a backlog
        for outcome in pipeline.process_pending(app, deriver, send_receipts):
            counts.reports += int(outcome.is_report)
        done = 0
        with closing(pipeline.ingest_batches(app, items, deriver, send_receipts)) as stream:
            for outcomes in stream:  # closing the stream stores what is already recorded
                for outcome in outcomes:
                    counts.new += int(outcome.is_new)
                    counts.already += int(not outcome.is_new)
                    counts.reports += int(outcome.is_report)
                    counts.problems += int(bool(outcome.problems))
                done += len(outcomes)
                if on_progress:
                    on_progress(done)
    return counts


def poll(app: App, on_progress=None, retry_login: bool = False) -> IngestCounts:
    """One poll of the configured mailbox; health is recorded for the digest and `status --check`.

    The poll's receipts share one send batch (circuit breaker), with the receipts a local or
    temporary failure left for this run. After a refused IMAP login no poll logs in again before
    the backoff runs out (LoginBackedOff), unless the credentials changed or `retry_login` (SIGHUP)."""
    source = app.source()
    # Mail that waited on the server through an outage is as recent as the last poll that could
    # have read it: the receipt window counts from there. A first poll (new mailbox) counts from now.
    last_ok = app.store.get_health("poll_ok")
    with app.sender.batch():
        retried = retry_receipts(app)  # first: they waited longest
        try:
            fingerprint = check_login_backoff(app, retry_login)  # raises LoginBackedOff: no login now
            counts = ingest_all(app, source.fetch_new(app.store), on_progress,
                                window_from=last_ok[1] if last_ok else None)
        except LoginBackedOff:
            raise  # its refusal is already recorded in poll_error, with the time of the next attempt
        except MailboxLoginError as err:
            backoff = after_refusal(load_backoff(app.store), fingerprint, app.clock())
            save_backoff(app.store, backoff, app.clock())
            app.store.set_health("poll_error", f"{backoff_message(backoff, app.config.tz)}: {err}", app.clock())
            raise LoginBackedOff(f"{backoff_message(backoff, app.config.tz)}: {err}") from err
        except SourceError as err:
            app.store.set_health("poll_error", str(err), app.clock())
            raise
        finally:
            source.close()
        counts.unreadable = list(getattr(source, "skipped", ()))  # only a folder source skips files
    app.store.set_health("poll_ok", f"{counts.new} new", app.clock())
    if fingerprint and load_backoff(app.store) is not None:
        save_backoff(app.store, None, app.clock())  # logged in: the next refusal starts from a minute
    counts.receipts += retried
    return counts


def check_login_backoff(app: App, retry_login: bool = False) -> str:
    """The IMAP credentials' fingerprint ("" for a folder); raises LoginBackedOff while a refused
    login's backoff forbids logging in with the same credentials (never when `retry_login`)."""
    if app.config.mailbox.kind != "imap":
        return ""
    fingerprint = credentials_fingerprint(app.config.mailbox)
    backoff = blocking(load_backoff(app.store), fingerprint, app.clock())
    if backoff is not None and not retry_login:
        raise LoginBackedOff(backoff_message(backoff, app.config.tz))
    return fingerprint


def login_backed_off(app: App) -> bool:
    """True while a refused IMAP login's backoff forbids logging in with the current credentials."""
    try:
        check_login_backoff(app)
    except LoginBackedOff:
        return True
    return False


def retry_receipts(app: App) -> int:
    """Send again the receipts logged "retry" (server unreachable, disk full); returns how many went out.

    Planned again from the stored result, so the receipt window still applies: one past it is
    logged failed with that reason (listed in the digest, never sent)."""
    waiting = [r for r in app.store.sent_records() if r.kind == "receipt" and r.status == "retry"]
    if not waiting:
        return 0
    now, sent = app.clock(), 0
    stored = {f"receipt:{r.message_id}": r for r in app.store.results() if r.message_id}
    row_counts = app.store.row_counts()  # once for all the waiting receipts
    with app.sender.batch() as circuit:
        for record in waiting:
            if circuit.open_reason():
                break  # still unreachable: they wait for the next poll, their errors kept
            sent += _retry_receipt(app, record.key, stored.get(record.key), row_counts, now)
    return sent


def _retry_receipt(app: App, key: str, result: StoredResult | None, row_counts: dict[int, int],
                   now: datetime) -> int:
    """1 when the receipt `key` went out now."""
    planned = replanned_receipt(app, result, row_counts.get(result.message, 0), now) if result else None
    if planned is None:
        app.store.record_send_result(
            key, ok=False, error="回执未能在回执期限内发出 (receipt window passed before it could be sent)", now=now)
        return 0
    return int(send_limited(app, planned, now) == "sent")


def replanned_receipt(app: App, result: StoredResult, rows: int, now: datetime) -> Outgoing | None:
    """The receipt for a stored result, planned as send_receipt plans it at ingest."""
    problems = list(app.store.problems([result.message]).get(result.message, ()))
    letter = dict(message_id=result.message_id, sender=result.sender, subject=result.subject,
                  received_at=result.received_at, city=result.city if result.is_report else None,
                  deadline=result.deadline, rows=rows, problems=problems,
                  auto_generated=result.auto_generated, now=now, renderer=app.renderer, verdict=result.auth.verdict)
    return planned_receipt(app, letter, result.message)


def planned_receipt(app: App, letter: dict, message: int) -> Outgoing | None:
    """plan_receipt for one message; the addresses staff registered for its city and the version it
    replaces are asked of the store only for a receipt that may go out (a backlog import asks nothing:
    asking per message cost ~0.4 ms of the main process each, see bench/README.md)."""
    if not receipt_wanted(app.config, **letter):
        return None
    letter = dict(letter, confirmed=staff_registered(app, letter["city"], letter["received_at"]))
    planned = plan_receipt(app.config, **letter)
    if planned is not None:
        replaces = replaced_version(app, message, letter["city"], letter["deadline"], letter["received_at"])
        if replaces is not None:
            planned = plan_receipt(app.config, **letter, replaces=replaces)
    return planned


def staff_registered(app: App, city: str | None, received_at: datetime) -> tuple[str, ...]:
    """The addresses staff registered for the city by the time the mail was received."""
    if not city:
        return ()
    return tuple(r.address for r in registered_senders(app.store.decisions(), app.config)
                 if r.city == city and r.since <= received_at)


def replaced_version(app: App, message: int, city: str | None, deadline: str | None,
                     received_at: datetime) -> datetime | None:
    """When the earlier version a report corrects was received (None for a first report)."""
    if not city or not deadline:
        return None
    return app.store.previous_version_received(message, city, deadline, received_at)


def send_receipt(app: App, outcome: pipeline.Outcome, window_from: datetime | None = None) -> str:
    """Reply to a newly ingested report (only recent mail: an import of old mail writes to nobody)."""
    if not outcome.is_new or outcome.parsed is None or outcome.attribution is None:
        return "skipped"
    message, attribution = outcome.parsed, outcome.attribution
    city = attribution.city if attribution.is_report else None
    letter = dict(message_id=message.message_id, sender=message.sender, subject=message.subject,
                  received_at=attribution.received_at, city=city, deadline=attribution.deadline, rows=outcome.rows,
                  problems=list(outcome.problems), auto_generated=message.auto_generated, now=app.clock(),
                  renderer=app.renderer, window_from=window_from, verdict=outcome.auth.verdict)
    planned = planned_receipt(app, letter, outcome.message)
    if planned is None:
        return "skipped"
    return send_limited(app, planned, app.clock())


def send_limited(app: App, planned: Outgoing, now: datetime) -> str:
    """send_once, to the recipients still under receipts.max_per_address_per_hour; with none left the
    receipt is recorded as skipped (with the reason) and never sent."""
    limit, since = app.config.receipts.max_per_address_per_hour, now - timedelta(hours=1)
    allowed = within_hourly_limit(planned, app.store.sent_records(since), since, limit)
    if allowed is None:
        app.store.record_skipped(key=planned.key, kind=planned.kind, city=planned.city, deadline=planned.deadline,
                                 recipients=planned.to, subject=planned.subject, now=now, status="skipped",
                                 error=f"已达每小时 {limit} 封回执上限，未发送")
        log.warning("receipt %r not sent: %d receipt(s) per address per hour reached", planned.key, limit)
        return "skipped"
    return send_once(app.store, app.sender, allowed, now)


HELD = "reminders_held"  # health key: why reminders are held, "" when they are not


@dataclass
class RemindRun:
    """What one `remind` did: due and stale reminders, each send's result, and why it held or stopped."""

    due: list[Outgoing]
    stale: list[Outgoing]
    results: dict[str, str] = field(default_factory=dict)  # key -> sent | failed | deferred | skipped
    held: str = ""  # the mailbox was not read recently: nothing sent or given up
    stopped: str = ""  # the circuit opened: the reminders without a result stay due

    @property
    def left(self) -> list[Outgoing]:
        """Due reminders not sent by this run (a later run sends them)."""
        return [o for o in self.due if self.results.get(o.key) not in ("sent", "skipped")]


def remind(app: App, dry_run: bool = False) -> RemindRun:
    """Reminders due at now and not yet sent; sends them unless dry_run or held (see hold_reason)."""
    now, snapshot = app.clock(), app.store.snapshot()
    states = states_at(app.config, snapshot, now)
    due, stale = due_reminders(app.config, app.calendar, states, snapshot.sent_keys(), now,
                               renderer=app.renderer)
    ok = snapshot.health_of("poll_ok")
    run = RemindRun(due, stale, held=hold_reason(app.config, ok[1] if ok else None, now) if due else "")
    if dry_run:
        return run
    if run.held:
        app.store.set_health(HELD, f"{len(due)} 封催报提醒暂缓：{run.held}", now)
        log.warning("remind: %d reminder(s) held: %s", len(due), run.held)
        return run
    if held_reason(snapshot):
        app.store.set_health(HELD, "", now)  # the hold is over: this run decides what is still due
    record_stale(app.store, stale, now)
    run.results, run.stopped = send_all(app.store, app.sender, due, now)
    return run


def reminders_held(app: App) -> str:
    """The current hold of reminders ("" when none): for the worker."""
    held = app.store.get_health(HELD)
    return held[0] if held else ""


def held_reason(snapshot: Snapshot) -> str:
    """The hold of reminders a snapshot saw ("" when none): for the digest and `remind`."""
    held = snapshot.health_of(HELD)
    return held[0] if held else ""


def digest_inputs(config: Config, calendar: WorkCalendar, snapshot: Snapshot, now: datetime,
                  since: datetime) -> dict:
    """Everything the digest shows, as at `now` (snapshot read with its rows: the totals need them)."""
    view = corrected(config, snapshot.at(now))  # staff decisions laid over: only open problems
    states = states_at(config, view, now)
    city_of = {r.message: r.city for r in view.results}
    problems = [dict(message=m, code=p.code, message_zh=p.message_zh, detail=p.detail, file=p.file, row=p.row,
                     city=city_of.get(m))
                for m, found in view.problems.items() for p in found if p.code not in HUMAN_CODES_EXCLUDED]
    arrived = [dict(city=r.city, deadline=r.deadline, received_at=r.received_at, subject=r.subject,
                    rows=view.row_counts.get(r.message, 0)) for r in view.results if r.is_report and r.received_at > since]
    unattributed = [dict(message=r.message, sender=r.sender, subject=r.subject, received_at=r.received_at)
                    for r in view.results if r.city is None and not r.auto_generated and r.duplicate_of is None
                    and not view.corrections.decided(r.message)]
    decided = [dict(at=d.at, by=d.by, note=d.note,
                    text=describe(config, d) + (f"（已由 #{d.undone_by} 撤销）" if d.undone_by else ""))
               for d in snapshot.decisions if now - timedelta(days=1) < d.at <= now]
    records = snapshot.sent_since(since)
    sent = [dict(kind=s.kind, city=s.city, deadline=s.deadline, sent_at=s.updated_at, status=s.status,
                 error=s.error) for s in records if s.kind != "digest"]
    stale = [Outgoing(key=s.key, kind=s.kind, to=s.recipients, subject=s.subject, text="", html="",
                      city=s.city, deadline=s.deadline) for s in records if s.status == "stale"]
    ok, error = snapshot.health_of("poll_ok"), snapshot.health_of("poll_error")
    last_error = error[0] if error and (not ok or error[1] > ok[1]) else None
    return dict(states=states, arrived=arrived, problems=problems, unattributed=unattributed, sent=sent,
                stale=stale, totals=table_totals(config, view, now), last_poll_ok=ok[1] if ok else None,
                last_poll_error=last_error, reminders_held=held_reason(snapshot),
                warnings=calendar.check_years({d.due.year for d in config.deadlines}), decisions=decided)


def compile_summary(app: App, deadline: str | None = None) -> Summary:
    """The consolidated workbook's content as at now (one read); default: the latest deadline that has tables."""
    return summary_at(app.config, app.store.snapshot(with_rows=True), app.clock(), deadline)


def workbook_attachment(config: Config, snapshot: Snapshot, now: datetime) -> tuple[str, bytes]:
    """The consolidated workbook at `now` as a digest attachment."""
    from .report.workbook import (
        summary_workbook_bytes,  # openpyxl only when a workbook is wanted
    )

    name = f"{config.campaign.name}{config.template.headline}（截至{now.astimezone(config.tz):%m月%d日}）.xlsx"
    return name, summary_workbook_bytes(summary_at(config, snapshot, now))


def digest(app: App, dry_run: bool = False, day: date | None = None) -> tuple[Outgoing, str]:
    """Build the digest of `day` (default today: the worker passes the day it was scheduled for, so a
    run that slips past midnight still sends that day's) and send it unless dry_run or already sent."""
    now, snapshot = app.clock(), app.store.snapshot(with_rows=True)  # one read for the digest and its workbook
    last = snapshot.health_of("digest_sent")
    since = last[1] if last else now - timedelta(days=1)
    out = build_digest(app.config, app.calendar, now=now, renderer=app.renderer, day=day,
                       **digest_inputs(app.config, app.calendar, snapshot, now, since))
    if app.config.digest.attach_workbook:
        out = replace(out, attachments=(workbook_attachment(app.config, snapshot, now),))
    if dry_run:
        return out, "dry-run"
    with app.sender.batch():
        result = send_once(app.store, app.sender, out, now)
    if result == "sent":
        app.store.set_health("digest_sent", out.key, now)
    return out, result
