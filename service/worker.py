"""Worker (`run`): one process runs the campaign: polls (IMAP IDLE, else every poll_interval),
reminders at their scheduled times, the daily digest, the workbook after each new report.

APScheduler 3 with an in-memory job store and one worker thread: jobs are rebuilt from the config
at every start and what was sent lives in our own tables (sent log), so after downtime each job
runs once at start and decides what is still due; nothing runs twice. SIGTERM/SIGINT stop it
between two batches of mail (each committed whole); a lock keeps a second worker off the database.
"""
from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
import time
from datetime import datetime, timedelta
from typing import Callable, ContextManager, Iterator

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger
from tenacity import (
    Retrying,
    retry_if_exception_type,
    retry_if_not_exception_type,
    wait_exponential,
)

from . import jobs
from .app import App
from .clock import Clock
from .config import Config, MailboxSection
from .errors import SendDeferred, SourceError
from .logs import configure_logging
from .model import Outgoing
from .outgoing.schedule import (
    ServiceTimeTrigger,
    Timeline,
    digest_days_due,
    digest_due_at_start,
    next_digest_at,
    next_reminder_at,
)
from .outgoing.transports import Circuit, Sender
from .report.workbook import export_bytes, write_atomically
from .store.lock import LockError, WorkerLock, worker_lock

log = logging.getLogger(__name__)
STANDBY_RETRY_SECONDS = 2.0
SEND_RETRY_SECONDS = 600.0  # reminders or a digest left unsent (SMTP down) are tried again this much later
LOCK_CHECK_SECONDS = 30.0


class StopRequested(Exception):
    """Raised between two batches of mail once the worker is stopping (the rest waits for the next start)."""


class StoppingSender:
    """Inside `interruptible()`, refuses new sends once stopping: they fail, and the next start resends."""

    def __init__(self, inner: Sender, stop: threading.Event) -> None:
        self.inner, self.stop = inner, stop
        self._interruptible = threading.local()

    @contextlib.contextmanager
    def interruptible(self) -> Iterator[None]:
        self._interruptible.on = True
        try:
            yield
        finally:
            self._interruptible.on = False

    def send(self, out: Outgoing) -> str:
        if self.stop.is_set() and getattr(self._interruptible, "on", False):
            raise SendDeferred("worker stopping: not sent now, retried at the next start")
        return self.inner.send(out)

    def batch(self) -> ContextManager[Circuit]:
        return self.inner.batch()


def open_worker_app(config: Config, clock: Clock, stop: threading.Event) -> tuple[App, StoppingSender]:
    """The App with the sender it picked, wrapped to refuse new sends once stopping; an SMTP retry
    wait ends early (as a failed send) when stopping."""
    def smtp_wait(seconds: float) -> None:
        if stop.wait(seconds):
            raise SendDeferred("worker stopping during a retry wait: not sent, retried at the next start")

    app = App.open(config, clock, smtp_wait=smtp_wait)
    app.sender = sender = StoppingSender(app.sender, stop)
    return app, sender


