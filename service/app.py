"""App: the one place that picks implementations (mailbox, outbox/SMTP, database, document converter,
DKIM key lookup) from the config and what is installed; the shell's commands and the worker use what it picked."""
from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Protocol

from .clock import Clock
from .config import Config, MailboxSection
from .extract.convert import (
    Antiword,
    Converter,
    FirstHandling,
    LibreOffice,
    NoConverter,
)
from .ingest.folder import FolderSource, Source
from .outgoing.calendar import WorkCalendar
from .outgoing.render import Renderer
from .outgoing.transports import OutboxSender, Sender, SmtpSender
from .parse.txt_lookup import DnsTxt, TxtLookup
from .store import Store, restrict_permissions
from .store.archive import Archive


class MailWatcher(Protocol):
    """Waits for new mail between polls (IMAP IDLE)."""

    def wait_for_new_mail(self, timeout_s: float) -> bool: ...
    def close(self) -> None: ...


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
    txt_lookup: TxtLookup

    @classmethod
    def open(cls, config: Config, clock: Clock, sender: Sender | None = None, *,
             smtp_wait: Callable[[float], None] | None = None, converter: Converter | None = None,
             txt_lookup: TxtLookup | None = None) -> "App":
        """Open the database and archive; templates are checked here so an error fails at start.

        smtp_wait: how the SMTP sender waits between retries (the worker's ends early when stopping);
        converter: reads legacy documents (default: what is installed, see installed_converter);
        txt_lookup: finds DKIM keys (default: DNS, `mailbox.dns_timeout` seconds a lookup).
        """
        data_dir = Path(config.data_dir)
        restrict_permissions(data_dir)
        renderer = Renderer()
        renderer.check_templates()
        app = cls(config=config, clock=clock, store=Store.open(config.service.database_url),
                  archive=Archive(config.archive_dir), sender=sender,  # type: ignore[arg-type]
                  renderer=renderer, calendar=WorkCalendar(config.calendar),
                  converter=converter or installed_converter(),
                  txt_lookup=txt_lookup or DnsTxt(config.mailbox.dns_timeout))
        # the sender asks the app for the time, so a replaced (simulated) clock reaches it too
        app.sender = sender or make_sender(config, lambda: app.clock(), smtp_wait)
        return app

    def source(self) -> Source:
        """The configured mailbox: a local folder (embedded default) or IMAP."""
        if self.config.mailbox.kind == "imap":
            from .ingest.imap import (
                ImapSource,  # imported lazily: only IMAP deployments need it
            )
            return ImapSource(self.config.mailbox)
        return FolderSource(self.config.mailbox_folder)

    def mail_watcher(self) -> MailWatcher | None:
        """What waits for new mail in IMAP IDLE; None for a folder mailbox (it is polled)."""
        if self.config.mailbox.kind != "imap":
            return None
        from .ingest.imap import ImapSource  # only IMAP deployments need it
        return ImapSource(self.config.mailbox)

    def use_mailbox(self, mailbox: MailboxSection) -> None:
        """Mailbox settings read again (SIGHUP): the next source and watcher log in with them."""
        self.config = self.config.model_copy(update={"mailbox": mailbox})

    def close(self) -> None:
        self.store.close()


def make_sender(config: Config, clock: Clock, smtp_wait: Callable[[float], None] | None = None) -> Sender:
    """SMTP when configured, else the outbox folder (the embedded default and the test sink)."""
    if config.smtp.kind == "smtp":
        waits: dict[str, Any] = {"sleep": smtp_wait} if smtp_wait else {}
        return SmtpSender(config.smtp, clock, **waits)
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
