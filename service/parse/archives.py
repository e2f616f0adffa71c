"""Parse stage helper: .7z and .rar archives -> members, under the same bounds as zip (unpack.py).

Both are read from their directory first: each member's declared size is checked against the
limits before anything is inflated, and a rar member is read in chunks under the same bound
(py7zr never writes past a member's declared size). Encrypted archives, traversal names and
whatever the libraries raise on hostile bytes become Problems. Compressed rar members need the
extraction tool rarfile drives (unar or bsdtar from Debian, run inside the message's worker).
"""
from __future__ import annotations

import io
import lzma
import struct
import zlib

import py7zr
import py7zr.exceptions
import py7zr.io
import rarfile

from ..config import LimitsSection
from ..model import Problem
from .unpack import (
    BoundPassed,
    Budget,
    Declared,
    escapes_archive,
    is_junk,
    is_unsafe_name,
    member_bound,
    read_within,
    unsafe_members_problem,
)

# What py7zr and rarfile raise on a hostile or truncated archive (besides their own Error trees).
# MemoryError: a 7z coder declaring a dictionary of gigabytes fails to allocate under the worker's
# address-space limit, before any member is written; that archive alone is refused.
ARCHIVE_ERRORS = (py7zr.exceptions.ArchiveError, rarfile.Error, lzma.LZMAError, zlib.error, EOFError,
                  OSError, ValueError, KeyError, IndexError, TypeError, AttributeError, struct.error,
                  NotImplementedError, RuntimeError, MemoryError)
Members = list[tuple[str, bytes]]


def read_archive(kind: str, content: bytes, name: str, limits: LimitsSection,
                 budget: Budget) -> tuple[Members, list[Problem]]:
    """The members of a 7z or rar as (name, bytes), and a Problem for each one refused."""
    reader = read_7z if kind == "7z" else read_rar
    try:
        return reader(content, name, limits, budget)
    except py7zr.exceptions.PasswordRequired:
        return [], [_encrypted(kind, name)]
    except rarfile.PasswordRequired:
        return [], [_encrypted(kind, name)]
    except ARCHIVE_ERRORS as err:
        return [], [Problem(f"{kind}_unreadable", f"附件“{name}”无法解压（文件可能已损坏），请重新发送",
                            detail=repr(err)[:500], file=name)]


def read_7z(content: bytes, name: str, limits: LimitsSection, budget: Budget) -> tuple[Members, list[Problem]]:
    """A .7z's members: the declared sizes admit or refuse each one before py7zr inflates anything."""
    problems: list[Problem] = []
    wanted: list[str] = []
    refused: set[str] = set()
    with py7zr.SevenZipFile(io.BytesIO(content)) as archive:
        if archive.needs_password():
            return [], [_encrypted("7z", name)]
        for info in archive.list():
            member = info.filename
            if info.is_directory or is_junk(member):
                continue
            if budget.members_left <= 0:
                problems.append(_too_many(name, limits, "7z"))
                break
            budget.members_left -= 1
            # 7z packs members together (solid blocks): the archive's size stands for each one's packed size
            bound = member_bound(Declared(member, info.uncompressed, len(content)), name, len(content),
                                 limits, budget, "7z")
            if isinstance(bound, Problem) or escapes_archive(member):
                problems.append(bound if isinstance(bound, Problem) else _escaping_problem(name, member))
                refused.add(member)
                continue
            budget.bytes_left -= info.uncompressed  # py7zr writes exactly the declared size: charged now
            wanted.append(member)
        # py7zr picks members by name: a name shared with a refused member would extract that one too
        wanted = [member for member in wanted if member not in refused]
        if not wanted:
            return [], problems
        factory = _Collector()
        archive.extract(targets=wanted, factory=factory)
    members = list(zip(wanted, factory.outputs()))
    return members, problems + _renamed(name, members)


def read_rar(content: bytes, name: str, limits: LimitsSection, budget: Budget) -> tuple[Members, list[Problem]]:
    """A .rar's members, each read in chunks under its bound (compressed ones through the tool)."""
    problems: list[Problem] = []
    members: Members = []
    with rarfile.RarFile(io.BytesIO(content), errors="strict") as archive:  # a broken header raises
        if archive.needs_password():  # headers encrypted (rar -hp): not even the names are readable
            return [], [_encrypted("rar", name)]
        for info in archive.infolist():
            member = _rar_name(info)
            if info.is_dir() or is_junk(member) or info.is_symlink():
                continue
            if info.needs_password():
                problems.append(_encrypted("rar", name, member))
                continue
            if budget.members_left <= 0:
                problems.append(_too_many(name, limits, "rar"))
                break
            budget.members_left -= 1
            data, problem = _read_rar_member(archive, info, member, name, len(content), limits, budget)
            if problem is not None:
                problems.append(problem)
            if data is not None:
                members.append((member, data))
    return members, problems + _renamed(name, members)


