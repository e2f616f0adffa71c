"""Command line: argv -> config + clock -> one call per command. Only this module prints or exits."""
from __future__ import annotations

import argparse
import errno
import json
import logging
import os
import sys
from collections import Counter
from datetime import date, datetime, timedelta
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Callable, Sequence

from . import check_config, corrections, jobs
from .app import App
from .clock import Clock, fixed_clock, parse_instant, system_clock
from .config import DEFAULT_CONFIG, Config, load_config
from .decide.decisions import corrected, problem_is_open
from .decide.status import registered_at, states_at, status_json, status_table
from .demo import (
    demo_config,
    demo_days,
    load_samples,
    prepare_demo_folder,
    run_demo,
    sample_folder,
)
from .errors import ServiceError
from .health import health_problems, health_values
from .ingest import pipeline
from .ingest.folder import Unreadable, fetch_files, file_kind, mail_files
from .model import SenderAuth
from .report.summary import summary_at
from .report.workbook import export_bytes, write_atomically
from .store import Store, database_error
from .store.accounts import ROLES
from .store.migrations import ensure_schema
from .text import escaped

log = logging.getLogger(__name__)
DEMO_DIR = "var/demo"


def _progress(total: int | None) -> Callable[[int], None]:
    """A one-line progress bar on stderr when there is enough to wait for (a counter if total is unknown)."""
    show = (total is None or total >= 20) and sys.stderr.isatty()

    def update(done: int) -> None:
        if show and total is None:
            sys.stderr.write(f"\r已收取并处理 {done} 封…")
            sys.stderr.flush()
        elif show:
            filled = int(30 * done / total)
            sys.stderr.write(f"\r[{'#' * filled}{'.' * (30 - filled)}] {done}/{total}")
            if done == total:
                sys.stderr.write("\n")
            sys.stderr.flush()
    return update


# --now years the service can compute with (a day after, a deadline ahead) and a campaign may use
NOW_YEARS = range(1970, 3000)


