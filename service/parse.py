"""Parse stage: raw email bytes -> Message, with forwarded mail and zips unpacked within limits.

stdlib email with policy compat32 keeps raw header bytes (surrogateescape), so charset.py
can repair what clients mislabel; mail-parser and policy.default lose those characters.
"""
from __future__ import annotations

import email
import email.message
import email.parser
import email.utils
import html as htmllib
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from .charset import decode_bytes, decode_header, param_value, split_header_params, unfold
from .config import LimitsSection
from .model import Attachment, Message, Problem
from .sniff import sniff_kind
from .unpack import Budget, encoded_rfc822, read_zip, safe_filename

MAX_HEADER_BYTES = 16 * 1024  # longer header values are cut before decoding
MAX_PARTS = 2000  # MIME parts walked per message, forwards included
MAX_NESTING = 100  # multiparts inside multiparts; real mail stays under 10
FORWARD_LABEL = "转发邮件"
_MIME_DEFECTS = {"StartBoundaryNotFoundDefect", "CloseBoundaryNotFoundDefect",
                 "NoBoundaryInMultipartDefect", "MultipartInvariantViolationDefect"}
_BASE64_DEFECTS = {"InvalidBase64PaddingDefect", "InvalidBase64CharactersDefect", "InvalidBase64LengthDefect"}
_AUTO_SENDER = re.compile(r"^(mailer-daemon|postmaster|no-?reply|do-?not-?reply)\b", re.I)
_AUTO_SUBJECT = re.compile(r"自动回复|系统退信|退信|auto(matic)?[ -]?reply|undeliver|"
                           r"delivery status notification|delivery (failure|failed)|out of office", re.I)
_AUTO_PRECEDENCE = {"bulk", "junk", "list", "auto_reply"}
_MIME_TYPE = re.compile(r"[\w.+-]+/[\w.+-]+")
_ADDRESS = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
_COMMENT = re.compile(r"\([^)]*\)")
_HTML_DROP = re.compile(r"(?is)<(script|style|head)\b.*?</\1\s*>")
_HTML_BREAK = re.compile(r"(?i)<br\s*/?>|</(p|div|tr|li|h\d|table)\s*>")
_HTML_TAG = re.compile(r"(?s)<[^>]*>")
_ZONE = re.compile(r"\d:\d\d(?::\d\d)?\s*([+-]\d{4}|[A-Za-z]{1,5})\b")


@dataclass
class _Found:
    """What the walk over one message collects (mutable, local to parse_message)."""

    limits: LimitsSection
    budget: Budget
    texts: list[str] = field(default_factory=list)
    htmls: list[str] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    parts_left: int = MAX_PARTS
    nesting: int = 0

    def problem(self, code: str, message_zh: str, detail: str = "", file: str = "") -> None:
        item = Problem(code, message_zh, detail=detail[:500], file=file)
        if item not in self.problems:
            self.problems.append(item)


def parse_message(raw: bytes, limits: LimitsSection, tz: ZoneInfo) -> Message:
    """Parse one email; never raises on bad input: what is wrong becomes a Problem."""
    found = _Found(limits, Budget.from_limits(limits))
    msg = _message_from_bytes(raw, found)
    if msg is None:
        msg = email.parser.BytesParser().parsebytes(raw, headersonly=True)
    else:
        _walk(msg, found, origin="", depth=0, top=True)
    subject = _decoded_header(msg, "subject", found, "邮件标题中有文字无法识别，可能显示为乱码")
    sender, sender_name = _sender(msg, found)
    date_raw = _header(msg, "date")
    date = _to_datetime(date_raw.decode("latin-1"), tz) if date_raw else None
    if date_raw and date is None:
        found.problem("bad_date", "邮件的发送日期无法识别", detail=date_raw.decode("latin-1"))
    html = "\n".join(found.htmls)
    return Message(
        message_id="".join(_plain_header(msg, "message-id").split()),
        sender=sender,
        sender_name=sender_name,
        subject=subject,
        date=date,
        received=_received(msg, tz),
        text="\n".join(found.texts) or html_to_text(html),
        html=html,
        attachments=tuple(found.attachments),
        auto_generated=_is_auto_generated(msg, sender, subject),
        problems=tuple(found.problems),
        in_reply_to=_plain_header(msg, "in-reply-to"),
        references=" ".join(_plain_header(msg, "references").split()),
    )


