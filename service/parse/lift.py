"""Parse stage helper: big raw mail -> a small skeleton for the stdlib parser, base64 bodies set aside.

The stdlib parser holds about nine times a message's size (a str of it, a str per line, joined
payloads): a 72 MB message with a 50 MB attachment took 530 MB to parse. Long runs of base64-looking
lines are cut out first and each replaced by a token line; a base64 part whose payload is one token
is decoded straight from the raw bytes (binascii reads a memoryview and skips line breaks), so
parsing holds about the raw bytes plus what they decode to. Anything else holding a token (a
quoted-printable or plain body that merely looked like base64) gets its original text back before
the stdlib decodes it, so the result is the same as parsing the raw bytes whole.
"""
from __future__ import annotations

import binascii
import email.message
import itertools
import re
from dataclasses import dataclass, field
from typing import Iterator

LIFT_ABOVE_BYTES = 256 * 1024  # smaller mail is parsed as it is
MIN_RUN_BYTES = 32 * 1024  # shorter runs stay in place
# One character class, anchored where the previous character is outside it: linear and stackless
# (a regex repeating a per-line group keeps a backtracking entry per line: 200 MB for 1M lines).
_STRETCH = re.compile(rb"(?<![A-Za-z0-9+/=\r\n])[A-Za-z0-9+/=\r\n]{%d,}" % MIN_RUN_BYTES)
_CTE_BASE64 = re.compile(rb"^content-transfer-encoding:[ \t]*base64[ \t]*\r?$", re.IGNORECASE | re.MULTILINE)
HEADER_LOOKBACK = 64 * 1024  # how far above a run its part's header block is looked for
_PAD_TAIL = re.compile(rb"={1,2}(?:\r?\n)*")  # padding may only end a run
_TOKEN_START = "lifted-base64-"
_TOKEN = re.compile(_TOKEN_START + r"\d+-\d+")  # no ':' and no leading space: never a header line
# stdlib defect names, as email.message.Message.get_payload(decode=True) reports them
PADDING_DEFECT = "InvalidBase64PaddingDefect"


@dataclass(frozen=True)
class _Run:
    raw: bytes
    start: int
    end: int  # without the run's last line ending, which stays in the skeleton after the token


@dataclass(frozen=True)
class Lifted:
    """The runs lifted out of one raw message, by token; used for the tree parsed from its skeleton.

    Tokens carry a prefix absent from that raw message, so its sender cannot forge one; each
    parsed tree (a forwarded .eml is another) is read with its own Lifted.
    """

    runs: dict[str, _Run] = field(default_factory=dict)

    def payload(self, part: email.message.Message) -> tuple[bytes, list[str]] | None:
        """(bytes, stdlib defect names) of a base64 part whose payload is one lifted run, else None.

        A part whose payload holds tokens otherwise gets its original text back (in place), so
        the caller's stdlib decoding sees what parsing the whole message would have given.
        """
        payload = _leaf_text(part) if self.runs else None
        if payload is None or _TOKEN_START not in payload:
            return None
        run = self.runs.get(payload.strip())
        if run is not None and str(part.get("content-transfer-encoding", "")).lower() == "base64":
            decoded = _decoded_run(run)
            if decoded is not None:
                return decoded
        self.restore(part)
        return None

    def decoded_size(self, part: email.message.Message) -> int | None:
        """What a lifted base64 payload will decode to, without decoding it (None: not lifted)."""
        payload = _leaf_text(part) if self.runs else None
        run = self.runs.get(payload.strip()) if payload is not None else None
        if run is None or str(part.get("content-transfer-encoding", "")).lower() != "base64":
            return None
        raw, start, end = run.raw, run.start, run.end
        chars = end - start - raw.count(b"\n", start, end) - raw.count(b"\r", start, end) - raw.count(b"=", start, end)
        return chars * 3 // 4

    def restore(self, part: email.message.Message) -> None:
        """Put the lifted text back into a leaf part's payload."""
        payload = _leaf_text(part) if self.runs else None
        if payload is not None and _TOKEN_START in payload:
            part.set_payload(_TOKEN.sub(self._original, payload))

    def _original(self, match: re.Match) -> str:
        run = self.runs.get(match.group())
        return match.group() if run is None else run.raw[run.start:run.end].decode("ascii")


NOTHING_LIFTED = Lifted()


def _leaf_text(part: email.message.Message) -> str | None:
    """A leaf part's payload text, else None. get_payload() decodes 8-bit text with the part's charset
    label, and a hostile one raises there (idna, punycode, a NUL): such a part is left as it is."""
    if part.is_multipart():
        return None
    try:
        payload = part.get_payload()
    except (UnicodeError, ValueError):
        return None
    return payload if isinstance(payload, str) else None


def lift(raw: bytes, above_bytes: int = LIFT_ABOVE_BYTES) -> tuple[bytes, Lifted]:
    """(skeleton, runs): raw with each long base64 run replaced by a token line; raw itself when small."""
    if len(raw) <= above_bytes:
        return raw, NOTHING_LIFTED
    prefix = _free_prefix(raw)
    runs: dict[str, _Run] = {}
    pieces, pos = [], 0
    for start, end in _runs(raw):
        if not _opens_base64_body(raw, start):
            continue  # quoted-printable or plain text that merely looks like base64 stays for the stdlib
        body_end = end - len(_line_ending(raw, end))
        token = f"{prefix}{len(runs)}"
        runs[token] = _Run(raw, start, body_end)
        pieces += [raw[pos:start], token.encode("ascii")]
        pos = body_end
    if not runs:
        return raw, NOTHING_LIFTED
    pieces.append(raw[pos:])
    return b"".join(pieces), Lifted(runs)


