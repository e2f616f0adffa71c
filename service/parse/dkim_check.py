"""DKIM check: raw bytes + a TXT lookup -> the result of each DKIM-Signature (RFC 6376), with dkimpy.

The only step of parsing that asks the network, through the lookup it is handed (parse/txt_lookup.py).
Results: pass; fail (the key was found and the signature or body hash does not match: the mail was
changed or forged); permerror (a malformed signature, no key or an unusable one: a key withdrawn since
is no evidence of forgery); temperror (the lookup could not be answered now).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .message import MAX_HEADER_BLOCK
from .txt_lookup import DnsUnavailable, TxtLookup

if TYPE_CHECKING:  # dkimpy (and dnspython under it) loads only for signed mail: ~50 ms a process otherwise
    import dkim

MAX_SIGNATURES = 5  # a message signed more often is checked on its first five (each costs a lookup)
_quiet = logging.getLogger(__name__ + ".dkimpy")  # dkimpy logs every failure as an error; ours say it once
_quiet.addHandler(logging.NullHandler())
_quiet.propagate = False


@dataclass(frozen=True)
class DkimSignature:
    """One DKIM-Signature's signing domain (d=) and what checking it gave."""

    domain: str
    result: str  # pass | fail | permerror | temperror


def check_signatures(raw: bytes, lookup: TxtLookup, timeout: float = 5) -> tuple[DkimSignature, ...]:
    """Each DKIM-Signature of the top-level header, checked (none: an unsigned message)."""
    if not _signed(raw):
        return ()  # cheap: most government mail is unsigned
    import dkim  # noqa: PLC0415 - see TYPE_CHECKING above

    try:
        checker = dkim.DKIM(raw, logger=_quiet, timeout=timeout)
    except (dkim.DKIMException, ValueError, IndexError, UnicodeError):
        return (DkimSignature("", "permerror"),)
    count = sum(1 for name, _ in checker.headers if name.lower() == b"dkim-signature")
    return tuple(_checked(checker, i, lookup) for i in range(min(count, MAX_SIGNATURES)))


def _signed(raw: bytes) -> bool:
    """Whether the top-level header holds a DKIM-Signature field (without parsing the message)."""
    head = raw[:MAX_HEADER_BLOCK]
    ends = [at for at in (head.find(b"\r\n\r\n"), head.find(b"\n\n")) if at >= 0]
    head = head[:min(ends)] if ends else head
    return head.lower().startswith(b"dkim-signature:") or b"\ndkim-signature:" in head.lower()


def _checked(checker: dkim.DKIM, index: int, lookup: TxtLookup) -> DkimSignature:
    import dkim  # noqa: PLC0415 - loaded by check_signatures already

    checker.pk, checker.domain = None, b""
    try:
        ok = checker.verify(idx=index, dnsfunc=lookup)
    except DnsUnavailable:
        return DkimSignature(_domain(checker), "temperror")
    except dkim.DKIMException:
        ok = False  # after the key was found: a mismatch (fail); before: a malformed signature
    except (ValueError, IndexError, TypeError, UnicodeError):  # dkimpy on hostile bytes
        return DkimSignature(_domain(checker), "permerror")
    if ok:
        return DkimSignature(_domain(checker), "pass")
    return DkimSignature(_domain(checker), "fail" if checker.pk is not None else "permerror")


def _domain(checker: dkim.DKIM) -> str:
    domain = getattr(checker, "domain", b"") or b""
    return domain.decode("ascii", "replace").lower() if isinstance(domain, bytes) else str(domain).lower()