class Worker:
    """The scheduler and its jobs over one App; each job is one call into `jobs` with the app's clock."""

    def __init__(self, app: App, timeline: Timeline, lock: WorkerLock, stop: threading.Event,
                 sender: StoppingSender, hangup: threading.Event | None = None,
                 reload_mailbox: Callable[[], MailboxSection] | None = None) -> None:
        self.app, self.timeline, self.lock, self.stop, self.sender = app, timeline, lock, stop, sender
        self.hangup = hangup or threading.Event()  # SIGHUP: reread the mailbox settings, log in at once
        self.reload_mailbox = reload_mailbox  # the [mailbox] section and its secret, read again
        self.retry_login = threading.Event()  # the next poll logs in despite a refused login's backoff
        self.idle_thread: threading.Thread | None = None
        self.wake = threading.Event()  # IDLE saw new mail: poll (again)
        self.busy = threading.Lock()  # held while a job runs: stopping waits for it
        self.exit_code = 0
        self.started = timeline.start  # the digest owes each day's from this day on (digest_days_due)
        self.scheduler = BackgroundScheduler(
            timezone=app.config.tz, executors={"default": ThreadPoolExecutor(1)},  # jobs never overlap
            job_defaults={"coalesce": True, "max_instances": 1})

    # --- jobs -------------------------------------------------------------------------------
    def _job(self, name: str, body: Callable[[], None]) -> None:
        if self.stop.is_set():  # queued before the stop: leave it for the next start
            return
        with self.busy:
            try:
                body()
            except StopRequested:
                log.info("%s: stopped after the mail in flight; the rest follows at the next start", name)
            except SourceError as err:
                log.error("%s failed: %s", name, err)
            except Exception:  # one per job: a bug in one run must not stop the worker
                log.exception("%s failed", name)

    def poll(self) -> None:
        self._job("poll", self._poll_until_quiet)

    def _poll_until_quiet(self) -> None:
        while True:
            self.wake.clear()
            retry = self._login_retry_wanted()
            counts = jobs.poll(self.app, on_progress=self._between_batches, retry_login=retry)
            self._watch_mailbox_once_polled()
            if jobs.reminders_held(self.app):  # the mailbox is read again: held reminders go out now
                self.scheduler.add_job(self.remind, id="remind-held", replace_existing=True,
                                       misfire_grace_time=None)
            if counts.new:
                log.info("poll: %d new message(s): %d report(s), %d with problems, %d receipt(s) sent",
                         counts.new, counts.reports, counts.problems, counts.receipts)
            if counts.reports:
                self.scheduler.add_job(self.workbook, id="workbook", replace_existing=True,
                                       misfire_grace_time=None)
            if not self.wake.is_set() or self.stop.is_set():
                return

    def _login_retry_wanted(self) -> bool:
        """True once after SIGHUP; while a refused login backs off, the mailbox settings and secret
        are read again so a new 授权码 is tried at the next poll (jobs.poll compares fingerprints)."""
        retry = self.retry_login.is_set()
        self.retry_login.clear()
        if self.reload_mailbox is None or self.app.config.mailbox.kind != "imap":
            return retry
        if not retry and not jobs.login_backed_off(self.app):
            return False
        try:
            mailbox = self.reload_mailbox()
        except Exception as err:  # a config broken while we run: keep the settings we started with
            log.error("mailbox settings not reloaded, keeping the running ones: %s", err)
            return retry
        if mailbox != self.app.config.mailbox:
            log.info("mailbox settings or secret changed: logging in again now")
            self.app.use_mailbox(mailbox)
        return retry

    def _watch_mailbox_once_polled(self) -> None:
        """Start IMAP IDLE after a good poll, never before: a refused login is the poll's to back off."""
        config = self.app.config
        if config.mailbox.kind != "imap" or not config.worker.idle or self.stop.is_set():
            return
        if self.idle_thread is None or not self.idle_thread.is_alive():
            self.idle_thread = threading.Thread(target=self.watch_mailbox, name="imap-idle", daemon=True)
            self.idle_thread.start()

    def _between_batches(self, done: int) -> None:
        if self.stop.is_set():
            raise StopRequested(done)

    def _poll_first(self, job: str) -> None:
        """Reminders and the digest read the mailbox first, so a report that just arrived counts."""
        try:
            self._poll_until_quiet()
        except SourceError as err:
            log.warning("%s: poll before it failed (%s); going on with what is stored", job, err)

    def remind(self) -> None:
        def body() -> None:
            self._poll_first("remind")
            with self.sender.interruptible():
                run = jobs.remind(self.app)
            outcomes = list(run.results.values())
            if run.held:
                return  # jobs.remind logged it; the first good poll runs this job again
            if run.due or run.stale:
                log.info("remind: %d due, %d sent, %d failed, %d left for the next run, %d missed for good",
                         len(run.due), outcomes.count("sent"), outcomes.count("failed"), len(run.left),
                         len(run.stale))
            if run.stopped:
                log.error("remind: sending stopped (%s); %d reminder(s) left due for the next run",
                          run.stopped, len(run.left))
            if run.left:
                self._again(self.remind, "remind-retry")
        self._job("remind", body)

    def digest(self) -> None:
        def body() -> None:
            # the days are fixed before the poll, which may fail for hours with the mailbox down
            days = digest_days_due(self.app.config, self.started, self.timeline.now())
            self._poll_first("digest")
            for day in days:
                record = self.app.store.sent_record(f"digest:{day.isoformat()}")
                if record is not None and record.status == "sent":
                    continue
                out, result = jobs.digest(self.app, day=day)
                log.info("digest %s: %s", out.key, result)
                if result in ("failed", "deferred"):
                    self._again(self.digest, "digest-retry")
                    return
        self._job("digest", body)

    def _again(self, job: Callable[[], None], job_id: str) -> None:
        """Run `job` again after SEND_RETRY_SECONDS (the sent log says what is still due then)."""
        at = self.timeline.wall() + timedelta(seconds=SEND_RETRY_SECONDS)
        self.scheduler.add_job(job, "date", run_date=at, id=job_id, replace_existing=True, misfire_grace_time=None)
        log.info("%s: tried again at %s", job_id, at.isoformat(timespec="seconds"))

    def workbook(self) -> None:
        def body() -> None:
            summary = jobs.compile_summary(self.app)
            path = self.app.config.workbook_path
            write_atomically(path, export_bytes(summary, path.suffix.lower() or ".xlsx"))
            log.info("workbook: %d row(s) for %s -> %s", len(summary.rows), summary.deadline.id, path.name)
        self._job("workbook", body)

    # --- IMAP IDLE ------------------------------------------------------------------------------
    def watch_mailbox(self) -> None:
        """Wait in IDLE and wake the poll when mail arrives; polls every poll_interval go on regardless."""
        config, source = self.app.config, self.app.mail_watcher()
        if source is None:  # a folder mailbox is polled, never watched
            return
        try:
            while not self.stop.is_set():
                started = time.monotonic()
                try:
                    arrived = self._idle_retrying()(source.wait_for_new_mail, config.worker.idle_timeout)
                except (SourceError, StopRequested):
                    return  # a refused login: the poll job reports it (repeated ones lock a 163 account)
                if arrived and not self.stop.is_set():
                    self.wake.set()
                    self.scheduler.modify_job("poll", next_run_time=self.timeline.wall())
                elif not arrived and time.monotonic() - started < min(1.0, config.worker.idle_timeout / 2):
                    # wait_for_new_mail answers False at once when the server has no IDLE
                    log.info("idle: the server offers no IDLE; polling every %gs", config.worker.poll_interval)
                    return
        finally:
            source.close()

    def _idle_retrying(self) -> Retrying:
        """One IDLE round: reconnects after a fault with backoff 2, 4, 8 ... 300 s (a fresh round
        starts from 2 s again), never after a refused login; a stop ends the wait at once."""
        from .ingest.imap_session import MailboxLoginError

        def sleep(seconds: float) -> None:
            if self.stop.wait(seconds):
                raise StopRequested()

        return Retrying(
            retry=retry_if_exception_type(SourceError) & retry_if_not_exception_type(MailboxLoginError),
            wait=wait_exponential(multiplier=2, max=300), sleep=sleep, reraise=True,
            before_sleep=lambda state: log.warning(
                "idle: %s; retrying in %.0fs, polls go on every %gs",
                state.outcome.exception() if state.outcome else "", state.upcoming_sleep,
                self.app.config.worker.poll_interval))

    # --- lifecycle --------------------------------------------------------------------------------
    def schedule(self) -> None:
        """Add the jobs: poll, remind, then the digest when today's is due, at once; then per config."""
        config, wall_now, now = self.app.config, self.timeline.wall(), self.timeline.now()
        calendar = self.app.calendar
        # Staggered by a millisecond: equal times would run in job-id order, the digest first.
        self.scheduler.add_job(self.poll, IntervalTrigger(seconds=config.worker.poll_interval), id="poll",
                               next_run_time=wall_now,
                               misfire_grace_time=int(config.worker.poll_interval) + 1)  # the next poll will do
        # No grace limit: the job itself knows, from the sent log and each reminder's catch-up window,
        # what is still due, so a late run (suspend, a long poll before it) is never dropped.
        self.scheduler.add_job(self.remind, ServiceTimeTrigger(
            "reminders", lambda after: next_reminder_at(config, calendar, after), self.timeline),
            id="remind", next_run_time=wall_now + timedelta(milliseconds=1), misfire_grace_time=None)
        digest_trigger = ServiceTimeTrigger("digest", lambda after: next_digest_at(config, after), self.timeline)
        extra = {"next_run_time": wall_now + timedelta(milliseconds=2)} if digest_due_at_start(config, now) else {}
        self.scheduler.add_job(self.digest, digest_trigger, id="digest", misfire_grace_time=None, **extra)

    def serve(self) -> int:
        """Run until stopped; returns the exit code (non-zero when the lock was lost)."""
        self.schedule()
        self.scheduler.start()
        checked = time.monotonic()
        while not self.stop.wait(0.5):  # waking often lets signal handlers run promptly
            if self.hangup.is_set():
                self.hangup.clear()
                log.info("SIGHUP received: polling now, logging in again even while a refused login backs off")
                self.retry_login.set()
                self.scheduler.modify_job("poll", next_run_time=self.timeline.wall())
            if time.monotonic() - checked > LOCK_CHECK_SECONDS:
                checked = time.monotonic()
                if not self.lock.held():
                    log.error("worker lock lost (database connection dropped): stopping")
                    self.exit_code = 1
                    self.stop.set()
        self.scheduler.shutdown(wait=False)
        return self.exit_code

    def finished(self, timeout: float) -> bool:
        """Wait for the job in flight; False when it is still running after `timeout`."""
        if self.busy.acquire(timeout=timeout):
            self.busy.release()
            return True
        return False


