"""Summary stage: a job's snapshot (stored results, rows, problems) at a moment -> Summary (values only).

Rows come from each city's counted version for the deadline, cities in the official order,
序号 renumbered; the figures are Decimal (service/figures.py) and summed exactly, in plain Python:
14 cities and a few thousand rows need no pandas. Writing is in workbook.py.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time
from decimal import Decimal
from functools import lru_cache
from typing import Collection, Iterable, Iterator, Mapping, Sequence

from ..config import Config, Deadline
from ..decide.decisions import corrected
from ..decide.labels import state_label as label_of
from ..decide.plausibility import FigureKey, city_doubts, is_counted
from ..decide.status import states_at
from ..figures import figure_sum, plain_figure
from ..model import Problem, ReportRow, ReportState, Snapshot, StoredResult, TableUnit
from ..tables import TableField, TableTemplate

PROBLEM_COLUMNS = ("序号", "市州", "报送节点", "收到时间", "发件人", "邮件主题", "文件", "行", "问题",
                   "联系人", "联系电话", "代码")
TOTAL_ZH = "全省合计"
HUMAN_CODES_EXCLUDED = frozenset({"duplicate", "auto_generated"})  # problems staff need not act on
DOUBTED_ZH = "数值异常，未计入合计，待核实"  # the note on a figure kept out of the totals


@dataclass(frozen=True)
class Layout:
    """The 汇总 sheet's columns from the table template: 序号 (renumbered), 市州, the template's fields,
    来源文件, 收到日期; which of them are figures."""

    template: TableTemplate
    columns: tuple[str, ...]  # headings
    keys: tuple[str, ...]  # English keys (JSON), in the same order
    kinds: tuple[str, ...]  # seq | city | county | text | integer | decimal | money | file | received
    widths: tuple[tuple[int, int], ...]
    figures: tuple[TableField, ...]
    figure_columns: tuple[int, ...]  # positions of the figures in a row

    @property
    def metrics(self) -> tuple[str, ...]:
        return tuple(f.key for f in self.figures)

    @property
    def headline(self) -> str:
        return self.template.headline


@lru_cache(maxsize=8)
def layout_of(template: TableTemplate) -> Layout:
    fields = [f for f in template.fields if f.kind != "seq"]
    seq = next((f for f in template.fields if f.kind == "seq"), None)
    keys = ("seq", "city", *(f.key for f in fields), "file", "received")
    return Layout(
        template=template, columns=(seq.title if seq else "序号", "市州", *(f.title for f in fields), "来源文件", "收到日期"),
        keys=keys, kinds=("seq", "city", *(f.kind for f in fields), "file", "received"),
        widths=((6, 8), (8, 22), *(f.widths for f in fields), (12, 28), (12, 12)),
        figures=template.figures, figure_columns=tuple(keys.index(f.key) for f in template.figures))


@dataclass(frozen=True)
class Summary:
    """Everything the consolidated workbook shows, as plain values."""

    campaign: str
    unit: str  # 填报单位 of the consolidated table
    deadline: Deadline  # the deadline whose rows are compiled
    deadlines: tuple[Deadline, ...]  # every deadline, for the status columns of 概况
    as_of: datetime  # newest mail taken into account (local time); also the file's timestamps
    rows: list[list]  # the layout's column order
    overview: list[list]  # per city: 市州, (state, first received) per deadline, count, its figures; then 全省合计
    problems: list[list]  # PROBLEM_COLUMNS order
    layout: Layout  # the columns of rows, from the table template
    # (index in rows, column) -> why that figure is kept out of the totals (the workbook marks the cell)
    doubted: dict[tuple[int, int], str] = field(default_factory=dict)

    @property
    def title(self) -> str:
        return f"“{self.campaign}”{self.layout.headline}"

    @property
    def figure_count(self) -> int:
        return len(self.layout.figures)

    def city_figures(self, line: Sequence) -> list:
        """[activities, figures...] at the end of an overview line."""
        return list(line[len(line) - 1 - self.figure_count:])

    def totals(self) -> dict[str, Decimal | int | None]:
        """Province figures (the last overview line): activities and each figure."""
        return dict(zip(("activities", *self.layout.metrics), self.city_figures(self.overview[-1])))


def number(value: Decimal | float | None) -> Decimal | int | None:
    """A metric as written to files: None for unknown/NaN, int when whole, else the exact decimal."""
    return plain_figure(value)


def counted_messages(states: Sequence[ReportState], deadline: str) -> dict[str, int]:
    """city -> store id of the version whose rows count, for one deadline."""
    return {s.city: s.message for s in states if s.deadline == deadline and s.message}


def counted_rows(config: Config, states: Sequence[ReportState], deadline: str,
                 rows_by_message: Mapping[int, Sequence[ReportRow]]) -> Iterator[tuple[str, int, int, ReportRow]]:
    """(city, message, index within the message, row) of the rows that count, in the table's order."""
    counted = counted_messages(states, deadline)
    for city in config.cities:
        message = counted.get(city.name)
        if message:
            for i, r in enumerate(rows_by_message.get(message, [])):
                yield city.name, message, i, r


