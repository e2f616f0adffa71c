"""Parse stage: raw email bytes -> Message, with forwarded mail and zips unpacked within limits.

stdlib email with policy compat32 keeps raw header bytes (surrogateescape), so charset.py
can repair what clients mislabel; mail-parser and policy.default lose those characters.
Big mail is parsed from a skeleton with its base64 bodies set aside (lift.py). Whatever is
repaired or cut on the way (a lying charset label, a path in a filename) is recorded as a Problem.
"""
from __future__ import annotations

import email
import email.message
import email.parser
import hashlib
import html as htmllib
import re
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from ..config import LimitsSection
from ..model import Attachment, Message, Problem
from .charset import (
    Decoded,
    decode_bytes,
    decode_header,
    label_problems,
    param_value,
    split_header_params,
)
from .containers import CONTAINERS, read_container
from .headers import (
    content_type,
    header_bytes,
    header_problems,
    is_auto_generated,
    plain_header,
    received_of,
    sender_of,
    to_datetime,
)
from .lift import LIFT_ABOVE_BYTES, NOTHING_LIFTED, Lifted, lift
from .sniff import sniff_kind
from .transfer import recognised_reading, transfer_encoding
from .unpack import (
    Budget,
    encoded_rfc822,
    is_unsafe_name,
    safe_filename,
    unsafe_name_detail,
)

MAX_PARTS = 2000  # MIME parts walked per message, forwards included
MAX_NESTING = 100  # multiparts inside multiparts; real mail stays under 10
MAX_HEADER_BLOCK = 4 * 1024 * 1024  # read of the headers of a message too large to parse
# What the stdlib parses once base64 bodies are lifted out (it holds ~10x that): headers, text
# bodies and quoted-printable parts; real mail has well under 1 MB of them.
MAX_SKELETON_BYTES = 8 * 1024 * 1024
FORWARD_LABEL = "转发邮件"
_MIME_DEFECTS = {"StartBoundaryNotFoundDefect", "CloseBoundaryNotFoundDefect",
                 "NoBoundaryInMultipartDefect", "MultipartInvariantViolationDefect"}
_BASE64_DEFECTS = {"InvalidBase64PaddingDefect", "InvalidBase64CharactersDefect", "InvalidBase64LengthDefect"}
_HTML_DROP = re.compile(r"(?is)<(script|style|head)\b.*?</\1\s*>")
_HTML_BREAK = re.compile(r"(?i)<br\s*/?>|</(p|div|tr|li|h\d|table)\s*>")
_HTML_TAG = re.compile(r"(?s)<[^>]*>")


@dataclass
class _Found:
    """What the walk over one message collects (mutable, local to parse_message)."""

    limits: LimitsSection
    budget: Budget
    lift_above: int
    lifted: Lifted = NOTHING_LIFTED  # runs set aside from the raw message of the tree being walked
    texts: list[str] = field(default_factory=list)
    htmls: list[str] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    labels: dict[tuple[str, str, str], list[str]] = field(default_factory=dict)  # label issue -> where
    first_names: dict[str, str] = field(default_factory=dict)  # sha256 of each file taken -> its name
    duplicates: dict[str, list[str]] = field(default_factory=dict)  # sha256 -> names of the copies ignored
    parts_left: int = MAX_PARTS
    nesting: int = 0

    def problem(self, code: str, message_zh: str, detail: str = "", file: str = "") -> None:
        self.add(Problem(code, message_zh, detail=detail[:500], file=file))

    def add(self, item: Problem) -> None:
        if item not in self.problems:
            self.problems.append(item)

    def text(self, decoded: Decoded, where: str) -> str:
        """The decoded text; its charset label issues are noted against `where` (邮件标题, 邮件正文...)."""
        for issue in decoded.issues:
            places = self.labels.setdefault((issue.code, issue.declared, issue.used), [])
            if where not in places:
                places.append(where)
        return decoded.text


