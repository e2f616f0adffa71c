"""Crash safety: kill -9 the ingestion (and reminders, and the worker) at random moments; check nothing is lost.

    python bench/crash_safety.py [--n 2000] [--kills 20] [--seed 1] [--database sqlite|postgres]

1. Backlog: N messages in Dovecot; `poll` is SIGKILLed at a random moment `--kills` times,
   restarted each time, then run to the end. Checked against the mailbox (every message archived
   exactly once, byte for byte, none lost, each UID delivered once, watermark at the last UID) and
   against a clean run of the same mailbox (same results, problems and rows per message: no rows
   lost or doubled).
2. Reminders: `--kills` trials, each on a fresh database: `remind --now` (SMTP to aiosmtpd) SIGKILLed
   at a random moment of its run, then run again to the end: no reminder may reach SMTP twice.
3. The worker (`run`), when service/worker.py exists: `--worker-kills` trials, each SIGKILLed around
   09:00 service time (reminders due), restarted with service time running on, then stopped.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, astuple
from pathlib import Path
from typing import Callable, Sequence

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (  # noqa: E402
    NO_RECEIPTS,
    RESULTS,
    ROOT,
    cli_env,
    database_factory,
    imap_section,
    print_table,
    run_cli,
    write_config,
    write_json,
)
from bench.make_mailbox import append_items, corpus  # noqa: E402

REMIND_AT = "2022-01-04T09:00:00"  # 1 workday before the progress deadline: 14 upcoming reminders due
ARCHIVE_TMP = ".tmp"


def smtp_section(port: int) -> str:
    return f'[smtp]\nkind = "smtp"\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\nretries = 0\n'


def service_command(config: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "service", "--config", str(config), *args]


def leftovers(config: Path) -> list[int]:
    """Processes still running a command on this config (workers a killed parent left behind)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
            except OSError:
                continue
            if str(config).encode() in cmdline and int(entry) != os.getpid():
                found.append(int(entry))
    return found


def reap(config: Path, grace: float = 3.0) -> int:
    """Wait for leftovers to exit on their own; kill what remains; returns how many had to be killed."""
    deadline = time.monotonic() + grace
    while leftovers(config) and time.monotonic() < deadline:
        time.sleep(0.05)
    stuck = leftovers(config)
    for pid in stuck:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return len(stuck)


def kill_runs(command: list[str], env: dict[str, str], config: Path, kills: int, delay: Callable[[], float],
              log: Path) -> list[dict]:
    """Start `command`, SIGKILL it after delay() seconds, `kills` times; a run may finish first."""
    runs = []
    for _ in range(kills):
        wait = delay()
        with open(log, "ab") as sink:
            proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=sink, stderr=sink)
        try:
            code = proc.wait(timeout=wait)
            killed = False
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            code, killed = proc.wait(), True
        runs.append({"after_s": round(wait, 3), "killed": killed, "exit": code, "stuck_children": reap(config)})
    return runs


# --- 1. backlog ------------------------------------------------------------------------------------

def state_by_sha(config_path: Path, password: str) -> dict:
    """Everything stored, keyed by message sha256 (store ids differ between runs)."""
    from service.config import load_config
    from service.store import Store

    config = load_config(config_path, environ={"SERVICE_IMAP_PASSWORD": password})
    store = Store.open(config.service.database_url)
    try:
        stored = store.stored_messages()
        sha_of = {m.id: m.sha256 for m in stored}
        results = {r.message: r for r in store.results()}
        problems = {m: [astuple(p) for p in found] for m, found in store.problems().items()}
        rows = {m: [(i, *astuple(r)) for i, r in enumerate(found)] for m, found in store.rows(list(sha_of)).items()}
        state = {}
        for m in stored:
            result = results.get(m.id)
            kept = None if result is None else {k: v for k, v in asdict(result).items()
                                                if k not in ("message", "duplicate_of", "sha256")}
            state[m.sha256] = {"duplicate_of": sha_of.get(m.duplicate_of), "result": kept,
                               "problems": sorted(problems.get(m.id, []), key=repr), "rows": rows.get(m.id, [])}
        deliveries = len(store.delivery_ids("imap:"))
        return {"messages": state, "deliveries": deliveries, "watermark": store.get_watermark("INBOX"),
                "data_dir": config.data_dir}
    finally:
        store.close()


