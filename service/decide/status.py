"""Status views, pure: a job's snapshot -> report states at a moment -> JSON contract / terminal table."""
from __future__ import annotations

import json
import unicodedata
from datetime import datetime
from typing import Sequence

from ..config import Config
from ..model import ReportState, Snapshot
from ..staff import RegisteredSender
from ..text import escaped
from .decisions import corrected, registered_senders
from .labels import STATE_ZH, state_label
from .track import report_states, versions_from_results


def states_at(config: Config, snapshot: Snapshot, now: datetime) -> list[ReportState]:
    """Every city's state for every deadline as the service would have said at `now` (the snapshot's
    view at `now`: later mail and later decisions do not count), staff decisions laid over the rules."""
    view = corrected(config, snapshot.at(now))
    versions = versions_from_results(view.results, view.problems, view.row_counts, view.corrections)
    return report_states(config, versions, now, view.corrections)


def registered_at(config: Config, snapshot: Snapshot, now: datetime) -> tuple[RegisteredSender, ...]:
    """The addresses staff registered for a city by `now`."""
    return registered_senders(snapshot.at(now).decisions, config)


def status_document(config: Config, states: Sequence[ReportState], now: datetime,
                    registered: Sequence[RegisteredSender] = ()) -> dict:
    """The `status --json` contract."""
    cities = []
    for city in config.cities:
        reports = {}
        for s in states:
            if s.city == city.name:
                reports[s.deadline] = {
                    "state": s.state,
                    "received_at": s.first_received_at.isoformat() if s.first_received_at else None,
                    "latest_received_at": s.received_at.isoformat() if s.received_at else None,
                    "latest_at": s.latest_at.isoformat() if s.latest_at else None,
                    "rows": s.rows,
                    "versions": s.versions,
                    "problems": list(s.problems),
                    "decisions": list(s.decisions),
                    "note": s.note,
                    "held": list(s.held),
                }
        cities.append({"city": city.name, "reports": reports})
    return {"campaign": config.campaign.name, "now": now.astimezone(config.tz).isoformat(), "cities": cities,
            "registered_senders": [{"city": r.city, "address": r.address, "decision": r.decision,
                                    "since": r.since.astimezone(config.tz).isoformat()} for r in registered]}


def status_json(config: Config, states: Sequence[ReportState], now: datetime,
                registered: Sequence[RegisteredSender] = ()) -> str:
    return json.dumps(status_document(config, states, now, registered), ensure_ascii=False, indent=2)


def display_width(text: str) -> int:
    """Terminal columns: CJK characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def pad(text: str, width: int) -> str:
    return text + " " * max(0, width - display_width(text))


def _cell(state: ReportState, config: Config) -> str:
    label = state_label(config, state.city, config.deadline(state.deadline), state.state)
    if label == STATE_ZH["n/a"]:
        return label
    if state.state == "exempt":
        return label + (f"（{state.note[:12]}）" if state.note else "")
    if state.first_received_at is not None:
        label += f" {state.first_received_at.astimezone(config.tz):%m-%d}"
    if state.rows:
        label += f" {state.rows}行"
    if state.problems:
        label += " !"
    if state.held:
        label += " ✗"
    return label


def status_table(config: Config, states: Sequence[ReportState], now: datetime,
                 registered: Sequence[RegisteredSender] = ()) -> str:
    """A readable city x deadline matrix for the terminal."""
    header = ["市州"] + [f"{d.title}({d.due:%m-%d})" for d in config.deadlines]
    lines = [[c.name] + [_cell(next(s for s in states if s.city == c.name and s.deadline == d.id), config)
                         for d in config.deadlines] for c in config.cities]
    widths = [max(display_width(row[i]) for row in [header, *lines]) + 2 for i in range(len(header))]
    out = [f"{config.campaign.name}  截至 {now.astimezone(config.tz):%Y-%m-%d %H:%M}"]
    for row in [header, *lines]:
        out.append("".join(pad(cell, w) for cell, w in zip(row, widths)).rstrip())
    out.append("（! 表示该报送有待核实的问题，详见 `messages`；— 表示可选报送未报；免报为工作人员登记的免于报送）")
    if any(s.held for s in states):
        out.append("（✗ 表示有来自登记邮箱、但未通过发件人验证的邮件，未计入；核实后可用 confirm-sender 确认）")
    for r in registered:
        out.append(f"工作人员登记的报送邮箱：{r.city} {escaped(r.address)}（决定 #{r.decision}，"
                   f"{r.since.astimezone(config.tz):%m-%d %H:%M} 起）")
    return "\n".join(out)