def parse_message(raw: bytes, limits: LimitsSection, tz: ZoneInfo, lift_above: int = LIFT_ABOVE_BYTES) -> Message:
    """Parse one email; never raises on bad input: what is wrong becomes a Problem.

    lift_above: size from which base64 bodies are set aside while parsing (lift.py).
    """
    found = _Found(limits, Budget.from_limits(limits), lift_above)
    msg = _walked(raw, found)
    subject = _decoded_header(msg, "subject", found, "邮件标题中有文字无法识别，可能显示为乱码", "邮件标题")
    sender, display = sender_of(msg)
    sender_name = found.text(display, "发件人名称")
    date_raw = header_bytes(msg, "date")
    date = to_datetime(date_raw.decode("latin-1"), tz) if date_raw else None
    if date_raw and date is None:
        found.problem("bad_date", "邮件的发送日期无法识别", detail=date_raw.decode("latin-1"))
    html = "\n".join(found.htmls)
    return Message(
        message_id="".join(plain_header(msg, "message-id").split()),
        sender=sender,
        sender_name=sender_name,
        subject=subject,
        date=date,
        received=received_of(msg, tz),
        text="\n".join(found.texts) or html_to_text(html),
        html=html,
        attachments=tuple(found.attachments),
        auto_generated=is_auto_generated(msg, sender, subject),
        problems=tuple(found.problems + label_problems(found.labels) + duplicate_problems(found)),
        in_reply_to=plain_header(msg, "in-reply-to"),
        references=" ".join(plain_header(msg, "references").split()),
    )


def duplicate_problems(found: _Found) -> list[Problem]:
    """One Problem per file that came more than once (attached twice, zipped twice, forwarded again)."""
    problems = []
    for digest, copies in found.duplicates.items():
        first = found.first_names[digest]
        if len(copies) == 1:
            message = f"附件“{copies[0]}”与同一邮件中的另一附件“{first}”内容相同，已忽略重复的一份"
        else:
            message = f"另有 {len(copies)} 个附件与同一邮件中的附件“{first}”内容相同，已忽略重复的 {len(copies)} 份"
        shown = "; ".join(unsafe_name_detail(name) for name in copies[:5])
        problems.append(Problem("duplicate_attachment", message, detail=f"sha256={digest[:16]}: {shown}"[:500],
                                file=first))
    return problems


def html_to_text(html: str) -> str:
    """Readable text from an HTML body: tags dropped, block ends as line breaks."""
    text = _HTML_BREAK.sub("\n", _HTML_DROP.sub(" ", html))
    text = htmllib.unescape(_HTML_TAG.sub("", text)).replace("\xa0", " ")
    lines = (line.strip() for line in text.splitlines())
    return "\n".join(line for line in lines if line)


def _walked(raw: bytes, found: _Found) -> email.message.Message:
    """The message, walked into `found`; only its header block when it is too large or deep to parse."""
    limit = found.limits.max_message_bytes
    if len(raw) > limit:
        found.problem("message_too_large", f"邮件大小 {len(raw) / 2**20:.1f} MB，超过自动处理上限"
                      f"（{limit / 2**20:.0f} MB），原始邮件已存档，附件未自动读取，需人工查看",
                      detail=f"{len(raw)} bytes > max_message_bytes={limit}")
        parsed = None
    else:
        parsed = _message_from_bytes(raw, found)
    if parsed is None:
        msg = _headers_only(raw)
        for item in header_problems(msg):
            found.add(item)
        return msg
    msg, found.lifted = parsed
    _walk(msg, found, origin="", depth=0, top=True)
    return msg


def _message_from_bytes(raw: bytes, found: _Found) -> tuple[email.message.Message, Lifted] | None:
    """The MIME tree (compat32 keeps raw header bytes) and what was lifted out of raw first, or None
    when what is left to parse is too large or nests too deep."""
    skeleton, lifted = lift(raw, found.lift_above)
    if len(skeleton) > MAX_SKELETON_BYTES:
        found.problem("message_too_large", f"邮件中除 base64 附件外的内容过大（{len(skeleton) / 2**20:.1f} MB，"
                      f"上限 {MAX_SKELETON_BYTES / 2**20:.0f} MB），原始邮件已存档，其内容未自动读取，需人工查看",
                      detail=f"{len(skeleton)} bytes left to parse > MAX_SKELETON_BYTES={MAX_SKELETON_BYTES}")
        return None
    try:
        return email.message_from_bytes(skeleton), lifted
    except RecursionError:  # the stdlib parser recurses once per nested multipart
        found.problem("mime_too_deep", "邮件结构嵌套过深，其中的内容无法读取", detail="RecursionError")
        return None