def html_to_text(html: str) -> str:
    """Readable text from an HTML body: tags dropped, block ends as line breaks."""
    text = _HTML_BREAK.sub("\n", _HTML_DROP.sub(" ", html))
    text = htmllib.unescape(_HTML_TAG.sub("", text)).replace("\xa0", " ")
    lines = (line.strip() for line in text.splitlines())
    return "\n".join(line for line in lines if line)


def _message_from_bytes(raw: bytes, found: _Found) -> email.message.Message | None:
    """The MIME tree (compat32 keeps raw header bytes), or None when it nests too deep to parse."""
    try:
        return email.message_from_bytes(raw)
    except RecursionError:  # the stdlib parser recurses once per nested multipart
        found.problem("mime_too_deep", "邮件结构嵌套过深，其中的内容无法读取", detail="RecursionError")
        return None


def _walk(part: email.message.Message, found: _Found, origin: str, depth: int, top: bool) -> None:
    """Collect bodies (top level only) and attachments from one MIME part and its children."""
    if found.parts_left <= 0:
        found.problem("too_many_parts", "邮件包含的内容过多，只读取了一部分")
        return
    found.parts_left -= 1
    _note_defects(part, found)
    ctype, params = _content_type(part)
    payload = part.get_payload()
    if isinstance(payload, list):
        if found.nesting >= MAX_NESTING:
            found.problem("mime_too_deep", "邮件结构嵌套过深，其中的内容无法读取", detail="MAX_NESTING")
            return
        found.nesting += 1
        if ctype == "message/rfc822" and payload:
            data = encoded_rfc822(part, payload[0])
            inner = payload[0] if data is None else _message_from_bytes(data, found)
            if inner is not None:
                _forward(inner, found, origin, depth)
        elif not ctype.startswith("message/"):  # delivery-status blocks carry nothing for us
            for child in payload:
                _walk(child, found, origin, depth, top)
        found.nesting -= 1
        return
    disposition, filename = _filename(part, params, found)
    is_text = ctype in ("text/plain", "text/html") or (ctype.startswith("multipart/") and top)
    if not filename and disposition != "attachment" and is_text:
        if top:  # bodies of forwarded mail are not needed
            _body(part, params, ctype, found)
        return
    if not filename and not disposition and ctype.split("/")[0] in ("text", "multipart", "message"):
        return
    data = _payload_bytes(part, filename or "attachment", found)
    if ctype == "message/rfc822" and not filename:
        filename = f"{FORWARD_LABEL}.eml"
    _add_file(found, filename or "attachment", data, ctype, origin, depth)


def _add_file(found: _Found, name: str, data: bytes, declared: str, origin: str, depth: int) -> None:
    """Add one file, or what it contains when it is a zip or a forwarded .eml."""
    name = safe_filename(name)
    limits = found.limits
    if len(data) > limits.max_attachment_bytes:
        found.problem("attachment_too_large", f"附件“{name}”超过大小限制，未读取",
                      detail=f"{len(data)} bytes", file=name)
        return
    kind = sniff_kind(data, name)
    if kind in ("zip", "eml") and depth + 1 > limits.max_depth:
        found.problem("too_deep", f"附件“{name}”嵌套层数过多，未展开", detail=f"max_depth={limits.max_depth}", file=name)
    elif kind == "eml":
        inner = _message_from_bytes(data, found)
        if inner is not None:
            _forward(inner, found, origin, depth)
        return
    elif kind == "zip":
        members, problems = read_zip(data, name, limits, found.budget)
        found.problems.extend(problems)
        if members or not any(p.code == "zip_unreadable" for p in problems):
            for member_name, member_data in members:
                _add_file(found, member_name, member_data, "", _join(origin, name), depth + 1)
            return
    found.attachments.append(Attachment(name, data, kind, declared, origin))


def _forward(inner: email.message.Message, found: _Found, origin: str, depth: int) -> None:
    """Take the attachments of forwarded mail, labelled with its subject."""
    if depth + 1 > found.limits.max_depth:
        found.problem("too_deep", "转发的邮件嵌套层数过多，其中的附件未读取", detail=f"max_depth={found.limits.max_depth}")
        return
    subject = _decoded_header(inner, "subject", found, "转发邮件的标题中有文字无法识别")
    label = subject.replace("/", "／") or FORWARD_LABEL
    _walk(inner, found, _join(origin, label), depth + 1, top=False)


def _join(origin: str, label: str) -> str:
    return f"{origin}/{label}" if origin else label


def _body(part: email.message.Message, params: list[tuple[str, str]], ctype: str, found: _Found) -> None:
    data = _payload_bytes(part, "", found)
    label, _ = param_value(params, "charset")
    text, doubtful = decode_bytes(data, label)
    if doubtful:
        found.problem("body_charset", "邮件正文中有文字无法识别，可能显示为乱码", detail=f"charset={label}")
    (found.htmls if ctype == "text/html" else found.texts).append(text)


