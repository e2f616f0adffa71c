"""Receipt: one attributed report + what was read from it -> a short threaded reply, or None.

A receipt goes only to an address registered for the city; mail from any other address gets none, and
the city's registered addresses are told instead that a report in their name came from it. Text from
the mail is quoted only cut short, without control characters and with its URLs and domains defanged.
No receipt for unattributed or automatic mail, robot senders, mail whose sender failed verification
(a forger gets nothing back), or mail older than receipts.window_hours (so importing last year's
archive writes to nobody).
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, Iterable, Sequence

from ..clock import end_of_day
from ..config import Config
from ..model import Outgoing, Problem
from .remind import deadline_context
from .render import Renderer, addressee_of, common_context, default_renderer

# Local parts that never read mail; replying to them only makes bounces.
_ROBOT_SENDER = re.compile(
    r"^(no[-_.]?reply|do[-_.]?not[-_.]?reply|mailer[-_.]?daemon|postmaster|bounces?|notification|"
    r"auto[-_.]?reply)([-+_.].*)?@", re.IGNORECASE)
# "回复：" "Re:" "答复:" "RE[2]:" "Fwd:" left over from earlier exchanges, stripped before re-prefixing.
_REPLY_PREFIX = re.compile(r"^\s*((回复|答复|转发|re|fw|fwd|aw)\s*(\[\d+\])?\s*[:：]\s*)+", re.IGNORECASE)
SUBJECT_CHARS = 60  # the most of an incoming subject a receipt quotes
QUOTED_CHARS = 200  # the most of a file name or problem line (they carry text from the mail)
MAX_PROBLEM_LINES = 20
# Defanging: a scheme loses its "tt" (hxxp://), and a dotted name ending in letters (a domain, also
# without a scheme: evil.com/login) gets its dots bracketed, so no mail client makes a link of it.
# Written here rather than taken from ioc-fanger, whose patterns bracket every dot between word
# characters (1.2亿元 -> 1[.]2亿元); file extensions that are no top-level domain are left alone.
_SCHEME = re.compile(r"(?<![a-z])(h)tt(ps?)(?=\s*[:：])|(?<![a-z])(f)t(p)(?=\s*[:：])", re.IGNORECASE)
_DOMAIN = re.compile(r"(?<![a-z0-9-])(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+"
                     r"(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})(?![a-z0-9-])", re.IGNORECASE)
_URL_HOST = re.compile(r"(?<=://)[^\s/?#\\]+")  # after a scheme every dot of the host, whatever its TLD
_IPV4 = re.compile(r"(?<![0-9.])(?:\d{1,3}\.){3}\d{1,3}(?![0-9])")
_FILE_EXTENSIONS = frozenset({"xlsx", "xlsm", "xls", "docx", "doc", "csv", "pdf", "wps", "rtf", "txt", "ods",
                              "odt", "jpg", "jpeg", "png", "gif", "bmp", "eml", "rar", "7z"})


def plan_receipt(config: Config, *, message_id: str, sender: str, subject: str, received_at: datetime,
                 city: str | None, deadline: str | None, rows: int, problems: list[Problem],
                 auto_generated: bool, now: datetime, replaces: datetime | None = None,
                 renderer: Renderer | None = None, window_from: datetime | None = None,
                 confirmed: Sequence[str] = (), verdict: str = "none") -> Outgoing | None:
    """The receipt to send for one message, or None when none should go out.

    replaces: when the city's earlier version of this report (the one this corrects) was received.
    Also None without a message_id: the key f"receipt:{message_id}" must be unique. The receipt
    window counts back from `window_from` (the last good poll before this one) when given, else from now.
    confirmed: addresses staff registered for the city (`confirm-sender --register`), told like the config's.
    verdict: the sender verification's (model.SenderAuth): "fail" gets nothing.
    """
    if not receipt_wanted(config, message_id=message_id, sender=sender, received_at=received_at, city=city,
                          deadline=deadline, auto_generated=auto_generated, now=now, window_from=window_from,
                          verdict=verdict):
        return None
    assert city is not None and deadline is not None  # checked by _wants_receipt
    to, other_sender = receipt_recipients(sender, config.city(city).emails, confirmed)
    if not to:
        return None  # no registered address to tell: never write to the stranger
    ctx = receipt_context(config, sender_city=city, deadline_id=deadline, subject=subject,
                          received_at=received_at, rows=rows, problems=problems, now=now,
                          other_sender=other_sender, replaces=replaces)
    subject_line, text, html = (renderer or default_renderer()).render("receipt", **ctx)
    # A notice is not threaded: its readers never had the message, whose Message-ID came from a stranger.
    return Outgoing(key=f"receipt:{message_id}", kind="receipt", to=to,
                    subject=subject_line, text=text, html=html, city=city, deadline=deadline,
                    in_reply_to="" if other_sender else message_id)


def receipt_recipients(sender: str, registered: Sequence[str],
                       confirmed: Iterable[str] = ()) -> tuple[tuple[str, ...], str]:
    """(to, other_sender): the sender when registered for the city (config, or confirmed by staff
    once decisions exist), else the city's registered addresses and the sender to name to them."""
    address = (sender or "").strip().lower()
    known = [a.strip().lower() for a in (*registered, *confirmed)]
    if address and address in known:
        return (address,), ""
    return tuple(dict.fromkeys(a for a in registered if a)), address