def _headers_only(raw: bytes) -> email.message.Message:
    """The header block alone, for mail whose body cannot or should not be parsed."""
    head = raw[:MAX_HEADER_BLOCK]
    ends = [at for at in (head.find(b"\r\n\r\n"), head.find(b"\n\n")) if at >= 0]
    return email.parser.BytesParser().parsebytes(head[:min(ends)] if ends else head, headersonly=True)


def _walk(part: email.message.Message, found: _Found, origin: str, depth: int, top: bool) -> None:
    """Collect bodies (top level only) and attachments from one MIME part and its children."""
    if found.parts_left <= 0:
        found.problem("too_many_parts", "邮件包含的内容过多，只读取了一部分")
        return
    found.parts_left -= 1
    _note_defects(part, found)
    for item in header_problems(part):
        found.add(item)
    ctype, params = content_type(part)
    if part.is_multipart():  # not get_payload() on a leaf: it decodes 8-bit text by the charset label (idna raises)
        payload = part.get_payload()
        if found.nesting >= MAX_NESTING:
            found.problem("mime_too_deep", "邮件结构嵌套过深，其中的内容无法读取", detail="MAX_NESTING")
            return
        found.nesting += 1
        if ctype == "message/rfc822" and payload:
            inner = _forwarded(part, payload[0], found)
            if inner is not None:
                _forward(*inner, found, origin, depth)
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
    name = filename or (f"{FORWARD_LABEL}.eml" if ctype == "message/rfc822" else "attachment")
    size = found.lifted.decoded_size(part)
    if size is not None and _too_large(found, safe_filename(name), size):
        return  # refused before decoding: a big part never costs its size in memory
    _add_file(found, name, _attachment_bytes(part, filename or "attachment", found), ctype, origin, depth)


def _forwarded(part: email.message.Message, inner: email.message.Message,
               found: _Found) -> tuple[email.message.Message, Lifted] | None:
    """The message inside a message/rfc822 part: parsed with its parent, or again when a client encoded it."""
    if str(part.get("content-transfer-encoding", "")).strip().lower() in ("base64", "quoted-printable"):
        found.lifted.restore(inner)  # encoded_rfc822 rebuilds the text, lifted runs included
    data = encoded_rfc822(part, inner)
    return (inner, found.lifted) if data is None else _message_from_bytes(data, found)


def _add_file(found: _Found, name: str, data: bytes, declared: str, origin: str, depth: int) -> None:
    """Add one file, or what it contains when it is a container (zip, 7z, rar, winmail.dat) or a forwarded .eml."""
    name = safe_filename(name)
    limits = found.limits
    if _too_large(found, name, len(data)):
        return
    kind = sniff_kind(data, name)
    if _is_duplicate(found, name, data, kind):
        return
    if kind in CONTAINERS and depth + 1 > limits.max_depth:
        found.problem("too_deep", f"附件“{name}”嵌套层数过多，未展开", detail=f"max_depth={limits.max_depth}", file=name)
    elif kind == "eml":
        inner = _message_from_bytes(data, found)
        if inner is not None:
            _forward(*inner, found, origin, depth)
        return
    elif kind in CONTAINERS:
        members, problems = read_container(kind, data, name, limits, found.budget)
        found.problems.extend(problems)
        # an unreadable or encrypted container giving nothing stays an attachment, as an encrypted
        # xlsx does: the mail is still the city's report, with the problem to fix
        if members or not any(p.code in (f"{kind}_unreadable", f"{kind}_encrypted") for p in problems):
            for member_name, member_data in members:
                _add_file(found, member_name, member_data, "", _join(origin, name), depth + 1)
            return
    found.attachments.append(Attachment(name, data, kind, declared, origin))


def _is_duplicate(found: _Found, name: str, data: bytes, kind: str) -> bool:
    """True for a file whose bytes this message already delivered: it is read once, whatever its depth.

    A repeated image (a logo in a signature) is dropped without a problem: it carries no figures.
    """
    digest = hashlib.sha256(data).hexdigest()
    if digest not in found.first_names:
        found.first_names[digest] = name
        return False
    if kind != "image":
        found.duplicates.setdefault(digest, []).append(name)
    return True


def _too_large(found: _Found, name: str, size: int) -> bool:
    if size <= found.limits.max_attachment_bytes:
        return False
    found.problem("attachment_too_large", f"附件“{name}”超过大小限制，未读取", detail=f"{size} bytes", file=name)
    return True


