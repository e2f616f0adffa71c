"""Command line: argv -> config + clock -> one call per command. Only this module prints or exits."""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Callable, Iterable, Sequence

from . import pipeline
from .app import App
from .clock import Clock, fixed_clock, system_clock
from .config import Config, load_config
from .errors import ServiceError
from .fetch import FolderSource, fetch_files, mail_files
from .model import Fetched
from .status import load_states, status_json, status_table
from .summary import COLUMNS, latest_deadline_with_rows, summary_rows
from .workbook import csv_bytes, table_workbook_bytes, write_atomically

log = logging.getLogger(__name__)


def _progress(total: int) -> Callable[[int], None]:
    """A one-line progress bar on stderr when there is enough to wait for."""
    show = total >= 20 and sys.stderr.isatty()

    def update(done: int) -> None:
        if show:
            filled = int(30 * done / total)
            sys.stderr.write(f"\r[{'#' * filled}{'.' * (30 - filled)}] {done}/{total}")
            if done == total:
                sys.stderr.write("\n")
            sys.stderr.flush()
    return update


def _ingest_all(app: App, items: Iterable[Fetched], total: int) -> dict[str, int]:
    counts = {"new": 0, "already": 0, "reports": 0, "problems": 0}
    update = _progress(total)
    for done, fetched in enumerate(items, start=1):
        outcome = pipeline.ingest(app, fetched)
        counts["new" if outcome.is_new else "already"] += 1
        counts["reports"] += int(outcome.is_report)
        counts["problems"] += int(bool(outcome.problems))
        update(done)
    return counts


def cmd_import(app: App, args: argparse.Namespace) -> int:
    paths = [Path(p) for p in args.paths]
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise ServiceError(f"not found: {', '.join(missing)}")
    total = sum(1 for _ in mail_files(paths))
    counts = _ingest_all(app, fetch_files(paths), total)
    print(f"导入 {total} 封：新邮件 {counts['new']}，已存在 {counts['already']}，"
          f"计为报送 {counts['reports']}，有问题 {counts['problems']}")
    return 0


def cmd_poll(app: App, args: argparse.Namespace) -> int:
    source = FolderSource(app.config.mailbox_folder)
    counts = _ingest_all(app, source.fetch_new(app.store), 0)
    app.store.set_health("poll_ok", "folder", app.clock())
    print(f"收取新邮件 {counts['new']} 封（计为报送 {counts['reports']}，有问题 {counts['problems']}）")
    return 0


def cmd_status(app: App, args: argparse.Namespace) -> int:
    now = app.clock()
    states = load_states(app.store, app.config, now)
    print(status_json(app.config, states, now) if args.json else status_table(app.config, states, now))
    return 0


def cmd_compile(app: App, args: argparse.Namespace) -> int:
    now, config = app.clock(), app.config
    states = load_states(app.store, config, now)
    deadline = args.deadline or latest_deadline_with_rows(config, states)
    config.deadline(deadline)  # unknown id -> KeyError below
    results = {r["message_id"]: r for r in app.store.results()}
    counted = {s.message_id for s in states if s.deadline == deadline and s.message_id}
    ids = {results[m]["message"]: m for m in counted if m in results}
    rows_by_mid: dict[str, list[dict]] = {}
    for r in app.store.rows(ids):
        rows_by_mid.setdefault(ids[r["message"]], []).append(r)
    received = {m: results[m]["received_at"] for m in counted if m in results}
    table = summary_rows(config, states, deadline, rows_by_mid, received)
    title = f"“{config.campaign.name}”重点活动统计表"
    out = Path(args.out)
    if out.suffix.lower() == ".csv":
        write_atomically(out, csv_bytes(COLUMNS, table))
    else:
        write_atomically(out, table_workbook_bytes(title, COLUMNS, table))
    print(f"已生成 {out}：{config.deadline(deadline).title}，{len(table)} 行")
    return 0


def cmd_reprocess(app: App, args: argparse.Namespace) -> int:
    count = pipeline.reprocess(app)
    print(f"已从存档重新处理 {count} 封邮件")
    return 0


def cmd_messages(app: App, args: argparse.Namespace) -> int:
    results = app.store.results()
    problems: dict[int, list[dict]] = {}
    for p in app.store.problems():
        problems.setdefault(p["message"], []).append(p)
    docs = [{
        "id": r["message"], "message_id": r["message_id"], "sender": r["sender"], "subject": r["subject"],
        "received_at": r["received_at"].astimezone(app.config.tz).isoformat(),
        "city": r["city"], "deadline": r["deadline"], "is_report": r["is_report"],
        "city_source": r["city_source"], "unregistered_sender": r["unregistered_sender"],
        "attachments": json.loads(r["attachments"]),
        "problems": [{k: p[k] for k in ("code", "message_zh", "file", "row")} for p in problems.get(r["message"], [])],
    } for r in results]
    if args.json:
        print(json.dumps(docs, ensure_ascii=False, indent=2))
        return 0
    for d in docs:
        flag = "报送" if d["is_report"] else "—"
        print(f"#{d['id']} {d['received_at'][:16]} {d['city'] or '未归属'} {d['deadline'] or ''} {flag} "
              f"{d['sender']} 《{d['subject']}》")
        for p in d["problems"]:
            where = f" [{p['file']}{' 第%s行' % p['row'] if p['row'] else ''}]" if p["file"] else ""
            print(f"    ! {p['message_zh']}{where}")
    return 0


COMMANDS: dict[str, tuple[Callable[[App, argparse.Namespace], int], str]] = {
    "import": (cmd_import, "导入 .eml 文件、文件夹或 Maildir (import .eml files, folders, Maildirs)"),
    "poll": (cmd_poll, "收取邮箱中的新邮件 (fetch new mail from the configured mailbox)"),
    "status": (cmd_status, "各市州报送情况 (who reported, per city and deadline)"),
    "compile": (cmd_compile, "生成汇总表 (write the consolidated workbook)"),
    "reprocess": (cmd_reprocess, "从存档重新处理全部邮件 (rebuild everything from the archive)"),
    "messages": (cmd_messages, "已收邮件及其归属和问题 (ingested mail, attribution, problems)"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="service", description="报送邮件自动收集服务 (report mail service)")
    parser.add_argument("--config", help="TOML config (default: $SERVICE_CONFIG or config/service.toml)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every step")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--now", help="act as if it were this moment (ISO, local time if no offset)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands = {name: sub.add_parser(name, parents=[common], help=text, description=text)
                for name, (_, text) in COMMANDS.items()}
    commands["import"].add_argument("paths", nargs="+", help=".eml files, folders or Maildirs")
    commands["poll"].add_argument("--once", action="store_true", help="one poll, then exit (for cron)")
    commands["status"].add_argument("--json", action="store_true", help="machine-readable output")
    commands["compile"].add_argument("--deadline", help="deadline id (default: latest with tables)")
    commands["compile"].add_argument("--out", required=True, help="FILE.xlsx (or .csv)")
    commands["messages"].add_argument("--json", action="store_true", help="machine-readable output")
    return parser


def make_clock(config: Config, now: str | None) -> Clock:
    return fixed_clock(now, config.tz) if now else system_clock(config.tz)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        config = load_config(args.config)
        app = App.open(config, make_clock(config, args.now))
    except (ServiceError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    try:
        handler, _ = COMMANDS[args.command]
        return handler(app, args)
    except (ServiceError, KeyError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    finally:
        app.close()


if __name__ == "__main__":
    sys.exit(main())