def receipt_context(config: Config, *, sender_city: str, deadline_id: str, subject: str,
                    received_at: datetime, rows: int, problems: list[Problem],
                    now: datetime, other_sender: str = "", replaces: datetime | None = None) -> dict[str, Any]:
    """Template values for the receipt; other_sender: the unregistered address a notice names.

    late: the first version arrived after the due day (as track decides on time / late; a correction
    keeps its first version's state, so it is never called late); replaces: the version it corrects."""
    deadline = config.deadline(deadline_id)
    return {
        **common_context(config, now),
        "addressee": addressee_of(config.city(sender_city)),
        "city": sender_city,
        "deadline": deadline_context(deadline, config),
        "original_subject": quoted_subject(subject),
        "other_sender": quoted(other_sender, QUOTED_CHARS),
        "received_at": received_at.astimezone(config.tz),
        "rows": rows,
        "wants_table": config.expected_table(deadline.id) is not None,
        "problems": problem_lines(problems),
        "late": replaces is None and received_at >= end_of_day(deadline.due, config.tz),
        "replaces": replaces.astimezone(config.tz) if replaces else None,
    }


def original_subject(subject: str) -> str:
    """The subject without earlier 回复：/Re:/Fwd: prefixes, so replies never read 回复：回复：."""
    return _REPLY_PREFIX.sub("", " ".join((subject or "").split()))


def quoted_subject(subject: str) -> str:
    """The incoming subject as a receipt may quote it: no reply prefixes, cut, defanged."""
    return quoted(original_subject(visible(subject)), SUBJECT_CHARS)


def quoted(text: str, limit: int) -> str:
    """Text from the mail made safe to quote: visible characters only, at most `limit` of them, defanged."""
    text = " ".join(visible(text).split())
    return defang(text[:limit] + "…" if len(text) > limit else text)


def visible(text: str) -> str:
    """Without control and format characters (CR/LF, U+202E, zero-width spaces that would split a
    domain so defanging misses it)."""
    return "".join(" " if ch in "\r\n\t" else ch for ch in (text or "")
                   if ch in "\r\n\t" or unicodedata.category(ch) not in ("Cc", "Cf"))


def defang(text: str) -> str:
    """http://x.y/p -> hxxp://x[.]y/p, evil.com/path -> evil[.]com/path, 1.2.3.4 -> 1[.]2[.]3[.]4."""
    text = _SCHEME.sub(lambda m: f"{m[1]}xx{m[2]}" if m[1] else f"{m[3]}x{m[4]}", text)
    text = _URL_HOST.sub(lambda m: m[0].replace(".", "[.]"), text)
    text = _DOMAIN.sub(_bracket_dots, text)
    return _IPV4.sub(lambda m: m[0].replace(".", "[.]"), text)


def _bracket_dots(match: re.Match) -> str:
    name = match[0]
    if name.rpartition(".")[2].lower() in _FILE_EXTENSIONS:
        return name  # 附件1.xlsx is a file name, not a link
    return name.replace(".", "[.]")


def problem_lines(problems: list[Problem]) -> list[dict[str, str]]:
    """Problems in plain words, each once, with the file they concern when not already named.

    Both carry text from the mail (file names, table cells), so both are quoted safely; at most
    MAX_PROBLEM_LINES, then one line saying how many more there are.
    """
    lines, seen = [], set()
    for problem in problems:
        text = problem.message_zh.strip()
        file = problem.file if problem.file and problem.file not in text else ""
        if text and (file, text) not in seen:
            seen.add((file, text))
            lines.append({"file": quoted(file, QUOTED_CHARS), "text": quoted(text, QUOTED_CHARS)})
    if len(lines) > MAX_PROBLEM_LINES:
        more = len(lines) - MAX_PROBLEM_LINES + 1
        lines = lines[:MAX_PROBLEM_LINES - 1] + [{"file": "", "text": f"另有 {more} 个问题，请与我处联系核实"}]
    return lines


def within_hourly_limit(out: Outgoing, recent: Iterable[Any], since: datetime, limit: int) -> Outgoing | None:
    """`out` without the recipients who got `limit` receipts since `since` (sent log records), or None
    when nobody is left: forged mail must not turn the office's address into a mail cannon."""
    counts: dict[str, int] = {}
    for record in recent:
        if record.kind == "receipt" and record.status in ("sent", "sending") and record.updated_at >= since:
            for address in record.recipients:
                counts[address] = counts.get(address, 0) + 1
    kept = tuple(a for a in out.to if counts.get(a, 0) < limit)
    return replace(out, to=kept) if kept else None


def is_robot_sender(sender: str) -> bool:
    """True for noreply / mailer-daemon / postmaster style addresses (and empty ones)."""
    sender = (sender or "").strip()
    return "@" not in sender or bool(_ROBOT_SENDER.match(sender))


def receipt_wanted(config: Config, *, message_id: str, sender: str, received_at: datetime, city: str | None,
                   deadline: str | None, auto_generated: bool, now: datetime, window_from: datetime | None = None,
                   verdict: str = "none", **_: Any) -> bool:
    """Whether plan_receipt may send anything for this mail, before it asks whom to tell: the caller
    asks the store for the addresses staff registered only then (a backlog of old mail asks nothing).
    Takes plan_receipt's keywords; the ones that do not decide this are ignored."""
    if verdict == "fail":
        return False
    return _wants_receipt(config, message_id=message_id, sender=sender, received_at=received_at, city=city,
                          deadline=deadline, auto_generated=auto_generated,
                          now=min(now, window_from) if window_from else now)


def _wants_receipt(config: Config, *, message_id: str, sender: str, received_at: datetime,
                   city: str | None, deadline: str | None, auto_generated: bool,
                   now: datetime) -> bool:
    if not config.receipts.enabled or auto_generated or not message_id:
        return False
    if city is None or deadline is None or is_robot_sender(sender):
        return False
    if not _known(config, city, deadline):
        return False
    return received_at >= now - timedelta(hours=config.receipts.window_hours)


def _known(config: Config, city: str, deadline: str) -> bool:
    return (any(c.name == city for c in config.cities)
            and any(d.id == deadline for d in config.deadlines))
