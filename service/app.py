"""App: the one place that picks implementations (mailbox, outbox/SMTP, database, document converter)
from the config and what is installed; the shell's commands and the worker use what it picked."""
from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .clock import Clock
from .config import Config
from .extract.convert import Antiword, Converter, FirstHandling, LibreOffice, NoConverter
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
    converter: Converter

    @classmethod
    def open(cls, config: Config, clock: Clock, sender: Sender | None = None, *,
             converter: Converter | None = None) -> "App":
        """Open the database and archive; templates are checked here so an error fails at start.

        converter: reads legacy documents (default: what is installed, see installed_converter).
        """
        data_dir = Path(config.data_dir)
        restrict_permissions(data_dir)
        renderer = Renderer()
        renderer.check_templates()
        app = cls(config=config, clock=clock, store=Store.open(config.service.database_url),
                  archive=Archive(config.archive_dir), sender=sender,  # type: ignore[arg-type]
                  renderer=renderer, calendar=WorkCalendar(config.calendar),
                  converter=converter or installed_converter())
        # the sender asks the app for the time, so a replaced (simulated) clock reaches it too
        app.sender = sender or make_sender(config, lambda: app.clock())
        return app

    def source(self) -> Source:
        """The configured mailbox: a local folder (embedded default) or IMAP."""
        if self.config.mailbox.kind == "imap":
            from .ingest.imap import ImapSource  # imported lazily: only IMAP deployments need it
            return ImapSource(self.config.mailbox)
        return FolderSource(self.config.mailbox_folder)

    def close(self) -> None:
        self.store.close()


def make_sender(config: Config, clock: Clock) -> Sender:
    if config.smtp.kind == "smtp":
        return SmtpSender(config.smtp, clock)
    return OutboxSender(config.outbox_folder, config.smtp, clock)


def installed_converter(which: Callable[[str], str | None] = shutil.which) -> Converter:
    """The document converters found on PATH: antiword reads .doc first, LibreOffice the rest (and
    .doc when antiword is missing); with neither, NoConverter (legacy files become problems)."""
    found: list[Converter] = []
    if antiword := which("antiword"):
        found.append(Antiword(antiword))
    if office := which("soffice") or which("libreoffice"):
        found.append(LibreOffice(office))
    if not found:
        return NoConverter()
    return found[0] if len(found) == 1 else FirstHandling(tuple(found))