def archive_check(data_dir: Path, shas: set[str]) -> dict:
    """Archive files: one per message, content matching its name; stray temp files counted."""
    files = [p for p in (data_dir / "archive").rglob("*") if p.is_file()]
    archived = [p for p in files if p.suffix == ".eml"]
    bad = sum(1 for p in archived if hashlib.sha256(p.read_bytes()).hexdigest() != p.stem)
    names = Counter(p.stem for p in archived)
    return {"files": len(archived), "missing": len(shas - set(names)), "corrupt": bad,
            "stray_temp_files": sum(1 for p in files if ARCHIVE_TMP in p.suffix)}


def compare(reference: dict, crashed: dict, mailbox: list[str]) -> dict:
    """Lost, duplicated and differing messages of the crashed run."""
    ref, got = reference["messages"], crashed["messages"]
    lost = [sha for sha in set(mailbox) if sha not in got or got[sha]["result"] is None]
    differing = [sha for sha in ref if sha in got and got[sha] != ref[sha]]
    details = [{"sha256": sha, "fields": sorted(k for k in ref[sha] if ref[sha][k] != got[sha][k]),
                "clean": ref[sha], "crashed": got[sha]} for sha in differing[:3]]
    ref_rows = sum(len(m["rows"]) for m in ref.values())
    got_rows = sum(len(m["rows"]) for m in got.values())
    return {"mailbox_messages": len(mailbox), "stored": len(got), "lost": len(lost),
            "extra": len(set(got) - set(mailbox)), "differing_from_clean_run": len(differing),
            "rows_clean_run": ref_rows, "rows": got_rows, "duplicated_rows": max(0, got_rows - ref_rows),
            "deliveries": crashed["deliveries"], "duplicate_deliveries": max(0, crashed["deliveries"] - len(mailbox)),
            "watermark": crashed["watermark"], "differing_examples": details}


def mailbox_shas(server, account) -> list[str]:
    with server.connect(account) as client:
        client.select_folder("INBOX", readonly=True)
        uids = client.search(["ALL"])
        return [hashlib.sha256(item[b"BODY[]"]).hexdigest()
                for item in client.fetch(uids, [b"BODY.PEEK[]"]).values()]


def backlog(server, args: argparse.Namespace, database_url: Callable[[], str | None], rng: random.Random) -> dict:
    items = corpus("realistic", args.n, args.seed)
    account = server.add_user("crash")
    with server.connect(account) as client:
        append_items(client, "INBOX", items)
    mailbox = imap_section(server.host, server.port, account.user) + NO_RECEIPTS
    work = Path(tempfile.mkdtemp(prefix="bench-crash-"))
    clean = write_config(work / "clean", extra=mailbox, database_url=database_url())
    start = time.perf_counter()
    if run_cli(clean, ["poll"], cli_env(account.password)).returncode != 0:
        raise SystemExit("the clean run failed")
    clean_s = time.perf_counter() - start
    crashed = write_config(work / "crashed", extra=mailbox, database_url=database_url())
    env = cli_env(account.password)
    runs = kill_runs(service_command(crashed, "poll"), env, crashed, args.kills,
                     lambda: rng.uniform(0.3, 1.6), work / "crashed.log")
    final = run_cli(crashed, ["poll"], env)
    reference, after = state_by_sha(clean, account.password), state_by_sha(crashed, account.password)
    shas = mailbox_shas(server, account)
    found = compare(reference, after, shas)
    found["archive"] = archive_check(after["data_dir"], set(shas))
    found["archive_clean_run"] = archive_check(reference["data_dir"], set(shas))
    return {**found, "clean_run_s": clean_s, "final_run_exit": final.returncode, "runs": runs,
            "kills": sum(r["killed"] for r in runs)}


