"""Charset layer of the parse stage: raw header and body bytes -> text.

Chinese mail lies about charsets: "gb2312" carries GBK characters (镕), encoded-words
split a character in two, and filenames arrive as raw 8-bit GBK. Everything decodes here,
and a label that did not describe its bytes comes back as a LabelIssue for staff to see.
"""
from __future__ import annotations

import base64
import binascii
import codecs
import re
from typing import NamedTuple
from urllib.parse import quote_from_bytes, unquote_to_bytes

from ..model import Problem
from .charset_check import is_ordinary_chinese, truer_reading

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
_ASCII_LABELS = frozenset({"ascii", "usascii", "ansix341968", "646"})
_UNKNOWN_LABELS = frozenset({"unknown8bit", "xunknown", "default"})
_NO_PROMISE = frozenset({""}) | _ASCII_LABELS | _UNKNOWN_LABELS
# Python text codecs that are no MIME charsets: a label naming one is unknown. idna and punycode
# raise on 8-bit bytes whatever the error handler, the escapes turn "\\x41" in a body into "A".
_NOT_CHARSETS = frozenset({"idna", "punycode", "unicode-escape", "raw-unicode-escape", "undefined"})
MISLABELLED, UNKNOWN = "charset_mislabelled", "unknown_charset"
_FALLBACKS = ("utf-8", "gb18030")
_ENCODED_WORD = re.compile(rb"=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=")
_FOLD = re.compile(rb"\r?\n(?=[ \t])")
# Compiled once: the stdlib compiles a fresh regex per MIME boundary, which evicts re's cache.
_LABEL_NOISE = re.compile(r"[-_ .:]")
_PARAM_TOKEN = re.compile(r'"(?:\\"|[^"])*"?|;|[^";]+')
_SECTION = re.compile(r"(?P<name>[^*]+)\*(?P<index>\d*)(?P<star>\*?)")
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f]")
MAX_LABEL_SHOWN = 40
PLACES_SHOWN = 3
READ_AS_ZH = {"gb18030": "简体中文（GBK/GB18030）", "utf-8": "UTF-8"}


class LabelIssue(NamedTuple):
    """A charset label that did not describe the bytes: the parse stage records it as a Problem."""

    code: str  # MISLABELLED (the bytes are another charset) or UNKNOWN (no such charset)
    declared: str  # the label as written, control characters escaped, cut short
    used: str  # the codec that read the bytes instead


class Decoded(NamedTuple):
    """Decoded text; doubtful when the last resort was used; issues with the labels met."""

    text: str
    doubtful: bool = False
    issues: tuple[LabelIssue, ...] = ()


def _cleaned(label: str | bytes | None) -> str:
    if isinstance(label, bytes):
        label = label.decode("latin-1")
    return (label or "").strip().strip("\"'").split("*", 1)[0].lower()  # RFC 2231 "gb2312*zh"


def _label_key(label: str | bytes | None) -> str:
    return _LABEL_NOISE.sub("", _cleaned(label))


def codec_for(label: str | bytes | None) -> str | None:
    """The Python codec for a MIME charset label, or None when the label promises nothing."""
    label = _cleaned(label)
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
    if codecs.lookup(name).name in _NOT_CHARSETS:
        raise LookupError(name)
    b"a".decode(name, "ignore")  # LookupError for unknown names and bytes-to-bytes codecs
    return name


def decode_bytes(data: bytes, label: str | bytes | None = None) -> Decoded:
    """Decode with the labelled codec, then UTF-8, then GB18030.

    doubtful is True when the last resort was used: the label's codec with U+FFFD
    replacements, or Latin-1 (lossless but probably not what the sender wrote).
    A label that fails strictly, or reads GBK bytes "successfully" into garbage
    (charset_check.py), or names no charset, comes back as an issue.
    """
    if data.isascii():
        return Decoded(data.decode("ascii"))
    codec = codec_for(label)
    text = None if codec is None else _strictly(data, codec)
    if text is not None:
        truer = truer_reading(data, text, codec)
        if truer is None:
            return Decoded(text)
        return Decoded(truer[0], False, (LabelIssue(MISLABELLED, shown_label(label), truer[1]),))
    cut = _cut_short(data, codec or _FALLBACKS[0])
    for name in _FALLBACKS:
        text = None if name == codec else _strictly(data, name)
        if text is not None and (cut is None or is_ordinary_chinese(text)):
            return Decoded(text, False, _label_issues(label, codec, name))
    if cut is not None:
        return Decoded(cut)
    if codec is not None:
        return Decoded(data.decode(codec, "replace"), True)
    return Decoded(data.decode("latin-1"), True)