def run_worker(config: Config, timeline: Timeline, *, standby: bool = False,
               reload_mailbox: Callable[[], MailboxSection] | None = None) -> int:
    """The `run` command: lock, open, schedule, serve until SIGTERM/SIGINT; returns the exit code.

    SIGHUP rereads the [mailbox] settings and secret (reload_mailbox) and polls at once."""
    configure_logging(config)
    stop, hangup = threading.Event(), threading.Event()
    install_signal_handlers(stop, hangup)
    lock = worker_lock(config.service.database_url)
    if not acquire(lock, stop, standby):
        return 0  # stopped while waiting as a standby
    try:
        app, sender = open_worker_app(config, timeline.now, stop)
    except BaseException:
        lock.release()
        raise
    worker = Worker(app, timeline, lock, stop, sender, hangup, reload_mailbox)
    log.info("worker started: database %s, mailbox %s, poll every %gs%s, service time %s, speed %g",
             app.store.engine.url.render_as_string(hide_password=True), config.mailbox.kind,
             config.worker.poll_interval, " + IDLE" if config.mailbox.kind == "imap" and config.worker.idle else "",
             timeline.now().isoformat(timespec="seconds"), timeline.speed)
    code = worker.serve()
    clean = worker.finished(config.worker.stop_timeout)
    if clean:
        app.close()
    lock.release()
    log.info("worker stopped%s", "" if clean else ": abandoned the job in flight (it resumes at the next start)")
    if not clean:
        # The job thread cannot be interrupted and would keep the process alive. Leaving now is as
        # safe as a kill: every message and sent-log entry is committed before the next begins.
        logging.shutdown()
        os._exit(code)
    return code


def acquire(lock: WorkerLock, stop: threading.Event, standby: bool) -> bool:
    """Take the single-worker lock; as a standby wait for it, else refuse at once."""
    if lock.acquire():
        return True
    if not standby:
        raise LockError(f"another worker is already running on this database ({lock.describe()}); "
                        f"stop it first, or start this one with --standby to take over when it stops")
    log.info("standby: another worker holds %s; waiting for it", lock.describe())
    while not stop.wait(STANDBY_RETRY_SECONDS):
        if lock.acquire():
            log.info("standby: lock acquired, taking over")
            return True
    return False


def install_signal_handlers(stop: threading.Event, hangup: threading.Event | None = None) -> None:
    def handler(signum: int, _frame: object) -> None:
        log.info("%s received: stopping after the mail in flight", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    if hangup is not None:
        signal.signal(signal.SIGHUP, lambda _signum, _frame: hangup.set())  # served by Worker.serve


def worker_timeline(wall: Clock, start: datetime | None, speed: float) -> Timeline:
    """Real time, or a simulated clock from `start` running `speed` times as fast (demos, tests)."""
    if start is None and speed == 1.0:
        return Timeline.real(wall)
    return Timeline.simulated(wall, start or wall(), speed)
