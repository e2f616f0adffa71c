"""Parse stage helper: containers -> files. Zip members within the limits, forwarded
mail a client wrongly encoded, and safe names for whatever comes out.

Zip bounds are checked on the declared sizes and again while inflating in chunks,
because declared sizes can lie. Central-directory entries pointing at a member already read
(one member listed 200 times multiplies its rows by 200) are skipped before inflating.
Whatever is refused becomes a Problem.
"""
from __future__ import annotations

import base64
import email.message
import io
import quopri
import re
import struct
import unicodedata
import zipfile
import zlib
from dataclasses import dataclass
from typing import BinaryIO

from ..config import LimitsSection
from ..model import Problem
from .sniff import ZIP_ERRORS

CHUNK = 64 * 1024
# Tiny files compress extremely well (a 10 KB blank CSV is 200:1), so the ratio
# limit only applies to what a member inflates to beyond this floor.
RATIO_FLOOR = 1024 * 1024
MAX_NAME_BYTES = 200  # UTF-8 bytes in a sanitised filename
MAX_NAME_DETAIL = 300  # characters of an unsafe original name kept in a Problem's detail
NAMES_SHOWN = 5
_WINDOWS_RESERVED = re.compile(r'[<>:"|?*]')
_NOT_BASE64 = re.compile(rb"[^A-Za-z0-9+/]")
_ESCAPING = re.compile(r"(^|/)\.\.(/|$)|^/|^[A-Za-z]:")  # ../ segments, absolute paths, drive letters
_UTF8_FLAG = 0x800
_ENCRYPTED_FLAG = 0x1
_UNICODE_PATH_EXTRA = 0x7075  # Info-ZIP: UTF-8 name beside a legacy-encoded one
_JUNK_NAMES = frozenset({"thumbs.db", ".ds_store", "desktop.ini"})


@dataclass
class Budget:
    """What one message may still unpack (mutable, shared by all its containers)."""

    bytes_left: int
    members_left: int

    @classmethod
    def from_limits(cls, limits: LimitsSection) -> "Budget":
        return cls(limits.max_unpacked_bytes, limits.max_members)


def read_zip(content: bytes, zip_name: str, limits: LimitsSection,
             budget: Budget) -> tuple[list[tuple[str, bytes]], list[Problem]]:
    """The members of a zip as (decoded name, bytes), and a Problem for each one refused."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
        infos = archive.infolist()
    except ZIP_ERRORS as err:
        return [], [Problem("zip_unreadable", f"附件“{zip_name}”无法解压（文件可能已损坏），请重新发送",
                            detail=repr(err), file=zip_name)]
    members: list[tuple[str, bytes]] = []
    problems: list[Problem] = []
    offsets: set[int] = set()
    shared: list[str] = []
    with archive:
        for info in infos:
            name = member_name(info)
            if is_junk(name):
                continue
            if info.header_offset in offsets:
                shared.append(name)
                continue
            offsets.add(info.header_offset)
            if budget.members_left <= 0:
                problems.append(Problem("zip_too_many_members",
                                        f"附件“{zip_name}”中的文件过多，其余文件未读取",
                                        detail=f"max_members={limits.max_members}", file=zip_name))
                break
            budget.members_left -= 1
            data, problem = _read_member(archive, info, name, zip_name, limits, budget, len(content))
            if problem is not None:
                problems.append(problem)
            if data is not None:
                members.append((name, data))
    if shared:
        problems.append(_shared_entries_problem(zip_name, shared))
    unsafe = [name for name, _ in members if is_unsafe_name(name, folders_ok=True)]
    if unsafe:
        problems.append(unsafe_members_problem(zip_name, unsafe))
    return members, problems


def _shared_entries_problem(zip_name: str, names: list[str]) -> Problem:
    """One Problem per zip for directory entries that share another entry's data."""
    shown = "; ".join(unsafe_name_detail(name) for name in names[:NAMES_SHOWN])
    more = f" (+{len(names) - NAMES_SHOWN} more)" if len(names) > NAMES_SHOWN else ""
    return Problem("duplicate_attachment", f"附件“{zip_name}”中有 {len(names)} 个文件与其中另一文件指向同一份数据"
                   "（内容相同），已忽略重复的条目", detail=shown + more, file=zip_name)


