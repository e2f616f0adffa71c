"""App is the one place that picks implementations: the worker asks it for its sender, its IDLE
watcher and, after SIGHUP, for a mailbox with the settings read again."""
from __future__ import annotations

from pathlib import Path

from service.app import App, installed_converter
from service.clock import fixed_clock
from service.ingest.folder import FolderSource
from service.ingest.imap import ImapSource
from service.outgoing.transports import OutboxSender, SmtpSender
from tests.conftest import make_config

IMAP = {"kind": "imap", "host": "127.0.0.1", "port": 1, "security": "none", "user": "office@example.cn"}


def open_app(tmp_path: Path, **sections) -> App:
    config = make_config(tmp_path / "data", **sections)
    return App.open(config, fixed_clock("2022-02-10T12:00:00", config.tz))


def test_a_folder_mailbox_is_polled_never_watched_and_mail_goes_to_the_outbox(tmp_path):
    app = open_app(tmp_path)
    try:
        assert isinstance(app.source(), FolderSource) and app.mail_watcher() is None
        assert isinstance(app.sender, OutboxSender)
        assert app.converter == installed_converter()
    finally:
        app.close()


def test_an_imap_mailbox_is_watched_and_new_settings_reach_the_next_source(tmp_path):
    app = open_app(tmp_path, mailbox=IMAP)
    try:
        assert isinstance(app.source(), ImapSource) and isinstance(app.mail_watcher(), ImapSource)
        changed = app.config.mailbox.model_copy(update={"user": "new@example.cn"})
        app.use_mailbox(changed)
        assert app.config.mailbox == changed and app.config.limits == make_config(tmp_path / "data").limits
    finally:
        app.close()


def test_the_smtp_sender_waits_between_retries_as_it_is_told(tmp_path):
    waits: list[float] = []
    config = make_config(tmp_path / "data", smtp={"kind": "smtp", "host": "127.0.0.1"})
    app = App.open(config, fixed_clock("2022-02-10T12:00:00", config.tz), smtp_wait=waits.append)
    try:
        assert isinstance(app.sender, SmtpSender) and app.sender.sleep == waits.append
    finally:
        app.close()
