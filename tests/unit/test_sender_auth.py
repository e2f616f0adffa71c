"""Sender verification at derive: DKIM with freshly generated keys and a stub resolver (no network), the
trusted server's results, the verdict, and which mail from a registered address is held."""
from __future__ import annotations

import pickle
from datetime import datetime
from pathlib import Path

import pytest

from service.decide.sender_auth import sender_auth
from service.extract.convert import NoConverter
from service.ingest.derive import Derived, Job, derive
from service.parse.auth_headers import NOTHING_TRUSTED, TrustedResults
from service.parse.dkim_check import DkimSignature, check_signatures
from service.parse.txt_lookup import DnsTxt, DnsUnavailable, NoDns, StaticTxt
from tests.auth_builders import published, received_by, signed, signing_key
from tests.builders import SHANGHAI, make_email, make_xlsx
from tests.conftest import make_config
from tests.table_builders import template_rows

CITY = "example.gov.cn"  # the shipped config's 长沙市 sends from changsha@example.gov.cn
OUR_SERVER = "mx.163.com"
AT = datetime(2022, 1, 3, 12, tzinfo=SHANGHAI)


def report(sender: str = "长沙市商务局 <changsha@example.gov.cn>", **kwargs) -> bytes:
    return make_email(sender=sender, attachments=[("附件1.xlsx", make_xlsx(template_rows()))], **kwargs)


def derived(tmp_path: Path, raw: bytes, lookup=NoDns(), **sections) -> Derived:
    config = make_config(tmp_path, mailbox={"trusted_authserv_ids": [OUR_SERVER]}, **sections)
    return derive(Job(raw, None, AT), config, NoConverter(), lookup)


def codes(d: Derived) -> list[str]:
    return [p.code for p in d.problems]


def test_an_aligned_valid_signature_passes(tmp_path: Path) -> None:
    key = signing_key(CITY)
    d = derived(tmp_path, received_by(signed(report(), key)), published(key))
    auth = d.result.auth
    assert (auth.verdict, auth.dkim, auth.dkim_domain, auth.aligned) == ("pass", "pass", CITY, True)
    assert not d.result.sender_unverified and "sender_unverified" not in codes(d)


def test_a_subdomain_signature_aligns_with_its_organisational_domain(tmp_path: Path) -> None:
    key = signing_key("mail.changsha.gov.cn")
    raw = signed(report(sender="长沙市商务局 <swj@changsha.gov.cn>"), key)
    assert check_signatures(raw, published(key)) == (DkimSignature("mail.changsha.gov.cn", "pass"),)
    assert sender_auth("swj@changsha.gov.cn", check_signatures(raw, published(key)), NOTHING_TRUSTED).aligned


def test_a_body_changed_after_signing_fails_and_the_mail_is_held(tmp_path: Path) -> None:
    key = signing_key(CITY)
    genuine = signed(report(), key)
    forged = genuine.replace(b"This is a multi-part message", b"This is a changed-part message")
    assert forged != genuine
    d = derived(tmp_path, received_by(forged), published(key))
    assert (d.result.auth.verdict, d.result.auth.dkim, d.result.auth.aligned) == ("fail", "fail", True)
    assert d.result.sender_unverified and d.result.is_report
    assert codes(d)[0] == "sender_unverified"
    assert "DKIM 签名（example.gov.cn，与发件人域名一致）验证失败" in d.problems[0].message_zh


def test_a_signature_by_another_domain_is_not_aligned_and_proves_nothing(tmp_path: Path) -> None:
    key = signing_key("bulk-mailer.example.net")
    d = derived(tmp_path, signed(report(), key), published(key))
    auth = d.result.auth
    assert (auth.verdict, auth.dkim, auth.aligned) == ("none", "pass", False)
    assert auth.dkim_domain == "bulk-mailer.example.net"
    assert not d.result.sender_unverified


def test_a_trusted_dmarc_fail_holds_mail_from_a_registered_address(tmp_path: Path) -> None:
    raw = received_by(report(), f"{OUR_SERVER}; spf=pass smtp.mailfrom=x@evil.example; dmarc=fail header.from={CITY}")
    d = derived(tmp_path, raw)
    assert (d.result.auth.verdict, d.result.auth.dmarc, d.result.auth.authserv_id) == ("fail", "fail", OUR_SERVER)
    assert d.result.sender_unverified and codes(d)[0] == "sender_unverified"
    assert "收件服务器 mx.163.com 的检查结果：DMARC fail，SPF pass" in d.problems[0].message_zh


