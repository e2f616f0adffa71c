"""Send planned emails at most once each: the sent log is committed before the SMTP conversation.

A crash between the two leaves status "sending": never resent automatically (at most once),
and shown in the digest as "outcome unknown" so staff can check.
"""
from __future__ import annotations

import logging
from datetime import datetime
from typing import Iterable

from .errors import SendError
from .model import Outgoing
from .send import Sender
from .store import Store

log = logging.getLogger(__name__)


def send_once(store: Store, sender: Sender, out: Outgoing, now: datetime) -> str:
    """Send `out` unless its key was sent (or is being sent); returns "sent", "failed" or "skipped"."""
    record = store.sent_record(out.key)
    if record is not None and record.status != "failed":
        return "skipped"
    store.record_send_attempt(key=out.key, kind=out.kind, city=out.city, deadline=out.deadline,
                              recipients=out.to, subject=out.subject, now=now)
    try:
        smtp_id = sender.send(out)
    except SendError as err:
        store.record_send_result(out.key, ok=False, error=str(err), now=now)
        log.error("send %s failed: %s", out.key, err)
        return "failed"
    store.record_send_result(out.key, ok=True, smtp_message_id=smtp_id, now=now)
    log.info("sent %s to %d recipient(s)", out.key, len(out.to))
    return "sent"


def record_stale(store: Store, stale: Iterable[Outgoing], now: datetime) -> None:
    """Remember reminders that were missed for good, so each is listed once, not every day."""
    for out in stale:
        store.record_skipped(key=out.key, kind=out.kind, city=out.city, deadline=out.deadline,
                             recipients=out.to, subject=out.subject, now=now)
