"""Shared fixtures: a config on a temporary data_dir, a fixed clock, an App on a SQLite file."""
from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from service.app import App
from service.clock import fixed_clock
from service.config import Config, config_from_dict

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_TOML = ROOT / "config" / "service.toml"


def config_data() -> dict:
    return tomllib.loads(DEFAULT_TOML.read_text(encoding="utf-8"))


def make_config(data_dir: Path, **sections: dict) -> Config:
    """The shipped 2022 config on data_dir, with sections overridden (e.g. reminders={...})."""
    data = config_data()
    data["service"] = {**data["service"], "data_dir": str(data_dir),
                       "database_url": f"sqlite:///{data_dir / 'service.db'}"}
    for name, values in sections.items():
        data[name] = {**data.get(name, {}), **values} if isinstance(values, dict) else values
    return config_from_dict(data, environ={})


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return make_config(tmp_path / "data")


@pytest.fixture
def app(config: Config):
    instance = App.open(config, fixed_clock("2022-02-10T12:00:00", config.tz))
    yield instance
    instance.close()
