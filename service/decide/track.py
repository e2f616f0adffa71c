"""Track stage: recorded reports + deadlines + now -> ReportState per city and deadline.

A later version from the same city for the same deadline supersedes the earlier one;
the report is on time if any version arrived by the end of the due day.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Iterable, Mapping, Sequence

from ..clock import end_of_day
from ..config import Config
from ..model import Problem, ReportState, StoredResult


@dataclass(frozen=True)
class ReportVersion:
    """One message counted as a report (what the store's results hold, reduced)."""

    message: int  # store id
    message_id: str
    city: str
    deadline: str
    received_at: datetime
    rows: int
    tables: int
    problems: tuple[str, ...] = ()


def grouped_versions(versions: Iterable[ReportVersion]) -> dict[tuple[str, str], list[ReportVersion]]:
    """Versions grouped by (city, deadline), oldest first."""
    grouped: dict[tuple[str, str], list[ReportVersion]] = {}
    for v in sorted(versions, key=lambda v: (v.received_at, v.message)):
        grouped.setdefault((v.city, v.deadline), []).append(v)
    return grouped


def effective_version(versions: Sequence[ReportVersion]) -> ReportVersion:
    """The version whose rows count: the latest one carrying a table, else the latest one.

    A follow-up mail without a table (a cover letter, a forgotten attachment resent as .pdf)
    must not wipe the rows an earlier version delivered.
    """
    with_tables = [v for v in versions if v.tables]
    return (with_tables or list(versions))[-1]


def report_states(config: Config, versions: Iterable[ReportVersion], now: datetime) -> list[ReportState]:
    """State of every city for every deadline at `now`, from the versions received by then (the caller's
    view at `now`, Snapshot.at: the one place later mail is left out)."""
    grouped = grouped_versions(versions)
    states = []
    for city in config.cities:
        for deadline in config.deadlines:
            due_end = end_of_day(deadline.due, config.tz)
            found = grouped.get((city.name, deadline.id))
            if not found:
                state = "pending" if now < due_end else "missing"
                states.append(ReportState(city.name, deadline.id, state))
                continue
            first, latest, counted = found[0], found[-1], effective_version(found)
            states.append(ReportState(
                city=city.name, deadline=deadline.id,
                state="on_time" if first.received_at < due_end else "late",
                received_at=latest.received_at.astimezone(config.tz),
                first_received_at=first.received_at.astimezone(config.tz),
                rows=counted.rows, problems=latest.problems, message_id=counted.message_id,
                message=counted.message,
                versions=len(found),
            ))
    return states


def state_of(states: Sequence[ReportState], city: str, deadline: str) -> ReportState:
    for s in states:
        if s.city == city and s.deadline == deadline:
            return s
    raise KeyError((city, deadline))


def versions_from_results(results: Iterable[StoredResult], problems: Mapping[int, Sequence[Problem]],
                          row_counts: Mapping[int, int]) -> list[ReportVersion]:
    """ReportVersions from the store's result records (reports only, duplicates excluded)."""
    return [
        ReportVersion(message=r.message, message_id=r.message_id, city=r.city, deadline=r.deadline,
                      received_at=r.received_at, rows=row_counts.get(r.message, 0), tables=r.tables,
                      problems=tuple(p.message_zh for p in problems.get(r.message, ())))
        for r in results if r.is_version
    ]
