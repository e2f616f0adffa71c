"""Shared by the bench scripts: bench configs, running the CLI with peak RSS, tables and JSON out.

Only the project's own dependencies and the tests' real servers (tests/dovecot.py, tests/smtp_server.py).
"""
from __future__ import annotations

import json
import os
import platform
import re
import resource
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
SHIPPED_CONFIG = ROOT / "config" / "service.toml"


def write_config(folder: Path, *, extra: str = "", database_url: str | None = None, workers: int = 0,
                 shipped: Path = SHIPPED_CONFIG) -> Path:
    """The shipped campaign config on folder/data, plus extra TOML sections; returns its path.

    workers: [service] workers (0: the service's default, one per core); shipped: the campaign file to
    start from (another checkout's own, when comparing checkouts whose config keys differ).
    """
    data_dir = folder / "data"
    url = database_url or f"sqlite:///{data_dir / 'service.db'}"
    text = shipped.read_text(encoding="utf-8")
    text = re.sub(r'(?m)^data_dir = .*$', f'data_dir = "{data_dir}"', text, count=1)
    text = re.sub(r'(?m)^database_url = .*$', f'database_url = "{url}"' + (f"\nworkers = {workers}" if workers else ""),
                  text, count=1)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "service.toml"
    path.write_text(text + "\n" + extra, encoding="utf-8")
    return path


def imap_section(host: str, port: int, user: str, batch_size: int = 50, folder: str = "INBOX") -> str:
    """The [mailbox] section for a Dovecot account (the password goes in SERVICE_IMAP_PASSWORD)."""
    return (f'[mailbox]\nkind = "imap"\nhost = "{host}"\nport = {port}\nsecurity = "none"\n'
            f'user = "{user}"\nfolders = ["{folder}"]\nbatch_size = {batch_size}\ntimeout = 60.0\n')


NO_RECEIPTS = "[receipts]\nenabled = false\n"


def database_factory(kind: str) -> tuple[Callable[[], str | None], Callable[[], None]]:
    """(a fresh database URL per call, cleanup): SQLite files (None: the config's default) or a
    throwaway PostgreSQL cluster on loopback (tests/postgres.py)."""
    if kind == "sqlite":
        return (lambda: None), (lambda: None)
    from tests.postgres import Postgres

    server = Postgres.create()
    return server.new_database, server.destroy


# --- running the CLI ----------------------------------------------------------------------------

def process_tree(pid: int) -> list[int]:
    """pid and all its descendants (from /proc/<pid>/task/<tid>/children: no scan of /proc)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        try:
            tasks = os.listdir(f"/proc/{current}/task")
        except OSError:
            continue
        for tid in tasks:
            try:
                with open(f"/proc/{current}/task/{tid}/children") as fh:
                    todo.extend(int(c) for c in fh.read().split())
            except OSError:
                pass
    return found


def memory_kb(pid: int) -> tuple[int, int]:
    """(RSS, PSS) of one process in kB; PSS shares pages among the processes mapping them (forked workers)."""
    rss = pss = 0
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                if line.startswith("Rss:"):
                    rss = int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss = int(line.split()[1])
    except OSError:
        pass
    return rss, pss


class RssSampler:
    """Samples a process tree every `interval` s: peak of summed PSS, peak RSS of its largest process."""

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        self.pid, self.interval = pid, interval
        self.peak_pss_kb = self.peak_rss_kb = 0
        self.main_cpu_s = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "RssSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            sizes = [memory_kb(p) for p in process_tree(self.pid)]
            self.peak_pss_kb = max(self.peak_pss_kb, sum(pss for _, pss in sizes))
            self.peak_rss_kb = max([self.peak_rss_kb, *(rss for rss, _ in sizes)])
            self.main_cpu_s = cpu_seconds(self.pid) or self.main_cpu_s
            self._stop.wait(self.interval)


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of one process so far (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            fields = fh.read().rsplit(b")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


@dataclass
class Run:
    """One CLI run: exit code, output, wall seconds, sampled peaks in MB (tree PSS, largest process RSS)."""

    returncode: int
    stdout: str
    stderr: str
    seconds: float
    peak_pss_mb: float
    peak_rss_mb: float
    cpu_s: float = 0.0  # the whole tree (workers included)
    main_cpu_s: float = 0.0  # the main process alone (last sample before it exited)


def cli_env(password: str = "", **more: str) -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), **more)
    if password:
        env["SERVICE_IMAP_PASSWORD"] = password
    return env


def run_cli(config: Path, args: Sequence[str], env: dict[str, str], timeout: float = 900, cwd: Path = ROOT) -> Run:
    """`python -m service --config config ARGS`, timed from spawn to exit, memory sampled."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "service", "--config", str(config), *args], cwd=cwd,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    with RssSampler(proc.pid) as sampler:
        out, err = proc.communicate(timeout=timeout)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return Run(proc.returncode, out.decode(errors="replace"), err.decode(errors="replace"), seconds,
               sampler.peak_pss_kb / 1024, sampler.peak_rss_kb / 1024, cpu, sampler.main_cpu_s)


# --- output -------------------------------------------------------------------------------------

def machine() -> dict:
    """What the figures were measured on."""
    cpu = ""
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {"cpus": os.cpu_count(), "cpu": cpu, "python": platform.python_version(), "platform": platform.platform()}


def print_table(title: str, rows: Sequence[Sequence[object]], header: Sequence[str] = ("figure", "value")) -> None:
    """A small aligned text table."""
    cells = [[str(c) for c in header]] + [[_fmt(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    print(f"\n{title}")
    for n, row in enumerate(cells):
        print("  " + "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))))
        if n == 0:
            print("  " + "  ".join("-" * w for w in widths))


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"
    return str(value)


def write_json(path: Path, doc: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {**doc, "machine": machine()}
    path.write_text(json.dumps(doc, ensure_ascii=False, indent=2, default=str) + "\n", encoding="utf-8")
    print(f"\nwrote {path}")
