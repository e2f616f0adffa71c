"""Where the shipped files are: the letters' templates, the 2022 campaign config, the demo's mail.

A wheel carries them inside the package (service/_data/, mapped at build time by setup.py); a
source checkout (PYTHONPATH or `pip install -e`) reads the top-level folders beside the package.
"""
from __future__ import annotations

from importlib.resources import files
from pathlib import Path

SOURCE_ROOT = Path(__file__).resolve().parent.parent
_IN_SOURCE_TREE = {"templates": "templates", "config": "config", "mail": "examples/mail"}


def shipped_folder(name: str) -> Path:
    """The folder of shipped files called `name` ("templates", "config" or "mail")."""
    packaged = Path(str(files("service") / "_data" / name))
    return packaged if packaged.is_dir() else SOURCE_ROOT / _IN_SOURCE_TREE[name]


def shipped_config() -> Path:
    """The 2022 campaign's service.toml as shipped."""
    return shipped_folder("config") / "service.toml"
