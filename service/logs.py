"""Logging for the long-running worker: one line per event on stderr, plain text or JSON.

systemd's journal and `docker logs` keep stderr. Lines carry message ids and counts, never bodies
or contact details (the modules logging them see to that).
"""
from __future__ import annotations

import json
import logging

from .config import Config


class JsonFormatter(logging.Formatter):
    """One JSON object per line (for log shippers); `message` is the same text as the plain format."""

    def format(self, record: logging.LogRecord) -> str:
        doc = {"time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"), "level": record.levelname,
               "logger": record.name, "message": record.getMessage()}
        if record.exc_info:
            doc["error"] = self.formatException(record.exc_info)
        return json.dumps(doc, ensure_ascii=False)


def configure_logging(config: Config) -> None:
    """One line per event on stderr (the journal or `docker logs` keeps them), plain or JSON."""
    handler = logging.StreamHandler()
    plain = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    handler.setFormatter(JsonFormatter() if config.worker.log_format == "json" else plain)
    level = logging.getLevelName(config.service.log_level.upper())
    level = level if isinstance(level, int) else logging.INFO  # an unknown name gives "Level X"
    logging.basicConfig(level=level, handlers=[handler], force=True)
    if level > logging.DEBUG:
        # Scheduler bookkeeping, IMAP logins and SMTP details are not events (outgoing logs each send);
        # their warnings and errors still show.
        for name in ("apscheduler", "service.ingest.imap", "service.ingest.imap_session", "service.outgoing.transports"):
            logging.getLogger(name).setLevel(logging.WARNING)