def instant_arg(text: str) -> str:
    """--now checked when the command line is read: an ISO date/time in NOW_YEARS (else argparse's error)."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError as err:
        raise argparse.ArgumentTypeError(
            f"不是有效的日期时间 (not a valid ISO date/time, e.g. 2022-01-05T09:00): {text!r}") from err
    if value.year not in NOW_YEARS:
        raise argparse.ArgumentTypeError(f"年份超出范围 (year out of range {NOW_YEARS.start}-{NOW_YEARS.stop - 1}):"
                                         f" {text!r}")
    return text


def import_paths(names: Sequence[str]) -> list[Path]:
    """The paths named for `import`, checked before anything is read: missing paths and FIFOs or
    devices (reading /dev/zero or a pipe never ends) are refused."""
    paths = [Path(p) for p in names]
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise ServiceError(f"not found: {', '.join(missing)}")
    for path in paths:
        kind = None if path.is_dir() else file_kind(path.stat().st_mode)
        if kind is not None:
            raise ServiceError(f"拒绝读取 {path}：不是邮件文件或文件夹，而是{kind} (refused: not a regular file)")
    return paths


def cmd_import(app: App, args: argparse.Namespace) -> int:
    paths = import_paths(args.paths)
    total = sum(1 for _ in mail_files(paths))
    skipped: list[Unreadable] = []
    counts = jobs.ingest_all(app, fetch_files(paths, skipped), _progress(total))
    _report_skipped(skipped)
    print(f"导入 {total} 封：新邮件 {counts.new}，已存在 {counts.already}，"
          f"计为报送 {counts.reports}，有问题 {counts.problems}，发出回执 {counts.receipts}"
          + (f"，无法读取已跳过 {len(skipped)}" if skipped else ""))
    return 0


def _report_skipped(skipped: Sequence[Unreadable]) -> None:
    for item in skipped:
        print(f"跳过无法读取的文件 (skipped unreadable file): {item.path}: {item.reason}", file=sys.stderr)


def cmd_poll(app: App, args: argparse.Namespace) -> int:
    counts = jobs.poll(app, _progress(None))
    if counts.new and sys.stderr.isatty():
        sys.stderr.write("\n")
    _report_skipped(counts.unreadable)
    print(f"收取新邮件 {counts.new} 封（计为报送 {counts.reports}，有问题 {counts.problems}，"
          f"发出回执 {counts.receipts}{f'，无法读取已跳过 {len(counts.unreadable)}' if counts.unreadable else ''}）")
    return 0


REPLAY_TOLERANCE = timedelta(minutes=5)  # clocks drift; a --now this far ahead of real time is a mistake


def future_now_problem(now: datetime, real_now: datetime) -> str:
    """Why a real (not --dry-run) `remind` at `now` is refused without --replay; "" when it may run.

    Every reminder scheduled before `now` would go out or be marked missed for good, so a --now in
    the future of the real clock (a typo, a rehearsal on the live database) cannot be undone."""
    if now <= real_now + REPLAY_TOLERANCE:
        return ""
    return (f"--now {now.isoformat(timespec='minutes')} is {_hours(now - real_now)} ahead of the real time "
            f"{real_now.isoformat(timespec='minutes')}: every reminder due before it would be sent or marked "
            f"missed for good. Look with --dry-run, or add --replay to replay on purpose")


def _hours(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours:.1f} h" if hours < 48 else f"{hours / 24:.0f} days"


def cmd_remind(app: App, args: argparse.Namespace) -> int:
    real_now = system_clock(app.config.tz)()
    if not args.dry_run and not args.replay and (problem := future_now_problem(app.clock(), real_now)):
        print(f"error: {problem}", file=sys.stderr)
        return 2
    if not args.dry_run:
        _poll_before_remind(app)
        app.store.set_health("remind_replay" if args.replay else "remind_run",
                             app.clock().isoformat(timespec="seconds"), real_now)  # at: the wall clock
    run = jobs.remind(app, dry_run=args.dry_run)
    if args.json:
        print(json.dumps([{"city": o.city, "deadline": o.deadline, "kind": o.kind, "to": list(o.to)}
                          for o in run.due], ensure_ascii=False, indent=2))
    else:
        _print_remind(run, args.dry_run, args.verbose)
    if run.held:
        print(f"催报提醒暂缓发出 (reminders held, {len(run.due)} due): {run.held}", file=sys.stderr)
    if run.stopped:
        print(f"发送中止 (sending stopped): {run.stopped}; {len(run.left)} 封留待下次运行 "
              f"(left due for the next run)", file=sys.stderr)
    elif run.left and not run.held and not args.dry_run:
        print(f"{len(run.left)} 封未能发出，下次运行时重发 (not sent, due again at the next run)", file=sys.stderr)
    return 1 if (run.held or run.left) and not args.dry_run else 0


def _poll_before_remind(app: App) -> None:
    """Read the mailbox first (as the worker does), so a report that just arrived counts; a failed
    poll leaves the reminders held (jobs.remind) rather than stopping the command."""
    try:
        jobs.poll(app)
    except ServiceError as err:
        print(f"邮箱收取失败 (mailbox poll failed): {err}", file=sys.stderr)


def _print_remind(run: jobs.RemindRun, dry_run: bool, verbose: bool = False) -> None:
    """Each due reminder and its result, then one summary line; the stale ones (a first run in the
    middle of a campaign has dozens) one by one only with -v."""
    for out in run.due:
        result = "待发送(dry-run)" if dry_run else "暂缓(held)" if run.held else run.results.get(out.key, "未尝试(not attempted)")
        print(f"{result}: {out.kind} {out.city} {out.deadline} -> {', '.join(out.to)}")
    if verbose:
        for out in run.stale:
            print(f"已过期未发: {out.kind} {out.city} {out.deadline}（{out.subject}）")
    print(remind_summary(run, dry_run, verbose))


def remind_summary(run: jobs.RemindRun, dry_run: bool, verbose: bool) -> str:
    """One line: how many reminders were due and what became of them, and how many are stale."""
    if not run.due and not run.stale:
        return "此刻没有需要发送的提醒 (no reminders due)"
    if dry_run or run.held:
        done = f"到期 {len(run.due)} 封，{'未发送(dry-run)' if dry_run else '暂缓发出(held)'}"
    else:
        sent = sum(1 for o in run.due if run.results.get(o.key) == "sent")
        done = f"到期 {len(run.due)} 封：已发送 {sent}，未发出 {len(run.left)}"
    stale = (f"；已过期不再发送 {len(run.stale)} 封（{stale_by_deadline(run.stale)}）"
             + ("" if verbose else "，加 -v 逐条列出") if run.stale else "")
    return f"催报提醒 (reminders)：{done}{stale}"


def stale_by_deadline(stale: Sequence) -> str:
    """"summary 28，progress 14": stale reminders counted per deadline, in order of appearance."""
    counts = Counter(out.deadline or "" for out in stale)  # a Counter keeps the order of first appearance
    return "，".join(f"{deadline} {n}" for deadline, n in counts.items())


def cmd_digest(app: App, args: argparse.Namespace) -> int:
    out, result = jobs.digest(app, dry_run=args.dry_run)
    print(f"主题：{out.subject}\n收件人：{', '.join(out.to)}\n\n{out.text}")
    if args.dry_run:
        return 0
    print(f"[{result}]")
    if result in ("failed", "deferred"):
        record = app.store.sent_record(out.key)
        print(f"error: digest not sent ({result}): {record.error if record else ''}"
              + ("; it is sent again at the next run" if result == "deferred" else ""), file=sys.stderr)
        return 1
    return 0


def cmd_demo(config: Config, args: argparse.Namespace) -> int:
    config_path = Path(args.config or os.environ.get("SERVICE_CONFIG") or DEFAULT_CONFIG)  # as load_config chose
    samples = load_samples(sample_folder(config_path, Path(args.mail) if args.mail else None))
    first, last = demo_days(config, samples)
    folder = Path(args.dir).resolve()
    demo = demo_config(config, prepare_demo_folder(folder))
    app = App.open(demo, system_clock(demo.tz))
    try:
        report = run_demo(app, first, last, samples)
        for line in report.log or []:
            print(line)
        print(f"\n模拟 {first} 至 {last}：投递示例邮件 {report.delivered} 封，计为报送 {report.reports}，"
              f"回执 {report.receipts}，催报提醒 {report.reminders}，每日汇总 {report.digests}\n")
        now, snapshot = app.clock(), app.store.snapshot(with_rows=True)  # one read: the matrix and the workbook
        print(status_table(demo, states_at(demo, snapshot, now), now))
        out = Path(args.out) if args.out else demo.workbook_path
        summary = summary_at(demo, snapshot, now)
        write_atomically(out, export_bytes(summary, out.suffix.lower()))
    finally:
        app.close()
    print(f"\n演示文件夹 (demo folder; never the configured mailbox, SMTP or database): {folder}")
    print(f"  收件箱（Maildir）：{demo.mailbox_folder}")
    print(f"  数据库（SQLite）：{folder / 'service.db'}")
    print(f"发出的邮件（.eml）：{demo.outbox_folder}")
    print(f"汇总表（{len(summary.rows)} 行）：{out.resolve()}")
    return 0


def cmd_status(app: App, args: argparse.Namespace) -> int:
    now = app.clock()
    if args.check:
        return _health_check(app, now)
    snapshot = app.store.snapshot()
    states = states_at(app.config, snapshot, now)
    registered = registered_at(app.config, snapshot, now)
    print(status_json(app.config, states, now, registered) if args.json
          else status_table(app.config, states, now, registered))
    return 0


def _health_check(app: App, now) -> int:
    """`status --check`: exit 1 with the reasons (for cron, systemd, a container health check)."""
    snapshot = app.store.snapshot()
    problems = health_problems(app.config, health_values(snapshot, app.config.health.max_failed_sends), now)
    for problem in problems:
        print(f"UNHEALTHY: {problem}")
    if not problems:
        ok = snapshot.health_of("poll_ok")
        print(f"OK: last successful poll {ok[1].astimezone(app.config.tz).isoformat(timespec='seconds')}")
    return 1 if problems else 0


def cmd_run(config: Config, args: argparse.Namespace) -> int:
    from .worker import (  # APScheduler loads for this command only
        run_worker,
        worker_timeline,
    )

    start = parse_instant(args.now, config.tz) if args.now is not None else None
    return run_worker(config, worker_timeline(system_clock(config.tz), start, args.speed), standby=args.standby,
                      reload_mailbox=lambda: load_config(args.config).mailbox)  # on SIGHUP and during a backoff


def cmd_migrate(config: Config, args: argparse.Namespace) -> int:
    store = Store.open(config.service.database_url, migrate=False)
    try:
        before, after = ensure_schema(store.engine, explicit=True)
    finally:
        store.close()
    print(f"数据库结构已是最新 (schema at {after})" if before == after
          else f"数据库结构已更新 (schema {before or 'new'} -> {after})")
    return 0


def cmd_check_mailbox(config: Config, args: argparse.Namespace) -> int:
    if config.mailbox.kind != "imap":
        print(f"邮箱为本地文件夹 (local folder mailbox): {config.mailbox_folder.resolve()}")
        return 0
    from .ingest.imap_session import describe_mailbox

    report = describe_mailbox(config.mailbox)
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
        return 0
    server = " ".join(report["id"].get(k, "") for k in ("name", "version")).strip() or "?"
    print(f"登录成功 (login ok): {config.mailbox.user} @ {config.mailbox.host}:{config.mailbox.port}, 服务器 {server}")
    caps = set(report["capabilities"])
    print(f"IDLE: {'有 (yes)' if 'IDLE' in caps else '无 (no: polling only)'}   ID: {'有' if 'ID' in caps else '无'}")
    for f in report["folders"]:
        mark = "*" if f["configured"] else " "
        print(f" {mark} {f['name']}  {f['messages'] if f['messages'] is not None else '不存在 (missing)'}"
              f"  UIDVALIDITY={f['uidvalidity']}")
    print("(* = 配置中收取的文件夹 / folders the service reads)")
    print(newest_mail_line(report.get("newest_mail"), config.mailbox.trusted_authserv_ids))
    return 0


def newest_mail_line(newest: dict | None, trusted: tuple[str, ...]) -> str:
    """What `check-mailbox` says about the newest mail's Authentication-Results (for trusted_authserv_ids)."""
    if newest is None:
        return "邮箱中没有邮件，无法查看收件服务器的 authserv-id (no mail to read Authentication-Results from)"
    ids = "、".join(escaped(i) for i in newest["authserv_ids"]) or "无 (none)"
    line = (f"最新邮件 ({escaped(newest['folder'])} UID {newest['uid']}) 的 Authentication-Results "
            f"authserv-id（自上而下）: {ids}")
    if newest["trusted"]:
        return line + f"\n已信任 (trusted): {escaped(newest['trusted'])}"
    configured = "、".join(trusted) or "未配置 (empty)"
    return line + (f"\n[mailbox] trusted_authserv_ids = {configured}："
                   "这封邮件上没有可信的检查结果（见 README 的 Trust the sender 一节）")