# --- 2. and 3. reminders -------------------------------------------------------------------------

def sent_state(config_path: Path) -> dict[str, int]:
    from service.config import load_config
    from service.store import Store

    config = load_config(config_path, environ={})
    store = Store.open(config.service.database_url)
    try:
        return dict(Counter(r.status for r in store.sent_records()))
    finally:
        store.close()


def duplicates(smtp) -> tuple[int, int]:
    """(messages the SMTP server got, how many repeated an earlier one's sent-log key).

    The Message-ID is <time.hash-of-key@domain> (service/outgoing/transports.py): two with the same key hash are
    the same reminder sent twice; equal subjects are not (a caught-up reminder, then the next one).
    """
    keys = Counter(str(m.message["Message-ID"]).split(".", 1)[-1] for m in smtp.messages)
    return len(smtp.messages), sum(n - 1 for n in keys.values())


def reminders(args: argparse.Namespace, database_url: Callable[[], str | None], rng: random.Random) -> dict:
    """Trials on fresh databases: `remind --now` killed at a random moment, then run again to the end."""
    from tests.smtp_server import SmtpServer

    with SmtpServer.start() as smtp:
        def fresh() -> Path:
            return write_config(Path(tempfile.mkdtemp(prefix="bench-remind-")), extra=smtp_section(smtp.port),
                                database_url=database_url())

        start = time.perf_counter()  # one undisturbed run: how long it takes, how much it sends
        subprocess.run(service_command(fresh(), "remind", "--now", REMIND_AT), cwd=ROOT, env=cli_env(), check=True,
                       capture_output=True, timeout=120)
        duration, expected = time.perf_counter() - start, len(smtp.messages)
        trials = []
        for _ in range(args.kills):
            smtp.messages.clear()
            config = fresh()
            command = service_command(config, "remind", "--now", REMIND_AT)
            run = kill_runs(command, cli_env(), config, 1, lambda: rng.uniform(0.5, 1.05) * duration,
                            config.parent / "remind.log")[0]
            at_kill = len(smtp.messages)
            subprocess.run(command, cwd=ROOT, env=cli_env(), capture_output=True, timeout=120)
            got, repeated = duplicates(smtp)
            trials.append({**run, "sent_before_kill": at_kill, "sent": got, "duplicated": repeated,
                           "sent_log": sent_state(config)})
    return summarise(trials, expected)


def summarise(trials: list[dict], expected: int) -> dict:
    killed = [t for t in trials if t["killed"]]
    return {"expected_per_trial": expected, "trials": trials, "kills": len(killed),
            "kills_while_sending": sum(0 < t["sent_before_kill"] < expected for t in killed),
            "duplicated": sum(t["duplicated"] for t in trials),
            "not_sent": sum(max(0, expected - t["sent"]) for t in trials),
            "left_sending": sum(t["sent_log"].get("sending", 0) for t in trials)}


def worker(args: argparse.Namespace, database_url: Callable[[], str | None], rng: random.Random) -> dict | None:
    """Trials on fresh databases: the `run` worker started at 08:59:58 service time, killed around
    09:00 (when reminders go out), restarted with service time still running, then stopped."""
    if not (ROOT / "service" / "worker.py").exists() or args.worker_kills <= 0:
        return None
    from tests.smtp_server import SmtpServer

    with SmtpServer.start() as smtp:
        expected = len(_worker_trial(smtp, database_url, None)["smtp"])
        trials = []
        for _ in range(args.worker_kills):
            smtp.messages.clear()
            trial = _worker_trial(smtp, database_url, rng.uniform(0.8, 3.5))
            got, repeated = duplicates(smtp)
            trials.append({**trial["run"], "sent_before_kill": trial["at_kill"], "sent": got, "duplicated": repeated,
                           "sent_log": trial["sent_log"]})
    return summarise(trials, expected)


