"""Parse stage helper: what an attachment really is, judged from its bytes.

Never trust the declared Content-Type or the extension: cities send .xls that are
xlsx, .xlsx that are HTML, and WPS files. The extension only separates et/wps and csv/text.
"""
from __future__ import annotations

import io
import lzma
import re
import struct
import zipfile
import zlib
from typing import Iterator

# What reading a hostile or truncated zip can raise, from zipfile and its codecs.
ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, lzma.LZMAError, EOFError, OSError,
              NotImplementedError, RuntimeError, ValueError, struct.error)
CFB_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ENDOFCHAIN = 0xFFFFFFFE
_MAXREGSECT = 0xFFFFFFFA
_MAX_SECTORS = 1 << 16  # walk at most this many chain links: enough for any real directory
_IMAGES = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"BM", b"II*\x00", b"MM\x00*")
_MAIL_HEADERS = re.compile(
    rb"^(received|from|to|subject|date|message-id|return-path|mime-version):", re.I | re.M)
_OOXML_LOCAL_NAME = re.compile(rb"PK\x03\x04[\s\S]{26}(xl|word)/")
_HTML = re.compile(rb"^\s*(<!doctype\s+html|<html|<\?xml[^>]*>\s*<html|<table|<head|<body)", re.I)


def sniff_kind(content: bytes, filename: str) -> str:
    """One of: xlsx xlsm ods xls docx doc csv zip pdf image et wps rtf html text eml encrypted unknown."""
    ext = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if not content:
        return "unknown"
    if content.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return _zip_kind(content)
    if content.startswith(CFB_MAGIC):
        return _cfb_kind(content, ext)
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
    reader = CfbReader(content)
    names = {name.lower() for name in reader.names()}
    if "encryptedpackage" in names or "encryptioninfo" in names:
        return "encrypted"  # password-protected xlsx/docx are OLE containers around the package
    stream = "workbook" if "workbook" in names else "book" if "book" in names else ""
    if stream:
        if _biff_has_filepass(reader.stream_head(stream, 4096)):
            return "encrypted"
        return "et" if ext in ("et", "ett") else "xls"
    if "worddocument" in names:
        fib = reader.stream_head("worddocument", 12)
        if len(fib) >= 12 and struct.unpack_from("<H", fib, 10)[0] & 0x0100:  # FIB fEncrypted
            return "encrypted"
        return "wps" if ext in ("wps", "wpt") else "doc"
    return "unknown"


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


class CfbReader:
    """Just enough of [MS-CFB] to list stream names and read a stream's first bytes.

    Every read is bounds-checked and every chain walk is capped, so a hostile file
    yields fewer names, never an exception or a loop.
    """

    def __init__(self, data: bytes) -> None:
        self.data, self.sector_size, self.mini_cutoff = data, 512, 4096
        self.fat: list[int] = []
        self.minifat: list[int] = []
        self.entries: list[tuple[str, int, int]] = []
        self.root_start = _ENDOFCHAIN
        if len(data) < 512:
            return
        self.sector_size = 1 << min(max(struct.unpack_from("<H", data, 0x1E)[0], 7), 16)
        self.mini_cutoff = struct.unpack_from("<I", data, 0x38)[0]
        self.fat = self._read_fat()
        first_dir, first_minifat = struct.unpack_from("<I", data, 0x30)[0], struct.unpack_from("<I", data, 0x3C)[0]
        self.entries = list(self._entries(self._chain_bytes(first_dir)))
        self.minifat = self._u32s(self._chain_bytes(first_minifat))

    def names(self) -> list[str]:
        return [entry[0] for entry in self.entries]

    def stream_head(self, name: str, size: int) -> bytes:
        """The first `size` bytes of the named stream (case-insensitive), b"" if absent."""
        for entry_name, start, length in self.entries:
            if entry_name.lower() != name.lower():
                continue
            if length < self.mini_cutoff:  # small streams live in the root entry's mini stream
                mini_stream = self._chain_bytes(self.root_start)
                return self._mini_chain(mini_stream, start, min(size, length))
            return self._chain_bytes(start, limit=size // self.sector_size + 1)[:min(size, length)]
        return b""

    def _sector(self, index: int) -> bytes:
        offset = (index + 1) * self.sector_size
        return self.data[offset:offset + self.sector_size]

    def _read_fat(self) -> list[int]:
        difat = list(struct.unpack_from("<109I", self.data, 0x4C))
        next_difat, steps = struct.unpack_from("<I", self.data, 0x44)[0], 0
        while next_difat < _ENDOFCHAIN and steps < 1024:
            sector = self._u32s(self._sector(next_difat))
            if not sector:
                break
            difat.extend(sector[:-1])
            next_difat, steps = sector[-1], steps + 1
        fat: list[int] = []
        cap = len(self.data) // self.sector_size + self.sector_size  # no file needs more entries
        for index in difat:
            if index <= _MAXREGSECT and len(fat) < cap:
                fat.extend(self._u32s(self._sector(index)))
        return fat

    def _chain(self, start: int, limit: int = _MAX_SECTORS) -> Iterator[int]:
        seen: set[int] = set()
        while start < len(self.fat) and start not in seen and len(seen) < limit:
            seen.add(start)
            yield start
            start = self.fat[start]

    def _chain_bytes(self, start: int, limit: int = _MAX_SECTORS) -> bytes:
        return b"".join(self._sector(index) for index in self._chain(start, limit))

    def _mini_chain(self, mini_stream: bytes, start: int, size: int) -> bytes:
        out, seen = [], set()
        while start < len(self.minifat) and start not in seen and len(out) * 64 < size:
            seen.add(start)
            out.append(mini_stream[start * 64:start * 64 + 64])
            start = self.minifat[start]
        return b"".join(out)[:size]

    @staticmethod
    def _u32s(data: bytes) -> list[int]:
        return list(struct.unpack_from(f"<{len(data) // 4}I", data)) if len(data) >= 4 else []

    def _entries(self, directory: bytes) -> Iterator[tuple[str, int, int]]:
        """(name, start sector, size) for each used 128-byte directory entry."""
        for offset in range(0, len(directory) - 127, 128):
            entry = directory[offset:offset + 128]
            name_len, kind = struct.unpack_from("<HB", entry, 0x40)
            if kind not in (1, 2, 5) or not 2 <= name_len <= 64:
                continue
            name = entry[:name_len - 2].decode("utf-16-le", "replace")
            start, size = struct.unpack_from("<IQ", entry, 0x74)
            if kind == 5:
                self.root_start = start
            yield name, start, size & 0xFFFFFFFF if self.sector_size == 512 else size  # v3: high half undefined
