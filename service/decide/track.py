"""Track stage: recorded reports + deadlines + now -> ReportState per city and deadline.

A later version from the same city for the same deadline supersedes the earlier one, except a
version from an unregistered sender over one from a registered sender (until staff confirm it) and
except where staff chose the version in force; the report is on time if any version arrived by the
end of the due day. A version held because its sender could not be verified (decide/sender_auth.py)
counts for nothing until staff confirm it: it is only named in the report's problems. Staff
decisions (service/decide/decisions.py) are laid over the stored results.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Iterable, Mapping, Sequence

from ..clock import end_of_day
from ..config import Config
from ..model import Problem, ReportState, StoredResult
from ..staff import Corrections
from .decisions import NO_CORRECTIONS


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
    registered: bool = True  # from a known sender, or vouched for by staff
    decisions: tuple[int, ...] = ()  # staff decisions applied to this message
    held: bool = False  # from a registered address, but the sender could not be verified (not credited)


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


def version_in_force(versions: Sequence[ReportVersion], corrections: Corrections = NO_CORRECTIONS) -> ReportVersion:
    """The version whose rows count: the one staff chose (the latest choice), else the effective one
    among the registered senders' versions (an unregistered sender's resend waits for confirmation)."""
    chosen = [v for v in versions if v.message in corrections.chosen]
    if chosen:
        return max(chosen, key=lambda v: corrections.chosen[v.message].id)
    return effective_version([v for v in versions if v.registered] or list(versions))


def unconfirmed_versions(versions: Sequence[ReportVersion], in_force: ReportVersion) -> list[ReportVersion]:
    """Later versions from an unregistered sender kept out of force while a registered one stands."""
    return [v for v in versions if not v.registered and in_force.registered
            and (v.received_at, v.message) > (in_force.received_at, in_force.message)]


def candidate_problem(v: ReportVersion) -> str:
    return (f"邮件 #{v.message} 来自未登记的邮箱，未替换已登记邮箱报送的版本；"
            f"如确为该市州报送，请确认发件人（confirm-sender {v.message}）")


def held_problem(v: ReportVersion) -> str:
    return (f"邮件 #{v.message} 来自登记邮箱但发件人未通过验证，可能是伪造的，未计入；"
            f"如确为该市州报送，请确认发件人（confirm-sender {v.message}）")


def report_states(config: Config, versions: Iterable[ReportVersion], now: datetime,
                  corrections: Corrections = NO_CORRECTIONS) -> list[ReportState]:
    """State of every city for every deadline at `now`, from the versions received by then (the caller's
    view at `now`, Snapshot.at: the one place later mail is left out), staff corrections applied."""
    versions = list(versions)
    grouped = grouped_versions(v for v in versions if not v.held)
    held = grouped_versions(v for v in versions if v.held)
    states = []
    for city in config.cities:
        for deadline in config.deadlines:
            key = (city.name, deadline.id)
            found, waiting = grouped.get(key), held.get(key, [])
            decided = tuple(corrections.by_report.get(key, ()))
            if not found:
                state = ReportState(city.name, deadline.id, _silent_state(config, deadline, key, now, corrections),
                                    decisions=decided, note=_exempt_note(corrections, key))
            else:
                state = _reported_state(config, deadline.due, found, now, corrections, decided)
            if waiting:
                state = replace(state, problems=tuple(held_problem(v) for v in waiting) + state.problems,
                                held=tuple(v.message for v in waiting))
            states.append(state)
    return states


def _silent_state(config: Config, deadline, key: tuple[str, str], now: datetime, corrections: Corrections) -> str:
    if key in corrections.exempt:
        return "exempt"
    return "pending" if now < end_of_day(deadline.due, config.tz) else "missing"


def _exempt_note(corrections: Corrections, key: tuple[str, str]) -> str:
    exemption = corrections.exempt.get(key)
    return exemption.note if exemption else ""


def _reported_state(config: Config, due, found: list[ReportVersion], now: datetime,
                    corrections: Corrections, decided: tuple[int, ...]) -> ReportState:
    first, latest, counted = found[0], found[-1], version_in_force(found, corrections)
    waiting = unconfirmed_versions(found, counted)
    return ReportState(
        city=first.city, deadline=first.deadline,
        state="on_time" if first.received_at < end_of_day(due, config.tz) else "late",
        received_at=latest.received_at.astimezone(config.tz),
        first_received_at=first.received_at.astimezone(config.tz),
        rows=counted.rows, problems=latest.problems + tuple(candidate_problem(v) for v in waiting),
        message_id=counted.message_id, message=counted.message, versions=len(found),
        latest_at=counted.received_at.astimezone(config.tz),
        decisions=tuple(sorted({*decided, *(d for v in found for d in v.decisions)})),
        note=_exempt_note(corrections, (first.city, first.deadline)),
    )


def state_of(states: Sequence[ReportState], city: str, deadline: str) -> ReportState:
    for s in states:
        if s.city == city and s.deadline == deadline:
            return s
    raise KeyError((city, deadline))


def versions_from_results(results: Iterable[StoredResult], problems: Mapping[int, Sequence[Problem]],
                          row_counts: Mapping[int, int],
                          corrections: Corrections = NO_CORRECTIONS) -> list[ReportVersion]:
    """ReportVersions from the store's result records (reports only, duplicates excluded, held ones
    marked); with staff decisions, the results and problems given are the corrected ones (decisions.corrected)."""
    return [
        ReportVersion(message=r.message, message_id=r.message_id, city=r.city, deadline=r.deadline,
                      received_at=r.received_at, rows=row_counts.get(r.message, 0), tables=r.tables,
                      problems=tuple(p.message_zh for p in problems.get(r.message, ())),
                      registered=not r.unregistered_sender, decisions=tuple(corrections.by_message.get(r.message, ())),
                      held=r.sender_unverified)
        for r in results if r.is_candidate
    ]
