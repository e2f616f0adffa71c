"""CPU of two checkouts on the same corpus, load-independent: per process and per function.

    python bench/cpu_compare.py --old /work/wt/perf-old --n 300                 # derive in-process, profiles
    python bench/cpu_compare.py --old /work/wt/perf-old --n 2000 --poll --runs 3  # + `poll`, interleaved

Wall time on a shared machine follows the load; CPU time (user + system) and cProfile's call counts
do not. Two measures, each run alternately for the old checkout and this one (`--new`):
- derive: one process (PYTHONPATH = the checkout) derives the first N messages of the corpus in-process
  as a worker does, and pickles each result and unpickles it as the pool does; CPU seconds of the
  derive and of the pickling, then the same under cProfile; the functions whose own time (tottime)
  or call count moved most are listed side by side;
- poll (`--poll`): `poll` of the whole corpus from Dovecot, as bench/backlog.py runs it, CPU of all its
  processes and of the main process alone, `--runs` times.
Both checkouts read the corpus of this one (bench/corpus.py), handed over as plain (bytes, date) pairs.
"""
from __future__ import annotations

import argparse
import cProfile
import inspect
import json
import os
import pickle
import pstats
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Sequence

ROOT = Path(__file__).resolve().parent.parent
WARM = 20  # messages derived before measuring (the same ones in every run; then the next n are measured)


# --- the child: runs inside one checkout ---------------------------------------------------------

def child(code: Path, messages: Path, n: int, profile_out: Path | None) -> dict:
    """Derive the first n messages in this process with `code`'s service; CPU seconds per part."""
    sys.path.insert(0, str(code))
    from service.config import load_config  # noqa: PLC0415 - from the checkout named on the command line
    from service.ingest import derive as derive_module

    config = load_config(code / "config" / "service.toml", environ={})
    pairs = pickle.loads(messages.read_bytes())[:WARM + n]
    extra = _derive_extras(derive_module)
    jobs = [derive_module.Job(raw, at, at) for raw, at in pairs]
    _derive_all(derive_module, jobs[:WARM], config, extra)  # imports, caches of the first templates
    jobs = jobs[WARM:]
    start = time.process_time()
    derived = _derive_all(derive_module, jobs, config, extra)
    derive_s = time.process_time() - start
    start = time.process_time()
    blobs = [pickle.dumps(d, pickle.HIGHEST_PROTOCOL) for d in derived]
    dumps_s = time.process_time() - start
    start = time.process_time()
    for blob in blobs:
        pickle.loads(blob)
    loads_s = time.process_time() - start
    if profile_out:
        profiler = cProfile.Profile()
        profiler.runcall(_derive_all, derive_module, jobs, config, extra)
        profiler.dump_stats(str(profile_out))
    return {"messages": len(jobs), "derive_cpu_s": derive_s, "pickle_dumps_cpu_s": dumps_s,
            "pickle_loads_cpu_s": loads_s, "pickled_bytes": sum(len(b) for b in blobs),
            "rows": sum(len(d.rows) for d in derived), "problems": sum(len(d.problems) for d in derived)}


def poll_child(code: Path, config_path: Path, profile_out: Path | None) -> dict:
    """One `poll` in this process with `code`'s service (workers as configured), the main thread under
    cProfile when profile_out is given; CPU seconds of this process (all its threads) and of its workers."""
    import resource  # noqa: PLC0415

    sys.path.insert(0, str(code))
    from service import jobs  # noqa: PLC0415
    from service.app import App
    from service.clock import system_clock
    from service.config import load_config

    config = load_config(config_path, environ=dict(os.environ))
    app = App.open(config, system_clock(config.tz))
    before = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    profiler = cProfile.Profile() if profile_out else None
    try:
        profiler.runcall(jobs.poll, app) if profiler else jobs.poll(app)
    finally:
        app.close()
    after = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    if profiler:
        profiler.dump_stats(str(profile_out))
    main_s, workers_s = (a.ru_utime + a.ru_stime - b.ru_utime - b.ru_stime for a, b in zip(after, before))
    # The workers are forked from a profiled process and stay profiled: their CPU is inflated then.
    return {"main_cpu_s": main_s, "workers_cpu_s": workers_s, "cpu_s": main_s + workers_s,
            "workers_profiled": profiler is not None}


def _derive_extras(derive_module) -> tuple:
    """What this checkout's derive takes after (job, config): nothing, or the converter App picks
    (the DKIM lookup keeps its default: the corpus is unsigned)."""
    params = inspect.signature(derive_module.derive).parameters
    if "converter" not in params:
        return ()
    from service.app import installed_converter  # noqa: PLC0415
    return (installed_converter(),)


