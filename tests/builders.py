"""Test builders: real email, zip and OLE2 bytes, shaped like what cities' clients send.

Office files (make_xlsx, make_xls, make_docx, make_csv) come from tests.table_builders.

make_email writes MIME by hand (base64, RFC 2047/2231 by the stdlib codecs) so tests can
reproduce Foxmail/Outlook/163 habits: GBK words split mid-character, raw 8-bit GBK names.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import io
import mimetypes
import re
import struct
import zipfile
import zlib
from datetime import datetime
from email.utils import format_datetime, parseaddr
from typing import Mapping, Sequence
from urllib.parse import quote_from_bytes
from zoneinfo import ZoneInfo

from tests.table_builders import make_csv, make_docx, make_xls, make_xlsx  # noqa: F401  (one home for Office files)

SHANGHAI = ZoneInfo("Asia/Shanghai")
DEFAULT_DATE = datetime(2022, 1, 3, 10, 0, tzinfo=SHANGHAI)
AttachmentSpec = tuple[str, bytes] | tuple[str, bytes, str]  # (filename, content[, content type])


def make_email(
    subject: str = "长沙市2022年促消费活动进展情况",
    sender: str = "长沙市商务局 <changsha@example.gov.cn>",
    to: str = "hndzsw@163.com",
    body: str = "您好！附件是我市促消费活动进展情况，请查收。",
    attachments: Sequence[AttachmentSpec] = (),
    charset: str = "gbk",
    date: datetime | str | None = DEFAULT_DATE,
    received: datetime | Sequence[datetime] | None = None,
    message_id: str | None = None,
    forwarded: bool = False,
    zipped: bool = False,
    filename_style: str = "rfc2231",
    headers: Mapping[str, str] | None = None,
    *,
    html: str | None = None,
    charset_label: str | None = None,
    subject_style: str = "b",
    body_encoding: str = "base64",
    zip_name: str = "附件.zip",
    forward_as: str = "rfc822",
    content_type: str | None = None,
) -> bytes:
    """Real MIME bytes (CRLF) of one email.

    charset encodes subject, names and body; charset_label is what the headers claim
    (e.g. charset="gbk", charset_label="gb2312" as many clients do).
    subject_style: "b" | "b-split" | "q-split" (words cut mid-character) | "raw" (8-bit bytes).
    filename_style: "rfc2231" (continuations when long) | "rfc2047" (Foxmail/Outlook) | "raw".
    date: datetime or literal header text; received: datetime(s) for Received headers, newest first.
    forwarded: attachments travel inside a forwarded message (forward_as "rfc822" or "eml");
    zipped: attachments are packed into one zip (zip_name) with GBK member names.
    headers: extra headers (non-ASCII values are B-encoded); content_type overrides the top type.
    """
    label = charset_label or charset
    attachments = [_spec(a) for a in attachments]
    if zipped and attachments:
        attachments = [(zip_name, make_zip({n: c for n, c, _ in attachments}), "application/zip")]
    extra_parts: list[bytes] = []
    if forwarded:
        inner = make_email(subject=subject, sender=sender, to=to, body=body, attachments=attachments,
                           charset=charset, date=date, filename_style=filename_style, charset_label=label)
        attachments, extra_parts = _forwarding(inner, forward_as)
        subject, body = "转发：" + subject, "转发的邮件见附件。"
    lines = [f"Received: from mail.example.gov.cn (unknown [10.1.2.3]) by mx.163.com (Coremail) with SMTP id "
             f"x{i}; {format_datetime(stamp)} (CST)".encode() for i, stamp in enumerate(_as_list(received))]
    lines += [b"From: " + _address(sender, charset, label), b"To: " + _address(to, charset, label),
              b"Subject: " + encode_words(subject, charset, label, subject_style)]
    if date is not None:
        lines.append(b"Date: " + (date if isinstance(date, str) else format_datetime(date)).encode())
    digest = hashlib.sha1(f"{subject}{sender}{date}{body}".encode() + b"".join(c for _, c, _ in attachments))
    digest = digest.hexdigest()[:16]
    lines.append(f"Message-ID: {message_id or f'<{digest}@example.gov.cn>'}".encode())
    lines += [b"MIME-Version: 1.0", b"X-Mailer: Foxmail 7.2.23.121[cn]"]
    for name, value in (headers or {}).items():
        lines.append(name.encode() + b": " + encode_words(value, charset, label, "b"))
    text_part = _text_part(body, html, charset, label, body_encoding)
    parts = [_attachment_part(n, c, t, charset, label, filename_style) for n, c, t in attachments]
    parts += extra_parts
    if not parts and content_type is None:
        return b"\r\n".join(lines) + b"\r\n" + text_part
    boundary = b"----=_NextPart_" + digest.encode()
    lines.append(b"Content-Type: " + (content_type or "multipart/mixed").encode() + b'; boundary="' + boundary + b'"')
    body_bytes = b"".join(b"--" + boundary + b"\r\n" + p + b"\r\n" for p in [text_part, *parts])
    return b"\r\n".join(lines) + b"\r\n\r\nThis is a multi-part message in MIME format.\r\n\r\n" + \
        body_bytes + b"--" + boundary + b"--\r\n"


def _forwarding(inner: bytes, forward_as: str) -> tuple[list[tuple[str, bytes, str]], list[bytes]]:
    """(attachments, extra MIME parts) carrying a forwarded message."""
    if forward_as == "eml":
        return [("原始邮件.eml", inner, "application/octet-stream")], []  # Foxmail's way
    return [], [b"Content-Type: message/rfc822\r\nContent-Disposition: inline\r\n\r\n" + inner]


def encode_words(text: str, charset: str, label: str, style: str = "b") -> bytes:
    """A header value as clients write it; ASCII text is left alone."""
    if text.isascii():
        return text.encode()
    data = text.encode(charset)
    if style == "raw":
        return data
    if style == "b":  # whole characters per word, as the stdlib does
        chunks, chunk = [], b""
        for ch in text:
            if len(chunk) + len(ch.encode(charset)) > 45:
                chunks, chunk = chunks + [chunk], b""
            chunk += ch.encode(charset)
        chunks.append(chunk)
    else:  # odd byte counts cut two-byte characters in half
        chunks = [data[i:i + 15] for i in range(0, len(data), 15)]
    kind = "Q" if style == "q-split" else "B"
    words = [f"=?{label}?{kind}?".encode() + (_q(c) if kind == "Q" else base64.b64encode(c)) + b"?="
             for c in chunks]
    return b"\r\n ".join(words)


def _q(data: bytes) -> bytes:
    return b"".join(bytes([b]) if chr(b).isalnum() and b < 128 else b"_" if b == 32 else b"=%02X" % b
                    for b in data)


def _spec(item: AttachmentSpec) -> tuple[str, bytes, str]:
    if len(item) == 3:
        return item  # type: ignore[return-value]
    name, content = item  # type: ignore[misc]
    return name, content, mimetypes.guess_type(name)[0] or "application/octet-stream"


def _as_list(received: datetime | Sequence[datetime] | None) -> list[datetime]:
    if received is None:
        return []
    return [received] if isinstance(received, datetime) else list(received)


def _address(value: str, charset: str, label: str) -> bytes:
    name, address = parseaddr(value)
    if not name:
        return address.encode()
    return encode_words(name, charset, label, "b") + f" <{address}>".encode()


def _text_part(body: str, html: str | None, charset: str, label: str, encoding: str) -> bytes:
    plain = _leaf("text/plain", body.encode(charset), label, encoding)
    if html is None:
        return plain
    boundary = b"----=_Alt_" + hashlib.sha1(html.encode()).hexdigest()[:12].encode()
    inner = _leaf("text/html", html.encode(charset), label, encoding)
    return (b'Content-Type: multipart/alternative; boundary="' + boundary + b'"\r\n\r\n' + b"--" + boundary +
            b"\r\n" + plain + b"\r\n--" + boundary + b"\r\n" + inner + b"\r\n--" + boundary + b"--\r\n")


def _leaf(ctype: str, data: bytes, label: str, encoding: str) -> bytes:
    head = f"Content-Type: {ctype}; charset={label}\r\nContent-Transfer-Encoding: {encoding}\r\n\r\n".encode()
    if encoding == "base64":
        return head + _base64_lines(data)
    if encoding == "quoted-printable":
        return head + binascii.b2a_qp(data).replace(b"\n", b"\r\n")
    return head + data.replace(b"\n", b"\r\n")


def _base64_lines(data: bytes) -> bytes:
    text = base64.b64encode(data)
    return b"\r\n".join(text[i:i + 76] for i in range(0, len(text), 76)) + b"\r\n"


def _attachment_part(name: str, content: bytes, ctype: str, charset: str, label: str, style: str) -> bytes:
    if style == "rfc2231" and not name.isascii():
        encoded = label + "''" + quote_from_bytes(name.encode(charset), safe="")
        if len(encoded) <= 60:
            type_param, disp_param = f"name*={encoded}".encode(), f"filename*={encoded}".encode()
        else:  # Thunderbird cuts long values into numbered sections (RFC 2231 section 3)
            tokens = re.findall(r"%[0-9A-F]{2}|.", encoded)  # never cut inside %XX
            pieces = ["".join(tokens[i:i + 20]) for i in range(0, len(tokens), 20)]
            type_param = ";\r\n ".join(f"name*{i}*={p}" for i, p in enumerate(pieces)).encode()
            disp_param = ";\r\n ".join(f"filename*{i}*={p}" for i, p in enumerate(pieces)).encode()
    else:
        value = encode_words(name, charset, label, "raw" if style == "raw" else "b-split")
        value = value.replace(b"\r\n ", b" ")
        type_param, disp_param = b'name="' + value + b'"', b'filename="' + value + b'"'
    return (f"Content-Type: {ctype};\r\n ".encode() + type_param + b"\r\nContent-Transfer-Encoding: base64\r\n"
            b"Content-Disposition: attachment;\r\n " + disp_param + b"\r\n\r\n" + _base64_lines(content))


def make_zip(members: Mapping[str, bytes], gbk_names: bool = True, *, encoding: str = "gbk") -> bytes:
    """A deflated zip; gbk_names writes names as raw bytes without the UTF-8 flag (Chinese Windows).

    encoding="utf-8" with gbk_names=True gives what macOS Archive Utility writes: UTF-8, no flag.
    """
    raw_names = [n.encode(encoding) if gbk_names else n.encode("utf-8") for n in members]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        infos = []
        for i, (raw, content) in enumerate(zip(raw_names, members.values())):
            # zipfile would write non-ASCII names as UTF-8 with the flag: write an ASCII
            # placeholder of the same length, then put the raw bytes in its place.
            placeholder = (f"{i}_" + "x" * len(raw))[:len(raw)] if gbk_names else raw.decode("utf-8")
            info = zipfile.ZipInfo(placeholder, date_time=(2022, 1, 3, 10, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, content)
            infos.append(info)
    data = bytearray(buffer.getvalue())
    if gbk_names:
        for info, raw in zip(infos, raw_names):
            data[info.header_offset + 30:info.header_offset + 30 + len(raw)] = raw
        for pos, raw in zip(_central_name_offsets(bytes(data)), raw_names):
            data[pos:pos + len(raw)] = raw
    return bytes(data)


def _central_name_offsets(data: bytes) -> list[int]:
    """Offsets of the file names in the central directory, in order."""
    end = data.rindex(b"PK\x05\x06")
    count, _, offset = struct.unpack_from("<HII", data, end + 10)
    positions = []
    for _ in range(count):
        name_len, extra_len, comment_len = struct.unpack_from("<HHH", data, offset + 28)
        positions.append(offset + 46)
        offset += 46 + name_len + extra_len + comment_len
    return positions


def make_cfb(streams: Mapping[str, bytes]) -> bytes:
    """A minimal OLE2 compound file (v3, 512-byte sectors) holding the given root-level streams.

    Streams are padded to 4096 bytes so all live in regular sectors (no mini stream).
    """
    end, free, nostream = 0xFFFFFFFE, 0xFFFFFFFF, 0xFFFFFFFF
    items = sorted(streams.items(), key=lambda kv: (len(kv[0]), kv[0].upper()))  # CFB name order
    datas = [content.ljust(4096, b"\0") for _, content in items]
    dir_sectors = -(-(len(items) + 1) * 128 // 512)
    data_sectors = [-(-len(d) // 512) for d in datas]
    fat_sectors = 1
    while fat_sectors * 128 < fat_sectors + dir_sectors + sum(data_sectors):
        fat_sectors += 1
    fat = [0xFFFFFFFD] * fat_sectors
    starts = []
    for count in [dir_sectors, *data_sectors]:
        starts.append(len(fat))
        fat += [len(fat) + i + 1 for i in range(count - 1)] + [end]
    fat += [free] * (fat_sectors * 128 - len(fat))
    entries = [_dir_entry("Root Entry", 5, 1 if items else nostream, nostream, end, 0)]
    for i, ((name, _), data, start) in enumerate(zip(items, datas, starts[1:]), start=1):
        entries.append(_dir_entry(name, 2, nostream, i + 1 if i < len(items) else nostream, start, len(data)))
    directory = b"".join(entries).ljust(dir_sectors * 512, b"\0")
    difat = list(range(fat_sectors)) + [free] * (109 - fat_sectors)
    header = struct.pack("<8s16sHHHHH6sIIIIIIIII109I", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", b"\0" * 16,
                         0x3E, 3, 0xFFFE, 9, 6, b"\0" * 6, 0, fat_sectors, starts[0], 0, 4096, end, 0, end, 0,
                         *difat)
    fat_bytes = struct.pack(f"<{len(fat)}I", *fat)
    return header + fat_bytes + directory + b"".join(d.ljust(-(-len(d) // 512) * 512, b"\0") for d in datas)


def _dir_entry(name: str, kind: int, child: int, right: int, start: int, size: int) -> bytes:
    encoded = name.encode("utf-16-le")
    return struct.pack("<64sHBBIII16sIQQIQ", encoded, len(encoded) + 2, kind, 1, 0xFFFFFFFF, right, child,
                       b"\0" * 16, 0, 0, 0, start, size)


def make_7z(members: Mapping[str, bytes], password: str | None = None, header_encryption: bool = False,
            renames: Mapping[str, str] | None = None) -> bytes:
    """A .7z made by py7zr (LZMA2, solid), optionally with AES-encrypted contents or headers.

    renames: names to rewrite in the (then uncompressed) header afterwards, same length each: py7zr
    refuses to write a name such as ../../x.xlsx, which a hostile tool writes.
    """
    import py7zr  # only the archive tests need it

    buffer = io.BytesIO()
    with py7zr.SevenZipFile(buffer, "w", password=password, header_encryption=header_encryption) as archive:
        archive.set_encoded_header_mode(not renames)
        for name, content in members.items():
            archive.writestr(content, name)
    data = bytearray(buffer.getvalue())
    for old, new in (renames or {}).items():
        assert len(old) == len(new)
        at = data.index(old.encode("utf-16-le"), 32)
        data[at:at + len(old) * 2] = new.encode("utf-16-le")
    if renames:  # the start header's CRCs: of the next header, then of the start header itself
        offset, size = struct.unpack_from("<QQ", data, 12)
        struct.pack_into("<I", data, 28, zlib.crc32(data[32 + offset:32 + offset + size]))
        struct.pack_into("<I", data, 8, zlib.crc32(data[12:32]))
    return bytes(data)


def make_rar(members: Mapping[str, bytes], gbk_names: bool = False) -> bytes:
    """A RAR 4.x archive holding the members stored (method 0x30, no compression), written from the
    format's technical note: no free tool makes .rar, and stored members need none to be read back.

    gbk_names: names in GBK without the Unicode flag, as WinRAR on Chinese Windows writes them.
    """
    def block(kind: int, flags: int, body: bytes) -> bytes:
        head = struct.pack("<BHH", kind, flags, 7 + len(body)) + body
        return struct.pack("<H", zlib.crc32(head) & 0xFFFF) + head

    out = [b"Rar!\x1a\x07\x00", block(0x73, 0, b"\0" * 6)]
    for name, content in members.items():
        raw = name.replace("/", "\\").encode("gbk" if gbk_names else "utf-8")
        flags = 0x8000 | (0 if gbk_names else 0x0200)  # LONG_BLOCK; 0x0200: the name is UTF-8
        body = struct.pack("<IIBIIBBHI", len(content), len(content), 2, zlib.crc32(content),
                           0x54210000, 20, 0x30, len(raw), 0x20) + raw
        out += [block(0x74, flags, body), content]
    out.append(block(0x7B, 0x4000, b""))
    return b"".join(out)


def make_tnef(files: Mapping[str, bytes], codepage: int = 936, bad_checksum: Sequence[str] = ()) -> bytes:
    """An Outlook winmail.dat (TNEF) with the files attached under their titles in `codepage` (936: GBK,
    as Outlook on Chinese Windows writes them), following [MS-OXTNEF]; bad_checksum: files whose
    attAttachData checksum is wrong."""
    def attribute(level: int, name: int, kind: int, data: bytes, bad: bool = False) -> bytes:
        checksum = (sum(data) + (1 if bad else 0)) & 0xFFFF
        return struct.pack("<BHHI", level, name, kind, len(data)) + data + struct.pack("<H", checksum)

    out = [struct.pack("<IH", 0x223E9F78, 0x0001),
           attribute(1, 0x9006, 0x0008, struct.pack("<I", 0x00010000)),  # attTnefVersion
           attribute(1, 0x9007, 0x0006, struct.pack("<II", codepage, 0))]  # attOemCodepage
    for name, content in files.items():
        out += [attribute(2, 0x9002, 0x0006, struct.pack("<HIIIH", 1, 0xFFFFFFFF, 0, 0, 0)),  # attAttachRendData
                attribute(2, 0x8010, 0x0001, name.encode(f"cp{codepage}") + b"\0"),  # attAttachTitle
                attribute(2, 0x800F, 0x0006, content, bad=name in bad_checksum)]  # attAttachData
    return b"".join(out)
