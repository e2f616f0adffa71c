"""How long `remind` and `digest` take, and what they leave, while SMTP is down (issue 17 item 3).

Shipped [smtp] retry settings (3 retries, 5 s backoff doubling), the summary's 14 reminders of
2022-01-30 09:00: against a closed port, against a server answering 451 to every message, then
the server back. `--code DIR` runs another checkout of the service (e.g. `git archive main`) for
the figures before the change.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import RESULTS, ROOT, cli_env, print_table, run_cli, write_config, write_json  # noqa: E402
from tests.smtp_server import HOST, SmtpServer, free_port  # noqa: E402

SLOT = "2022-01-30T09:00"


def smtp_config(folder: Path, port: int) -> Path:
    return write_config(folder, extra=f'[smtp]\nkind = "smtp"\nhost = "{HOST}"\nport = {port}\nsecurity = "none"\n'
                                      f'timeout = 5.0\n')


def still_due(config: Path, env: dict, code: Path, now: str) -> int:
    run = run_cli(config, ["remind", "--dry-run", "--json", "--now", now], env, cwd=code)
    return len(json.loads(run.stdout)) if run.returncode == 0 and run.stdout.strip().startswith("[") else -1


def scenario(name: str, folder: Path, code: Path, refuse: bool) -> list[list[object]]:
    env = cli_env()
    env["PYTHONPATH"] = str(code)
    port = free_port()
    server = SmtpServer.start(refuse_first=10**9, port=port) if refuse else None
    config = smtp_config(folder, port)
    rows = []
    try:
        run = run_cli(config, ["remind", "--now", SLOT], env, cwd=code)
        rows.append([f"{name}: remind", run.seconds, run.returncode, still_due(config, env, code, SLOT)])
        run = run_cli(config, ["digest", "--now", "2022-01-30T09:30"], env, cwd=code)
        rows.append([f"{name}: digest", run.seconds, run.returncode, ""])
    finally:
        if server:
            server.stop()
    with SmtpServer.start(port=port) as back:
        run = run_cli(config, ["remind", "--now", "2022-01-30T10:00"], env, cwd=code)
        rows.append([f"{name}, server back: remind", run.seconds, run.returncode,
                     still_due(config, env, code, "2022-01-30T10:00")])
        rows[-1].append(len(back.messages))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--code", type=Path, default=ROOT, help="checkout of the service to run (default: this one)")
    parser.add_argument("--out", type=Path, default=RESULTS / "smtp_outage.json")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="smtp-outage-") as tmp:
        rows += scenario("closed port", Path(tmp) / "closed", args.code.resolve(), refuse=False)
        rows += scenario("451 to everything", Path(tmp) / "refusing", args.code.resolve(), refuse=True)
    header = ("run", "seconds", "exit", "still due after", "accepted by the server")
    rows = [row + [""] * (len(header) - len(row)) for row in rows]
    print_table(f"SMTP outage ({args.code})", rows, header)
    write_json(args.out, {"code": str(args.code), "rows": [dict(zip(header, row)) for row in rows]})
    return 0


if __name__ == "__main__":
    sys.exit(main())
