"""Staff decisions as values: a decision (a fact in the decisions table) and what the active ones say
(Corrections, folded by service/decide/decisions.py and laid over the derived records by every view)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class Decision:
    """A staff correction: a fact, applied over the derived records by every view (never derived)."""

    id: int
    kind: str  # assign, ignore, confirm-sender, exempt, unexempt, choose, resolve, reopen, undo
    target: str  # message id, problem number, "city/deadline" or (undo) decision id, as text
    arguments: dict  # e.g. {"city": "衡阳市", "deadline": "progress"}; {"register": true}
    by: str  # who took it
    note: str  # why
    at: datetime
    undone_by: int | None = None  # the undo decision that took this one back

    @property
    def active(self) -> bool:
        return self.undone_by is None and self.kind != "undo"


@dataclass(frozen=True)
class Assignment:
    """What staff said a message is: None keeps what the rules said."""

    city: str | None = None
    deadline: str | None = None
    is_report: bool | None = None


@dataclass(frozen=True)
class RegisteredSender:
    """An address staff added to a city's known senders: mail received from `since` on counts as the city's."""

    address: str
    city: str
    since: datetime
    decision: int


@dataclass
class Corrections:
    """The active decisions, indexed for the views."""

    assigned: dict[int, Assignment] = field(default_factory=dict)  # message -> assignment
    ignored: set[int] = field(default_factory=set)  # messages staff set aside (spam, other business)
    confirmed: set[int] = field(default_factory=set)  # senders staff vouched for (unregistered, unverified)
    registered: list[RegisteredSender] = field(default_factory=list)
    exempt: dict[tuple[str, str], Decision] = field(default_factory=dict)  # (city, deadline) -> the exemption
    chosen: dict[int, Decision] = field(default_factory=dict)  # message -> the choose decision
    resolved: dict[int, Decision] = field(default_factory=dict)  # problem number -> the resolve decision
    by_message: dict[int, list[int]] = field(default_factory=dict)  # message -> decision ids applied to it
    by_report: dict[tuple[str, str], list[int]] = field(default_factory=dict)  # exemptions by report
    by_problem: dict[int, list[int]] = field(default_factory=dict)  # problem number -> decision ids
    stale: list[tuple[Decision, str]] = field(default_factory=list)  # (decision, why it no longer applies)

    def assignment(self, message: int) -> Assignment | None:
        return self.assigned.get(message)

    def decided(self, message: int) -> bool:
        """Staff have said what this message is (it leaves the lists asking them to)."""
        return message in self.assigned or message in self.ignored or message in self.confirmed
