"""Demo: replay a campaign on the embedded default with its sample mail (the 2022 samples by default).

Each sample is delivered into the local Maildir on the day its Received header names, and the
mailbox is polled at the end of each simulated day, so states change as they did in 2022.
The demo runs in its own folder (Maildir, outbox, SQLite database, archive, workbook) whatever the
config says about mailbox, SMTP and database: it takes only the campaign, its deadlines, cities
and letters' settings from the config, so it can never read a real inbox or mail a real city.
"""
from __future__ import annotations

import email.utils
import re
import shutil
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Iterator

from .config import DEFAULT_CONFIG, Config, MailboxSection, SmtpSection
from .errors import ConfigError
from .outgoing.calendar import WorkCalendar
from .outgoing.remind import reminder_slots
from .resources import SOURCE_ROOT, shipped_folder

EXAMPLES = shipped_folder("mail")  # examples/mail, inside the wheel or in the checkout
_RECEIVED_DATE = re.compile(rb"^Received:(?:.*\r?\n[ \t])*.*?;\s*(.+?)\r?$", re.IGNORECASE | re.MULTILINE)
_DATE = re.compile(rb"^Date:\s*(.+?)\r?$", re.IGNORECASE | re.MULTILINE)
MARKER = ".service-demo"  # marks a folder the demo made, so a rerun may start it afresh


def sample_folder(config_path: Path | None, mail: Path | None = None) -> Path:
    """The sample mail the demo replays: `mail` when given; else, by convention, the folder named after
    the config file under examples/ (config/examples/nianhuo2027.toml -> examples/nianhuo2027/mail); any
    other config (service.toml, an office's own production.toml) replays the bundled 2022 samples, as the
    demo always did."""
    if mail is not None:
        if not mail.is_dir():
            raise ConfigError(f"demo: --mail {mail} is not a folder of .eml files")
        return mail
    name = (config_path or DEFAULT_CONFIG).stem
    named = SOURCE_ROOT / "examples" / name / "mail"
    return named if named.is_dir() else EXAMPLES


def demo_days(config: Config, samples: list["Sample"]) -> tuple[date, date]:
    """The simulated days: from two days before the first delivery or reminder to the day after the last."""
    tz = config.tz
    days = [s.delivered_at.astimezone(tz).date() for s in samples]
    if config.reminders.enabled:
        days += [slot.at.date() for slot in reminder_slots(config, WorkCalendar(config.calendar))]
    if not days:
        raise ConfigError("demo: no sample mail and no reminders to replay")
    return min(days) - timedelta(days=2), max(days) + timedelta(days=1)


def demo_config(config: Config, folder: Path) -> Config:
    """`config` with mailbox, SMTP, database and every file moved into `folder` (outbox, local Maildir)."""
    service = config.service.model_copy(update={"data_dir": folder, "database_url": f"sqlite:///{folder / 'service.db'}"})
    smtp = SmtpSection(kind="outbox", outbox=folder / "outbox", from_address=config.smtp.from_address,
                       from_name=config.smtp.from_name)
    return config.model_copy(update={
        "service": service, "mailbox": MailboxSection(kind="folder", folder=folder / "mailbox"), "smtp": smtp,
        "worker": config.worker.model_copy(update={"workbook": folder / "汇总表.xlsx"})})


def prepare_demo_folder(folder: Path) -> Path:
    """An empty folder for one demo run: made, or emptied when an earlier demo made it.

    Refuses (ConfigError) a folder holding anything else: the demo deletes only what it made."""
    if folder.exists() and any(folder.iterdir()):
        if not (folder / MARKER).is_file():
            raise ConfigError(f"demo: {folder} holds files the demo did not make; choose another --dir")
        shutil.rmtree(folder)
    for sub in ("tmp", "new", "cur"):  # the Maildir the samples are delivered into
        (folder / "mailbox" / sub).mkdir(parents=True, exist_ok=True)
    (folder / MARKER).write_text("made by `python -m service demo`; rerunning the demo empties this folder\n",
                                 encoding="utf-8")
    return folder


