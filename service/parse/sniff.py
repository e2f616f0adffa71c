"""Parse stage helper: what an attachment really is, judged from its bytes.

Never trust the declared Content-Type or the extension: cities send .xls that are
xlsx, .xlsx that are HTML, and WPS files. The extension only separates et/wps and csv/text.
"""
from __future__ import annotations

import contextlib
import io
import lzma
import re
import struct
import zipfile
import zlib
from typing import Iterator

import olefile

# What reading a hostile or truncated zip can raise, from zipfile and its codecs.
ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, lzma.LZMAError, EOFError, OSError,
              NotImplementedError, RuntimeError, ValueError, struct.error)
CFB_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# What olefile can raise on a hostile compound file (it checks sector indexes and chains itself).
OLE_ERRORS = (OSError, ValueError, IndexError, KeyError, TypeError, AttributeError, struct.error,
              RecursionError, UnicodeDecodeError)
TNEF_MAGIC = b"\x78\x9f\x3e\x22"
_ARCHIVE_MAGIC = {b"7z\xbc\xaf\x27\x1c": "7z", b"Rar!\x1a\x07\x00": "rar", b"Rar!\x1a\x07\x01\x00": "rar"}
_IMAGES = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"BM", b"II*\x00", b"MM\x00*")
_MAIL_HEADERS = re.compile(
    rb"^(received|from|to|subject|date|message-id|return-path|mime-version):", re.I | re.M)
_OOXML_LOCAL_NAME = re.compile(rb"PK\x03\x04[\s\S]{26}(xl|word)/")
_HTML = re.compile(rb"^\s*(<!doctype\s+html|<html|<\?xml[^>]*>\s*<html|<table|<head|<body)", re.I)


def sniff_kind(content: bytes, filename: str) -> str:
    """One of: xlsx xlsm ods xls docx doc csv zip 7z rar tnef pdf image et wps rtf html text eml encrypted unknown."""
    ext = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if not content:
        return "unknown"
    if content.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return _zip_kind(content)
    if content.startswith(CFB_MAGIC):
        return _cfb_kind(content, ext)
    for magic, kind in _ARCHIVE_MAGIC.items():
        if content.startswith(magic):
            return kind
    if content.startswith(TNEF_MAGIC):
        return "tnef"  # Outlook's winmail.dat: its attachments are unpacked like a zip's
    if b"%PDF-" in content[:1024]:  # some generators put junk before the header
        return "pdf"
    if content.startswith(_IMAGES) or (content[:4] == b"RIFF" and content[8:12] == b"WEBP"):
        return "image"
    if content.startswith(b"{\\rtf"):
        return "rtf"
    return _text_kind(content, ext)


def _zip_kind(content: bytes) -> str:
    """OOXML and ODF are zip files: tell them apart by member names and content types."""
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            names = set(archive.namelist())
            types = _small_member(archive, "[Content_Types].xml")
            mimetype = _small_member(archive, "mimetype")
    except ZIP_ERRORS:
        # A truncated file still shows its member names in the local file headers.
        local = _OOXML_LOCAL_NAME.search(content)
        return {b"xl": "xlsx", b"word": "docx"}[local.group(1)] if local else "zip"
    if b"macroEnabled" in types or "xl/vbaProject.bin" in names:
        return "xlsm"
    if "xl/workbook.xml" in names or b"spreadsheetml.sheet.main" in types:
        return "xlsx"
    if "word/document.xml" in names or b"wordprocessingml.document.main" in types:
        return "docx"
    if mimetype.strip() == b"application/vnd.oasis.opendocument.spreadsheet":
        return "ods"
    if mimetype.startswith(b"application/vnd.oasis.opendocument"):
        return "unknown"  # odt, odp: not something we can read tables from
    return "zip"


def _small_member(archive: zipfile.ZipFile, name: str) -> bytes:
    """A small member's first bytes, or b"" if absent (bounded: never inflate a bomb here)."""
    try:
        with archive.open(name) as member:
            return member.read(65536)
    except KeyError:
        return b""


def _cfb_kind(content: bytes, ext: str) -> str:
    """OLE2 compound files: the stream names say xls, doc or encrypted OOXML."""
    with _compound_file(content) as ole:
        names = set() if ole is None else {entry.name.lower() for entry in ole.direntries if entry is not None}
        if "encryptedpackage" in names or "encryptioninfo" in names:
            return "encrypted"  # password-protected xlsx/docx are OLE containers around the package
        stream = "workbook" if "workbook" in names else "book" if "book" in names else ""
        if stream:
            if _biff_has_filepass(_stream_head(ole, stream, 4096)):
                return "encrypted"
            return "et" if ext in ("et", "ett") else "xls"
        if "worddocument" in names:
            fib = _stream_head(ole, "worddocument", 12)
            if len(fib) >= 12 and struct.unpack_from("<H", fib, 10)[0] & 0x0100:  # FIB fEncrypted
                return "encrypted"
            return "wps" if ext in ("wps", "wpt") else "doc"
    return "unknown"


@contextlib.contextmanager
def _compound_file(content: bytes) -> Iterator[olefile.OleFileIO | None]:
    """The parsed compound file, or None when olefile refuses it (a hostile or truncated header).

    Always through a BytesIO: olefile takes bytes shorter than 1536 for a path to open.
    """
    try:
        ole = olefile.OleFileIO(io.BytesIO(content))
    except OLE_ERRORS:
        yield None
        return
    with ole:
        yield ole


def _stream_head(ole: olefile.OleFileIO, name: str, size: int) -> bytes:
    """The first `size` bytes of a root-level stream (olefile matches names case-insensitively), or b""."""
    try:
        with ole.openstream(name) as stream:
            return stream.read(size)
    except OLE_ERRORS:
        return b""


def _biff_has_filepass(head: bytes) -> bool:
    """True when a FILEPASS record (0x002F) follows the BOF: the workbook has a password."""
    pos = 0
    for _ in range(8):  # FILEPASS sits right after BOF; a few records are plenty
        if pos + 4 > len(head):
            return False
        record, size = struct.unpack_from("<HH", head, pos)
        if record == 0x002F:
            return True
        pos += 4 + size
    return False


def _text_kind(content: bytes, ext: str) -> str:
    """html, eml, csv or text for content that decodes as text; unknown otherwise."""
    head = content[:8192]
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        head = head.decode("utf-16", "ignore").encode("utf-8")  # Excel "Unicode text" export
    elif b"\x00" in head or not _decodes(head):
        return "unknown"
    head = head.removeprefix(b"\xef\xbb\xbf")
    if _HTML.match(head):
        return "html"
    if ext == "eml" or len(set(m.lower() for m in _MAIL_HEADERS.findall(head[:4096]))) >= 3:
        return "eml"
    return "csv" if ext in ("csv", "tsv") else "text"


def _decodes(head: bytes) -> bool:
    """Does the start of the content read as UTF-8 or GB18030 (allowing a cut last character)?"""
    for codec in ("utf-8", "gb18030"):
        for cut in range(4):
            try:
                head[:len(head) - cut].decode(codec)
                return True
            except UnicodeDecodeError:
                continue
    return False