def cmd_purge(app: App, args: argparse.Namespace) -> int:
    from .store.purge import apply_purge, archive_files, plan_purge

    now, store = app.clock(), app.store
    results = {r.message: r for r in store.results()}
    plan = plan_purge(args.before, now, app.config.tz, messages=store.stored_messages(), sent=store.sent_records(),
                      archive=archive_files(app.archive), outbox=sorted(app.config.outbox_folder.glob("*.eml")),
                      received={pk: r.received_at for pk, r in results.items()},
                      derived=[p for p in [app.config.workbook_path] if p.exists()])
    for m in plan.messages:
        r = results.get(m.id)
        at = (r.received_at if r else m.source_received_at or m.ingested_at).astimezone(app.config.tz)
        print(f"#{m.id} {at:%Y-%m-%d} {(r.city if r else None) or '未归属'} 《{r.subject if r else ''}》")
    print(f"{args.before} 之前：邮件 {len(plan.messages)} 封（含原始邮件与提取数据），发送记录 {len(plan.sent_keys)} 条，"
          f"文件 {len(plan.files)} 个")
    if args.dry_run or not args.yes:
        print("预演 (dry run)：未删除任何内容；确认删除请加 --yes")
        return 0
    apply_purge(plan, store, now)
    print("已删除 (deleted)")
    return 0