@dataclass(frozen=True)
class Sample:
    path: Path
    delivered_at: datetime


def delivery_time(raw: bytes) -> datetime | None:
    """When a sample arrived: its (topmost) Received header, else its Date header."""
    head = raw.split(b"\n\n", 1)[0].split(b"\r\n\r\n", 1)[0]
    for pattern in (_RECEIVED_DATE, _DATE):
        match = pattern.search(head)
        if match:
            try:
                return email.utils.parsedate_to_datetime(match.group(1).decode("ascii", "replace"))
            except (TypeError, ValueError):
                continue
    return None


def load_samples(folder: Path = EXAMPLES) -> list[Sample]:
    samples = []
    for path in sorted(folder.glob("*.eml")):
        at = delivery_time(path.read_bytes())
        if at is not None:
            samples.append(Sample(path, at))
    return sorted(samples, key=lambda s: (s.delivered_at, s.path.name))


def simulated_days(first: date, last: date) -> Iterator[date]:
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


def deliver(sample: Sample, maildir: Path) -> Path:
    """Put one sample into Maildir/new the way a delivery agent would (tmp, then rename)."""
    for sub in ("tmp", "new", "cur"):
        (maildir / sub).mkdir(parents=True, exist_ok=True)
    name = f"{int(sample.delivered_at.timestamp())}.{sample.path.stem}.demo"
    target = maildir / "new" / name
    if not target.exists():
        tmp = maildir / "tmp" / name
        shutil.copyfile(sample.path, tmp)
        tmp.rename(target)
    return target


def end_of_simulated_day(day: date, tz) -> datetime:
    return datetime.combine(day, time(23, 0), tzinfo=tz)


@dataclass
class DemoReport:
    delivered: int = 0
    reports: int = 0
    receipts: int = 0
    reminders: int = 0
    digests: int = 0
    log: list[str] | None = None


def _events_of_day(day: date, samples: list[Sample], tz) -> list[tuple[datetime, str, Sample | None]]:
    """The day's timeline: digest 08:30, reminders 09:00, each sample's delivery."""
    events: list[tuple[datetime, str, Sample | None]] = [
        (datetime.combine(day, time(8, 30), tzinfo=tz), "digest", None),
        (datetime.combine(day, time(9, 0), tzinfo=tz), "remind", None),
    ]
    events += [(s.delivered_at.astimezone(tz), "mail", s) for s in samples
               if s.delivered_at.astimezone(tz).date() == day]
    return sorted(events, key=lambda e: (e[0], e[1]))


def run_demo(app, first: date, last: date, samples: list[Sample]) -> DemoReport:
    """Replay the campaign day by day from `first` to `last` on a simulated clock, running the service's
    own jobs and delivering each sample on its day."""
    from . import jobs  # the demo drives the same jobs as the worker

    tz = app.config.tz
    report = DemoReport(log=[])
    for day in simulated_days(first, last):
        for at, kind, sample in _events_of_day(day, samples, tz):
            app.clock = (lambda instant: (lambda: instant))(at + timedelta(minutes=1))
            if kind == "mail":
                deliver(sample, app.config.mailbox_folder)
                report.delivered += 1
            counts = jobs.poll(app)  # the worker polls all day long; here at each event
            report.reports += counts.reports
            report.receipts += counts.receipts
            if kind == "remind":
                sent = sum(1 for r in jobs.remind(app).results.values() if r == "sent")
                report.reminders += sent
                if sent:
                    report.log.append(f"{day} 09:00 发出催报提醒 {sent} 封")
            elif kind == "digest" and app.config.digest.enabled:
                _, result = jobs.digest(app)
                report.digests += int(result == "sent")
    end = end_of_simulated_day(last, tz)
    app.clock = lambda: end
    return report
