"""Where `derive` runs: always in worker processes, never in the process that holds the store.

Every message is one task on a pebble process pool (one worker per core for backlogs), under an
address-space limit (limits.max_worker_memory_mb) and a wall-time limit (limits.max_seconds_per_message).
A worker that dies (a native reader's abort, the memory limit), is killed or runs out of time costs only
the message it was on: pebble replaces the worker, the message is quarantined, and the batch goes on.
Workers are forked (the CLI is single-threaded) or, from the threaded worker, come from a forkserver
that preloads service.ingest.derive. The document converter and the DKIM key lookup app.py chose cross
to each worker with the config, when it starts (all small picklable values).
"""
from __future__ import annotations

import logging
import multiprocessing
import os
import resource
import signal
import sys
import threading
import time
from concurrent.futures import CancelledError, Future, TimeoutError
from dataclasses import replace
from typing import Callable

from pebble import ProcessExpired, ProcessPool

from ..config import Config
from ..extract.convert import Converter
from ..model import Problem
from ..parse.txt_lookup import NoDns, TxtLookup
from ..store.archive import Archive
from .derive import INTERNAL_ERROR_ZH, Derived, Job, derive, failed, quarantined

log = logging.getLogger(__name__)

MAX_AUTO_WORKERS = 4
PARENT_CHECK_SECONDS = 0.5
_worker_config: Config | None = None
_worker_converter: Converter | None = None
_worker_lookup: TxtLookup = NoDns()


def worker_count(config: Config) -> int:
    """Configured workers, else one per core (at most MAX_AUTO_WORKERS)."""
    configured = config.service.workers
    return configured if configured > 0 else max(1, min(os.cpu_count() or 1, MAX_AUTO_WORKERS))


def start_method() -> str:
    """fork (instant) from a single-threaded process; forkserver from the threaded worker, where a
    fork could copy a lock some other thread holds."""
    return "fork" if threading.active_count() == 1 else "forkserver"


def _init_worker(config: Config, converter: Converter, lookup: TxtLookup = NoDns()) -> None:
    """Keep the config and converter, leave Ctrl-C to the parent, end when the parent is gone, then bound the memory
    (last: the watcher thread needs a stack of its own).

    SIGTERM keeps its default: pebble stops workers with it. A service stop that reaches a busy worker
    costs a retry of its message on a fresh worker (see Deriver._collect), not a quarantine.
    """
    global _worker_config, _worker_converter, _worker_lookup
    _worker_config, _worker_converter, _worker_lookup = config, converter, lookup
    _return_big_blocks()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True).start()
    _limit_memory(config.limits.max_worker_memory_mb)


