"""What each report state is called, and when silence about an optional report is owed at all.

The one place status, the digest and the workbook take their words from (pure: config + state).
An optional deadline (the sub-venue plan) is owed only by the cities listed in
reminders.plan_cities; from every other city, and from all when none is listed, its absence is
"—" (nothing owed), not 未报 or 待报.
"""
from __future__ import annotations

from ..config import City, Config, Deadline

STATE_ZH = {"on_time": "按时", "late": "逾期", "missing": "未报", "pending": "待报", "exempt": "免报", "n/a": "—"}


def owes_report(config: Config, city: City, deadline: Deadline) -> bool:
    """Whether silence from this city about this deadline is a report missing."""
    return deadline.required or bool(set(config.reminders.plan_cities) & set(city.names))


def shown_state(config: Config, city_name: str, deadline: Deadline, state: str) -> str:
    """The state to show: missing or pending becomes "n/a" where nothing is owed."""
    if state in ("missing", "pending") and not owes_report(config, config.city(city_name), deadline):
        return "n/a"
    return state


def state_label(config: Config, city_name: str, deadline: Deadline, state: str) -> str:
    """按时 / 逾期 / 未报 / 待报, or "—" for an optional report nobody owes."""
    return STATE_ZH[shown_state(config, city_name, deadline, state)]