def _forward(inner: email.message.Message, lifted: Lifted, found: _Found, origin: str, depth: int) -> None:
    """Take the attachments of forwarded mail, labelled with its subject."""
    if depth + 1 > found.limits.max_depth:
        found.problem("too_deep", "转发的邮件嵌套层数过多，其中的附件未读取", detail=f"max_depth={found.limits.max_depth}")
        return
    subject = _decoded_header(inner, "subject", found, "转发邮件的标题中有文字无法识别", "转发邮件的标题")
    label = subject.replace("/", "／") or FORWARD_LABEL
    outer, found.lifted = found.lifted, lifted
    _walk(inner, found, _join(origin, label), depth + 1, top=False)
    found.lifted = outer


def _join(origin: str, label: str) -> str:
    return f"{origin}/{label}" if origin else label


def _body(part: email.message.Message, params: list[tuple[str, str]], ctype: str, found: _Found) -> None:
    data = _payload_bytes(part, "", found)
    label = param_value(params, "charset")
    decoded = decode_bytes(data, label and label.text)
    if decoded.doubtful:
        found.problem("body_charset", "邮件正文中有文字无法识别，可能显示为乱码", detail=f"charset={label and label.text}")
    (found.htmls if ctype == "text/html" else found.texts).append(found.text(decoded, "邮件正文"))


def _attachment_bytes(part: email.message.Message, name: str, found: _Found) -> bytes:
    """The attachment's bytes: transfer-decoded, or read by content when its Content-Transfer-Encoding lies."""
    seen = len(found.problems)
    data = _payload_bytes(part, name, found)
    truer = recognised_reading(part, data, name)
    if truer is None:
        return data
    del found.problems[seen:]  # a broken_encoding of the lying reading: not what was read
    shown = safe_filename(name)
    found.problem("transfer_encoding_mislabelled", f"附件“{shown}”声明的传输编码与实际内容不符，已按实际内容读取",
                  detail=f"Content-Transfer-Encoding: {transfer_encoding(part)[:40]!r}", file=shown)
    return truer


def _payload_bytes(part: email.message.Message, name: str, found: _Found) -> bytes:
    """The transfer-decoded payload; broken base64 is decoded as far as it goes, with a Problem."""
    lifted = found.lifted.payload(part)
    if lifted is not None:
        data, defects = lifted
    else:
        seen = len(part.defects)
        data = part.get_payload(decode=True)
        defects = [type(d).__name__ for d in part.defects[seen:]]
    broken = [d for d in defects if d in _BASE64_DEFECTS]
    if broken:
        where = f"附件“{name}”" if name else "邮件正文"
        found.problem("broken_encoding", f"{where}的编码有误，内容可能不完整", detail=", ".join(broken), file=name)
    return data if isinstance(data, bytes) else b""


def _note_defects(part: email.message.Message, found: _Found) -> None:
    names = {type(d).__name__ for d in part.defects} & _MIME_DEFECTS
    if names:
        found.problem("malformed_mime", "邮件结构不完整（可能在传输中被截断），已尽量读取其中内容",
                      detail=", ".join(sorted(names)))


def _decoded_header(part: email.message.Message, name: str, found: _Found, complaint: str, where: str) -> str:
    raw = header_bytes(part, name)
    if raw is None:
        return ""
    decoded = decode_header(raw)
    if decoded.doubtful:
        found.problem(f"{name}_charset", complaint, detail=raw[:200].decode("latin-1"))
    return found.text(decoded, where)


def _filename(part: email.message.Message, params: list[tuple[str, str]], found: _Found) -> tuple[str, str]:
    """(disposition, decoded filename): Content-Disposition filename, else Content-Type name."""
    raw = header_bytes(part, "content-disposition")
    disposition, disp_params = split_header_params(raw) if raw else ("", [])
    value = param_value(disp_params, "filename")
    if value is None or not value.text:
        value = param_value(params, "name")
    if value is None or not value.text:
        return disposition, ""
    shown = safe_filename(value.text)
    if value.doubtful:
        found.problem("filename_charset", f"附件“{shown}”的名称中有文字无法识别", file=shown)
    if is_unsafe_name(value.text):
        found.problem("unsafe_filename", f"附件“{shown}”的原文件名含有路径、特殊字符或过长，为安全起见已改为现名称",
                      detail=unsafe_name_detail(value.text), file=shown)
    return disposition, found.text(value, f"附件“{shown}”的文件名")