def cmd_compile(app: App, args: argparse.Namespace) -> int:
    if args.deadline is not None and (problem := unknown_deadline(app.config, args.deadline)):
        print(f"error: {problem}", file=sys.stderr)
        return 2
    summary = jobs.compile_summary(app, args.deadline)
    targets = [(Path(args.out), Path(args.out).suffix.lower())]
    targets += [(Path(path), suffix) for path, suffix in ((args.csv, ".csv"), (args.json, ".json")) if path]
    for path, suffix in targets:
        write_atomically(path, export_bytes(summary, suffix, per_city=args.per_city))
        print(f"已生成 {path}：{summary.deadline.title}，{len(summary.rows)} 行，待核实问题 {len(summary.problems)} 条")
    return 0


def unknown_deadline(config: Config, deadline: str) -> str:
    """Why `--deadline` names no deadline, listing the valid ids; "" when it is one."""
    if any(d.id == deadline for d in config.deadlines):
        return ""
    valid = "，".join(f"{d.id}（{d.title}）" for d in config.deadlines)
    return f"没有报送节点 {deadline!r} (unknown deadline)；可用的 --deadline：{valid}"


def cmd_reprocess(app: App, args: argparse.Namespace) -> int:
    count = pipeline.reprocess(app, include_quarantined=args.include_quarantined)
    print(f"已从存档重新处理 {count} 封邮件")
    held = app.store.quarantined()
    if held:
        print(f"其中 {len(held)} 封已隔离（解析时超出内存或时间上限），未计入；"
              + ("重试后仍未通过" if args.include_quarantined else "如需重试请加 --include-quarantined"))
    applied = corrected(app.config, app.store.snapshot()).corrections
    if applied.stale:  # kept, not dropped: staff see which and why
        print(f"人工处理记录 {len(applied.stale)} 项已不再适用（目标已不存在），详见 `decisions`：")
        for decision, why in applied.stale:
            print(f"  #{decision.id} {why}")
    return 0


