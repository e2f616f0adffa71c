"""Parse stage helper: one MIME part's header block -> raw values, sender, times, auto-reply flag, bounds.

Values are read as raw bytes (compat32 keeps them), cut at MAX_HEADER_BYTES, and decoded by charset.py.
Header blocks past the bounds are still read (cut); the bound is reported as a Problem.
"""
from __future__ import annotations

import email.message
import email.utils
import re
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from ..model import Problem
from .charset import Decoded, decode_bytes, decode_header, split_header_params, unfold

MAX_HEADER_BYTES = 16 * 1024  # longer header values are cut before decoding
MAX_HEADERS = 500  # header fields in one block; real mail has tens (long Received chains ~100)
NAMES_SHOWN = 3
_AUTO_SENDER = re.compile(r"^(mailer-daemon|postmaster|no-?reply|do-?not-?reply)\b", re.I)
_AUTO_SUBJECT = re.compile(r"自动回复|系统退信|退信|auto(matic)?[ -]?reply|undeliver|"
                           r"delivery status notification|delivery (failure|failed)|out of office", re.I)
_AUTO_PRECEDENCE = {"bulk", "junk", "list", "auto_reply"}
_MIME_TYPE = re.compile(r"[\w.+-]+/[\w.+-]+")
_ADDRESS = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
_COMMENT = re.compile(r"\([^)]*\)")
_ZONE = re.compile(r"\d:\d\d(?::\d\d)?\s*([+-]\d{4}|[A-Za-z]{1,5})\b")
_NOT_NAME = re.compile(r"[^\x21-\x7e]")


def header_bytes(part: email.message.Message, name: str) -> bytes | None:
    """The first raw value of a header, as bytes, cut at MAX_HEADER_BYTES."""
    for key, value in part.raw_items():
        if key.lower() == name:
            raw = value.encode("utf-8", "surrogateescape") if isinstance(value, str) else str(value).encode()
            return _cut(raw)
    return None


def _cut(raw: bytes) -> bytes:
    """raw up to MAX_HEADER_BYTES, at the last space or fold when there is one: encoded-words and
    RFC 2231 sections are separated by them, so none is cut in half."""
    if len(raw) <= MAX_HEADER_BYTES:
        return raw
    gap = max(raw.rfind(b" ", 0, MAX_HEADER_BYTES), raw.rfind(b"\t", 0, MAX_HEADER_BYTES),
              raw.rfind(b"\n", 0, MAX_HEADER_BYTES))
    return raw[:gap] if gap > 0 else raw[:MAX_HEADER_BYTES]


def plain_header(part: email.message.Message, name: str) -> str:
    raw = header_bytes(part, name)
    return decode_bytes(unfold(raw)).text.strip() if raw else ""


def header_problems(part: email.message.Message) -> list[Problem]:
    """Header blocks past the bounds: too many fields, values cut at MAX_HEADER_BYTES."""
    count, cut = 0, []
    for key, value in part.raw_items():
        count += 1
        if len(value if isinstance(value, str) else str(value)) > MAX_HEADER_BYTES:
            cut.append((_NOT_NAME.sub("?", key)[:40], len(value)))
    problems = []
    if count > MAX_HEADERS:
        problems.append(Problem("too_many_headers", f"邮件头的项目异常多（{count} 项，正常邮件只有几十项），可能是异常邮件，请留意",
                                detail=f"{count} header fields (more than {MAX_HEADERS})"))
    if cut:
        names = "、".join(name for name, _ in cut[:NAMES_SHOWN]) + ("等" if len(cut) > NAMES_SHOWN else "")
        problems.append(Problem("header_truncated",
                                f"邮件头“{names}”过长，只读取了前 {MAX_HEADER_BYTES // 1024} KB，内容可能不完整",
                                detail="; ".join(f"{name}: {size} characters" for name, size in cut[:10])))
    return problems


def content_type(part: email.message.Message) -> tuple[str, list[tuple[str, str]]]:
    raw = header_bytes(part, "content-type")
    value, params = split_header_params(raw) if raw else ("", [])
    if not _MIME_TYPE.fullmatch(value):
        value = part.get_default_type()  # RFC 2045: broken or missing means text/plain
    return value, params


def sender_of(msg: email.message.Message) -> tuple[str, Decoded]:
    """(lower-cased address, decoded display name) from From, else Sender, else Return-Path."""
    for header in ("from", "sender", "return-path"):
        raw = header_bytes(msg, header)
        if not raw:
            continue
        text = unfold(raw).decode("latin-1")  # Latin-1 keeps raw 8-bit bytes for decode_header
        name, address = email.utils.parseaddr(text)
        if "@" not in address:
            match = _ADDRESS.search(text)
            address = match.group(0) if match else ""
        if address:
            display = decode_header(name.encode("latin-1"))
            return address.strip().lower(), display._replace(text=display.text.strip().strip('"').strip())
    return "", Decoded("")


def received_of(msg: email.message.Message, tz: ZoneInfo) -> datetime | None:
    """The time in the newest (topmost) Received header, after its last ';'."""
    raw = header_bytes(msg, "received")
    if not raw or b";" not in raw:
        return None
    return to_datetime(unfold(raw).rsplit(b";", 1)[1].decode("latin-1"), tz)


def to_datetime(text: str, tz: ZoneInfo) -> datetime | None:
    """An aware datetime in tz; a time without offset is taken as local to the office."""
    text = _COMMENT.sub(" ", text).strip()
    try:
        parts = email.utils.parsedate_tz(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        parts = None
    try:
        if not parts:
            stamp = datetime.fromisoformat(text)  # some systems write 2022-01-03 10:00:00
            return (stamp if stamp.tzinfo else stamp.replace(tzinfo=tz)).astimezone(tz)
        naive = datetime(*parts[:5], min(parts[5], 59))
        zone = _ZONE.search(text)
        if zone is None or zone.group(1).upper() == "CST":
            # No zone: the sender's clock, in China. "CST" from Chinese systems (Java's
            # Date.toString) is China Standard Time, not the US Central time email.utils assumes.
            return naive.replace(tzinfo=tz)
        return naive.replace(tzinfo=timezone(timedelta(seconds=parts[9] or 0))).astimezone(tz)
    except (ValueError, OverflowError, TypeError):
        return None


def is_auto_generated(msg: email.message.Message, sender: str, subject: str) -> bool:
    """Auto-replies, bounces and list robots (RFC 3834 headers, report types, sender, subject)."""
    def value(name: str) -> str | None:
        raw = header_bytes(msg, name)
        return None if raw is None else unfold(raw).decode("latin-1").strip().lower()

    auto_submitted = value("auto-submitted")
    if auto_submitted and not auto_submitted.startswith("no"):
        return True
    for name in ("x-autoreply", "x-autorespond"):
        flag = value(name)
        if flag is not None and flag not in ("no", "false", "0"):
            return True
    if value("precedence") in _AUTO_PRECEDENCE or value("x-loop") is not None:
        return True
    if content_type(msg)[0] == "multipart/report":
        return True
    return bool(_AUTO_SENDER.match(sender.split("@")[0]) or _AUTO_SUBJECT.search(subject))
