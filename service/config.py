"""The one typed config object, loaded from TOML (+ a few env overrides) at start.

Errors name the key and the reason, so a wrong file fails before any job runs.
"""
from __future__ import annotations

import os
import tomllib
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal, Mapping
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from .config_errors import utf8_text, validation_report
from .errors import ConfigError
from .resources import shipped_config
from .tables import TableTemplate

DEFAULT_CONFIG = Path("config/service.toml")


def _hour_minute(value: str) -> str:
    hours, _, minutes = value.partition(":")
    if not (hours.isdigit() and minutes.isdigit() and int(hours) < 24 and int(minutes) < 60):
        raise ValueError(f"time must be HH:MM, got {value!r}")
    return f"{int(hours):02d}:{int(minutes):02d}"


HourMinute = Annotated[str, AfterValidator(_hour_minute)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ServiceSection(_Frozen):
    timezone: str = "Asia/Shanghai"
    data_dir: Path = Path("var")
    # Any SQLAlchemy URL; unset, the database is <data_dir>/service.db so both move together.
    database_url: str = ""
    log_level: str = "INFO"
    workers: int = Field(default=0, ge=0)  # processes parsing/extracting a backlog; 0: one per core (max 4)

    @model_validator(mode="before")
    @classmethod
    def _database_follows_data_dir(cls, data: object) -> object:
        if isinstance(data, dict) and not data.get("database_url"):
            data_dir = data.get("data_dir", "var")
            if isinstance(data_dir, (str, Path)):
                data = {**data, "database_url": f"sqlite:///{Path(data_dir) / 'service.db'}"}
        return data

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as err:
            raise ValueError(f"unknown timezone {value!r}") from err
        return value

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class CampaignSection(_Frozen):
    name: str
    start: date | None = None
    end: date | None = None
    organiser: str = "湖南省商务厅电子商务处"
    mailbox_address: str = "hndzsw@163.com"
    # How letters cite the notice that asks for the reports; empty: 《关于开展“<name>”活动的通知》
    notice: str = ""
    overdue_note: str = ""  # a sentence the overdue letters add before "请尽快报送" (e.g. why it matters)


class Deadline(_Frozen):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    title: str
    due: date
    required: bool = True
    keywords: tuple[str, ...] = ()
    table: str | None = Field(default=None, pattern=r"^[a-z][a-z0-9_]*$")  # the [[tables]] id its report carries
    # Letters: what to send (empty: the title); for an optional deadline asked of every city, the sentence
    # that invites, the condition under which a city reports and the words for "if not".
    request: str = ""
    invitation: str = ""
    condition: str = "需要报送"
    otherwise: str = "如无需报送"


class City(_Frozen):
    name: str
    aliases: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()
    counties: tuple[str, ...] = ()
    addressee: str = ""  # 称呼 in letters, default "<short>商务局"
    # The city signs its mail (DKIM): its mail that nothing vouches for is held like forged mail.
    require_auth: bool = False

    @field_validator("emails")
    @classmethod
    def _lower_emails(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(e.strip().lower() for e in value)

    @property
    def names(self) -> tuple[str, ...]:
        """Canonical name first, then aliases, longest first so 湘西州 wins over 湘西."""
        return (self.name, *sorted(self.aliases, key=len, reverse=True))


class _ServerSection(_Frozen):
    """A mail server login; the password comes from the environment or a secret file only."""

    host: str = ""
    port: int = 993
    security: Literal["ssl", "starttls", "none"] = "ssl"
    user: str = ""
    password: SecretStr | None = None
    password_file: Path | None = None
    timeout: float = 30.0


class MailboxSection(_ServerSection):
    """Where mail comes from. kind="folder" reads a local Maildir/.eml folder (embedded default).

    password: env SERVICE_IMAP_PASSWORD (163: the 授权码, not the web password) or password_file.
    """

    kind: Literal["folder", "imap"] = "folder"
    folder: Path | None = None  # default: <data_dir>/mailbox
    folders: tuple[str, ...] = ("INBOX",)
    batch_size: int = 50
    # authserv-ids of the office's own receiving server: only its Authentication-Results are read
    # (a sender can write any header). Empty: nothing is trusted. See README "Trust the sender".
    trusted_authserv_ids: tuple[str, ...] = ()
    dns_timeout: float = Field(default=5.0, gt=0)  # seconds for one DKIM key lookup (then temperror)

    @field_validator("trusted_authserv_ids")
    @classmethod
    def _lower_ids(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(v.strip().lower() for v in value if v.strip())

    @model_validator(mode="after")
    def _imap_needs_a_host(self) -> "MailboxSection":
        if self.kind == "imap" and not self.host.strip():
            raise ValueError('kind = "imap" needs host (e.g. host = "imap.163.com")')
        return self


class LimitsSection(_Frozen):
    """Bounds on what one message may unpack to (zip bombs, nested forwards)."""

    max_attachment_bytes: int = 50 * 1024 * 1024
    max_unpacked_bytes: int = 200 * 1024 * 1024
    max_compression_ratio: int = 200
    max_depth: int = 3
    max_members: int = 500
    # Larger mail is archived but not parsed (a message_too_large problem asks staff to open it):
    # 163 Mail sends attachments up to 50 MB, about 70 MB once base64-encoded.
    max_message_bytes: int = Field(default=100 * 1024 * 1024, gt=0)
    # Checked before a reader allocates (a cell at XFD1048576 is a few bytes in the file and 512 GB in
    # calamine). Real 附件1 tables have a few hundred rows and under 20 columns.
    max_rows: int = Field(default=20_000, gt=0)  # used range of one sheet or Word table, and of one attachment's together
    max_columns: int = Field(default=200, gt=0)  # used range of one sheet or Word table (gridSpan, gridBefore included)
    max_rows_per_message: int = Field(default=100_000, gt=0)  # sheet rows read from all attachments of one message
    max_part_bytes: int = Field(default=32 * 1024 * 1024, gt=0)  # any one part of an xlsx/docx/ods once inflated
    # A statistics table exported to PDF is a page or two; a long PDF is a report, not a table.
    max_pdf_pages: int = Field(default=50, gt=0)  # pages of one PDF read for tables; a longer one is not read
    max_pdf_seconds: float = Field(default=30.0, gt=0)  # reading one PDF's tables stops after this long
    # Each message is parsed in a worker process under these two bounds; one that breaks either is
    # quarantined (never retried automatically; `reprocess --include-quarantined` tries it again).
    max_worker_memory_mb: int = Field(default=2048, ge=256)  # address space a worker may add to its start
    max_seconds_per_message: float = Field(default=120.0, gt=0)  # wall time to parse and extract one message


class SmtpSection(_ServerSection):
    """Outgoing mail. kind="outbox" writes .eml files under <data_dir>/outbox (embedded default)."""

    kind: Literal["outbox", "smtp"] = "outbox"
    outbox: Path | None = None  # default: <data_dir>/outbox
    port: int = 465  # password: env SERVICE_SMTP_PASSWORD or password_file
    from_address: str = "hndzsw@163.com"
    from_name: str = "湖南省商务厅电子商务处"
    retries: int = 3  # further attempts after the first, on transient failures only
    backoff_seconds: float = 5.0  # wait before retry i is backoff_seconds * 2**i
    # After this many consecutive sends that cannot reach the server, the rest of the batch (one
    # `remind`, one digest, one poll's receipts) waits for the next run instead of each retrying.
    circuit_breaker_failures: int = Field(default=3, ge=1)
    max_batch_seconds: float = Field(default=300.0, gt=0)  # one batch's sends, retries included, end by then
    ca_file: Path | None = None  # extra CA bundle to trust (self-signed test or relay servers)

    @model_validator(mode="after")
    def _smtp_needs_a_host(self) -> "SmtpSection":
        if self.kind == "smtp" and not self.host.strip():
            raise ValueError('kind = "smtp" needs host (e.g. host = "smtp.163.com")')
        return self


class RemindersSection(_Frozen):
    enabled: bool = True
    time: HourMinute = "09:00"  # local time of day reminders go out
    upcoming_workdays: tuple[int, ...] = (3, 1)  # working days before the deadline
    overdue_workdays: tuple[int, ...] = (1,)  # working days after the deadline
    plan_cities: tuple[str, ...] = ()  # cities that said they run sub-venues (optional deadline)
    overdue_catch_up_workdays: int = 2  # a missed overdue notice may still go out this many workdays late
    # Reminders are held (not sent, not given up) unless the mailbox was read this recently: a
    # "not received" letter must not go out while reports may be waiting unread on the server.
    max_poll_age_minutes: float = Field(default=30.0, gt=0)
    # The signature's 联系人 and 电话 in every letter; each is left out while empty (no name by default).
    contact_name: str = ""
    contact_phone: str = ""


class ReceiptsSection(_Frozen):
    enabled: bool = True
    window_hours: float = 72.0  # only mail received this recently gets a receipt (no receipts on backfill)
    # Receipts (and notices to a city's registered addresses) one address may get in any hour, counted
    # from the sent log; more are recorded as skipped, not sent, so forged mail cannot flood a mailbox.
    max_per_address_per_hour: int = Field(default=5, ge=1)


class PlausibilitySection(_Frozen):
    """A city total this many times the one its previous version counted is flagged (a unit slip, a plant).
    The bounds per figure are on the table template's numeric fields (max_per_row, max_per_city, jump_floor)."""

    max_jump: float = Field(default=100.0, gt=1)


class DigestSection(_Frozen):
    enabled: bool = True
    recipients: tuple[str, ...] = ("hndzsw@163.com",)
    time: HourMinute = "08:30"
    attach_workbook: bool = False
    poll_stale_hours: float = 2.0  # flag the mailbox as silent when the last good poll is older


class CalendarSection(_Frozen):
    """Official holidays and make-up workdays for years the chinesecalendar package does not know."""

    holidays: tuple[date, ...] = ()
    workdays: tuple[date, ...] = ()


class WorkerSection(_Frozen):
    """The long-running `run` worker: polling, IMAP IDLE, stopping, its log format."""

    poll_interval: float = Field(default=120.0, gt=0)  # seconds between polls; IDLE wakes a poll sooner
    idle: bool = True  # IMAP IDLE between polls when the server offers it: new mail within seconds
    idle_timeout: float = Field(default=600.0, gt=0, le=1740)  # renew IDLE well before RFC 2177's 29 min
    stop_timeout: float = Field(default=10.0, gt=0)  # SIGTERM waits this long for the job in flight
    workbook: Path | None = None  # refreshed after each new report; default <data_dir>/汇总表.xlsx
    log_format: Literal["plain", "json"] = "plain"


class HealthSection(_Frozen):
    """Thresholds of `status --check` (for cron, systemd or a container health check)."""

    max_poll_age_minutes: float = Field(default=15.0, gt=0)  # the last good poll must be younger
    max_failed_sends: int = Field(default=1, ge=1)  # this many failed sends in a row fail the check


class Config(_Frozen):
    service: ServiceSection = ServiceSection()
    campaign: CampaignSection
    deadlines: tuple[Deadline, ...]
    cities: tuple[City, ...]
    tables: tuple[TableTemplate, ...] = ()  # none given: the shipped 2022 template (config_from_dict)
    mailbox: MailboxSection = MailboxSection()
    limits: LimitsSection = LimitsSection()
    smtp: SmtpSection = SmtpSection()
    reminders: RemindersSection = RemindersSection()
    receipts: ReceiptsSection = ReceiptsSection()
    plausibility: PlausibilitySection = PlausibilitySection()
    digest: DigestSection = DigestSection()
    calendar: CalendarSection = CalendarSection()
    worker: WorkerSection = WorkerSection()
    health: HealthSection = HealthSection()

    @model_validator(mode="after")
    def _consistent(self) -> "Config":
        ids = [d.id for d in self.deadlines]
        if twice := _repeated(ids):
            raise ValueError(f'deadlines: id "{twice}" is used by more than one [[deadlines]]')
        if not self.deadlines:
            raise ValueError("deadlines: at least one deadline is needed")
        names = [c.name for c in self.cities]
        if twice := _repeated(names):
            raise ValueError(f"cities: {twice} is listed more than once in [[cities]]")
        seen: dict[str, str] = {}
        for city in self.cities:
            for email in city.emails:
                if email in seen and seen[email] != city.name:
                    raise ValueError(f"cities: {email} listed for both {seen[email]} and {city.name}")
                seen[email] = city.name
        return self

    @model_validator(mode="after")
    def _tables_named(self) -> "Config":
        ids = [t.id for t in self.tables]
        if twice := _repeated(ids):
            raise ValueError(f'tables: id "{twice}" is used by more than one [[tables]]')
        for d in self.deadlines:
            if d.table is not None and d.table not in ids:
                known = ", ".join(ids) or "none"
                raise ValueError(f'deadline "{d.id}".table: no [[tables]] with id "{d.table}" (known: {known})')
        return self

    @model_validator(mode="after")
    def _health_allows_a_poll(self) -> "Config":
        if self.health.max_poll_age_minutes * 60 <= self.worker.poll_interval:
            raise ValueError("health.max_poll_age_minutes: must be longer than worker.poll_interval "
                             "(else every check between two polls fails)")
        return self

    @property
    def tz(self) -> ZoneInfo:
        return self.service.tz

    @property
    def data_dir(self) -> Path:
        return self.service.data_dir

    @property
    def archive_dir(self) -> Path:
        return Path(self.service.data_dir) / "archive"

    @property
    def outbox_folder(self) -> Path:
        return self.smtp.outbox or self.service.data_dir / "outbox"

    @property
    def mailbox_folder(self) -> Path:
        return self.mailbox.folder or self.service.data_dir / "mailbox"

    @property
    def workbook_path(self) -> Path:
        return self.worker.workbook or self.service.data_dir / "汇总表.xlsx"

    def deadline(self, deadline_id: str) -> Deadline:
        for d in self.deadlines:
            if d.id == deadline_id:
                return d
        raise KeyError(deadline_id)

    def city(self, name: str) -> City:
        for c in self.cities:
            if c.name == name:
                return c
        raise KeyError(name)

    @property
    def table_deadline(self) -> Deadline:
        """The deadline whose report the workbook sums up: the last one naming a table (the last one
        when none does: a config without `table =` keys, which gets the shipped template)."""
        named = [d for d in self.deadlines if d.table]
        return max(named or self.deadlines, key=lambda d: d.due)

    @property
    def template(self) -> TableTemplate:
        """The table the workbook sums up: the one table_deadline names (else the first)."""
        wanted = self.table_deadline.table
        return next((t for t in self.tables if t.id == wanted), self.tables[0])

    def expected_table(self, deadline_id: str) -> TableTemplate | None:
        """The table a deadline's report carries: the one it names (a config naming none: the workbook's,
        on its last deadline)."""
        deadline = self.deadline(deadline_id)
        if deadline.table:
            return self.table(deadline.table)
        named = any(d.table for d in self.deadlines)
        return None if named or deadline.id != self.table_deadline.id else self.template

    def table(self, table_id: str) -> TableTemplate:
        for t in self.tables:
            if t.id == table_id:
                return t
        raise KeyError(table_id)


def _repeated(values: list[str]) -> str | None:
    """The first value that occurs twice, if any."""
    seen: set[str] = set()
    for value in values:
        if value in seen:
            return value
        seen.add(value)
    return None


def _read_secret(environ: Mapping[str, str], env_key: str, file: Path | None) -> str | None:
    if environ.get(env_key):
        return environ[env_key]
    file_env = environ.get(env_key + "_FILE")
    path = Path(file_env) if file_env else file
    if path is None:
        return None
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError as err:
        raise ConfigError(f"{env_key}: cannot read secret file {path}: {err.strerror}") from err


def url_with_password(url: str, password: str) -> str:
    """`scheme://user@host/db` with the password put in (percent-encoded: any character may be used)."""
    scheme, sep, rest = url.partition("://")
    userinfo, at, hostpart = rest.partition("@")
    if not sep or not at:
        raise ConfigError("SERVICE_DATABASE_PASSWORD: database_url needs a user (scheme://user@host/db)")
    user = userinfo.split(":", 1)[0]
    return f"{scheme}://{user}:{quote(password, safe='')}@{hostpart}"


def _with_secret(section: str, values: dict, environ: Mapping[str, str], env_key: str) -> dict:
    if "password" in values:
        raise ConfigError(f"{section}.password: passwords never live in the config file; "
                          f"set {env_key} (or {env_key}_FILE) or {section}.password_file")
    file = Path(values["password_file"]) if values.get("password_file") else None
    secret = _read_secret(environ, env_key, file)
    if secret is not None:
        values["password"] = secret
    return values


def config_from_dict(data: dict, environ: Mapping[str, str] | None = None) -> Config:
    """Build the Config from parsed TOML plus env overrides (SERVICE_DATA_DIR, SERVICE_DATABASE_URL)."""
    environ = os.environ if environ is None else environ
    data = {k: (dict(v) if isinstance(v, dict) else v) for k, v in data.items()}
    service = data.setdefault("service", {})
    if environ.get("SERVICE_DATA_DIR"):
        service["data_dir"] = environ["SERVICE_DATA_DIR"]
    if environ.get("SERVICE_DATABASE_URL"):
        service["database_url"] = environ["SERVICE_DATABASE_URL"]
    # The database password as a secret (a Compose `secrets:` file), kept out of the URL in env and config.
    db_password = _read_secret(environ, "SERVICE_DATABASE_PASSWORD", None)
    if db_password is not None and service.get("database_url"):
        service["database_url"] = url_with_password(str(service["database_url"]), db_password)
    for section, env_key in (("mailbox", "SERVICE_IMAP_PASSWORD"), ("smtp", "SERVICE_SMTP_PASSWORD")):
        data[section] = _with_secret(section, dict(data.get(section) or {}), environ, env_key)
    if "tables" not in data:
        data["tables"] = shipped_tables()
    try:
        return Config.model_validate(data)
    except ValidationError as err:
        raise ConfigError(validation_report(err, data, Config)) from err


@lru_cache(maxsize=1)
def _shipped_tables_toml() -> tuple:
    return tuple(tomllib.loads(shipped_config().read_text(encoding="utf-8")).get("tables", ()))


def shipped_tables() -> list:
    """The [[tables]] of the shipped config/service.toml (the 2022 template): the default of a config
    that declares none, so the template lives in one place."""
    return list(_shipped_tables_toml())


@lru_cache(maxsize=1)
def default_tables() -> tuple[TableTemplate, ...]:
    """The shipped template(s), validated: what extraction uses when given none (tests, tools)."""
    return tuple(TableTemplate.model_validate(t) for t in _shipped_tables_toml())


def load_config(path: Path | str | None = None, environ: Mapping[str, str] | None = None,
                shipped_fallback: bool = False) -> Config:
    """Load the TOML file named by path, else env SERVICE_CONFIG, else config/service.toml.

    With shipped_fallback (the demo), a missing config/service.toml means the shipped 2022 file, so a
    wheel install runs the demo from any folder. Every error line starts with the file's name."""
    environ = os.environ if environ is None else environ
    path = Path(path or environ.get("SERVICE_CONFIG") or DEFAULT_CONFIG)
    if shipped_fallback and path == DEFAULT_CONFIG and not path.exists():
        path = shipped_config()
    try:
        data = tomllib.loads(utf8_text(path.read_bytes(), path))
    except FileNotFoundError as err:
        raise ConfigError(f"config file not found: {path} (give one with --config FILE or SERVICE_CONFIG; "
                          f"the shipped 2022 campaign file to start from: {shipped_config()})") from err
    except IsADirectoryError as err:
        raise ConfigError(f"{path}: is a folder, not a config file") from err
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: not valid TOML: {err}") from err
    try:
        return config_from_dict(data, environ)
    except ConfigError as err:
        raise ConfigError("\n".join(f"{path}: {line}" for line in str(err).splitlines())) from err
