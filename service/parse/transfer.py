"""Parse stage helper: an attachment's bytes when its Content-Transfer-Encoding lies.

Some senders label raw xlsx bytes "base64" or put base64 text under "7bit"; decoding as
labelled gives garbage. The content decides (as for Content-Type): when the labelled
decoding is no file we know and the other reading is one, the other reading wins.
"""
from __future__ import annotations

import binascii
import email.message
import re

from .sniff import CFB_MAGIC, sniff_kind

_UNRECOGNISED = ("unknown", "text", "csv", "html")  # what garbage or base64 text sniffs as
_OFFICE_MAGIC = (b"PK\x03\x04", CFB_MAGIC, b"%PDF-")
_BASE64_TEXT = re.compile(rb"[A-Za-z0-9+/\r\n\t ]+={0,2}[\r\n\t ]*")


def transfer_encoding(part: email.message.Message) -> str:
    return str(part.get("content-transfer-encoding", "")).strip().lower()


def undecoded_payload(part: email.message.Message) -> bytes:
    """A leaf part's payload bytes as they came, whatever its Content-Transfer-Encoding says.

    get_payload(decode=True) returns the raw bytes for 8bit; the label is swapped for that one
    call (public API only: get_payload() without decode would re-decode 8-bit text by charset).
    """
    original = part.get("content-transfer-encoding")
    if original is None:
        return part.get_payload(decode=True) or b""
    part.replace_header("content-transfer-encoding", "8bit")
    try:
        return part.get_payload(decode=True) or b""
    finally:
        part.replace_header("content-transfer-encoding", original)


def recognised_reading(part: email.message.Message, decoded: bytes, name: str) -> bytes | None:
    """The attachment's bytes read against its lying Content-Transfer-Encoding, when only that reading
    is a file we recognise by content; None when the label is right (or neither reading is a file)."""
    cte = transfer_encoding(part)
    if cte == "quoted-printable":  # its output is 7-bit: 8-bit bytes are raw bytes, each "=" in them mangled
        other = undecoded_payload(part)
        return other if not other.isascii() and other != decoded and _recognised(other, name) else None
    if _recognised(decoded, name):
        return None
    if cte == "base64":
        other = undecoded_payload(part)  # raw xlsx bytes labelled base64
    elif _BASE64_TEXT.fullmatch(decoded):
        try:
            other = binascii.a2b_base64(decoded)  # base64 text labelled 7bit, 8bit or nothing
        except binascii.Error:
            return None
    else:
        return None
    return other if _recognised(other, name) else None


def _recognised(data: bytes, name: str) -> bool:
    if data.startswith(_OFFICE_MAGIC):  # the usual honest attachment: no second sniff (66 µs for an xlsx)
        return True
    return bool(data) and sniff_kind(data, name) not in _UNRECOGNISED
