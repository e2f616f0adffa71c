"""Single-message spellings of the store's batch calls, for tests that set up one message at a time.

They go through the paths production uses (record_messages, stored_messages_by_id), so a test
exercises what a poll does.
"""
from __future__ import annotations

from datetime import datetime

from service.model import StoredMessage
from service.store import Store


def record_one(store: Store, *, sha256: str, message_id: str, size: int, source_id: str,
               source_received_at: datetime | None, now: datetime) -> tuple[int, bool]:
    """(id, is_new) of one archived message recorded with where it came from."""
    (stored, is_new), = store.record_messages([dict(sha256=sha256, message_id=message_id, size=size,
                                                    source_id=source_id, source_received_at=source_received_at)], now)
    return stored.id, is_new


def stored(store: Store, message: int) -> StoredMessage:
    return store.stored_messages_by_id([message])[0]