def unsafe_members_problem(zip_name: str, names: list[str]) -> Problem:
    """One Problem per zip for members whose names had to be changed (../../tmp/x, control characters)."""
    shown = "; ".join(unsafe_name_detail(name) for name in names[:NAMES_SHOWN])
    more = f" (+{len(names) - NAMES_SHOWN} more)" if len(names) > NAMES_SHOWN else ""
    return Problem("unsafe_filename", f"附件“{zip_name}”中有 {len(names)} 个文件的名称含有路径跳转、特殊字符或过长，"
                   "为安全起见已改名", detail=shown + more, file=zip_name)


def member_name(info: zipfile.ZipInfo) -> str:
    """A member's real name: zipfile reads names without the UTF-8 flag as cp437.

    Chinese Windows writes GBK there and macOS writes UTF-8, so undo cp437 and retry.
    """
    if info.flag_bits & _UTF8_FLAG:
        return info.filename
    try:
        raw = info.filename.encode("cp437")
    except UnicodeEncodeError:
        return info.filename
    unicode_path = _unicode_path(info.extra, raw)
    if unicode_path:
        return unicode_path
    for codec in ("utf-8", "gb18030"):
        try:
            return raw.decode(codec)
        except UnicodeDecodeError:
            continue
    return info.filename


def _unicode_path(extra: bytes, raw_name: bytes) -> str | None:
    """The Info-ZIP Unicode Path field (7-Zip, WinRAR), if present and still matching the name."""
    pos = 0
    while pos + 4 <= len(extra):
        tag, size = struct.unpack_from("<HH", extra, pos)
        body = extra[pos + 4:pos + 4 + size]
        if tag == _UNICODE_PATH_EXTRA and len(body) > 5 and body[0] == 1:
            if struct.unpack_from("<I", body, 1)[0] == zlib.crc32(raw_name):
                try:
                    return body[5:].decode("utf-8")
                except UnicodeDecodeError:
                    return None
        pos += 4 + size
    return None


def is_junk(name: str) -> bool:
    """Directories and the litter of zipping tools and Office (lock files ~$x.xlsx)."""
    parts = name.replace("\\", "/").split("/")
    base = parts[-1]
    return (not base or "__MACOSX" in parts or base.lower() in _JUNK_NAMES
            or base.startswith(("._", "~$")))


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, name: str, zip_name: str,
                 limits: LimitsSection, budget: Budget, zip_size: int) -> tuple[bytes | None, Problem | None]:
    """Inflate one member in chunks, stopping as soon as any bound is passed."""
    shown = name.replace("\\", "/").rsplit("/", 1)[-1]
    if info.flag_bits & _ENCRYPTED_FLAG:
        return None, _problem("zip_encrypted", f"附件“{zip_name}”中的“{shown}”设有密码，无法读取，请发送未加密的文件",
                              zip_name, name)
    bound = member_bound(Declared(name, info.file_size, info.compress_size), zip_name, zip_size,
                         limits, budget, "zip")
    if isinstance(bound, Problem):
        return None, bound
    try:
        with archive.open(info) as member:  # zipfile checks the CRC when the member's end is read
            return read_within(member, bound, budget), None
    except BoundPassed as passed:
        return None, passed.problem
    except ZIP_ERRORS as err:
        return None, _problem("zip_member_unreadable", f"附件“{zip_name}”中的“{shown}”已损坏，未读取",
                              zip_name, f"{name}: {err!r}")


@dataclass(frozen=True)
class Declared:
    """What an archive's directory says of one member: its name, unpacked and packed size."""

    name: str
    size: int
    packed: int


@dataclass(frozen=True)
class Bound:
    """The tightest bound a member may inflate to, and the Problem passing it becomes."""

    limit: int
    problem: Problem


