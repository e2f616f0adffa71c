"""App: the one place that picks implementations (mailbox, outbox, database) from the config."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .archive import Archive
from .clock import Clock
from .config import Config
from .store import Store, restrict_permissions


@dataclass
class App:
    config: Config
    clock: Clock
    store: Store
    archive: Archive

    @classmethod
    def open(cls, config: Config, clock: Clock) -> "App":
        data_dir = Path(config.data_dir)
        restrict_permissions(data_dir)
        return cls(config=config, clock=clock, store=Store.open(config.service.database_url),
                   archive=Archive(data_dir / "archive"))

    def close(self) -> None:
        self.store.close()