def cmd_messages(app: App, args: argparse.Namespace) -> int:
    """Every message as the views see it (staff decisions laid over the rules' answer; every problem, open
    or settled, with its number)."""
    snapshot = app.store.snapshot()  # results and problems in one read
    view = corrected(app.config, snapshot.at(app.clock()))
    corrections, results = view.corrections, {r.message: r for r in view.results}
    docs = [{
        "id": s.message, "message_id": r.message_id, "sender": r.sender, "subject": r.subject,
        "received_at": r.received_at.astimezone(app.config.tz).isoformat(),
        "city": r.city, "deadline": r.deadline, "is_report": r.is_report,
        "city_source": r.city_source, "unregistered_sender": r.unregistered_sender,
        "auth": auth_document(r.auth), "sender_unverified": r.sender_unverified,
        "attachments": [{"filename": a.filename, "kind": a.kind, "origin": a.origin} for a in r.attachments],
        "problems": [{"id": p.number, "code": p.code, "message_zh": p.message_zh, "file": p.file, "row": p.row,
                      "resolved": not problem_is_open(s.message, p, corrections)}
                     for p in snapshot.problems.get(s.message, ())],
        "ignored": s.message in corrections.ignored,
        "decisions": corrections.by_message.get(s.message, []),
    } for s in snapshot.results for r in [results.get(s.message, s)]]
    if args.json:
        print(json.dumps(docs, ensure_ascii=False, indent=2))
        return 0
    for d in docs:  # text from mail is escaped: a CR, an ESC or U+202E in a subject cannot rewrite the listing
        flag = "已忽略" if d["ignored"] else "报送" if d["is_report"] else "—"
        print(f"#{d['id']} {d['received_at'][:16]} {d['city'] or '未归属'} {d['deadline'] or ''} {flag} "
              f"{escaped(d['sender'])}{AUTH_MARK.get(d['auth']['verdict'], '')} 《{escaped(d['subject'])}》"
              f"{'（发件人未验证，未计入）' if d['sender_unverified'] else ''}")
        for p in d["problems"]:
            where = f" [{escaped(p['file'])}{' 第%s行' % p['row'] if p['row'] else ''}]" if p["file"] else ""
            mark = "✓" if p["resolved"] else "!"
            print(f"    {mark} 问题{p['id']} {escaped(p['message_zh'])}{where}{'（已处理）' if p['resolved'] else ''}")
    return 0


