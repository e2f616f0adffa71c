"""Sender verification stage: DKIM results + what our receiving server said + From -> SenderAuth, and
whether a message from a registered address is held (not credited until staff confirm it).

Pure. Alignment is relaxed (RFC 7489): the signing domain and the From domain share their
organisational domain (the registrable name under the ICANN public suffix: mail.changsha.gov.cn and
changsha.gov.cn align; hunan.gov.cn and changsha.gov.cn do not).
"""
from __future__ import annotations

from typing import Sequence

from ..config import Config
from ..model import Attribution, Problem, SenderAuth
from ..parse.auth_headers import TrustedResults, organisational_domain
from ..parse.dkim_check import DkimSignature

SENDER_UNVERIFIED = "sender_unverified"
_DKIM_ZH = {"pass": "验证通过", "fail": "验证失败（邮件被改动或伪造）", "permerror": "无法验证（签名或公钥无效）",
            "temperror": "暂时无法验证（查询公钥失败，重新处理时再试）"}


def sender_auth(sender: str, signatures: Sequence[DkimSignature], trusted: TrustedResults) -> SenderAuth:
    """The verdict on the From address: pass (an aligned DKIM pass or a trusted DMARC pass), fail (an aligned
    signature that fails, or a trusted DMARC or SPF fail), else none; with the signature that decided."""
    domain = sender.rpartition("@")[2].lower()
    aligned = [s for s in signatures if domain and s.domain and _aligned(s.domain, domain)]
    shown = _deciding(aligned) or _deciding(list(signatures))
    if any(s.result == "pass" for s in aligned) or trusted.dmarc == "pass":
        verdict = "pass"
    elif any(s.result == "fail" for s in aligned) or "fail" in (trusted.dmarc, trusted.spf):
        verdict = "fail"
    else:
        verdict = "none"
    return SenderAuth(verdict=verdict, dkim=shown.result if shown else "none",
                      dkim_domain=shown.domain if shown else "", aligned=bool(shown and shown in aligned),
                      spf=trusted.spf, dmarc=trusted.dmarc, authserv_id=trusted.authserv_id)


def _aligned(signing: str, sender: str) -> bool:
    return organisational_domain(signing) == organisational_domain(sender)


def _deciding(signatures: list[DkimSignature]) -> DkimSignature | None:
    """The signature to show: the first that passes, else the first that fails, else the first."""
    for wanted in ("pass", "fail"):
        for s in signatures:
            if s.result == wanted:
                return s
    return signatures[0] if signatures else None


def held_problem(auth: SenderAuth, attribution: Attribution, sender: str, config: Config) -> Problem | None:
    """The sender_unverified problem when mail from a city's registered address must not be credited
    unconfirmed: its verdict is fail, or none for a city that signs its mail (`require_auth`)."""
    if not attribution.city or attribution.city_source != "sender":
        return None  # an unregistered sender is held by the supersede rule and its own problem
    city = config.city(attribution.city)
    if auth.verdict == "fail":
        why = f"邮件未通过发件人验证（{evidence_zh(auth)}），可能是伪造的"
    elif auth.verdict == "none" and city.require_auth:
        why = f"{city.name}的邮件应带有效签名（require_auth），这封邮件没有可验证的签名（{evidence_zh(auth)}）"
    else:
        return None
    return Problem(SENDER_UNVERIFIED,
                   f"发件人 {sender} 是{city.name}的登记邮箱，但{why}；未计入报送，请电话核实后用 confirm-sender 确认",
                   detail=auth_detail(auth))


def evidence_zh(auth: SenderAuth) -> str:
    """What vouches (or not) for the sender, in Chinese: the DKIM result and what our server said."""
    parts = []
    if auth.dkim == "none":
        parts.append("无 DKIM 签名")
    else:
        side = "与发件人域名一致" if auth.aligned else "与发件人域名不一致"
        parts.append(f"DKIM 签名（{auth.dkim_domain or '未知域名'}，{side}）{_DKIM_ZH.get(auth.dkim, auth.dkim)}")
    said = [f"{name} {value}" for name, value in (("DMARC", auth.dmarc), ("SPF", auth.spf)) if value]
    if auth.authserv_id:
        parts.append(f"收件服务器 {auth.authserv_id} 的检查结果：{'，'.join(said) or '无'}")
    return "；".join(parts)


def auth_detail(auth: SenderAuth) -> str:
    """The evidence in one technical line (a problem's detail)."""
    return (f"verdict={auth.verdict} dkim={auth.dkim} d={auth.dkim_domain or '-'} aligned={auth.aligned} "
            f"spf={auth.spf or '-'} dmarc={auth.dmarc or '-'} authserv_id={auth.authserv_id or '-'}")
