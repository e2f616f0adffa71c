"""Authentication results the office's own receiving server recorded: raw header block -> TrustedResults.

Pure. A sender can write any header field, `Authentication-Results: 163.com; dmarc=pass` included, so
only the fields our server added count. Which fields those are:

- The header block is read from the top: every server prepends its fields, so the newest are first.
- Reading stops at the first `Received:` field added by a server that is not ours: its `by` names a
  dotted host that is neither a trusted authserv-id nor in the same organisational domain as one.
  Everything below it was written before our server saw the message. (`by` an IP literal or a dotless
  internal name, as some servers write for their internal hops, does not stop the reading.)
- Above that line, only the topmost `Authentication-Results:` whose authserv-id is one of
  `[mailbox] trusted_authserv_ids` counts: our server prepends its own before any that arrived with
  the message (RFC 8601 section 5), so a forged one with our id lies further down and is ignored.
- `Received-SPF:` names no server; the topmost one above the line counts only beside such a trusted
  `Authentication-Results:` (whose own `spf=` wins).

This relies on our server adding its results to every message it accepts; a server that adds none
leaves the topmost field to the sender (see README, "Trust the sender").
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from email.policy import compat32
from functools import lru_cache

import authres
import authres.dmarc  # noqa: F401 - registers the dmarc method with authres

from .message import MAX_HEADER_BLOCK

_BY_HOST = re.compile(r"\bby\s+([^\s;()]+)", re.IGNORECASE)
_IP_LITERAL = re.compile(r"^\[?[0-9a-f.:]*[.:][0-9a-f.:]*\]?$", re.IGNORECASE)
_FEATURES = authres.FeatureContext(authres.dmarc)


@dataclass(frozen=True)
class TrustedResults:
    """What our receiving server said (results as lower-case words; "" where it said nothing)."""

    authserv_id: str = ""
    spf: str = ""
    dkim: str = ""
    dmarc: str = ""


NOTHING_TRUSTED = TrustedResults()


@lru_cache(maxsize=4096)
def organisational_domain(domain: str) -> str:
    """The registrable domain under the public suffix (ICANN section of the Public Suffix List):
    mail.changsha.gov.cn -> changsha.gov.cn; a name that is itself a suffix is returned as it is."""
    domain = domain.strip().strip(".").lower()
    return _suffixes().privatesuffix(domain) or domain


@lru_cache(maxsize=1)
def _suffixes():
    from publicsuffixlist import (
        PublicSuffixList,  # its list loads once per process (~0.1 s)
    )
    return PublicSuffixList(only_icann=True)


def header_fields(raw: bytes) -> list[tuple[str, str]]:
    """(name lower-cased, value unfolded) of every field of the top-level header, in order."""
    head = raw[:MAX_HEADER_BLOCK]
    ends = [at for at in (head.find(b"\r\n\r\n"), head.find(b"\n\n")) if at >= 0]
    parsed = BytesHeaderParser(policy=compat32).parsebytes(head[:min(ends)] if ends else head)
    return [(name.lower(), " ".join(str(value).split())) for name, value in parsed.items()]


def trusted_results(fields: list[tuple[str, str]], trusted_ids: tuple[str, ...]) -> TrustedResults:
    """The results of the topmost Authentication-Results added by our server (see the module docstring)."""
    if not trusted_ids:
        return NOTHING_TRUSTED
    found: TrustedResults | None = None
    received_spf = ""
    for name, value in fields:
        if name == "received" and not _ours(value, trusted_ids):
            break
        if name == "received-spf" and not received_spf:
            received_spf = (value.split() or [""])[0].lower()
        if name == "authentication-results" and found is None:
            found = _parsed(value, trusted_ids)
    if found is None:
        return NOTHING_TRUSTED
    return found if found.spf else TrustedResults(found.authserv_id, received_spf, found.dkim, found.dmarc)


def authserv_ids(fields: list[tuple[str, str]]) -> list[str]:
    """Every Authentication-Results authserv-id in the header, topmost first (for `check-mailbox`)."""
    return [_first_word(value) for name, value in fields if name == "authentication-results"]


def _first_word(value: str) -> str:
    """The authserv-id as written: the field's first word (before any version, comment or `;`)."""
    words = value.split(";", 1)[0].replace("(", " ").split()
    return words[0].lower() if words else ""


def _parsed(value: str, trusted_ids: tuple[str, ...]) -> TrustedResults | None:
    """The field's results when its authserv-id is trusted; None otherwise (or unreadable)."""
    if _first_word(value) not in trusted_ids:
        return None  # authres takes ~2 ms a field: parse only the one that may count
    try:
        header = _FEATURES.parse_value(value)
    except (authres.AuthResError, ValueError, IndexError):
        return None
    server = (header.authserv_id or "").lower()
    if server not in trusted_ids:
        return None
    first: dict[str, str] = {}
    for result in header.results:
        first.setdefault(str(result.method).lower(), str(result.result).lower())
    return TrustedResults(server, first.get("spf", ""), first.get("dkim", ""), first.get("dmarc", ""))


def _ours(received: str, trusted_ids: tuple[str, ...]) -> bool:
    """Whether a Received field may be our server's: `by` one of our hosts, an IP or a dotless name."""
    match = _BY_HOST.search(received)
    if match is None:
        return False  # whose it is cannot be told: what lies below may be the sender's
    host = match.group(1).lower().rstrip(".")
    if "." not in host or _IP_LITERAL.match(host):
        return True
    return any(host == t or host.endswith("." + t) or organisational_domain(host) == organisational_domain(t)
               for t in trusted_ids if "." in t) or host in trusted_ids