def summary_rows(config: Config, states: Sequence[ReportState], deadline: str,
                 rows_by_message: Mapping[int, Sequence[ReportRow]], received: dict[int, datetime]) -> list[list]:
    """One list per activity in the layout's column order; cities in the config's (official) order."""
    cells = [(f.key, f.numeric) for f in config.template.fields if f.kind != "seq"]
    table: list[list] = []
    for city, message, _, r in counted_rows(config, states, deadline, rows_by_message):
        day = received[message].astimezone(config.tz).date().isoformat() if message in received else ""
        values, figures = r.values, r.figures
        table.append([len(table) + 1, city,
                      *(number(figures.get(k)) if numeric else values.get(k, "") for k, numeric in cells),
                      r.filename, day])
    return table


def version_messages(results: Iterable[StoredResult], deadline: str) -> list[int]:
    """Store ids of every report version for a deadline (the counted ones and those they superseded)."""
    return [r.message for r in results if r.is_version and r.deadline == deadline]


def figure_doubts(config: Config, states: Sequence[ReportState], deadline: str,
                  rows_by_message: Mapping[int, Sequence[ReportRow]],
                  results: Iterable[StoredResult]) -> dict[FigureKey, Problem]:
    """Figures of the counted versions kept out of the totals, each with the problem that says why.

    Each city's versions (up to the counted one) are compared in the order received (see plausibility.py).
    """
    results = list(results)
    versions_of = set(version_messages(results, deadline))
    ordered = sorted((r for r in results if r.message in versions_of), key=lambda r: (r.received_at, r.message))
    doubted: dict[FigureKey, Problem] = {}
    for city, message in counted_messages(states, deadline).items():
        earlier = [r.message for r in ordered if r.city == city]
        if message not in earlier:
            earlier.append(message)
        versions = [rows_by_message[m] for m in earlier[:earlier.index(message) + 1] if rows_by_message.get(m)]
        for doubt in city_doubts(versions, config) if versions else []:
            for i, metric in doubt.figures:
                doubted.setdefault((message, i, metric), doubt.problem)
    return doubted


def doubted_cells(config: Config, states: Sequence[ReportState], deadline: str,
                  rows_by_message: Mapping[int, Sequence[ReportRow]],
                  doubted: Mapping[FigureKey, Problem]) -> dict[tuple[int, int], str]:
    """(index in the table, column) -> note, for each figure of the table that does not count."""
    cells: dict[tuple[int, int], str] = {}
    if not doubted:
        return cells
    layout = layout_of(config.template)
    for n, (_, message, i, _) in enumerate(counted_rows(config, states, deadline, rows_by_message)):
        for metric, column in zip(layout.metrics, layout.figure_columns):
            if not is_counted((message, i, metric), doubted):
                cells[(n, column)] = f"{DOUBTED_ZH}\n{doubted[(message, i, metric)].message_zh}"
    return cells


def counted_totals(config: Config, states: Sequence[ReportState], deadline: str,
                   rows_by_message: Mapping[int, Sequence[ReportRow]],
                   results: Iterable[StoredResult]) -> dict[str, Decimal]:
    """Exact sums of the figures that count for a deadline (rows: of every version, see version_messages)."""
    doubted = figure_doubts(config, states, deadline, rows_by_message, list(results))
    counted = list(counted_rows(config, states, deadline, rows_by_message))
    return {metric: figure_sum(r.figures.get(metric) for _, message, i, r in counted
                               if is_counted((message, i, metric), doubted)) or Decimal(0)
            for metric in layout_of(config.template).metrics}


