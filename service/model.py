"""Values passed between the stages: parse -> attribute -> extract -> track, and the typed records
the store writes and reads back (results, rows, problems, sent log; a snapshot of them for one job).

All frozen; no stage mutates another stage's output.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import Mapping, NamedTuple

from .staff import Corrections, Decision


@dataclass(frozen=True)
class Problem:
    """Bad input recorded as data: a stable code, a sentence for people, and where."""

    code: str  # e.g. "unreadable_attachment", "unknown_county", "no_header"
    message_zh: str  # shown to staff and quoted in receipts to the city
    detail: str = ""  # technical detail for staff (exception text, raw value)
    file: str = ""  # attachment name the problem is about, if any
    row: int | None = None  # 1-based row in the source sheet/table, if any
    number: int | None = None  # given by the store, the same through reprocess (staff decisions name it)


@dataclass(frozen=True)
class Attachment:
    """One file found in a message (also inside forwarded mail and zip archives)."""

    filename: str  # decoded, sanitised display name (no path parts)
    content: bytes
    kind: str  # sniffed from content: xlsx xlsm ods xls docx doc csv zip pdf image et wps rtf text unknown
    declared_type: str = ""  # Content-Type as the sender's client declared it (not trusted)
    origin: str = ""  # containers it came from, e.g. "转发邮件/附件.zip"


@dataclass(frozen=True)
class Message:
    """A parsed email. Times are aware datetimes; bodies are decoded text."""

    message_id: str
    sender: str  # lower-cased address
    sender_name: str
    subject: str
    date: datetime | None  # Date header
    received: datetime | None  # newest Received header timestamp
    text: str
    html: str
    attachments: tuple[Attachment, ...] = ()
    auto_generated: bool = False  # auto-reply, bounce, mailing list robot
    problems: tuple[Problem, ...] = ()
    in_reply_to: str = ""
    references: str = ""


@dataclass(frozen=True)
class Metrics:
    """Numbers read from the free text of 活动成效."""

    participants: Decimal | None = None  # 参与主体数量 (家); exact, as written (service/figures.py)
    products: Decimal | None = None  # 商品数量 (款/种/个)
    sales_wan: Decimal | None = None  # 销售额, in 万元
    problems: tuple[Problem, ...] = ()


@dataclass(frozen=True)
class Row:
    """One row of a statistics table (the fields of its config template), values as the city wrote them."""

    values: dict[str, str]  # field key -> text, for the fields the table has (numeric columns as written too)
    source_row: int = 0  # 1-based row (or table row) in the source
    figures: dict[str, Decimal | None] = field(default_factory=dict)  # numeric field key -> value, None: unread
    problems: tuple[Problem, ...] = ()  # figures that could not be read

    def get(self, key: str) -> str:
        return self.values.get(key, "")


@dataclass(frozen=True)
class Table:
    """A statistics table found in one sheet (or Word table) of one attachment."""

    filename: str
    sheet: str
    rows: tuple[Row, ...]
    template: str = ""  # the id of the [[tables]] template it matched
    unit: str = ""  # 填报单位
    contact: str = ""  # 联系人
    contact_title: str = ""  # 职务
    phone: str = ""  # 联系方式
    email: str = ""  # 邮箱


@dataclass(frozen=True)
class Extraction:
    """What an attachment yielded: tables, and the problems met reading it."""

    tables: tuple[Table, ...] = ()
    problems: tuple[Problem, ...] = ()


@dataclass(frozen=True)
class Attribution:
    """Which city sent a message and for which deadline."""

    city: str | None  # canonical name, e.g. "长沙市"; None when unknown
    deadline: str | None  # deadline id, e.g. "progress"
    received_at: datetime  # the moment the office received it (local time)
    city_source: str = ""  # "sender", "subject", "filename", "unit", "body"
    deadline_source: str = ""  # "keyword" or "date"
    unregistered_sender: bool = False
    is_report: bool = False  # counts towards the deadline
    problems: tuple[Problem, ...] = ()


@dataclass(frozen=True)
class ReportState:
    """Where one city stands for one deadline at a given moment (output of track)."""

    city: str
    deadline: str
    state: str  # "on_time" | "late" | "missing" | "pending" | "exempt" (staff excused the city)
    received_at: datetime | None = None  # latest counted version (local time)
    first_received_at: datetime | None = None  # first version: decides on time / late
    rows: int = 0
    problems: tuple[str, ...] = ()  # message_zh of the report's problems
    message_id: str = ""  # Message-ID of the version whose rows count
    message: int = 0  # store id of that version (0: none)
    versions: int = 0
    latest_at: datetime | None = None  # the version in force (local time)
    decisions: tuple[int, ...] = ()  # staff decisions applied to this report or its versions
    note: str = ""  # why staff exempted the city, if they did
    held: tuple[int, ...] = ()  # versions not credited: from a registered address, sender unverified


@dataclass(frozen=True)
class Outgoing:
    """An email the service wants to send; `key` makes sending idempotent."""

    key: str  # e.g. "reminder:长沙市:progress:upcoming:2022-01-03T09:00+08:00"
    kind: str  # "upcoming" | "overdue" | "receipt" | "digest"
    to: tuple[str, ...]
    subject: str
    text: str
    html: str
    city: str = ""
    deadline: str = ""
    in_reply_to: str = ""  # receipts thread under the city's message
    attachments: tuple[tuple[str, bytes], ...] = ()


@dataclass(frozen=True)
class Fetched:
    """One raw message as a source delivered it, before anything else is done with it."""

    source_id: str  # "imap:<folder>:<uidvalidity>:<uid>" or "file:<path relative to the folder>"
    raw: bytes
    received_at: datetime | None = None  # IMAP INTERNALDATE (aware); None for files
    folder: str = ""  # IMAP folder; "" for a folder source
    uidvalidity: int = 0
    uid: int = 0  # 0 when the source has no UIDs


# -- records at the store boundary: derive -> store -> the jobs' views ----------------------------

@dataclass(frozen=True)
class AttachmentInfo:
    """An attachment as `messages` lists it (no bytes)."""

    filename: str
    kind: str
    origin: str = ""


@dataclass(frozen=True)
class TableUnit:
    """The 填报单位/联系人 lines a city wrote above one table (whom to call about a problem)."""

    file: str
    sheet: str
    unit: str = ""
    contact: str = ""
    title: str = ""  # 职务
    phone: str = ""
    email: str = ""


@dataclass(frozen=True)
class SenderAuth:
    """What vouches for a message's From address (decide/sender_auth.py): our own DKIM check and the
    results the office's receiving server recorded (only its own Authentication-Results count).

    verdict: "pass" (an aligned DKIM pass or a trusted DMARC pass), "fail" (an aligned signature that
    fails, or a trusted DMARC/SPF fail) or "none" (no evidence either way).
    """

    verdict: str = "none"
    dkim: str = "none"  # pass | fail | permerror | temperror | none (no signature)
    dkim_domain: str = ""  # d= of the signature that decided
    aligned: bool = False  # dkim_domain and the From domain share their organisational domain
    spf: str = ""  # as the trusted server said ("" when it said nothing we trust)
    dmarc: str = ""
    authserv_id: str = ""  # the trusted server whose results were read

    @property
    def verified(self) -> bool:
        return self.verdict == "pass"


@dataclass(frozen=True)
class MessageResult:
    """What derive says about one message (a `results` record, without the store's ids)."""

    sender: str
    subject: str
    received_at: datetime
    city: str | None
    deadline: str | None
    is_report: bool
    auto_generated: bool
    unregistered_sender: bool
    city_source: str
    deadline_source: str
    tables: int  # statistics tables read from its attachments
    attachments: tuple[AttachmentInfo, ...] = ()
    units: tuple[TableUnit, ...] = ()
    auth: SenderAuth = SenderAuth()
    sender_unverified: bool = False  # held: from a registered address, but the evidence says forged


@dataclass(frozen=True)
class StoredResult(MessageResult):
    """A MessageResult read back, with the store's facts about its message."""

    message: int = 0  # store id
    message_id: str = ""  # Message-ID header
    sha256: str = ""
    duplicate_of: int | None = None  # store id of the first delivery with the same Message-ID

    @property
    def is_version(self) -> bool:
        """A report version of a city for a deadline that counts (duplicates, and mail held because its
        sender could not be verified, are none)."""
        return self.is_candidate and not self.sender_unverified

    @property
    def is_candidate(self) -> bool:
        """A report of a city for a deadline, counted or held (duplicates excluded)."""
        return bool(self.is_report and self.city and self.deadline and self.duplicate_of is None)


class ReportRow(NamedTuple):
    """One row of a report as stored (a `rows` record): its fields' texts and its figures (exact Decimal)
    by the keys of the config's table template.

    A NamedTuple, not a dataclass: 200,000 of them per backlog are built in the workers, pickled to the
    main process and written by the store as tuples. Measured per row: built in 0.45 us (a frozen slots
    dataclass 3.2 us, a dict 0.54 us), 50 rows pickled and unpickled in 0.18 ms (the dataclass 1.1 ms).
    """

    filename: str
    sheet: str
    source_row: int
    values: dict[str, str]  # field key -> text
    figures: dict[str, Decimal | None]  # numeric field key -> value; None (or absent): not read
    table: str = ""  # the template's id

    def get(self, key: str) -> str:
        return self.values.get(key, "")

    def figure(self, key: str) -> Decimal | None:
        return self.figures.get(key)


@dataclass(frozen=True)
class StoredMessage:
    """A recorded message (fact): its archive key and where it came from."""

    id: int
    sha256: str
    message_id: str
    source_received_at: datetime | None
    ingested_at: datetime
    duplicate_of: int | None


RESENDABLE = ("failed", "retry")  # sent-log statuses a later run sends again


@dataclass(frozen=True)
class SentRecord:
    """One line of the sent log (outgoing/sent_log.py)."""

    key: str
    kind: str
    city: str
    deadline: str
    recipients: tuple[str, ...]
    subject: str
    status: str
    attempts: int
    error: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class Snapshot:
    """What a job knows, read once (Store.snapshot, one read transaction): the views of status, the
    digest and the workbook are pure functions of it, the config and `now`.

    `at(now)` is the one place mail received (and staff decisions taken) after `now` are left out.
    The decisions are laid over the derived records by decide.decisions.corrected, which fills
    `corrections`: results as staff corrected them, only the problems still open.
    """

    results: tuple[StoredResult, ...] = ()  # oldest first (store id)
    problems: Mapping[int, tuple[Problem, ...]] = field(default_factory=dict)  # message -> as found
    row_counts: Mapping[int, int] = field(default_factory=dict)  # message -> rows stored
    rows: Mapping[int, tuple[ReportRow, ...]] | None = None  # of every report version; None: not read
    sent: tuple[SentRecord, ...] = ()  # the sent log, oldest first
    health: Mapping[str, tuple[str, datetime]] = field(default_factory=dict)  # key -> (value, at)
    decisions: tuple[Decision, ...] = ()  # staff decisions, oldest first (facts)
    corrections: Corrections | None = None  # set once the decisions are laid over (decide.decisions)

    def at(self, now: datetime) -> "Snapshot":
        """The view at `now`: only mail received and decisions taken by then, with its problems and rows."""
        kept = tuple(r for r in self.results if r.received_at <= now)
        decided = tuple(d for d in self.decisions if d.at <= now)
        if len(kept) == len(self.results) and len(decided) == len(self.decisions):
            return self
        if self.corrections is not None:
            raise ValueError("take the view at `now` before laying the decisions over it")
        ids = {r.message for r in kept}
        return replace(self, results=kept, problems={m: p for m, p in self.problems.items() if m in ids},
                       row_counts={m: n for m, n in self.row_counts.items() if m in ids},
                       rows=None if self.rows is None else {m: r for m, r in self.rows.items() if m in ids},
                       decisions=decided)

    def health_of(self, key: str) -> tuple[str, datetime] | None:
        """(value, at) of a health key, None when never set."""
        return self.health.get(key)

    def sent_since(self, since: datetime) -> list[SentRecord]:
        """Sent-log records updated since `since` (a digest's period, an hour of receipts)."""
        return [s for s in self.sent if s.updated_at >= since]

    def sent_keys(self) -> set[str]:
        """Keys that were sent or are being sent: never to be sent again."""
        return {s.key for s in self.sent if s.status not in RESENDABLE}
