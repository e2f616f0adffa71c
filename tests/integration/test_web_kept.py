"""A web process keeps the store's snapshot and the figure charts between requests (store/kept.py,
web/figures.py): after new mail, a decision from the CLI and derived records rewritten (a reprocess that
changes figures), its pages are those a freshly started web process shows, on SQLite and PostgreSQL."""
from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Iterator

import pytest

from service import jobs
from service.app import App
from service.ingest.folder import fetch_files
from service.model import MessageResult
from tests.builders import make_email
from tests.e2e.test_campaign_import import at, table
from tests.integration.conftest import database_url, postgres_server  # noqa: F401 - fixtures
from tests.integration.test_web import cli, logged_in, season  # noqa: F401 - fixture
from tests.web_helpers import message_number

PAGES = ("/", "/cities/长沙市", "/problems", "/decisions", "/api/status")


def shown(c, path: str) -> str:
    """A page without its session's CSRF token (the only thing two sessions' pages differ in)."""
    return re.sub(r'name="csrf_token" value="[^"]+"', "", c.get(path).text)


def same_as_fresh(kept, app: App) -> None:
    fresh = logged_in(app)
    for path in PAGES:
        assert shown(kept, path) == shown(fresh, path), path


def more_figures(app: App) -> int:
    """Derive the latest report with rows again with every participants figure one more (as a reprocess
    after a reader changed would); returns its number."""
    snapshot = app.store.snapshot()
    latest = max((r for r in snapshot.results if snapshot.row_counts.get(r.message)), key=lambda r: r.received_at)
    result = MessageResult(**{f.name: getattr(latest, f.name) for f in dataclasses.fields(MessageResult)})
    rows = [r._replace(figures=dict(r.figures, participants=r.figures.get("participants", 0) + 1))
            for r in app.store.rows([latest.message])[latest.message]]
    app.store.replace_results([(latest.message, result, app.store.problems([latest.message]).get(latest.message, ()),
                                rows)])
    return latest.message


def test_a_kept_web_process_shows_what_a_fresh_one_does_after_every_kind_of_change(season: App, capsys,
                                                                                      tmp_path: Path) -> None:
    kept = logged_in(season)
    same_as_fresh(kept, season)
    mail = tmp_path / "later"
    mail.mkdir()
    (mail / "late.eml").write_bytes(make_email(
        subject="长沙市网上年货节活动总结（更正）", sender="长沙市商务局 <changsha@example.gov.cn>",
        attachments=[("附件1.xlsx", table())], received=at("2022-02-08T10:00"), message_id="<late@example.com>"))
    jobs.ingest_all(season, fetch_files([mail], []))  # new mail, recorded through the App's own store
    same_as_fresh(kept, season)
    cli(capsys, "ignore", str(message_number(season, "长沙市网上年货节活动总结（更正）")))  # another App: the CLI
    same_as_fresh(kept, season)
    before = kept.get("/").text
    more_figures(season)
    assert kept.get("/").text != before  # the figure charts moved
    same_as_fresh(kept, season)
