"""Mail as a receiving server hands it over: DKIM-signed with freshly generated keys (dkimpy), with the
Received and Authentication-Results fields a server prepends, and the key table a stub resolver serves."""
from __future__ import annotations

import base64
from dataclasses import dataclass
from functools import lru_cache

import dkim
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from service.parse.txt_lookup import StaticTxt

SIGNED_HEADERS = (b"from", b"to", b"subject", b"date", b"message-id")


@dataclass(frozen=True)
class SigningKey:
    """A domain's DKIM key: the private half signs, the TXT record is what its DNS would serve."""

    domain: str
    selector: str
    private_pem: bytes
    record: bytes

    @property
    def name(self) -> str:
        return f"{self.selector}._domainkey.{self.domain}"


@lru_cache(maxsize=None)
def signing_key(domain: str, selector: str = "s2022") -> SigningKey:
    """A fresh 1024-bit RSA key for `domain` (one per domain and selector per test run)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return SigningKey(domain, selector, private, b"v=DKIM1; k=rsa; p=" + base64.b64encode(public))


def signed(raw: bytes, key: SigningKey) -> bytes:
    """The message with a DKIM-Signature by `key` on top (as the sending server adds it)."""
    signature = dkim.sign(raw, key.selector.encode(), key.domain.encode(), key.private_pem,
                          include_headers=list(SIGNED_HEADERS))
    return signature + raw


def published(*keys: SigningKey) -> StaticTxt:
    """A resolver serving these keys' records (and nothing else)."""
    return StaticTxt(tuple((k.name, k.record) for k in keys))


def received_by(raw: bytes, results: str = "", by: str = "mx.163.com",
                sender_host: str = "mail.example.gov.cn") -> bytes:
    """The message as our receiving server hands it over: its Received field on top, then (when given)
    its `Authentication-Results: <results>` (the order Gmail and Coremail write them in)."""
    lines = [f"Received: from {sender_host} (unknown [203.0.113.7]) by {by} (Coremail) with SMTP id r1;"
             f" Mon, 3 Jan 2022 10:00:05 +0800 (CST)"]
    if results:
        lines.append(f"Authentication-Results: {results}")
    return "\r\n".join(lines).encode() + b"\r\n" + raw
