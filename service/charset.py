"""Charset layer of the parse stage: raw header and body bytes -> text.

Chinese mail lies about charsets: "gb2312" carries GBK characters (镕), encoded-words
split a character in two, and filenames arrive as raw 8-bit GBK. Everything decodes here.
"""
from __future__ import annotations

import base64
import binascii
import re
from urllib.parse import quote_from_bytes, unquote_to_bytes

# Every GB label is decoded as GB18030, a strict superset of GB2312 and GBK.
_GB_LABELS = frozenset({
    "gb2312", "gbk", "xgbk", "cp936", "ms936", "windows936", "euccn", "xeuccn", "gb231280",
    "csgb2312", "csgbk", "chinese", "isoir58", "csiso58gb231280", "gb18030", "gb",
})
_ALIASES = {
    "hz": "hz", "hzgb2312": "hz",
    "big5": "big5hkscs", "xbig5": "big5hkscs", "big5hkscs": "big5hkscs", "cnbig5": "big5hkscs",
    "utf8": "utf-8", "unicode11utf7": "utf-7", "ksc56011987": "cp949",
}
# Labels that promise nothing: 8-bit bytes under them go through the guessing chain.
_NO_PROMISE = frozenset({"", "ascii", "usascii", "ansix341968", "646", "unknown8bit", "xunknown", "default"})
_FALLBACKS = ("utf-8", "gb18030")
_ENCODED_WORD = re.compile(rb"=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=")
_FOLD = re.compile(rb"\r?\n(?=[ \t])")
# Compiled once: the stdlib compiles a fresh regex per MIME boundary, which evicts re's cache.
_LABEL_NOISE = re.compile(r"[-_ .:]")
_PARAM_TOKEN = re.compile(r'"(?:\\"|[^"])*"?|;|[^";]+')
_SECTION = re.compile(r"(?P<name>[^*]+)\*(?P<index>\d*)(?P<star>\*?)")


def codec_for(label: str | bytes | None) -> str | None:
    """The Python codec for a MIME charset label, or None when the label promises nothing."""
    if isinstance(label, bytes):
        label = label.decode("latin-1")
    label = (label or "").strip().strip("\"'").split("*", 1)[0].lower()  # RFC 2231 "gb2312*zh"
    key = _LABEL_NOISE.sub("", label)
    if key in _NO_PROMISE:
        return None
    if key in _GB_LABELS:
        return "gb18030"
    try:
        return _lookup(_ALIASES.get(key, label))
    except (LookupError, ValueError):  # ValueError: a NUL inside a hostile label
        return None


def _lookup(name: str) -> str:
    b"a".decode(name, "ignore")  # LookupError for unknown names and bytes-to-bytes codecs
    return name


def decode_bytes(data: bytes, label: str | bytes | None = None) -> tuple[str, bool]:
    """Decode with the labelled codec, then UTF-8, then GB18030; returns (text, doubtful).

    doubtful is True when the last resort was used: the label's codec with U+FFFD
    replacements, or Latin-1 (lossless but probably not what the sender wrote).
    """
    if data.isascii():
        return data.decode("ascii"), False
    codec = codec_for(label)
    for name in dict.fromkeys((codec, *_FALLBACKS)):
        if name is None:
            continue
        try:
            return data.decode(name), False
        except (UnicodeDecodeError, LookupError):
            continue
    if codec is not None:
        return data.decode(codec, "replace"), True
    return data.decode("latin-1"), True


def unfold(raw: bytes) -> bytes:
    """A header value on one line (RFC 5322 unfolding), without its line ending."""
    return _FOLD.sub(b"", raw).strip(b"\r\n")