def _derive_all(derive_module, jobs: list, config, extra: tuple) -> list:
    return [derive_module.derive(job, config, *extra) for job in jobs]


# --- the parent ---------------------------------------------------------------------------------

def run_child(code: Path, messages: Path, n: int, profile_out: Path | None,
              callgrind: Path | None = None) -> dict:
    """The derive child; under callgrind (instructions counted, whatever the load) when given a folder."""
    args = [sys.executable, str(Path(__file__).resolve()), "--child", str(code), "--messages", str(messages),
            "--n", str(n)] + (["--profile-out", str(profile_out)] if profile_out else [])
    env = dict(os.environ, PYTHONPATH=str(code))
    proc = subprocess.Popen(_under_callgrind(args, callgrind), env=env, cwd=code, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    out, err = proc.communicate(timeout=7200)
    if proc.returncode != 0:
        raise SystemExit(f"derive child failed with {code}:\n{err[-2000:]}")
    found = json.loads(out.strip().splitlines()[-1])
    if callgrind:
        found["instructions"] = callgrind_totals(callgrind, proc.pid)["main"]
    return found


def _under_callgrind(args: list[str], folder: Path | None) -> list[str]:
    if folder is None:
        return args
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("cg.*"):
        old.unlink()
    # Forked workers are followed and write their own cg.<pid>; the process keeps its pid under valgrind.
    return ["valgrind", "--tool=callgrind", "--quiet", f"--callgrind-out-file={folder}/cg.%p", *args]


def callgrind_totals(folder: Path, main_pid: int) -> dict[str, int]:
    """Instructions executed: by the process main_pid, and by all the others (its forked workers)."""
    found = {"main": 0, "others": 0, "processes": 0}
    for path in folder.glob("cg.*"):
        total = 0
        for line in path.read_text(errors="replace").splitlines():
            if line.startswith(("totals:", "summary:")):
                total = int(line.split()[1])
        found["main" if path.name == f"cg.{main_pid}" else "others"] += total
        found["processes"] += 1
    return found


def function_table(path: Path) -> dict[str, tuple[int, float]]:
    """'file:function' (file relative to the checkout or site-packages) -> (calls, tottime)."""
    table: dict[str, tuple[int, float]] = {}
    for (file, line, name), (_, calls, tottime, _, _) in pstats.Stats(str(path)).stats.items():  # type: ignore
        key = f"{_short(file)}:{name}"
        old_calls, old_tt = table.get(key, (0, 0.0))
        table[key] = (old_calls + calls, old_tt + tottime)
    return table


def _short(file: str) -> str:
    for marker in ("/service/", "/site-packages/", "/lib/python3"):
        if marker in file:
            return marker.strip("/") + "/" + file.split(marker, 1)[1]
    return file


def profile_diff(old: dict[str, tuple[int, float]], new: dict[str, tuple[int, float]], top: int) -> list[dict]:
    """The functions whose own time moved most (either way), with their call counts."""
    keys = set(old) | set(new)
    moved = sorted(keys, key=lambda k: -abs(new.get(k, (0, 0.0))[1] - old.get(k, (0, 0.0))[1]))
    return [{"function": k, "old_calls": old.get(k, (0, 0))[0], "new_calls": new.get(k, (0, 0))[0],
             "old_tottime_s": round(old.get(k, (0, 0.0))[1], 4), "new_tottime_s": round(new.get(k, (0, 0.0))[1], 4)}
            for k in moved[:top]]


def poll_setup(items: list, workers: int, server, code: Path) -> tuple[Path, dict[str, str]]:
    """A fresh Dovecot account holding the corpus and a config (code's own shipped file) polling it:
    (config, environment)."""
    from bench.common import NO_RECEIPTS, cli_env, imap_section, write_config  # noqa: PLC0415
    from bench.make_mailbox import append_items  # noqa: PLC0415

    account = server.add_user(f"cpu{time.monotonic_ns()}")
    with server.connect(account) as client:
        append_items(client, "INBOX", items)
    work = Path(tempfile.mkdtemp(prefix="bench-cpu-"))
    config = write_config(work, extra=imap_section(server.host, server.port, account.user) + NO_RECEIPTS,
                          workers=workers, shipped=code / "config" / "service.toml")
    return config, cli_env(account.password)


def poll_cpu(code: Path, items: list, workers: int, server) -> dict:
    """One `poll` CLI run of the corpus with `code`: CPU of all processes and of the main one, wall."""
    from bench.common import run_cli  # noqa: PLC0415

    config, env = poll_setup(items, workers, server, code)
    env["PYTHONPATH"] = str(code)
    try:
        run = run_cli(config, ["poll"], env, cwd=code)
    finally:
        shutil.rmtree(config.parent, ignore_errors=True)
    if run.returncode != 0:
        raise SystemExit(f"poll failed with {code}:\n{run.stderr[-2000:]}")
    return {"cpu_s": run.cpu_s, "main_cpu_s": run.main_cpu_s, "wall_s": run.seconds}


def poll_profiled(code: Path, items: list, workers: int, server, profile_out: Path | None,
                  callgrind: Path | None = None) -> dict:
    """One `poll` in a child process (not the CLI: no start-up), its main thread under cProfile, or the
    whole process tree under callgrind."""
    config, env = poll_setup(items, workers, server, code)
    env["PYTHONPATH"] = str(code)
    args = [sys.executable, str(Path(__file__).resolve()), "--child-poll", str(code), "--config", str(config)]
    args += ["--profile-out", str(profile_out)] if profile_out else []
    proc = subprocess.Popen(_under_callgrind(args, callgrind), env=env, cwd=code, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(timeout=7200)
    finally:
        shutil.rmtree(config.parent, ignore_errors=True)
    if proc.returncode != 0:
        raise SystemExit(f"poll child failed with {code}:\n{err[-2000:]}")
    found = json.loads(out.strip().splitlines()[-1])
    if callgrind:
        found["instructions"] = callgrind_totals(callgrind, proc.pid)
    return found


def compare(args: argparse.Namespace) -> dict:
    sys.path.insert(0, str(ROOT))
    from bench.make_mailbox import corpus  # noqa: PLC0415

    items = corpus(args.profile, max(args.n, args.poll_n or 0), args.seed)
    codes = {"old": args.old.resolve(), "new": args.new.resolve()}
    tmp = Path(tempfile.mkdtemp(prefix="bench-cpu-compare-"))
    messages = tmp / "messages.pickle"
    messages.write_bytes(pickle.dumps([(i.raw, i.internaldate) for i in items]))
    derive_runs: dict[str, list[dict]] = {"old": [], "new": []}
    for run in range(0 if args.skip_derive else args.runs):
        for name, code in (("old", codes["old"]), ("new", codes["new"])):
            profile_out = tmp / f"{name}.prof" if run == 0 else None
            derive_runs[name].append(run_child(code, messages, args.n, profile_out))
            print(f"derive {name} #{run + 1}: {derive_runs[name][-1]}", flush=True)
    diff = [] if args.skip_derive else profile_diff(function_table(tmp / "old.prof"), function_table(tmp / "new.prof"),
                                                    args.top)
    doc = {"profile": args.profile, "seed": args.seed, "n": args.n, "codes": {k: str(v) for k, v in codes.items()},
           "revisions": {k: _revision(v) for k, v in codes.items()},
           "derive": derive_runs, "derive_profile_diff": diff}
    if args.poll:
        doc["poll"] = poll_runs(codes, items[:args.poll_n] if args.poll_n else items, args, tmp)
    if args.callgrind:
        doc["callgrind"] = callgrind_runs(codes, items[:args.callgrind], messages, args, tmp)
    messages.unlink()
    print(f"profiles (cProfile, callgrind) kept in {tmp}")
    return doc


def _revision(code: Path) -> str:
    """The commit a checkout is at ("" for a plain copy, e.g. `git archive`)."""
    out = subprocess.run(["git", "-C", str(code), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return out.stdout.strip() if out.returncode == 0 and (code / ".git").exists() else ""


def callgrind_runs(codes: dict[str, Path], items: list, messages: Path, args: argparse.Namespace,
                   tmp: Path) -> dict:
    """Instructions (callgrind) of each checkout: derive per message (N messages less none, in-process,
    with the pickling to and from the pool), and the main process of a whole `poll` of the first N."""
    from tests.dovecot import Dovecot  # noqa: PLC0415

    n, found = len(items), {}
    for name, code in codes.items():
        measured = run_child(code, messages, n, None, tmp / f"cg-derive-{name}")
        baseline = run_child(code, messages, 0, None, tmp / f"cg-derive-{name}")
        found[name] = {"derive_instructions_per_message": (measured["instructions"] - baseline["instructions"]) / n}
        print(f"callgrind derive {name}: {found[name]}", flush=True)
    server = Dovecot.create()
    try:
        for name, code in codes.items():
            poll = poll_profiled(code, items, args.workers, server, None, tmp / f"cg-poll-{name}")["instructions"]
            # A forked worker's count starts from its parent's at the fork (imports included): only the
            # main process's count is its own; the workers' work is what derive counts per message.
            found[name].update(poll_main_instructions=poll["main"], poll_processes=poll["processes"])
            print(f"callgrind poll {name}: {found[name]}", flush=True)
    finally:
        server.destroy()
    return {"messages": n, **found}


def poll_runs(codes: dict[str, Path], items: list, args: argparse.Namespace, tmp: Path) -> dict:
    """`poll` CLI runs, alternating which checkout goes first; then one in-process poll of each with
    its main thread profiled, and the functions of the main process that moved most."""
    from tests.dovecot import Dovecot  # noqa: PLC0415

    server = Dovecot.create()
    runs: dict[str, list[dict]] = {"old": [], "new": []}
    profiled: dict[str, dict] = {}
    try:
        for run in range(args.runs):
            for name in (("old", "new") if run % 2 == 0 else ("new", "old")):
                runs[name].append(poll_cpu(codes[name], items, args.workers, server))
                print(f"poll {name} #{run + 1}: {runs[name][-1]}", flush=True)
        for name, code in codes.items():
            profiled[name] = poll_profiled(code, items, args.workers, server, tmp / f"poll-{name}.prof")
            print(f"poll in-process, main thread profiled, {name}: {profiled[name]}", flush=True)
    finally:
        server.destroy()
    diff = profile_diff(function_table(tmp / "poll-old.prof"), function_table(tmp / "poll-new.prof"), args.top)
    return {"cli": runs, "profiled": profiled, "main_profile_diff": diff}


def summary(doc: dict) -> None:
    from bench.common import print_table  # noqa: PLC0415

    rows = []
    for key in ("derive_cpu_s", "pickle_dumps_cpu_s", "pickle_loads_cpu_s", "pickled_bytes", "rows", "problems"):
        if doc["derive"]["old"]:
            rows.append([f"derive: {key} (median)", *[statistics.median(r[key] for r in doc["derive"][n])
                                                      for n in ("old", "new")]])
    grind = doc.get("callgrind")
    if grind:
        for key in ("derive_instructions_per_message", "poll_main_instructions"):
            rows.append([f"callgrind, {grind['messages']} messages: {key}", *[grind[n][key] for n in ("old", "new")]])
    poll = doc.get("poll")
    if poll:
        for key in ("cpu_s", "main_cpu_s", "wall_s"):
            rows.append([f"poll: {key} (median; min-max)",
                         *[_spread([r[key] for r in poll["cli"][n]]) for n in ("old", "new")]])
        rows.append(["poll in-process, main thread profiled: main_cpu_s",
                     *[poll["profiled"][n]["main_cpu_s"] for n in ("old", "new")]])
    print_table(f"CPU, old vs new ({doc['profile']}, derive N={doc['n']})", rows, ["figure", "old", "new"])
    if doc["derive_profile_diff"]:
        _print_diff("functions whose own time moved most (cProfile of derive; calls, tottime s)",
                    doc["derive_profile_diff"])
    if poll:
        _print_diff("... and of the poll's main thread", poll["main_profile_diff"])


def _print_diff(title: str, diff: list[dict]) -> None:
    from bench.common import print_table  # noqa: PLC0415

    print_table(title, [[d["function"], d["old_calls"], d["new_calls"], d["old_tottime_s"], d["new_tottime_s"]]
                        for d in diff], ["function", "old calls", "new calls", "old s", "new s"])


def _spread(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} ({min(values):.2f}-{max(values):.2f})"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--old", type=Path, help="checkout before (e.g. a worktree of 407b95b)")
    parser.add_argument("--new", type=Path, default=ROOT, help="checkout after (default: this one)")
    parser.add_argument("--profile", default="xlsx100")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--n", type=int, default=300, help="messages derived in-process")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--poll", action="store_true", help="also `poll` the corpus from Dovecot, interleaved")
    parser.add_argument("--poll-n", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--callgrind", type=int, default=0, metavar="N",
                        help="also count instructions with valgrind's callgrind: derive and `poll` of N messages")
    parser.add_argument("--skip-derive", action="store_true", help="no CPU-time derive runs (with --callgrind)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "cpu_compare.json")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--messages", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--child-poll", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--config", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--profile-out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child_poll:
        print(json.dumps(poll_child(args.child_poll.resolve(), args.config, args.profile_out)))
        return 0
    if args.child:
        print(json.dumps(child(args.child.resolve(), args.messages, args.n, args.profile_out)))
        return 0
    if args.old is None:
        parser.error("--old is required")
    doc = compare(args)
    summary(doc)
    from bench.common import write_json  # noqa: PLC0415
    write_json(args.out, doc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
