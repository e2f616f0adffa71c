"""How often a refused IMAP login is tried (issue 17 item 4): `poll` from cron every 5 minutes
for `--hours` simulated hours against a real Dovecot with a wrong password, counting the logins the
server saw. `--code DIR` runs another checkout of the service (e.g. `git archive main`) for the
figures before the change.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import RESULTS, ROOT, cli_env, imap_section, print_table, run_cli, write_config, write_json  # noqa: E402
from tests.dovecot import Dovecot  # noqa: E402

START = datetime(2022, 1, 20, 10, 0)


def refused_logins(server: Dovecot, user: str, since: int) -> int:
    return sum(1 for line in server.log_text()[since:].splitlines() if f"user=<{user}>" in line and "auth failed" in line)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--hours", type=float, default=4.0)
    parser.add_argument("--code", type=Path, default=ROOT, help="checkout of the service to run")
    args = parser.parse_args()
    server = Dovecot.create()
    try:
        account = server.add_user()
        with tempfile.TemporaryDirectory() as tmp:
            config = write_config(Path(tmp), extra=imap_section(server.host, server.port, account.user))
            env = cli_env("wrong-authorisation-code")
            env["PYTHONPATH"] = str(args.code)
            since, polls, tried, seconds = server.log_size(), 0, [], 0.0
            minutes = 0
            while minutes <= args.hours * 60:
                before = refused_logins(server, account.user, since)
                now = (START + timedelta(minutes=minutes)).isoformat(timespec="minutes")
                run = run_cli(config, ["poll", "--now", now], env, cwd=args.code)
                polls, seconds = polls + 1, seconds + run.seconds
                server.wait_for_log(f"user=<{account.user}>", since, timeout=2)
                if refused_logins(server, account.user, since) > before:
                    tried.append(minutes)
                minutes += 5
        rows = [["polls (every 5 min)", polls], ["logins refused at the server", len(tried)],
                ["minutes of the attempts", " ".join(map(str, tried))], ["wall seconds, all polls", round(seconds, 1)]]
        print_table(f"refused login, {args.hours:g} simulated hours ({args.code})", rows)
        name = "login_backoff.json" if args.code.resolve() == ROOT else "login_backoff_before.json"
        write_json(RESULTS / name, {"hours": args.hours, "code": str(args.code), "polls": polls,
                                                     "attempt_minutes": tried})
    finally:
        server.destroy()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
