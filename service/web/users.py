"""`user add|list|disable|passwd`: the workbench's accounts from the command line (shell).

Input: argv and a password (prompted twice, or one line from stdin with --password-stdin);
output: a row in the users table, never the password.
"""
from __future__ import annotations

import argparse
import getpass
import sys

from ..app import App
from ..store.accounts import DuplicateUser
from .auth import hash_password, password_problem


def cmd_user(app: App, args: argparse.Namespace) -> int:
    """One account action; a wrong argument is one line on stderr and exit 2."""
    now = app.clock()
    if args.action == "list":
        accounts = app.store.users()
        for u in accounts:
            state = "已停用" if u.disabled else "可用"
            print(f"{u.name}\t{u.role}\t{state}\t创建 {u.created_at.astimezone(app.config.tz):%Y-%m-%d %H:%M}")
        if not accounts:
            print("尚无用户：python -m service user add NAME --role editor")
        return 0
    name = (args.name or "").strip()
    if not name:
        return _refused("请给出用户名")
    if args.action == "disable":
        if not app.store.update_user(name, now, disabled=True):
            return _refused(f"没有用户 {name}")
        print(f"已停用用户 {name}（其登录会话已结束）")
        return 0
    if args.action == "passwd" and app.store.user(name) is None:
        return _refused(f"没有用户 {name}")
    password = read_password(args.password_stdin)
    if problem := password_problem(password):
        return _refused(problem)
    if args.action == "passwd":
        app.store.update_user(name, now, password_hash=hash_password(password))
        print(f"已更改用户 {name} 的密码（其登录会话已结束）")
        return 0
    try:
        app.store.add_user(name, args.role, hash_password(password), now)
    except DuplicateUser:
        return _refused(f"用户 {name} 已存在（改密码用 user passwd）")
    print(f"已添加用户 {name}（{args.role}）")
    return 0


def read_password(from_stdin: bool) -> str:
    """One line from stdin (scripts), else prompted twice without echo."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("密码: ")
    if getpass.getpass("再输入一次: ") != first:
        raise SystemExit(_refused("两次输入的密码不一致"))
    return first


def _refused(text: str) -> int:
    print(f"错误：{text}", file=sys.stderr)
    return 2