def decode_header(raw: bytes) -> tuple[str, bool]:
    """Decode a raw header value: RFC 2047 words and raw 8-bit bytes; returns (text, doubtful).

    Adjacent encoded-words in one charset are joined as bytes before decoding, because
    Foxmail and others split a multibyte character across two words.
    """
    raw = unfold(raw)
    if b"=?" not in raw:
        text, doubtful = decode_bytes(raw)
        return text.strip(), doubtful
    pieces: list[list] = []  # [is_word, charset label, bytes]
    doubtful, pos = False, 0
    for match in _ENCODED_WORD.finditer(raw):
        gap = raw[pos:match.start()]
        after_word = bool(pieces) and pieces[-1][0]
        if gap and not (after_word and gap.isspace()):  # RFC 2047: space between words vanishes
            pieces.append([False, None, gap])
        label, data = match.group(1), _word_bytes(match.group(2), match.group(3))
        if data is None:  # keep the undecodable word as it stands, and say so
            pieces.append([False, None, match.group(0)])
            doubtful = True
        elif pieces and pieces[-1][0] and _same_charset(pieces[-1][1], label):
            pieces[-1][2] += data
        else:
            pieces.append([True, label, data])
        pos = match.end()
    if raw[pos:]:
        pieces.append([False, None, raw[pos:]])
    texts = []
    for _, label, data in pieces:
        text, bad = decode_bytes(data, label)
        texts.append(text)
        doubtful |= bad
    return "".join(texts).strip(), doubtful


def _same_charset(a: bytes, b: bytes) -> bool:
    return (codec_for(a) or a.lower()) == (codec_for(b) or b.lower())


def _word_bytes(encoding: bytes, text: bytes) -> bytes | None:
    """The bytes of one encoded-word's text; None when it is not decodable."""
    if encoding in b"qQ":
        return binascii.a2b_qp(text, header=True)
    text = text.rstrip(b"=")
    try:
        return base64.b64decode(text + b"=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None


def split_header_params(raw: bytes) -> tuple[str, list[tuple[str, str]]]:
    """Split "type/sub; k=v; k2="v 2"" into the lower-cased value and (key, value) pairs.

    Values are Latin-1 strings standing for the raw bytes, so nothing is decoded yet.
    Only \\" is unescaped: Windows paths and GBK trail bytes use backslashes as data.
    """
    segments, buf = [], []
    for token in _PARAM_TOKEN.findall(unfold(raw).decode("latin-1")):
        if token == ";":
            segments.append("".join(buf))
            buf = []
        elif token.startswith('"'):
            buf.append(token[1:-1 if token.endswith('"') and len(token) > 1 else None].replace('\\"', '"'))
        else:
            buf.append(token)
    segments.append("".join(buf))
    params = []
    for segment in segments[1:]:
        key, sep, value = segment.partition("=")
        if sep:
            params.append((key.strip().lower(), value.strip()))
    return segments[0].strip().lower(), params


def param_value(params: list[tuple[str, str]], name: str) -> tuple[str | None, bool]:
    """The decoded value of a parameter: RFC 2231 (with continuations) first, then plain.

    Plain values may hold RFC 2047 words (Outlook, Foxmail) or raw 8-bit bytes.
    """
    sections: dict[int, tuple[bool, str]] = {}
    plain = None
    for key, value in params:
        match = _SECTION.fullmatch(key)
        if match and match["name"] == name:
            index = int(match["index"] or 0)
            encoded = bool(match["star"]) or not match["index"]
            sections.setdefault(index, (encoded, value))
        elif key == name and plain is None:
            plain = value
    if sections:
        return _join_rfc2231(sections)
    if plain is None:
        return None, False
    return decode_header(plain.encode("latin-1"))


def _join_rfc2231(sections: dict[int, tuple[bool, str]]) -> tuple[str, bool]:
    """Join RFC 2231 sections as bytes, then decode with the charset of the first section.

    Sections are joined before %-decoding: some clients cut a %XX escape in two.
    """
    label, chunks = None, []
    for index in sorted(sections):
        encoded, value = sections[index]
        if encoded and index == min(sections) and value.count("'") >= 2:
            label, _, value = value.split("'", 2)
        raw = value.encode("latin-1")
        chunks.append(raw if encoded else quote_from_bytes(raw).encode("ascii"))
    return decode_bytes(unquote_to_bytes(b"".join(chunks)), label)
