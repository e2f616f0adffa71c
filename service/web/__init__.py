"""The office's web workbench (shell): pages over the same store as the worker, accounts, downloads.

`make_web_app` builds the ASGI app over an open App; `cmd_web` serves it (`python -m service web`);
`cmd_user` manages the accounts (`python -m service user ...`).
"""
from __future__ import annotations

import argparse

from ..app import App
from ..clock import system_clock
from .server import make_web_app, serve
from .users import cmd_user

__all__ = ["cmd_user", "cmd_web", "make_web_app"]


def cmd_web(app: App, args: argparse.Namespace) -> int:
    """Serve the workbench until SIGTERM/SIGINT; sessions expire by the real clock even under --now."""
    if not app.store.users():
        print("提示：尚无用户，请先运行 python -m service user add NAME --role editor")
    serve(app.config, app, system_clock(app.config.tz), args.host, args.port)
    return 0

