"""The first run in the middle of a campaign, through the store and the folder outbox: the reminders it
finds missed for good are one line per deadline in the next digest, not one line each."""
from __future__ import annotations

from service import jobs
from service.app import App
from service.clock import fixed_clock


def test_a_first_run_mid_campaign_summarises_the_stale_reminders_per_deadline(config):
    app = App.open(config, fixed_clock("2022-02-08T09:00:00", config.tz))
    try:
        app.store.set_health("poll_ok", "0 new", app.clock())  # the mailbox was just read
        run = jobs.remind(app)
        assert len(run.stale) > 40 and len(run.due) == 14  # the overdue notices of 活动全面总结 go out
        app.clock = fixed_clock("2022-02-09T08:30:00", config.tz)
        out, _ = jobs.digest(app, dry_run=True)
    finally:
        app.close()
    section = out.text.split("未发出的提醒 ")[1].split("五、")[0]
    assert section.startswith(f"{len(run.stale)} 封")
    lines = [line for line in section.splitlines() if line.startswith("- ")]
    deadlines = {o.deadline for o in run.stale}
    assert len(lines) == len(deadlines) and all("个市州，原定" in line for line in lines)
    assert sum(int(line.split("：")[1].split(" 封")[0]) for line in lines) == len(run.stale)
