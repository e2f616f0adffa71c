"""App: the one place that picks implementations (mailbox, outbox/SMTP, database) from the config."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .clock import Clock
from .config import Config
from .ingest.folder import FolderSource, Source
from .outgoing.calendar import WorkCalendar
from .outgoing.render import Renderer
from .outgoing.transports import OutboxSender, Sender, SmtpSender
from .store import Store, restrict_permissions
from .store.archive import Archive


@dataclass
class App:
    config: Config
    clock: Clock
    store: Store
    archive: Archive
    sender: Sender
    renderer: Renderer
    calendar: WorkCalendar

    @classmethod
    def open(cls, config: Config, clock: Clock, sender: Sender | None = None) -> "App":
        """Open the database and archive; templates are checked here so an error fails at start."""
        data_dir = Path(config.data_dir)
        restrict_permissions(data_dir)
        renderer = Renderer()
        renderer.check_templates()
        app = cls(config=config, clock=clock, store=Store.open(config.service.database_url),
                  archive=Archive(config.archive_dir), sender=sender,  # type: ignore[arg-type]
                  renderer=renderer, calendar=WorkCalendar(config.calendar))
        # the sender asks the app for the time, so a replaced (simulated) clock reaches it too
        app.sender = sender or make_sender(config, lambda: app.clock())
        return app

    def source(self) -> Source:
        """The configured mailbox: a local folder (embedded default) or IMAP."""
        if self.config.mailbox.kind == "imap":
            from .ingest.imap import (
                ImapSource,  # imported lazily: only IMAP deployments need it
            )
            return ImapSource(self.config.mailbox)
        return FolderSource(self.config.mailbox_folder)

    def close(self) -> None:
        self.store.close()


def make_sender(config: Config, clock: Clock) -> Sender:
    if config.smtp.kind == "smtp":
        return SmtpSender(config.smtp, clock)
    return OutboxSender(config.outbox_folder, config.smtp, clock)