def latest_deadline_with_rows(config: Config, states: Sequence[ReportState]) -> str:
    """The latest deadline for which any city has rows (default for `compile`)."""
    with_rows = {s.deadline for s in states if s.rows}
    for deadline in sorted(config.deadlines, key=lambda d: d.due, reverse=True):
        if deadline.id in with_rows:
            return deadline.id
    return config.table_deadline.id


def city_figures(rows: Sequence[Sequence], cities: Sequence[str], columns: Sequence[int],
                 doubted: Collection[tuple[int, int]] = ()) -> list[list]:
    """[activities, each figure (at columns of a row)] per city (official order), then the province.

    Sums are exact (Decimal) and skip unparsed (empty) metrics and doubted cells ((row index, column));
    a sum over nothing parsed stays empty, not 0.
    """
    mine: dict[str, list[int]] = {city: [] for city in cities}
    for n, row in enumerate(rows):
        mine.setdefault(row[1], []).append(n)
    lines = [_figures([(n, rows[n]) for n in mine[city]], columns, doubted) for city in cities]
    return [*lines, _figures(list(enumerate(rows)), columns, doubted)]


def _figures(numbered: Sequence[tuple[int, Sequence]], columns: Sequence[int],
             doubted: Collection[tuple[int, int]]) -> list:
    """[activities, exact sum per figure] of (row index, row) pairs."""
    sums = [plain_figure(figure_sum(row[column] for n, row in numbered if (n, column) not in doubted))
            for column in columns]
    return [len(numbered), *sums]


def state_label(config: Config, state: ReportState | None, deadline: Deadline) -> str:
    """按时/逾期/未报/待报, or "—" for an optional report nobody owes (decide/labels.py, as status and the digest)."""
    return label_of(config, state.city, deadline, state.state) if state else ""


def overview_rows(config: Config, states: Sequence[ReportState], rows: Sequence[Sequence],
                  doubted: Collection[tuple[int, int]] = ()) -> list[list]:
    """One line per city: state and first received date per deadline, then its figures; then 全省合计."""
    by_key = {(s.city, s.deadline): s for s in states}
    names = [c.name for c in config.cities]
    figures = city_figures(rows, names, layout_of(config.template).figure_columns, doubted)
    lines = []
    for name, numbers in zip(names, figures):
        cells: list = [name]
        for d in config.deadlines:
            s = by_key.get((name, d.id))
            first = s.first_received_at if s else None
            cells += [state_label(config, s, d), first.astimezone(config.tz).date().isoformat() if first else ""]
        lines.append(cells + numbers)
    total: list = [TOTAL_ZH]
    for d in config.deadlines:
        reported = sum(1 for s in states if s.deadline == d.id and s.state in ("on_time", "late"))
        total += [f"已报 {reported}/{len(names)}", ""]
    return lines + [total + figures[-1]]


def superseded(result: StoredResult, counted: dict[tuple[str, str], int], received: dict[int, datetime]) -> bool:
    """A report version older than the one whose rows count: its problems were fixed by a resend.
    (Never a held one, whose sender failed verification: a forgery is news whatever came after it.)"""
    current = counted.get((result.city, result.deadline))
    return (bool(result.is_report) and not result.sender_unverified and current is not None
            and current != result.message
            and current in received and result.received_at < received[current])


def contact_of(units: Sequence[TableUnit], file: str) -> tuple[str, str]:
    """(联系人, 联系电话) the city wrote on its table, preferring the problem's own file."""
    unit = next((u for u in units if u.file == file), None) or next(iter(units), None)
    if not unit:
        return "", ""
    return unit.contact + (f"（{unit.title}）" if unit.title else ""), unit.phone


def problem_rows(config: Config, states: Sequence[ReportState], results: Iterable[StoredResult],
                 problems: Mapping[int, Sequence[Problem]]) -> list[list]:
    """Open problems (PROBLEM_COLUMNS), cities in official order; superseded versions left out."""
    results_by_id = {r.message: r for r in results}
    received = {m: r.received_at for m, r in results_by_id.items()}
    counted = {(s.city, s.deadline): s.message for s in states if s.message}
    city_rank = {c.name: i for i, c in enumerate(config.cities)}
    deadline_rank = {d.id: i for i, d in enumerate(config.deadlines)}
    found = []
    listed = ((message, p) for message, found in problems.items() for p in found)
    for order, (message, p) in enumerate(listed):
        r = results_by_id.get(message)
        if r is None or superseded(r, counted, received):
            continue
        title = config.deadline(r.deadline).title if r.deadline in deadline_rank else ""
        at = r.received_at.astimezone(config.tz).strftime("%Y-%m-%d %H:%M")
        line = [r.city or "未归属", title, at, r.sender, r.subject, p.file, p.row,
                p.message_zh, *contact_of(r.units, p.file), p.code]
        rank = (city_rank.get(r.city, len(city_rank)), deadline_rank.get(r.deadline, len(deadline_rank)),
                r.received_at, message, order)
        found.append((rank, line))
    found.sort(key=lambda item: item[0])
    return [[n, *line] for n, (_, line) in enumerate(found, start=1)]


