"""Receipt: one attributed report + what was read from it -> a short threaded reply, or None.

No receipt for unattributed or automatic mail, robot senders, or mail older than
receipts.window_hours (so importing last year's archive writes to nobody).
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from .config import Config
from .model import Outgoing, Problem
from .remind import deadline_context
from .render import Renderer, addressee_of, common_context, default_renderer

# Local parts that never read mail; replying to them only makes bounces.
_ROBOT_SENDER = re.compile(
    r"^(no[-_.]?reply|do[-_.]?not[-_.]?reply|mailer[-_.]?daemon|postmaster|bounces?|notification|"
    r"auto[-_.]?reply)([-+_.].*)?@", re.IGNORECASE)
# "回复：" "Re:" "答复:" "RE[2]:" "Fwd:" left over from earlier exchanges, stripped before re-prefixing.
_REPLY_PREFIX = re.compile(r"^\s*((回复|答复|转发|re|fw|fwd|aw)\s*(\[\d+\])?\s*[:：]\s*)+", re.IGNORECASE)


def plan_receipt(config: Config, *, message_id: str, sender: str, subject: str, received_at: datetime,
                 city: str | None, deadline: str | None, rows: int, problems: list[Problem],
                 auto_generated: bool, now: datetime,
                 renderer: Renderer | None = None) -> Outgoing | None:
    """The receipt to send for one message, or None when none should go out.

    Also None without a message_id: the key f"receipt:{message_id}" must be unique.
    """
    if not _wants_receipt(config, message_id=message_id, sender=sender, received_at=received_at,
                          city=city, deadline=deadline, auto_generated=auto_generated, now=now):
        return None
    assert city is not None and deadline is not None  # checked by _wants_receipt
    ctx = receipt_context(config, sender_city=city, deadline_id=deadline, subject=subject,
                          received_at=received_at, rows=rows, problems=problems, now=now)
    subject_line, text, html = (renderer or default_renderer()).render("receipt", **ctx)
    return Outgoing(key=f"receipt:{message_id}", kind="receipt", to=(sender.strip().lower(),),
                    subject=subject_line, text=text, html=html, city=city, deadline=deadline,
                    in_reply_to=message_id)


def receipt_context(config: Config, *, sender_city: str, deadline_id: str, subject: str,
                    received_at: datetime, rows: int, problems: list[Problem],
                    now: datetime) -> dict[str, Any]:
    """Template values for the receipt."""
    deadline = config.deadline(deadline_id)
    return {
        **common_context(config, now),
        "addressee": addressee_of(config.city(sender_city)),
        "city": sender_city,
        "deadline": deadline_context(deadline),
        "original_subject": original_subject(subject),
        "received_at": received_at.astimezone(config.tz),
        "rows": rows,
        "wants_table": deadline.id == config.table_deadline.id,
        "problems": problem_lines(problems),
    }


def original_subject(subject: str) -> str:
    """The subject without earlier 回复：/Re:/Fwd: prefixes, so replies never read 回复：回复：."""
    return _REPLY_PREFIX.sub("", " ".join((subject or "").split()))


def problem_lines(problems: list[Problem]) -> list[dict[str, str]]:
    """Problems in plain words, each once, with the file they concern when not already named."""
    lines, seen = [], set()
    for problem in problems:
        text = problem.message_zh.strip()
        file = problem.file if problem.file and problem.file not in text else ""
        if text and (file, text) not in seen:
            seen.add((file, text))
            lines.append({"file": file, "text": text})
    return lines


def is_robot_sender(sender: str) -> bool:
    """True for noreply / mailer-daemon / postmaster style addresses (and empty ones)."""
    sender = (sender or "").strip()
    return "@" not in sender or bool(_ROBOT_SENDER.match(sender))


def _wants_receipt(config: Config, *, message_id: str, sender: str, received_at: datetime,
                   city: str | None, deadline: str | None, auto_generated: bool,
                   now: datetime) -> bool:
    if not config.receipts.enabled or auto_generated or not message_id:
        return False
    if city is None or deadline is None or is_robot_sender(sender):
        return False
    if not _known(config, city, deadline):
        return False
    return received_at >= now - timedelta(hours=config.receipts.window_hours)


def _known(config: Config, city: str, deadline: str) -> bool:
    return (any(c.name == city for c in config.cities)
            and any(d.id == deadline for d in config.deadlines))
