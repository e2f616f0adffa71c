"""The demo's sample mail and days follow the config: examples/<config name>/mail, else the shipped
samples, or --mail DIR; from two days before the first delivery or reminder to the day after the last."""
from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from service.demo import EXAMPLES, demo_days, load_samples, sample_folder
from service.errors import ConfigError
from tests.conftest import make_config

ROOT = Path(__file__).resolve().parents[2]


def test_the_sample_folder_is_named_after_the_config_file():
    assert sample_folder(ROOT / "config" / "examples" / "nianhuo2027.toml") == ROOT / "examples" / "nianhuo2027" / "mail"
    assert sample_folder(ROOT / "config" / "service.toml") == EXAMPLES
    assert sample_folder(None) == EXAMPLES


def test_a_config_without_its_own_samples_replays_the_bundled_ones_or_mail_dir(tmp_path):
    # an office's production.toml replays the 2022 samples as the demo always did
    assert sample_folder(tmp_path / "production.toml") == EXAMPLES
    assert sample_folder(tmp_path / "nianhuo2031.toml", tmp_path) == tmp_path
    with pytest.raises(ConfigError, match="not a folder"):
        sample_folder(None, tmp_path / "missing")


def test_the_2022_demo_keeps_its_days(tmp_path):
    assert demo_days(make_config(tmp_path), load_samples(EXAMPLES)) == (date(2021, 12, 20), date(2022, 2, 9))