AUTH_MARK = {"pass": "（已验证）", "fail": "（验证失败）"}  # none: no evidence either way, said nowhere


def auth_document(auth: SenderAuth) -> dict:
    """`messages --json`'s "auth": what vouches for the sender (decide/sender_auth.py)."""
    return {"verdict": auth.verdict, "dkim": auth.dkim, "dkim_domain": auth.dkim_domain, "aligned": auth.aligned,
            "spf": auth.spf, "dmarc": auth.dmarc, "authserv_id": auth.authserv_id}


# Handlers take the App, or the Config for the commands in WITHOUT_APP.
COMMANDS: dict[str, tuple[Callable[[Any, argparse.Namespace], int], str]] = {
    "demo": (cmd_demo, "用示例邮件重放 2022 年活动 (replay the 2022 campaign with the bundled samples)"),
    "import": (cmd_import, "导入 .eml 文件、文件夹或 Maildir (import .eml files, folders, Maildirs)"),
    "poll": (cmd_poll, "收取邮箱中的新邮件 (fetch new mail from the configured mailbox)"),
    "status": (cmd_status, "各市州报送情况 (who reported, per city and deadline)"),
    "compile": (cmd_compile, "生成汇总表 (write the consolidated workbook)"),
    "reprocess": (cmd_reprocess, "从存档重新处理全部邮件 (rebuild everything from the archive)"),
    "messages": (cmd_messages, "已收邮件及其归属和问题 (ingested mail, attribution, problems)"),
    "remind": (cmd_remind, "发送到期的催报提醒 (send the reminders due now)"),
    "digest": (cmd_digest, "生成并发送每日汇总 (build and send the daily digest)"),
    "run": (cmd_run, "常驻运行：收信、提醒、每日汇总 (the long-running worker: poll, remind, digest)"),
    "check-config": (lambda _config, args: check_config.cmd_check_config(args),
                     "检查配置文件并列出活动安排 (validate a config file and show what the campaign will do)"),
    "migrate": (cmd_migrate, "升级数据库结构 (apply database schema migrations)"),
    "check-mailbox": (cmd_check_mailbox, "检查邮箱登录与文件夹 (log in to the mailbox and list its folders)"),
    "purge": (cmd_purge, "删除某日期之前的邮件与数据 (delete mail and data from before a date)"),
    "assign": (corrections.cmd_decide, "人工指定邮件的归属或是否计为报送 (say which city/deadline a message is for)"),
    "ignore": (corrections.cmd_decide, "忽略邮件：垃圾邮件或其他事务 (set a message aside: spam, other business)"),
    "confirm-sender": (corrections.cmd_decide, "确认未登记发件人代表该市州 (vouch for an unregistered sender)"),
    "exempt": (corrections.cmd_decide, "登记某市州免报某节点 (excuse a city from a deadline)"),
    "unexempt": (corrections.cmd_decide, "取消免报 (take an exemption back)"),
    "choose": (corrections.cmd_decide, "选定某版本为有效版本 (this version is the one in force)"),
    "resolve": (corrections.cmd_decide, "问题已处理或重新打开 (a problem is dealt with, or open again)"),
    "decisions": (corrections.cmd_decisions, "人工处理记录 (the audit log of staff decisions)"),
    "undo": (corrections.cmd_decide, "撤销一项人工处理 (take a decision back)"),
    "web": (lambda app, args: _web().cmd_web(app, args), "网页工作台 (serve the office's web workbench)"),
    "user": (lambda app, args: _web().cmd_user(app, args),
             "网页工作台的用户 (add, list, disable users of the workbench; set a password)"),
}