def _payload_bytes(part: email.message.Message, name: str, found: _Found) -> bytes:
    """The transfer-decoded payload; broken base64 is decoded as far as it goes, with a Problem."""
    seen = len(part.defects)
    data = part.get_payload(decode=True)
    broken = [type(d).__name__ for d in part.defects[seen:] if type(d).__name__ in _BASE64_DEFECTS]
    if broken:
        where = f"附件“{name}”" if name else "邮件正文"
        found.problem("broken_encoding", f"{where}的编码有误，内容可能不完整", detail=", ".join(broken), file=name)
    return data if isinstance(data, bytes) else b""


def _note_defects(part: email.message.Message, found: _Found) -> None:
    names = {type(d).__name__ for d in part.defects} & _MIME_DEFECTS
    if names:
        found.problem("malformed_mime", "邮件结构不完整（可能在传输中被截断），已尽量读取其中内容",
                      detail=", ".join(sorted(names)))


def _header(part: email.message.Message, name: str) -> bytes | None:
    """The first raw value of a header, as bytes, cut at MAX_HEADER_BYTES."""
    for key, value in part.raw_items():
        if key.lower() == name:
            raw = value.encode("utf-8", "surrogateescape") if isinstance(value, str) else str(value).encode()
            return raw[:MAX_HEADER_BYTES]
    return None


def _plain_header(part: email.message.Message, name: str) -> str:
    raw = _header(part, name)
    return decode_bytes(unfold(raw))[0].strip() if raw else ""


def _decoded_header(part: email.message.Message, name: str, found: _Found, complaint: str) -> str:
    raw = _header(part, name)
    if raw is None:
        return ""
    text, doubtful = decode_header(raw)
    if doubtful:
        found.problem(f"{name}_charset", complaint, detail=raw[:200].decode("latin-1"))
    return text


def _content_type(part: email.message.Message) -> tuple[str, list[tuple[str, str]]]:
    raw = _header(part, "content-type")
    value, params = split_header_params(raw) if raw else ("", [])
    if not _MIME_TYPE.fullmatch(value):
        value = part.get_default_type()  # RFC 2045: broken or missing means text/plain
    return value, params


def _filename(part: email.message.Message, params: list[tuple[str, str]], found: _Found) -> tuple[str, str]:
    """(disposition, decoded filename): Content-Disposition filename, else Content-Type name."""
    raw = _header(part, "content-disposition")
    disposition, disp_params = split_header_params(raw) if raw else ("", [])
    name, doubtful = param_value(disp_params, "filename")
    if not name:
        name, doubtful = param_value(params, "name")
    if name and doubtful:
        found.problem("filename_charset", f"附件“{safe_filename(name)}”的名称中有文字无法识别", file=safe_filename(name))
    return disposition, name or ""


def _sender(msg: email.message.Message, found: _Found) -> tuple[str, str]:
    """(lower-cased address, decoded display name) from From, else Sender, else Return-Path."""
    for header in ("from", "sender", "return-path"):
        raw = _header(msg, header)
        if not raw:
            continue
        text = unfold(raw).decode("latin-1")  # Latin-1 keeps raw 8-bit bytes for decode_header
        name, address = email.utils.parseaddr(text)
        if "@" not in address:
            match = _ADDRESS.search(text)
            address = match.group(0) if match else ""
        if address:
            display, _ = decode_header(name.encode("latin-1"))
            return address.strip().lower(), display.strip().strip('"').strip()
    return "", ""


def _received(msg: email.message.Message, tz: ZoneInfo) -> datetime | None:
    """The time in the newest (topmost) Received header, after its last ';'."""
    raw = _header(msg, "received")
    if not raw or b";" not in raw:
        return None
    return _to_datetime(unfold(raw).rsplit(b";", 1)[1].decode("latin-1"), tz)


def _to_datetime(text: str, tz: ZoneInfo) -> datetime | None:
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


def _is_auto_generated(msg: email.message.Message, sender: str, subject: str) -> bool:
    """Auto-replies, bounces and list robots (RFC 3834 headers, report types, sender, subject)."""
    def value(name: str) -> str | None:
        raw = _header(msg, name)
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
    if _content_type(msg)[0] == "multipart/report":
        return True
    return bool(_AUTO_SENDER.match(sender.split("@")[0]) or _AUTO_SUBJECT.search(subject))
