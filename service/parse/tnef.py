"""Parse stage helper: Outlook's winmail.dat (TNEF) -> its attachments, under the zip bounds.

tnefparse reads the attributes. TNEF holds its attachments uncompressed, so it cannot inflate; the
bounds that still matter are the member count, the message's unpacked budget, and the attribute
count, checked before parsing (tnefparse copies the rest of the file for every attribute).
An attachment whose data fails its checksum is a problem on that attachment, and still read.
"""
from __future__ import annotations

import struct

import tnefparse
from tnefparse.properties import MAPI_ATTACH_LONG_FILENAME
from tnefparse.tnef import TNEF

from ..config import LimitsSection
from ..model import Problem
from .unpack import (
    Budget,
    Declared,
    is_unsafe_name,
    member_bound,
    unsafe_members_problem,
)

TNEF_ERRORS = (ValueError, LookupError, TypeError, IndexError, struct.error, AttributeError, UnicodeError)
MAX_ATTRIBUTES = 100_000  # a real winmail.dat has a few dozen per attachment
_HEADER = 6  # signature and key
_ATTRIBUTE_OVERHEAD = 11  # level, id, length before the data; checksum after
Members = list[tuple[str, bytes]]


def read_tnef(content: bytes, name: str, limits: LimitsSection, budget: Budget) -> tuple[Members, list[Problem]]:
    """The attachments in a winmail.dat as (name, bytes), and a Problem for each one refused."""
    count = _attribute_count(content)
    if count > MAX_ATTRIBUTES:
        return [], [Problem("tnef_unreadable", f"附件“{name}”（Outlook winmail.dat）结构异常，无法读取，"
                            "请改用普通附件重新发送", detail=f"{count} attributes > {MAX_ATTRIBUTES}", file=name)]
    try:
        parsed = tnefparse.TNEF(content, do_checksum=True)
        titles, checksums = _titles_and_checksums(parsed)
        found = [(_attachment_name(att, titles, index, parsed.codepage), att.data)
                 for index, att in enumerate(parsed.attachments)]
    except TNEF_ERRORS as err:
        return [], [Problem("tnef_unreadable", f"附件“{name}”（Outlook winmail.dat）无法读取（文件可能已损坏），"
                            "请改用普通附件重新发送", detail=repr(err)[:500], file=name)]
    members: Members = []
    problems: list[Problem] = []
    for index, (member, data) in enumerate(found):
        if not isinstance(data, bytes) or not data:
            continue  # an attached Outlook item or an empty slot: nothing a table could be in
        if budget.members_left <= 0:
            problems.append(Problem("tnef_too_many_members", f"附件“{name}”中的文件过多，其余文件未读取",
                                    detail=f"max_members={limits.max_members}", file=name))
            break
        budget.members_left -= 1
        bound = member_bound(Declared(member, len(data), len(data)), name, len(content), limits, budget, "tnef")
        if isinstance(bound, Problem):
            problems.append(bound)
            continue
        if index in checksums:
            problems.append(Problem("tnef_member_checksum", f"附件“{name}”中的“{member}”校验和不符，内容可能已损坏",
                                    detail=member, file=name))
        budget.bytes_left -= len(data)
        members.append((member, data))
    unsafe = [member for member, _ in members if is_unsafe_name(member, folders_ok=True)]
    return members, problems + ([unsafe_members_problem(name, unsafe)] if unsafe else [])


def _attribute_count(content: bytes) -> int:
    """How many attributes tnefparse would walk, counted from their length fields without copying."""
    offset, count = _HEADER, 0
    while offset + _ATTRIBUTE_OVERHEAD < len(content) and count <= MAX_ATTRIBUTES:
        offset += struct.unpack_from("<I", content, offset + 5)[0] + _ATTRIBUTE_OVERHEAD
        count += 1
    return count


def _titles_and_checksums(parsed: tnefparse.TNEF) -> tuple[list[bytes], set[int]]:
    """Each attachment's raw title (attAttachTitle, in the sender's code page) and the indexes of those
    whose data failed its checksum, by walking the attributes as tnefparse did."""
    titles: list[bytes] = []
    bad: set[int] = set()
    for obj in parsed.objects:
        if obj.name == TNEF.ATTATTACHRENDDATA:  # each attachment starts with its rendering attribute
            titles.append(b"")
        elif titles and obj.level == TNEF.LVL_ATTACHMENT and obj.name == TNEF.ATTATTACHTITLE:
            titles[-1] = obj.data
        elif titles and obj.level == TNEF.LVL_ATTACHMENT and obj.name == TNEF.ATTATTACHDATA \
                and not obj.good_checksum:
            bad.add(len(titles) - 1)
    return titles, bad


def _attachment_name(att: tnefparse.tnef.TNEFAttachment, titles: list[bytes], index: int,
                     codepage: str | None) -> str:
    """The long file name (a MAPI property) when Outlook wrote one, else the title in the file's code
    page (tnefparse would read a GBK title as UTF-8 and fail)."""
    for prop in att.mapi_attrs:
        if prop.name == MAPI_ATTACH_LONG_FILENAME and prop.data:
            data = prop.data[0] if isinstance(prop.data, list) else prop.data  # multi-valued in some files
            return (data if isinstance(data, str) else _decoded(data, codepage)).strip("\0")
    raw = titles[index] if index < len(titles) else b""
    return _decoded(raw, codepage).strip("\0") or f"attachment{index + 1}"


def _decoded(raw: bytes, codepage: str | None) -> str:
    for codec in (codepage, "utf-8", "gb18030"):
        if not codec:
            continue
        try:
            return raw.decode(codec)
        except (UnicodeDecodeError, LookupError):
            continue
    return raw.decode("latin-1")
