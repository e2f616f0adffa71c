"""TXT lookups for DKIM keys: the resolver app.py picks (DNS) and the one tests and the demo use (a table).

Both are small frozen values, so they cross to the derive workers pickled with the config, like the
document converter. A lookup that cannot be answered now (timeout, no resolver, SERVFAIL) raises
DnsUnavailable: the DKIM result is `temperror`, and the next `reprocess` asks again.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class DnsUnavailable(Exception):
    """The lookup could not be answered now; a later one may be."""


class TxtLookup(Protocol):
    """dkimpy's dnsfunc: the TXT record at `name` (b"sel._domainkey.example.com."), None when there is none."""

    def __call__(self, name: bytes, timeout: float = 5) -> bytes | None: ...


@dataclass(frozen=True)
class NoDns:
    """Never answers: every signature's key is unavailable (temperror). The default where none is wired."""

    def __call__(self, name: bytes, timeout: float = 5) -> bytes | None:
        raise DnsUnavailable("no resolver configured")


@dataclass(frozen=True)
class StaticTxt:
    """Answers from a table of (name, record); names not in it have no record."""

    records: tuple[tuple[str, bytes], ...] = ()

    def __call__(self, name: bytes, timeout: float = 5) -> bytes | None:
        wanted = name.decode("ascii", "replace").lower().rstrip(".")
        return next((record for key, record in self.records if key.lower().rstrip(".") == wanted), None)


_answers: dict[bytes, bytes | None] = {}  # per process: the same key is asked once per backlog


@dataclass(frozen=True)
class DnsTxt:
    """The system's resolver (dnspython), `timeout` seconds per lookup, answers cached in the process."""

    timeout: float = 5.0

    def __call__(self, name: bytes, timeout: float = 5) -> bytes | None:
        if name in _answers:
            return _answers[name]
        answer = self._lookup(name)
        if len(_answers) < 10_000:
            _answers[name] = answer
        return answer

    def _lookup(self, name: bytes) -> bytes | None:
        import dns.exception
        import dns.resolver  # imported in the worker that needs it
        try:
            resolver = dns.resolver.Resolver()
            answers = resolver.resolve(name.decode("ascii"), "TXT", lifetime=self.timeout)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return None  # no such key: the signature cannot verify (permerror), asking again will not help
        except (dns.exception.DNSException, OSError, UnicodeError) as err:
            raise DnsUnavailable(f"{type(err).__name__}: {err}") from err
        for record in answers:
            return b"".join(record.strings)
        return None