def _web():  # type: ignore[no-untyped-def]
    """The web package, imported for `web` and `user` only (Starlette and argon2 load with it)."""
    from . import web
    return web
# These open what they need themselves: the worker takes its lock before the database, migrate
# must run where opening would refuse, check-mailbox needs no database.
# demo opens its own App on its own folder: it must not touch the configured database.
WITHOUT_APP = frozenset({"run", "migrate", "check-mailbox", "demo"})


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="service", description="报送邮件自动收集服务 (report mail service)")
    add_global_options(parser, None)
    parser.add_argument("--version", action="version", version=f"%(prog)s {service_version()}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--now", type=instant_arg,
                        help="act as if it were this moment (ISO, local time if no offset)")
    add_global_options(common, argparse.SUPPRESS)  # also after the command: `status --config x.toml -v`
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands = {name: sub.add_parser(name, parents=[common], help=text, description=text)
                for name, (_, text) in COMMANDS.items()}
    corrections.add_arguments(commands)
    _add_web_arguments(commands)
    commands["import"].add_argument("paths", nargs="+", help=".eml files, folders or Maildirs")
    commands["status"].add_argument("--json", action="store_true", help="machine-readable output")
    commands["compile"].add_argument("--deadline", help="deadline id (default: latest with tables)")
    commands["compile"].add_argument("--out", required=True, help="FILE.xlsx (or .csv / .json: that format only)")
    commands["compile"].add_argument("--per-city", action="store_true", help="also one sheet per city")
    commands["compile"].add_argument("--csv", metavar="PATH", help="also write the rows as CSV (UTF-8 with BOM)")
    commands["compile"].add_argument("--json", metavar="PATH", help="also write the rows and totals as JSON")
    commands["messages"].add_argument("--json", action="store_true", help="machine-readable output")
    commands["reprocess"].add_argument("--include-quarantined", action="store_true",
                                       help="also try the quarantined messages again (under the same limits)")
    commands["remind"].add_argument("--dry-run", action="store_true", help="list, do not send")
    commands["remind"].add_argument("--json", action="store_true", help="machine-readable list of due reminders")
    commands["remind"].add_argument("--replay", action="store_true",
                                    help="allow a --now ahead of the real time (replaying a campaign on purpose)")
    commands["digest"].add_argument("--dry-run", action="store_true", help="print, do not send")
    commands["demo"].add_argument("--dir", default=DEMO_DIR,
                                  help=f"the demo's own folder: Maildir, outbox, database, workbook (default {DEMO_DIR})")
    commands["demo"].add_argument("--mail", default=None, metavar="DIR",
                                  help="the sample .eml files to replay (default: examples/<config name>/mail, "
                                       "the bundled 2022 samples for service.toml)")
    commands["demo"].add_argument("--out", default=None, help="workbook path (default: <dir>/汇总表.xlsx)")
    commands["status"].add_argument("--check", action="store_true",
                                    help="health check: exit 1 with the reasons when polls or sends are failing")
    commands["run"].add_argument("--speed", type=float, default=1.0,
                                 help="with --now: service time runs this many times as fast (demos, tests)")
    commands["run"].add_argument("--standby", action="store_true",
                                 help="when another worker runs, wait and take over when it stops")
    commands["check-config"].add_argument("--json", action="store_true", help="machine-readable output")
    commands["check-mailbox"].add_argument("--json", action="store_true", help="machine-readable output")
    commands["purge"].add_argument("--before", type=date.fromisoformat, required=True, metavar="YYYY-MM-DD",
                                   help="everything received before this day")
    commands["purge"].add_argument("--dry-run", action="store_true", help="list only (also the default without --yes)")
    commands["purge"].add_argument("--yes", action="store_true", help="really delete what is listed")
    return parser