def _strictly(data: bytes, codec: str) -> str | None:
    try:
        return data.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return None


def _cut_short(data: bytes, codec: str) -> str | None:
    """The reading of data whose only fault is a UTF-8 or GB18030 character cut off at the very end
    (a header cut at MAX_HEADER_BYTES, a truncated body), without that character; else None."""
    try:
        data.decode(codec)
    except UnicodeDecodeError as err:
        cut_utf8 = codec == "utf-8" and err.reason == "unexpected end of data"
        cut_gb = (codec == "gb18030" and err.reason == "incomplete multibyte sequence"
                  and 0x81 <= data[err.start] <= 0xFE)  # a lead byte, not junk such as 0xFF
        if err.end == len(data) and (cut_utf8 or cut_gb):
            return _strictly(data[:err.start], codec)
    return None


def _label_issues(label: str | bytes | None, codec: str | None, used: str) -> tuple[LabelIssue, ...]:
    """What was wrong with the label when a fallback read the bytes (no label promises nothing)."""
    if label is None:
        return ()
    if codec is not None or _label_key(label) in _ASCII_LABELS:
        return (LabelIssue(MISLABELLED, shown_label(label), used),)
    return (LabelIssue(UNKNOWN, shown_label(label), used),)


def shown_label(label: str | bytes | None) -> str:
    """A label as staff may see it: without quotes, control characters (a NUL) escaped, cut short."""
    text = label.decode("latin-1") if isinstance(label, bytes) else (label or "")
    text = text.strip().strip("\"'")
    text = _UNPRINTABLE.sub(lambda m: f"\\x{ord(m.group()):02x}", text)
    return text[:MAX_LABEL_SHOWN] + ("…" if len(text) > MAX_LABEL_SHOWN else "")


def label_problems(labels: dict[tuple[str, str, str], list[str]]) -> list[Problem]:
    """One Problem per lying or unknown charset label, naming where it was met and what read the text."""
    problems = []
    for (code, declared, used), places in labels.items():
        where = "、".join(places[:PLACES_SHOWN]) + ("等处" if len(places) > PLACES_SHOWN else "")
        shown = f"“{declared}”" if declared.strip() else "（空）"
        verdict = "与实际内容不符" if code == MISLABELLED else "无法识别"
        problems.append(Problem(code, f"{where}声明的字符集{shown}{verdict}，已按{READ_AS_ZH.get(used, used)}"
                                      "识别，请核对文字是否正确",
                                detail=f"declared charset {declared!r}, read as {used}: {', '.join(places)}"[:500]))
    return problems


def unfold(raw: bytes) -> bytes:
    """A header value on one line (RFC 5322 unfolding), without its line ending."""
    return _FOLD.sub(b"", raw).strip(b"\r\n")


def decode_header(raw: bytes) -> Decoded:
    """Decode a raw header value: RFC 2047 words and raw 8-bit bytes.

    Adjacent encoded-words in one charset are joined as bytes before decoding, because
    Foxmail and others split a multibyte character across two words.
    """
    raw = unfold(raw)
    if b"=?" not in raw:
        decoded = decode_bytes(raw)
        return decoded._replace(text=decoded.text.strip())
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
    texts, issues = [], []
    for _, label, data in pieces:
        decoded = decode_bytes(data, label)
        texts.append(decoded.text)
        doubtful |= decoded.doubtful
        issues += [issue for issue in decoded.issues if issue not in issues]
    return Decoded("".join(texts).strip(), doubtful, tuple(issues))


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


def param_value(params: list[tuple[str, str]], name: str) -> Decoded | None:
    """The decoded value of a parameter (None when absent): RFC 2231 (with continuations) first, then plain.

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
        return None
    return decode_header(plain.encode("latin-1"))


def _join_rfc2231(sections: dict[int, tuple[bool, str]]) -> Decoded:
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
    return decode_bytes(unquote_to_bytes(b"".join(chunks)), label or None)  # RFC 2231 may leave it out