def test_the_same_field_with_an_untrusted_id_changes_nothing(tmp_path: Path) -> None:
    d = derived(tmp_path, received_by(report(), f"mx.evil.example; dmarc=fail header.from={CITY}"))
    assert d.result.auth.verdict == "none" and not d.result.sender_unverified


def test_the_same_field_added_below_the_trusted_one_changes_nothing(tmp_path: Path) -> None:
    forged_below = received_by(report(), f"{OUR_SERVER}; dmarc=fail header.from={CITY}")
    d = derived(tmp_path, received_by(forged_below, f"{OUR_SERVER}; dmarc=pass header.from={CITY}"))
    assert d.result.auth.verdict == "pass" and not d.result.sender_unverified


def test_a_resolver_timeout_is_temperror_and_the_mail_is_handled_as_none(tmp_path: Path) -> None:
    class TimesOut(StaticTxt):
        def __call__(self, name: bytes, timeout: float = 5) -> bytes | None:
            raise DnsUnavailable("timed out")

    d = derived(tmp_path, signed(report(), signing_key(CITY)), TimesOut())
    assert (d.result.auth.dkim, d.result.auth.verdict) == ("temperror", "none")
    assert not d.result.sender_unverified and d.result.is_report


def test_a_key_no_longer_published_is_no_evidence_of_forgery(tmp_path: Path) -> None:
    d = derived(tmp_path, signed(report(), signing_key(CITY)), StaticTxt())
    assert (d.result.auth.dkim, d.result.auth.verdict) == ("permerror", "none")


def test_unsigned_mail_is_none_and_asks_no_resolver(tmp_path: Path) -> None:
    d = derived(tmp_path, report(), NoDns())  # NoDns would make any lookup a temperror
    assert (d.result.auth.dkim, d.result.auth.verdict) == ("none", "none") and not d.result.sender_unverified


def test_a_city_that_requires_auth_holds_its_unverified_mail(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    cities = [c.model_dump() | ({"require_auth": True} if c.name == "长沙市" else {}) for c in config.cities]
    d = derived(tmp_path, report(), cities=cities)
    assert d.result.auth.verdict == "none" and d.result.sender_unverified
    assert "require_auth" in d.problems[0].message_zh
    key = signing_key(CITY)
    assert not derived(tmp_path, signed(report(), key), published(key), cities=cities).result.sender_unverified


def test_a_failing_unregistered_sender_is_not_held_by_this_rule(tmp_path: Path) -> None:
    """It is already kept from replacing a registered version (and carries unregistered_sender)."""
    raw = received_by(report(sender="someone <x@other.example>", subject="长沙市进展情况"),
                      f"{OUR_SERVER}; dmarc=fail header.from=other.example")
    d = derived(tmp_path, raw)
    assert d.result.auth.verdict == "fail" and d.result.unregistered_sender and not d.result.sender_unverified


@pytest.mark.parametrize("signatures, trusted, verdict", [
    ((), NOTHING_TRUSTED, "none"),
    ((DkimSignature(CITY, "pass"),), TrustedResults("mx", dmarc="fail"), "pass"),  # our own check wins
    ((DkimSignature(CITY, "fail"), DkimSignature(CITY, "pass")), NOTHING_TRUSTED, "pass"),
    ((DkimSignature(CITY, "fail"),), NOTHING_TRUSTED, "fail"),
    ((DkimSignature("other.example", "fail"),), NOTHING_TRUSTED, "none"),
    ((), TrustedResults("mx", spf="fail"), "fail"),
    ((), TrustedResults("mx", spf="softfail"), "none"),
    ((), TrustedResults("mx", dmarc="pass"), "pass"),
    ((DkimSignature(CITY, "temperror"),), NOTHING_TRUSTED, "none"),
])
def test_the_verdict(signatures, trusted, verdict) -> None:
    assert sender_auth(f"changsha@{CITY}", signatures, trusted).verdict == verdict


def test_the_resolvers_cross_to_a_worker_process_pickled() -> None:
    for lookup in (DnsTxt(2.5), NoDns(), published(signing_key(CITY))):
        assert pickle.loads(pickle.dumps(lookup)) == lookup
