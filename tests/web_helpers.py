"""A workbench over a season of mail, for the web tests: the e2e campaign's mail plus one hostile
message, two users (editor `ann`, viewer `vic`), and a uvicorn server on a loopback port."""
from __future__ import annotations

import re
import socket
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from service import jobs
from service.app import App
from service.clock import fixed_clock, system_clock
from service.ingest.folder import fetch_files
from service.web import make_web_app
from service.web.auth import hash_password
from tests.builders import make_email
from tests.conftest import make_config
from tests.e2e.test_campaign_import import at, campaign_mail, table

NOW = "2022-02-10T12:00"
PASSWORDS = {"ann": "ann-password-1", "vic": "vic-password-1"}
HOSTILE_SUBJECT = "<img src=x onerror=alert(1)>"
ATTACHMENT_NAME = "附件1：统计表 (终稿).xlsx"


def hostile_mail() -> bytes:
    """Markup in the subject and the body: both must show as text (a filename's markup is cut by
    the parser's unsafe_filename rule before any page sees it)."""
    return make_email(subject=HOSTILE_SUBJECT, sender='"<b>x</b>" <stranger@example.com>',
                      body="<script>alert(2)</script> 请查收", attachments=[(ATTACHMENT_NAME, table())],
                      received=at("2022-02-06T10:00"), message_id="<hostile@example.com>")


def season_app(tmp_path: Path, database_url: str, now: str = NOW) -> App:
    """An App on `database_url` with the season's mail ingested and the two users added."""
    config = make_config(tmp_path / "data")
    config = config.model_copy(update={"service": config.service.model_copy(update={"database_url": database_url})})
    mail = tmp_path / "mail"
    mail.mkdir(exist_ok=True)
    for name, raw in {**campaign_mail(), "99_hostile.eml": hostile_mail()}.items():
        (mail / name).write_bytes(raw)
    app = App.open(config, fixed_clock(now, config.tz))
    jobs.ingest_all(app, fetch_files([mail], []))
    for name, role in (("ann", "editor"), ("vic", "viewer")):
        app.store.add_user(name, role, hash_password(PASSWORDS[name]), app.clock())
    return app


def message_number(app: App, subject: str) -> int:
    return next(r.message for r in app.store.results() if r.subject == subject)


def csrf_of(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def served(app: App) -> Iterator[str]:
    """The workbench served by uvicorn in a thread on a free loopback port; yields its base URL."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(make_web_app(app, system_clock(app.config.tz)), host="127.0.0.1",
                                           port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