class BoundPassed(Exception):
    """A member inflated past its bound while being read (its declared size lied)."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.code)
        self.problem = problem


def member_bound(member: Declared, archive_name: str, archive_size: int, limits: LimitsSection,
                 budget: Budget, prefix: str) -> Bound | Problem:
    """The bound one member of a zip, 7z or rar is read under, or the Problem refusing it on its declared size.

    prefix: the archive's kind, which starts each problem code (zip_bomb, 7z_bomb, rar_bomb).
    """
    shown = member.name.replace("\\", "/").rsplit("/", 1)[-1]
    # The packed size cannot exceed the archive itself, whatever the header claims.
    ratio_cap = max(min(member.packed, archive_size) * limits.max_compression_ratio, RATIO_FLOOR)
    bounds = [(limits.max_attachment_bytes, f"{prefix}_member_too_large",
               f"附件“{archive_name}”中的“{shown}”解压后超过大小限制，未读取"),
              (ratio_cap, f"{prefix}_bomb", f"附件“{archive_name}”中的“{shown}”压缩比异常（疑似压缩炸弹），未读取"),
              (budget.bytes_left, f"{prefix}_total_too_large", f"附件“{archive_name}”解压后总大小超过限制，“{shown}”未读取")]
    for bound, code, message in bounds:
        if member.size > bound:
            return _problem(code, message, archive_name, f"{member.name}: declared {member.size} > {bound}")
    limit, code, message = min(bounds, key=lambda b: b[0])
    return Bound(limit, _problem(code, message, archive_name, f"{member.name}: inflates past {limit}"))


def read_within(stream: BinaryIO, bound: Bound, budget: Budget) -> bytes:
    """A member's bytes read in chunks, raising BoundPassed as soon as they pass the bound."""
    chunks, total = [], 0
    while chunk := stream.read(CHUNK):
        total += len(chunk)
        if total > bound.limit:
            raise BoundPassed(bound.problem)
        chunks.append(chunk)
    budget.bytes_left -= total
    return b"".join(chunks)


def _problem(code: str, message: str, zip_name: str, detail: str) -> Problem:
    return Problem(code, message, detail=detail, file=zip_name)


def safe_filename(name: str) -> str:
    """A bare file name: no directories, control characters or reserved names; Chinese kept."""
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Zl", "Zp"))
    name = _WINDOWS_RESERVED.sub("_", name).strip().rstrip(". ")
    if not name.strip("."):
        return "attachment"
    if len(name.encode("utf-8")) > MAX_NAME_BYTES:
        stem, dot, ext = name.rpartition(".")
        if not dot or not stem or len(ext) > 16:
            stem, ext = name, ""
        suffix = f".{ext}" if ext else ""
        budget = MAX_NAME_BYTES - len(suffix.encode("utf-8"))
        stem = stem.encode("utf-8")[:budget].decode("utf-8", "ignore")
        name = stem + suffix
    return name


def escapes_archive(name: str) -> bool:
    """True for a member name that climbs out of its archive: ../ segments, an absolute path, a drive."""
    return bool(_ESCAPING.search(name.replace("\\", "/")))


def is_unsafe_name(name: str, folders_ok: bool = False) -> bool:
    """True when safe_filename had to change more than surrounding spaces.

    folders_ok: zip members may sit in folders (附件/统计表.xlsx); climbing out of the archive
    (../, /etc/, C:) still counts, as do control and bidi characters, reserved characters and
    over-long names.
    """
    path = name.replace("\\", "/")
    if folders_ok and not _ESCAPING.search(path):
        path = path.rsplit("/", 1)[-1]
    return path.strip() != safe_filename(name)


def unsafe_name_detail(name: str) -> str:
    """The original name for staff: repr shows NUL, CR/LF and the RTL override; cut short."""
    text = repr(name)
    return text if len(text) <= MAX_NAME_DETAIL else text[:MAX_NAME_DETAIL] + "…"


def encoded_rfc822(part: email.message.Message, inner: email.message.Message) -> bytes | None:
    """The raw forwarded message when a client base64/QP-encoded a message/rfc822 part, else None.

    RFC 2046 forbids that encoding, so the stdlib parses the encoded text as the message;
    rebuild the raw text from what it kept and decode it, for parsing again.
    """
    cte = str(part.get("content-transfer-encoding", "")).strip().lower()
    if cte not in ("base64", "quoted-printable") or not isinstance(inner.get_payload(), str):
        return None
    head = "".join(f"{key}: {value}\n" for key, value in inner.raw_items())
    text = ((head + "\n" if head else "") + inner.get_payload()).encode("utf-8", "surrogateescape")
    if cte == "base64":
        clean = _NOT_BASE64.sub(b"", text)
        clean = clean[:-1] if len(clean) % 4 == 1 else clean  # a lone sextet carries no byte
        data = base64.b64decode(clean + b"=" * (-len(clean) % 4))
    else:
        data = quopri.decodestring(text)
    return data
