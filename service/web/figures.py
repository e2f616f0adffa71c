"""总览's per-city figure charts (shell): the workbook's 概况 figures (the table template's numeric fields)
of each city for the latest deadline with tables, kept per city between requests.

Input: the view at `now` (decisions laid over), its report states and the kept snapshot (for the rows'
figures); output: one SVG per figure. A city's line is the workbook's (report.summary's functions, on
that city's versions alone) and is worked out again only when its versions or states changed; each
version's figures are read once, until the store counts a rewrite of derived records (reprocess).
"""
from __future__ import annotations

import threading
from decimal import Decimal
from typing import Any, Sequence

from ..config import Config
from ..model import ReportRow, ReportState, Snapshot, StoredResult
from ..report.summary import (
    city_figures,
    doubted_cells,
    figure_doubts,
    latest_deadline_with_rows,
    layout_of,
    summary_rows,
)
from ..store.kept import KeptSnapshot
from . import charts


def figure_row(kept: tuple[str, tuple[str, ...], tuple[Decimal, ...]]) -> ReportRow:
    """A row holding only its template id and figures (as CityFigures keeps them: keys, values): all the
    plausibility checks and the sums read; the one place the charts build rows."""
    table, keys, values = kept
    return ReportRow(filename="", sheet="", source_row=0, values={}, figures=dict(zip(keys, values)), table=table)


class CityFigures:
    """The charts' inputs kept by one web process: each version's figure rows, each city's figure line."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.rewrites = -1
        # message -> (template id, figure keys, figure values) of its rows, () when none: tuples of texts and
        # decimals only, which the garbage collector stops tracking (ReportRows, or tuples holding dicts, stay
        # tracked: 67,000 of them kept made each full collection 50 ms longer); each keys tuple and
        # template id kept once
        self.rows: dict[int, tuple[tuple[str, tuple[str, ...], tuple[Decimal, ...]], ...]] = {}
        self.keys: dict[tuple[str, ...], tuple[str, ...]] = {}
        self.tables: dict[str, str] = {}
        self.lines: dict[str, tuple[Any, list]] = {}  # city -> (what its line was worked out from, line)

    def charts(self, config: Config, kept: KeptSnapshot, view: Snapshot,
               states: Sequence[ReportState]) -> list[str]:
        """One bar chart per summary figure, cities in the official order."""
        deadline = config.deadline(latest_deadline_with_rows(config, states))
        versions = [r for r in view.results if r.is_version and r.deadline == deadline.id]  # version_messages
        with self.lock:
            self._read_rows(kept, {r.message for r in versions})
            lines = [(city.name, self._line(config, city.name, deadline.id, versions, states))
                     for city in config.cities]
        figures = layout_of(config.template).figures  # a line is [activities, each figure]
        return [charts.per_city([(name, line[1 + k]) for name, line in lines], f" {f.unit}" if f.unit else "",
                                f"各市州{f.name_zh}（{deadline.title}）")
                for k, f in enumerate(figures)]

    def _read_rows(self, kept: KeptSnapshot, wanted: set[int]) -> None:
        if kept.rewrites != self.rewrites:  # derived records rewritten: nothing kept can be trusted
            self.rows.clear()
            self.lines.clear()
            self.rewrites = kept.rewrites
        for gone in set(self.rows) - wanted:
            del self.rows[gone]
        missing = wanted - set(self.rows)
        found = kept.figures(missing) if missing else {}
        self.rows.update({m: tuple(self._kept(table, figures) for table, figures in found.get(m, ()))
                          for m in missing})

    def _kept(self, table: str, figures: dict[str, Decimal]) -> tuple[str, tuple[str, ...], tuple[Decimal, ...]]:
        keys = tuple(figures)
        return self.tables.setdefault(table, table), self.keys.setdefault(keys, keys), tuple(figures.values())

    def _line(self, config: Config, city: str, deadline: str, versions: list[StoredResult],
              states: Sequence[ReportState]) -> list:
        """[activities, each figure] of one city, as the workbook's 概况 line ends."""
        mine = [s for s in states if s.city == city]
        results = [r for r in versions if r.city == city]
        key = (deadline, mine, results)
        known = self.lines.get(city)
        if known is None or known[0] != key:
            rows = {r.message: tuple(map(figure_row, self.rows[r.message]))
                    for r in results if self.rows.get(r.message)}
            received = {r.message: r.received_at for r in results}
            table = summary_rows(config, mine, deadline, rows, received)
            cells = doubted_cells(config, mine, deadline, rows, figure_doubts(config, mine, deadline, rows, results))
            columns = layout_of(config.template).figure_columns
            known = self.lines[city] = (key, city_figures(table, [city], columns, cells)[0])
        return known[1]