def reporting_unit(organiser: str) -> str:
    """填报单位 of the consolidated table: the 厅 signs it, not its 处 (e.g. 电子商务处)."""
    return organiser[:organiser.index("厅") + 1] if "厅" in organiser else organiser


def build_summary(config: Config, states: Sequence[ReportState], deadline: str,
                  rows_by_message: Mapping[int, Sequence[ReportRow]], results: Sequence[StoredResult],
                  problems: Mapping[int, Sequence[Problem]]) -> Summary:
    """The Summary for one deadline from the store's records (results already limited to `now`).

    rows_by_message: of the counted versions, and of the versions they superseded (for the jump check).
    """
    received = {r.message: r.received_at for r in results}
    table = summary_rows(config, states, deadline, rows_by_message, received)
    doubted = figure_doubts(config, states, deadline, rows_by_message, results)
    cells = doubted_cells(config, states, deadline, rows_by_message, doubted)
    newest = max(received.values(), default=None)
    start = datetime.combine(config.campaign.start or config.deadline(deadline).due, time(0), tzinfo=config.tz)
    return Summary(
        campaign=config.campaign.name, unit=reporting_unit(config.campaign.organiser),
        deadline=config.deadline(deadline), deadlines=tuple(config.deadlines),
        as_of=newest.astimezone(config.tz) if newest else start,
        rows=table, overview=overview_rows(config, states, table, cells),
        problems=problem_rows(config, states, results, with_doubts(problems, doubted)),
        layout=layout_of(config.template), doubted=cells)


def with_doubts(problems: Mapping[int, Sequence[Problem]],
                doubted: Mapping[FigureKey, Problem]) -> dict[int, list[Problem]]:
    """The stored problems plus those of doubted figures not stored (a jump is only seen here, and rows
    derived before a bound changed carry none), each once."""
    found = {message: list(listed) for message, listed in problems.items()}
    seen = {(message, p.code, p.message_zh) for message, listed in found.items() for p in listed}
    for (message, _, _), problem in doubted.items():
        if (message, problem.code, problem.message_zh) not in seen:
            seen.add((message, problem.code, problem.message_zh))
            found.setdefault(message, []).append(problem)
    return found


def version_rows(snapshot: Snapshot, deadline: str) -> dict[int, tuple[ReportRow, ...]]:
    """Rows of every report version for a deadline (the counted ones and those they superseded: the jump
    check compares them), from a snapshot read with its rows."""
    if snapshot.rows is None:
        raise ValueError("snapshot read without rows (Store.snapshot(with_rows=True))")
    return {m: snapshot.rows[m] for m in version_messages(snapshot.results, deadline) if m in snapshot.rows}


def summary_at(config: Config, snapshot: Snapshot, now: datetime, deadline: str | None = None) -> Summary:
    """The consolidated workbook's content at `now`; default deadline: the latest one that has tables.

    An unknown deadline raises KeyError (the CLI reports it).
    """
    view = corrected(config, snapshot.at(now))  # staff decisions laid over: only open problems
    states = states_at(config, view, now)
    deadline = deadline or latest_deadline_with_rows(config, states)
    config.deadline(deadline)
    problems = {m: [p for p in found if p.code not in HUMAN_CODES_EXCLUDED] for m, found in view.problems.items()}
    return build_summary(config, states, deadline, version_rows(view, deadline), view.results, problems)


def table_totals(config: Config, snapshot: Snapshot, now: datetime) -> dict[str, Decimal]:
    """Sums of the figures that count for the table deadline at `now` (implausible figures left out)."""
    view = corrected(config, snapshot.at(now))
    deadline = config.table_deadline.id
    return counted_totals(config, states_at(config, view, now), deadline, version_rows(view, deadline), view.results)
