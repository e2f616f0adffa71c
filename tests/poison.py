"""Worker tasks that misbehave on marked mail, as a hostile attachment makes a native reader do.

Module-level, so a worker process can run them. A message carrying `X-Poison: <how>` aborts its worker,
hangs, or asks for gigabytes; any other message is derived as usual.
"""
from __future__ import annotations

import os
import re
import time

from service.ingest.derive import Derived, Job
from service.ingest.pool import derive_in_worker

_POISON = re.compile(rb"^X-Poison: (\w+)", re.MULTILINE)
HUGE = 3 * 1024 ** 3  # far over the test limit, easily granted on this machine without one


def derive_or_misbehave(job: Job) -> Derived:
    found = _POISON.search(job.raw[:4096])
    how = found.group(1) if found else b""
    if how == b"abort":
        os.abort()  # what calamine does when an allocation fails
    if how == b"hang":
        time.sleep(3600)
    if how == b"memory":
        buffer = bytearray(HUGE)
        buffer[::4096] = b"x" * len(buffer[::4096])  # touch every page: really use the memory
    return derive_in_worker(job)
