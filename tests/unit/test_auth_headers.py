"""Which Authentication-Results count: only the topmost one our receiving server added (a sender can
write any header field, ours included, further down)."""
from __future__ import annotations

import pytest

from service.parse.auth_headers import (
    NOTHING_TRUSTED,
    TrustedResults,
    authserv_ids,
    header_fields,
    organisational_domain,
    trusted_results,
)

OURS = ("mx.163.com",)
OUR_HOP = ("received", "from mail.city.gov.cn (unknown [203.0.113.7]) by mx.163.com (Coremail) with SMTP id r1")
SENDER_HOP = ("received", "from [10.0.0.5] by mail.city.gov.cn with ESMTPA; Mon, 3 Jan 2022 09:59:00 +0800")


def ar(value: str) -> tuple[str, str]:
    return ("authentication-results", value)


def test_nothing_is_trusted_until_the_office_names_its_server() -> None:
    fields = [OUR_HOP, ar("mx.163.com; dmarc=pass header.from=city.gov.cn")]
    assert trusted_results(fields, ()) == NOTHING_TRUSTED


def test_our_servers_results_are_read_below_its_own_received_field() -> None:
    fields = [OUR_HOP, ar("mx.163.com; spf=pass smtp.mailfrom=a@city.gov.cn; dkim=pass header.d=city.gov.cn;"
                          " dmarc=fail (p=none) header.from=city.gov.cn"), SENDER_HOP]
    assert trusted_results(fields, OURS) == TrustedResults("mx.163.com", "pass", "pass", "fail")


def test_a_field_with_an_id_we_do_not_trust_changes_nothing() -> None:
    fields = [OUR_HOP, ar("mx.evil.example; dmarc=pass header.from=city.gov.cn")]
    assert trusted_results(fields, OURS) == NOTHING_TRUSTED


def test_our_id_below_the_senders_own_received_field_is_a_forgery_and_ignored() -> None:
    fields = [OUR_HOP, SENDER_HOP, ar("mx.163.com; dmarc=pass header.from=city.gov.cn")]
    assert trusted_results(fields, OURS) == NOTHING_TRUSTED


def test_only_the_topmost_field_with_our_id_counts() -> None:
    """A forger sending straight to our server writes no Received of their own: their copy of our
    field lies below the one our server prepended."""
    fields = [OUR_HOP, ar("mx.163.com; dmarc=fail header.from=city.gov.cn"),
              ar("mx.163.com; dmarc=pass header.from=city.gov.cn")]
    assert trusted_results(fields, OURS).dmarc == "fail"


def test_internal_hops_of_our_server_and_unnamed_hosts_do_not_end_the_trusted_block() -> None:
    fields = [("received", "from mx.163.com by imap17.163.com with LMTP"),
              ("received", "by 2002:a05:6a10::1 with SMTP"), OUR_HOP,
              ar("163.com; dmarc=fail header.from=city.gov.cn"), SENDER_HOP]
    assert trusted_results(fields, ("163.com",)).dmarc == "fail"


def test_a_received_field_naming_no_server_ends_the_trusted_block() -> None:
    fields = [("received", "from somewhere; Mon, 3 Jan 2022"), ar("mx.163.com; dmarc=pass")]
    assert trusted_results(fields, OURS) == NOTHING_TRUSTED


def test_received_spf_counts_only_beside_a_trusted_field_and_theirs_yields_to_its_spf() -> None:
    spf_fail = ("received-spf", "fail (mx.163.com: domain of city.gov.cn does not designate 203.0.113.7)")
    assert trusted_results([OUR_HOP, spf_fail, SENDER_HOP], OURS) == NOTHING_TRUSTED
    beside = trusted_results([OUR_HOP, spf_fail, ar("mx.163.com; dkim=none"), SENDER_HOP], OURS)
    assert (beside.spf, beside.dkim) == ("fail", "none")
    own = trusted_results([OUR_HOP, spf_fail, ar("mx.163.com; spf=pass smtp.mailfrom=a@city.gov.cn")], OURS)
    assert own.spf == "pass"


@pytest.mark.parametrize("value", ["garbage without a semicolon", "", "mx.163.com; spf"])
def test_an_unreadable_field_is_no_evidence(value: str) -> None:
    assert trusted_results([OUR_HOP, ar(value)], OURS) == NOTHING_TRUSTED


def test_header_fields_are_read_in_order_and_unfolded_from_raw_bytes() -> None:
    raw = (b"Received: from a by mx.163.com;\r\n\tMon, 3 Jan 2022\r\nAuthentication-Results: mx.163.com;\r\n"
           b"\tdmarc=fail header.from=city.gov.cn\r\nFrom: a@city.gov.cn\r\n\r\n"
           b"Authentication-Results: x; dmarc=pass\r\n")
    fields = header_fields(raw)
    assert [name for name, _ in fields] == ["received", "authentication-results", "from"]
    assert fields[1][1] == "mx.163.com; dmarc=fail header.from=city.gov.cn"
    assert authserv_ids(fields) == ["mx.163.com"]


@pytest.mark.parametrize("domain, organisational", [
    ("mail.changsha.gov.cn", "changsha.gov.cn"), ("changsha.gov.cn", "changsha.gov.cn"),
    ("m.163.com", "163.com"), ("gov.cn", "gov.cn"), ("Mail.Example.COM.", "example.com")])
def test_the_organisational_domain_is_the_name_registered_under_the_public_suffix(domain, organisational) -> None:
    assert organisational_domain(domain) == organisational