def _add_web_arguments(commands: dict[str, argparse.ArgumentParser]) -> None:
    """`web` and `user` arguments, here so that building the parser loads no web framework."""
    commands["web"].add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    commands["web"].add_argument("--port", type=int, default=8000, help="port (default 8000)")
    user = commands["user"]
    user.add_argument("action", choices=("add", "list", "disable", "passwd"),
                      help="add a user, list them, disable one, or set a new password")
    user.add_argument("name", nargs="?", metavar="NAME", help="user name (login)")
    user.add_argument("--role", choices=ROLES, default="viewer",
                      help="viewer: sees everything, changes nothing; editor: also takes decisions")
    user.add_argument("--password-stdin", action="store_true",
                      help="read the password from the first line of stdin (for scripts)")


def add_global_options(parser: argparse.ArgumentParser, default: object) -> None:
    """--config and -v, before the command (defaults) and after it (SUPPRESS: a subcommand's default
    would otherwise overwrite the value given before the command)."""
    parser.add_argument("--config", default=default,
                        help="TOML config (default: $SERVICE_CONFIG or config/service.toml)")
    parser.add_argument("-v", "--verbose", action="store_true", default=default or False,
                        help="log every step; `remind` also lists each stale reminder")


def service_version() -> str:
    """The installed distribution's version (importlib.metadata), or a note when running from a
    source tree that was never installed."""
    try:
        return version("report-mail-service")
    except PackageNotFoundError:
        return "(not installed: running from a source tree)"


def make_clock(config: Config, now: str | None) -> Clock:
    return fixed_clock(now, config.tz) if now is not None else system_clock(config.tz)


def _run_without_app(config: Config, args: argparse.Namespace) -> int:
    try:
        return COMMANDS[args.command][0](config, args)
    except ServiceError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1


# errno -> what an operator should read first
_OS_REASONS = {errno.ENOSPC: "磁盘已满 (disk full)", errno.EDQUOT: "磁盘配额已满 (disk quota exceeded)",
               errno.EROFS: "只读文件系统 (read-only file system)", errno.EACCES: "没有权限 (permission denied)",
               errno.EPERM: "没有权限 (operation not permitted)"}


def environment_error(err: BaseException) -> str | None:
    """One line for a failure of what surrounds the service (disk full, read-only files or database,
    database unreachable); None for anything else, which is a bug and keeps its traceback."""
    line = database_error(err)
    if line is not None or not isinstance(err, OSError):
        return line
    reason = _OS_REASONS.get(err.errno or 0, "系统错误 (OS error)")
    where = f": {err.filename}" if err.filename else ""
    return f"{reason}{where} ({err.strerror or err})"


EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what the shell reports for a writer whose reader left


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        code = _main(args)
        sys.stdout.flush()  # here, not at exit: a reader gone by now must not cost a traceback there
        return code
    except BrokenPipeError:  # `status | head`: the reader has what it wanted; no traceback, no error line
        quiet_stdout()
        return EXIT_BROKEN_PIPE
    except Exception as err:  # the one place the shell turns a broken environment into one line
        line = environment_error(err)
        if line is None:
            raise
        log.debug("environment error", exc_info=True)
        print(f"error: {line}", file=sys.stderr)
        return 1


def quiet_stdout() -> None:
    """Point stdout at /dev/null, so flushing it at exit cannot raise BrokenPipeError again (the
    recipe of Python's signal documentation)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout closed or replaced (a test's capture): nothing to flush
        pass


def _main(args: argparse.Namespace) -> int:
    if args.command == "check-config":  # loads the file itself: its error is the command's answer (exit 2)
        return check_config.cmd_check_config(args)
    try:
        config = load_config(args.config, shipped_fallback=args.command == "demo")
        if args.command in WITHOUT_APP:
            return _run_without_app(config, args)
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