def _runs(raw: bytes) -> Iterator[tuple[int, int]]:
    """(start, end) of each run of whole, non-empty lines of base64 characters of MIN_RUN_BYTES or more.

    Such lines are never header, boundary or blank lines, so a token line in their place leaves the
    MIME structure as it was.
    """
    for match in _STRETCH.finditer(raw):
        start, end = match.span()
        if start > 0:  # the stretch began inside a line ("...: base64\r\n"): from the next line on
            start = raw.find(b"\n", start, end) + 1
            if start == 0:
                continue
        if end < len(raw):  # it ended inside a line: up to the last whole line
            end = raw.rfind(b"\n", start, end) + 1
        if end - start >= MIN_RUN_BYTES and raw.count(b"\r", start, end) == raw.count(b"\r\n", start, end):
            yield from _between_blank_lines(raw, start, end)  # a lone CR ends a line for the stdlib: left alone


def _between_blank_lines(raw: bytes, pos: int, end: int) -> Iterator[tuple[int, int]]:
    """The parts of [pos, end) (whole lines) between empty lines that are MIN_RUN_BYTES or longer.

    Linear however many empty lines there are: a window holding one is skipped whole.
    """
    while end - pos >= MIN_RUN_BYTES:
        if raw[pos] in b"\r\n":
            pos = _next_line(raw, pos)
            continue
        window = pos + MIN_RUN_BYTES
        blank = max(raw.rfind(b"\n\n", pos, window), raw.rfind(b"\n\r", pos, window))
        if blank >= 0:
            pos = _next_line(raw, blank + 1)
            continue
        found = [at for at in (raw.find(b"\n\n", window - 1, end), raw.find(b"\n\r", window - 1, end)) if at >= 0]
        stop = min(found) + 1 if found else end
        yield pos, stop
        pos = _next_line(raw, stop) if found else end


def _opens_base64_body(raw: bytes, start: int) -> bool:
    """True when the run starts a part's body right after a header block declaring base64.

    Only an optimisation: what is lifted wrongly is put back (Lifted.restore), at full cost.
    """
    for blank in (b"\n\n", b"\n\r\n"):
        if raw.endswith(blank, 0, start):
            head_end = start - len(blank) + 1
            break
    else:
        return False
    lo = max(0, head_end - HEADER_LOOKBACK)
    head_start = max(raw.rfind(b"\n\n", lo, head_end), raw.rfind(b"\n\r\n", lo, head_end),
                     raw.rfind(b"\n--", lo, head_end), lo)
    return _CTE_BASE64.search(raw, head_start, head_end) is not None


def _next_line(raw: bytes, pos: int) -> int:
    """The start of the line after the one at pos."""
    return raw.find(b"\n", pos) + 1 or len(raw)


def _free_prefix(raw: bytes) -> str:
    """A token prefix that does not occur in raw (so a sender cannot forge a token)."""
    for salt in itertools.count():
        prefix = f"{_TOKEN_START}{salt}-"
        if prefix.encode("ascii") not in raw:
            return prefix
    raise AssertionError("unreachable")


def _line_ending(raw: bytes, end: int) -> bytes:
    if raw.endswith(b"\r\n", 0, end):
        return b"\r\n"
    return b"\n" if raw.endswith(b"\n", 0, end) else b""


def _decoded_run(run: _Run) -> tuple[bytes, list[str]] | None:
    """The run decoded as the stdlib would (padding added to a cut-short run); None for odd cases.

    Runs hold only base64 characters and line breaks, so the one defect left to mimic is missing
    padding; '=' inside a run, or one character too many, is left to the stdlib.
    """
    raw, start, end = run.raw, run.start, run.end
    pad_at = raw.find(b"=", start, end)
    data_end = end if pad_at == -1 else pad_at
    if pad_at != -1 and not _PAD_TAIL.fullmatch(raw, pad_at, end):
        return None
    chars = data_end - start - raw.count(b"\n", start, data_end) - raw.count(b"\r", start, data_end)
    pads = 0 if pad_at == -1 else raw.count(b"=", pad_at, end)
    view = memoryview(raw)
    try:
        if (chars + pads) % 4 == 0:
            return binascii.a2b_base64(view[start:end]), []
        if pads or chars % 4 == 1:
            return None
        cut = _start_of_last_chars(raw, data_end, chars % 4)
        tail = raw[cut:data_end].replace(b"\r", b"").replace(b"\n", b"")
        head = binascii.a2b_base64(view[start:cut])
        return head + binascii.a2b_base64(tail + b"=" * (4 - len(tail))), [PADDING_DEFECT]
    except binascii.Error:
        return None


def _start_of_last_chars(raw: bytes, end: int, count: int) -> int:
    """Where the last `count` base64 characters before end begin (line breaks skipped)."""
    pos = end
    while count:
        pos -= 1
        if raw[pos] not in b"\r\n":
            count -= 1
    return pos
