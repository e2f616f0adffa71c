"""Parse stage: raw email bytes -> Message (headers, charsets, attachments unpacked and sniffed)."""
from __future__ import annotations

from .message import (  # noqa: F401 - the package's face
    parse_message,
    safe_filename,
)
