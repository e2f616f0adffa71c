"""Send planned emails at most once each: the sent log is committed before the SMTP conversation.

A crash between the two leaves status "sending": never resent automatically (at most once),
and shown in the digest as "outcome unknown" so staff can check. An email that could not be sent
for a reason outside it (server unreachable, circuit open, disk full) is logged "retry" and sent
again by a later run; one the server refused is "failed".
"""
from __future__ import annotations

import logging
from datetime import datetime
from typing import Iterable

from ..errors import SendDeferred, SendError
from ..model import Outgoing
from ..store import Store
from .transports import Sender

log = logging.getLogger(__name__)


def send_once(store: Store, sender: Sender, out: Outgoing, now: datetime) -> str:
    """Send `out` unless its key was sent (or is being sent).

    Returns "sent", "failed" (refused), "deferred" (not sent now: a later run sends it) or "skipped".
    """
    if not store.claim_send(key=out.key, kind=out.kind, city=out.city, deadline=out.deadline,
                            recipients=out.to, subject=out.subject, now=now):
        return "skipped"
    try:
        smtp_id = sender.send(out)
    except SendDeferred as err:
        store.record_send_result(out.key, ok=False, deferred=True, error=str(err), now=now)
        log.warning("send %s deferred to the next run: %s", out.key, err)
        return "deferred"
    except SendError as err:
        store.record_send_result(out.key, ok=False, error=str(err), now=now)
        log.error("send %s failed: %s", out.key, err)
        return "failed"
    store.record_send_result(out.key, ok=True, smtp_message_id=smtp_id, now=now)
    log.info("sent %s to %d recipient(s)", out.key, len(out.to))
    return "sent"


def send_all(store: Store, sender: Sender, outs: Iterable[Outgoing], now: datetime) -> tuple[dict[str, str], str]:
    """send_once each, in one batch; ({key: result}, why the batch stopped early or "").

    Once the circuit opens (the server unreachable a few times in a row, or the batch out of time)
    the rest is not attempted and not logged: it stays due for the next run."""
    results: dict[str, str] = {}
    with sender.batch() as circuit:
        for out in outs:
            if reason := circuit.open_reason():
                log.error("send: batch stopped, %s; the rest is left for the next run", reason)
                return results, reason
            results[out.key] = send_once(store, sender, out, now)
        return results, circuit.reason


def record_stale(store: Store, stale: Iterable[Outgoing], now: datetime) -> None:
    """Remember reminders that were missed for good, so each is listed once, not every day."""
    for out in stale:
        store.record_skipped(key=out.key, kind=out.kind, city=out.city, deadline=out.deadline,
                             recipients=out.to, subject=out.subject, now=now)