def _worker_trial(smtp, database_url: Callable[[], str | None], kill_after: float | None) -> dict:
    folder = Path(tempfile.mkdtemp(prefix="bench-worker-"))
    config = write_config(folder, extra=smtp_section(smtp.port) + "[worker]\npoll_interval = 5\n",
                          database_url=database_url())
    started = time.monotonic()

    def command() -> list[str]:  # service time keeps running across the restart, as a real clock does
        from datetime import datetime, timedelta
        now = datetime.fromisoformat("2022-01-04T08:59:58") + timedelta(seconds=time.monotonic() - started)
        return service_command(config, "run", "--now", now.isoformat(timespec="seconds"))

    run, at_kill = {"killed": False}, 0
    if kill_after is not None:
        run = kill_runs(command(), cli_env(), config, 1, lambda: kill_after, folder / "worker.log")[0]
        at_kill = len(smtp.messages)
    with open(folder / "worker-final.log", "wb") as sink:
        final = subprocess.Popen(command(), cwd=ROOT, env=cli_env(), stdout=subprocess.DEVNULL, stderr=sink)
    time.sleep(6)  # past 09:00 service time: whatever is due has gone
    final.send_signal(signal.SIGTERM)
    final.wait(timeout=30)
    reap(config)
    return {"run": run, "at_kill": at_kill, "smtp": list(smtp.messages), "sent_log": sent_state(config)}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=2000)  # ingestion is fast enough that 1,000 can end before the 20th kill
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--worker-kills", type=int, default=5, help="worker trials (each ~10 s)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--out", default=str(RESULTS / "crash_safety.json"))
    args = parser.parse_args(argv)
    from tests.dovecot import Dovecot

    rng = random.Random(args.seed)
    database_url, cleanup = database_factory(args.database)
    server = Dovecot.create()
    try:
        found = backlog(server, args, database_url, rng)
        remind = reminders(args, database_url, rng)
        run = worker(args, database_url, rng)
    finally:
        server.destroy()
        cleanup()
    report(found, remind, run, args)
    write_json(Path(args.out), {"n": args.n, "seed": args.seed, "database": args.database, "backlog": found,
                                "remind": remind, "worker": run})
    bad = found["lost"] + found["duplicated_rows"] + found["differing_from_clean_run"] + remind["duplicated"]
    return 1 if bad or (run and run["duplicated"]) else 0


def report(found: dict, remind: dict, run: dict | None, args: argparse.Namespace) -> None:
    archive = found["archive"]
    rows = [["messages in mailbox", found["mailbox_messages"]], ["kills (poll)", found["kills"]],
            ["lost", found["lost"]], ["stored twice / not in mailbox", found["extra"]],
            ["differing from a clean run", found["differing_from_clean_run"]],
            ["rows (clean run / after kills)", f"{found['rows_clean_run']} / {found['rows']}"],
            ["duplicate deliveries", found["duplicate_deliveries"]],
            ["archive files missing / corrupt", f"{archive['missing']} / {archive['corrupt']}"],
            ["stray archive temp files", archive["stray_temp_files"]],
            ["workers left running after a kill", sum(r["stuck_children"] for r in found["runs"])]]
    for name, got in (("remind --now", remind), ("run worker", run)):
        if got:
            rows += [[f"{name}: trials / killed / killed while sending",
                      f"{len(got['trials'])} / {got['kills']} / {got['kills_while_sending']}"],
                     [f"{name}: mails per trial / sent twice", f"{got['expected_per_trial']} / {got['duplicated']}"],
                     [f"{name}: never sent (left 'sending': at most once)", f"{got['not_sent']} ({got['left_sending']})"]]
    print_table(f"crash safety ({args.database}, seed {args.seed})", rows)
    kills = found["kills"] + remind["kills"] + (run["kills"] if run else 0)
    duplicated = found["duplicated_rows"] + found["duplicate_deliveries"] + found["extra"] + remind["duplicated"] \
        + (run["duplicated"] if run else 0)
    print(f"\ncrash-safety: {kills} kills, {found['lost']} lost, {duplicated} duplicated")


if __name__ == "__main__":
    sys.exit(main())