def _read_rar_member(archive: rarfile.RarFile, info: rarfile.RarInfo, member: str, name: str, size: int,
                     limits: LimitsSection, budget: Budget) -> tuple[bytes | None, Problem | None]:
    """One rar member under its bound; a bad CRC or a missing tool is a problem on that member."""
    bound = member_bound(Declared(member, info.file_size, info.compress_size), name, size, limits, budget, "rar")
    if isinstance(bound, Problem):
        return None, bound
    shown = member.rsplit("/", 1)[-1]
    try:
        with archive.open(info) as stream:
            return read_within(stream, bound, budget), None
    except BoundPassed as passed:
        return None, passed.problem
    except rarfile.RarCannotExec as err:
        return None, Problem("rar_no_tool", f"附件“{name}”中的“{shown}”无法解压（服务器未安装 RAR 解压工具），"
                             "请改用 .zip 重新发送", detail=f"{member}: {err!r}"[:500], file=name)
    except ARCHIVE_ERRORS as err:
        return None, Problem("rar_member_unreadable", f"附件“{name}”中的“{shown}”已损坏，未读取",
                             detail=f"{member}: {err!r}"[:500], file=name)


def _rar_name(info: rarfile.RarInfo) -> str:
    """A member's name: RAR 2.x/3.x/4.x names without the Unicode flag are in the packer's code page
    (GBK on Chinese Windows), which rarfile would read as UTF-16 or windows-1252."""
    raw = info.orig_filename
    if not isinstance(info, rarfile.Rar3Info) or info.flags & rarfile.RAR_FILE_UNICODE or not raw:
        return info.filename
    for codec in ("utf-8", "gb18030"):
        try:
            return raw.decode(codec).replace("\\", "/").rstrip("/")
        except UnicodeDecodeError:
            continue
    return info.filename


def _too_many(name: str, limits: LimitsSection, kind: str) -> Problem:
    return Problem(f"{kind}_too_many_members", f"附件“{name}”中的文件过多，其余文件未读取",
                   detail=f"max_members={limits.max_members}", file=name)


class _Output(py7zr.io.Py7zIO):
    """One member's bytes as py7zr writes them (it stops at the member's declared size)."""

    def __init__(self) -> None:
        self.buffer = io.BytesIO()

    def write(self, s: bytes | bytearray) -> int:
        return self.buffer.write(s)

    def read(self, size: int | None = None) -> bytes:
        return self.buffer.read(size)

    def seek(self, offset: int, whence: int = 0) -> int:
        return self.buffer.seek(offset, whence)

    def flush(self) -> None:
        self.buffer.flush()

    def size(self) -> int:
        return self.buffer.getbuffer().nbytes


class _Collector(py7zr.io.WriterFactory):
    """Collects py7zr's output in memory, in the order it extracts the members (the archive's order)."""

    def __init__(self) -> None:
        self.products: list[_Output] = []

    def create(self, filename: str) -> py7zr.io.Py7zIO:
        self.products.append(_Output())
        return self.products[-1]

    def outputs(self) -> list[bytes]:
        return [product.buffer.getvalue() for product in self.products]


def _escaping_problem(name: str, member: str) -> Problem:
    return Problem("unsafe_filename", f"附件“{name}”中的文件名含有路径跳转，为安全起见未读取该文件",
                   detail=repr(member)[:300], file=name)


def _renamed(name: str, members: Members) -> list[Problem]:
    unsafe = [member for member, _ in members if is_unsafe_name(member, folders_ok=True)]
    return [unsafe_members_problem(name, unsafe)] if unsafe else []


def _encrypted(kind: str, name: str, member: str = "") -> Problem:
    what = f"附件“{name}”中的“{member.rsplit('/', 1)[-1]}”" if member else f"压缩包“{name}”"
    return Problem(f"{kind}_encrypted", f"{what}设有密码，无法读取，请发送未加密的文件",
                   detail=member, file=name)
