"""Parse stage helper: one face for every container a city's attachment may be -> its member files.

zip (unpack.py), 7z and rar (archives.py) and Outlook's winmail.dat (tnef.py) all return
(members as (name, bytes), problems) under the message's one Budget, so their bounds add up.
"""
from __future__ import annotations

from ..config import LimitsSection
from ..model import Problem
from .tnef import read_tnef
from .unpack import Budget, read_zip

CONTAINERS = frozenset({"zip", "7z", "rar", "tnef"})


def read_container(kind: str, content: bytes, name: str, limits: LimitsSection,
                   budget: Budget) -> tuple[list[tuple[str, bytes]], list[Problem]]:
    """The files inside a container of the sniffed kind, and a Problem for each one refused.

    A container that cannot be opened at all gives a "<kind>_unreadable" problem and no members.
    """
    if kind == "zip":
        return read_zip(content, name, limits, budget)
    if kind == "tnef":
        return read_tnef(content, name, limits, budget)
    # py7zr and rarfile (with the cryptography they load) cost ~70 ms of import per process: only for such mail.
    from .archives import read_archive  # noqa: PLC0415

    return read_archive(kind, content, name, limits, budget)
