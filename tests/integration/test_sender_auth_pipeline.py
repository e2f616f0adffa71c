"""Sender verification through the pipeline: the TXT lookup app.py picked reaches the derive workers
(pickled), a DNS failure is temperror (the mail handled as none, never a crash), and `reprocess`
asks again."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from service import jobs
from service.app import App
from service.clock import fixed_clock
from service.ingest import pipeline
from service.model import Fetched
from service.parse.txt_lookup import DnsUnavailable
from tests.auth_builders import published, signed, signing_key
from tests.builders import SHANGHAI, make_email, make_xlsx
from tests.conftest import make_config
from tests.table_builders import template_rows

KEY = signing_key("example.gov.cn")
AT = datetime(2022, 2, 7, 10, 0, tzinfo=SHANGHAI)


@dataclass(frozen=True)
class Unreachable:
    """A resolver whose every lookup times out (module level: it crosses to the workers pickled)."""

    def __call__(self, name: bytes, timeout: float = 5) -> bytes | None:
        raise DnsUnavailable("timed out")


def mail(n: int) -> Fetched:
    raw = make_email(subject="长沙市网上年货节活动总结", attachments=[("附件1.xlsx", make_xlsx(template_rows()))],
                     date=AT, message_id=f"<r{n}@example.gov.cn>")
    return Fetched(f"file:{n}.eml", signed(raw, KEY), AT)


def test_a_dns_failure_is_temperror_and_reprocess_asks_again(tmp_path) -> None:
    config = make_config(tmp_path / "data", service={"workers": 2})
    app = App.open(config, fixed_clock("2022-02-07T10:05", config.tz), txt_lookup=Unreachable())
    try:
        counts = jobs.ingest_all(app, [mail(n) for n in range(3)])  # a backlog: derived in the worker pool
        assert counts.reports == 3
        assert {(r.auth.dkim, r.auth.verdict, r.sender_unverified) for r in app.store.results()} == \
            {("temperror", "none", False)}
    finally:
        app.close()

    app = App.open(config, fixed_clock("2022-02-08T09:00", config.tz), txt_lookup=published(KEY))
    try:
        assert pipeline.reprocess(app) == 3
        assert {(r.auth.dkim, r.auth.dkim_domain, r.auth.verdict) for r in app.store.results()} == \
            {("pass", "example.gov.cn", "pass")}
    finally:
        app.close()