def _limit_memory(megabytes: int) -> None:
    """An address-space limit of `megabytes` beyond what the worker holds at its start (a fork inherits
    its parent's mappings, a few hundred MB that it never touches): a reader asking for 512 GB (calamine
    on a sheet claiming XFD1048576) gets a failed allocation, a MemoryError or an abort of this worker,
    never the machine's memory."""
    limit = _address_space() + megabytes * 1024 * 1024
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def _address_space() -> int:
    """This process's virtual size now (VmSize), in bytes."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


def _return_big_blocks() -> None:
    """glibc keeps freed blocks of up to 32 MB on its heap once it has seen big ones (a worker that read a
    5 MB header line stays 50 MB larger); a fixed mmap threshold hands them back to the system when freed."""
    try:
        import ctypes
        ctypes.CDLL("libc.so.6").mallopt(-3, 256 * 1024)  # M_MMAP_THRESHOLD
    except (OSError, AttributeError):
        pass


def _exit_with_parent(parent: int) -> None:
    """A killed parent (kill -9) leaves its workers waiting for tasks forever: end them."""
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK_SECONDS)
    os._exit(1)


def _quiet_resource_tracker() -> None:
    """The `run` worker that abandons a job in flight leaves by os._exit, with its pool's semaphores
    still registered: the resource tracker then releases them (its job) and warns about a "leak" on
    stderr, a non-JSON line in a JSON log. Its options are taken from ours when it starts."""
    quiet = "ignore::UserWarning:multiprocessing.resource_tracker"
    if quiet not in sys.warnoptions:
        sys.warnoptions.append(quiet)


def derive_in_worker(job: Job) -> Derived:
    """The task a worker runs: derive one job with the config, converter and lookup the worker was started with."""
    assert _worker_config is not None and _worker_converter is not None, "worker started without its config"
    return derive_loaded(job, _worker_config, _worker_converter, _worker_lookup)


def derive_loaded(job: Job, config: Config, converter: Converter, lookup: TxtLookup = NoDns()) -> Derived:
    """derive, reading big mail from the archive here rather than pickling it from the parent."""
    if not job.raw and job.sha256:
        try:
            job = replace(job, raw=Archive(config.archive_dir).load(job.sha256))
        except OSError as err:
            problem = Problem("internal_error", INTERNAL_ERROR_ZH, detail=f"{type(err).__name__}: {err}")
            return failed(job.ingested_at, problem, f"archive unreadable: {err}")
    return derive(job, config, converter, lookup)


class Deriver:
    """Submits jobs; `submit` returns a function giving their Derived in order (blocking)."""

    def __init__(self, config: Config, converter: Converter, workers: int | None = None,
                 task: Callable[[Job], Derived] | None = None, lookup: TxtLookup = NoDns()) -> None:
        """converter: reads legacy documents in the workers (app.converter);
        task: what a worker runs per job (a module-level function); tests give one that misbehaves;
        lookup: answers the DKIM key lookups in the workers (app.txt_lookup)."""
        self.config, self.converter, self.lookup = config, converter, lookup
        self.workers = worker_count(config) if workers is None else max(1, workers)
        self.seconds = config.limits.max_seconds_per_message
        self.task = task or derive_in_worker
        self._pool: ProcessPool | None = None

    def __enter__(self) -> "Deriver":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.stop()  # every job submitted was collected, or its batch is being abandoned
            self._pool.join()
            self._pool = None

    def submit(self, jobs: list[Job]) -> Callable[[], list[Derived]]:
        """Start deriving jobs, one task each; the returned function waits for them, in order."""
        futures = [self._schedule(job) for job in jobs]
        return lambda: [self._collect(job, future) for job, future in zip(jobs, futures)]

    def _schedule(self, job: Job) -> Future:
        if self._pool is None:
            _quiet_resource_tracker()
            context = multiprocessing.get_context(start_method())
            if context.get_start_method() == "forkserver":
                context.set_forkserver_preload(["service.ingest.derive"])
            self._pool = ProcessPool(self.workers, initializer=_init_worker,
                                     initargs=(self.config, self.converter, self.lookup), context=context)
        return self._pool.schedule(self.task, (job,), timeout=self.seconds)

    def _collect(self, job: Job, future: Future, retried: bool = False) -> Derived:
        """The job's Derived; a worker that ran out of time or died twice on it quarantines the message.

        A death is tried once more on a fresh worker: the kernel's OOM killer may have picked a worker
        for another process's appetite. A pool stopped under the job raises CancelledError: that is no
        verdict on the message, and nothing of its batch is written.
        """
        try:
            return future.result()
        except TimeoutError:
            reason = f"took longer than {self.seconds:g} s (limits.max_seconds_per_message)"
        except ProcessExpired as err:
            if not retried:
                log.warning("a derive worker died (exit %s); trying its message once more", err.exitcode)
                return self._collect(job, self._schedule(job), retried=True)
            reason = f"worker process died twice (exit code {err.exitcode}; limits.max_worker_memory_mb " \
                     f"= {self.config.limits.max_worker_memory_mb})"
        except MemoryError:  # raised outside derive's own guard
            reason = f"out of memory (limits.max_worker_memory_mb = {self.config.limits.max_worker_memory_mb})"
        except CancelledError:
            raise
        except Exception as err:  # noqa: BLE001 - e.g. a result that cannot be sent back: that message only
            problem = Problem("internal_error", INTERNAL_ERROR_ZH, detail=f"{type(err).__name__}: {err}")
            return failed(job.ingested_at, problem, f"worker task failed: {err!r}")
        log.error("message received %s quarantined: %s", job.source_received_at or job.ingested_at, reason)
        return quarantined(job.ingested_at, reason)
