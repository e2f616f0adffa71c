"""Where `derive` runs: in-process for a few messages, on a process pool (one worker per core) for backlogs.

Workers are forked (the CLI is single-threaded) or, from the threaded worker, come from a forkserver
that preloads service.derive. A worker that dies (a library crash, the OOM killer) costs only the
message it was on: the batch is retried one message at a time and the culprit gets internal_error.
"""
from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import replace
from typing import Callable

from .archive import Archive
from .config import Config
from .derive import INTERNAL_ERROR_ZH, Derived, Job, derive, failed
from .model import Problem

log = logging.getLogger(__name__)

MIN_PARALLEL = 8  # fewer messages are derived in-process: starting workers would cost more
MAX_AUTO_WORKERS = 4
PARENT_CHECK_SECONDS = 0.5
_worker_config: Config | None = None


def worker_count(config: Config) -> int:
    """Configured workers, else one per core (at most MAX_AUTO_WORKERS); 1 means in-process."""
    configured = config.service.workers
    return configured if configured > 0 else max(1, min(os.cpu_count() or 1, MAX_AUTO_WORKERS))


def start_method() -> str:
    """fork (instant) from a single-threaded process; forkserver from the threaded worker, where a
    fork could copy a lock some other thread holds."""
    return "fork" if threading.active_count() == 1 else "forkserver"


def _init_worker(config: Config) -> None:
    """Keep the config; leave Ctrl-C and SIGTERM to the parent, and end when the parent is gone."""
    global _worker_config
    _worker_config = config
    _return_big_blocks()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True).start()


def _return_big_blocks() -> None:
    """glibc keeps freed blocks of up to 32 MB on its heap once it has seen big ones (a worker that read a
    5 MB header line stays 50 MB larger); a fixed mmap threshold hands them back to the system when freed."""
    try:
        import ctypes
        ctypes.CDLL("libc.so.6").mallopt(-3, 256 * 1024)  # M_MMAP_THRESHOLD
    except (OSError, AttributeError):
        pass


def _exit_with_parent(parent: int) -> None:
    """A killed parent (kill -9) leaves its workers waiting on the task queue forever: end them."""
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK_SECONDS)
    os._exit(1)


def _derive_chunk(jobs: list[Job]) -> list[Derived]:
    assert _worker_config is not None, "worker started without its config"
    return [derive_loaded(job, _worker_config) for job in jobs]


def derive_loaded(job: Job, config: Config) -> Derived:
    """derive, reading big mail from the archive here rather than pickling it from the parent."""
    if not job.raw and job.sha256:
        try:
            job = replace(job, raw=Archive(config.archive_dir).load(job.sha256))
        except OSError as err:
            problem = Problem("internal_error", INTERNAL_ERROR_ZH, detail=f"{type(err).__name__}: {err}")
            return failed(job.ingested_at, problem, f"archive unreadable: {err}")
    return derive(job, config)


def _chunks(jobs: list[Job], parts: int) -> list[list[Job]]:
    """jobs cut into at most `parts` runs of consecutive jobs (order kept)."""
    size = max(1, -(-len(jobs) // max(parts, 1)))
    return [jobs[i:i + size] for i in range(0, len(jobs), size)]


class Deriver:
    """Submits jobs; `submit` returns a function giving their Derived in order (blocking)."""

    def __init__(self, config: Config, workers: int | None = None) -> None:
        self.config = config
        self.workers = worker_count(config) if workers is None else max(1, workers)
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> "Deriver":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def submit(self, jobs: list[Job]) -> Callable[[], list[Derived]]:
        """Start deriving jobs; in-process work is done when the result is asked for."""
        if self.workers <= 1 or (self._pool is None and len(jobs) < MIN_PARALLEL):
            return lambda: [derive_loaded(job, self.config) for job in jobs]
        try:
            pool = self._started()
            futures = [pool.submit(_derive_chunk, chunk) for chunk in _chunks(jobs, 2 * self.workers)]
        except BrokenProcessPool:
            futures = []
        return lambda: self._collect(jobs, futures)

    def _started(self) -> ProcessPoolExecutor:
        if self._pool is None:
            context = multiprocessing.get_context(start_method())
            context.set_forkserver_preload(["service.derive"])
            self._pool = ProcessPoolExecutor(self.workers, mp_context=context, initializer=_init_worker,
                                             initargs=(self.config,))
        return self._pool

    def _discard(self) -> None:
        """Drop a broken pool (its workers are gone); the next submit starts a new one."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    def _collect(self, jobs: list[Job], futures: list[Future]) -> list[Derived]:
        try:
            if futures:
                return [derived for future in futures for derived in future.result()]
        except BrokenProcessPool:
            log.error("a derive worker died; retrying its batch of %d message(s) one by one", len(jobs))
        self._discard()
        return [self._alone(job) for job in jobs]

    def _alone(self, job: Job) -> Derived:
        """One job on a fresh pool, twice: if its worker dies both times, this message is the cause."""
        for _ in range(2):
            try:
                return self._started().submit(_derive_chunk, [job]).result()[0]
            except BrokenProcessPool:
                self._discard()
        problem = Problem("internal_error", INTERNAL_ERROR_ZH, detail="worker process died while deriving it")
        return failed(job.ingested_at, problem, "worker process died")
