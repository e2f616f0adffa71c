"""The decision log: staff corrections recorded as facts (decisions table), and undo."""
from __future__ import annotations

import hashlib
import json
from collections import Counter
from datetime import datetime
from typing import Any, Sequence

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection, Engine

from ..staff import Decision
from .schema import decisions, problem_numbers


class DecisionLog:
    """Mixed into Store: appends and reads decisions; nothing here is ever rebuilt or deleted."""

    engine: Engine

    def record_decision(self, kind: str, target: str, arguments: dict, by: str, note: str,
                        at: datetime) -> Decision:
        """Append one decision; returns it with its id."""
        values = dict(kind=kind, target=target, arguments=json.dumps(arguments, ensure_ascii=False, sort_keys=True),
                      by=by, note=note, at=at)
        with self.engine.begin() as conn:
            new_id = conn.execute(insert(decisions).values(**values).returning(decisions.c.id)).scalar_one()
        return Decision(new_id, kind, target, dict(arguments), by, note, at)

    def undo_decision(self, decision: int, by: str, note: str, at: datetime) -> Decision:
        """Record an undo of `decision` and mark it taken back, in one transaction."""
        values = dict(kind="undo", target=str(decision), arguments="{}", by=by, note=note, at=at)
        with self.engine.begin() as conn:
            new_id = conn.execute(insert(decisions).values(**values).returning(decisions.c.id)).scalar_one()
            conn.execute(update(decisions).where(decisions.c.id == decision, decisions.c.undone_by.is_(None))
                         .values(undone_by=new_id))
        return Decision(new_id, "undo", str(decision), {}, by, note, at)

    def decisions(self) -> list[Decision]:
        """Every decision, oldest first (the order they are applied in)."""
        with self.engine.connect() as conn:
            return read_decisions(conn)


def read_decisions(conn: Connection) -> list[Decision]:
    return [_decision(r) for r in conn.execute(select(decisions).order_by(decisions.c.id))]


def _decision(r: Any) -> Decision:
    return Decision(r.id, r.kind, r.target, json.loads(r.arguments), r.by, r.note, r.at, r.undone_by)


def problem_fingerprints(found: Sequence[tuple]) -> list[str]:
    """One fingerprint per (code, message_zh, detail, file, row) of one message, the k-th repeat of an
    identical problem told apart by k: the same problem after `reprocess` gets the same fingerprint."""
    seen: Counter = Counter()
    prints = []
    for values in found:
        key = "\x1f".join("" if v is None else str(v) for v in values)
        seen[key] += 1
        prints.append(hashlib.sha256(f"{key}\x1e{seen[key]}".encode()).hexdigest()[:32])
    return prints


def number_problems(conn: Connection, by_message: dict[int, list[str]]) -> dict[tuple[int, str], int]:
    """(message, fingerprint) -> stable problem number, numbering the ones never seen (one select, one insert)."""
    if not by_message:
        return {}
    query = select(problem_numbers).where(problem_numbers.c.message.in_(list(by_message)))
    known = {(r.message, r.fingerprint): r.id for r in conn.execute(query)}
    fresh = [dict(message=m, fingerprint=f) for m, prints in by_message.items() for f in prints
             if (m, f) not in known]
    if fresh:
        conn.execute(insert(problem_numbers), fresh)
        query = select(problem_numbers).where(problem_numbers.c.message.in_({f["message"] for f in fresh}))
        known.update({(r.message, r.fingerprint): r.id for r in conn.execute(query)})
    return known
