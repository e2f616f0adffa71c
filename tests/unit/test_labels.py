"""One word per state everywhere: status, the digest and the workbook agree, also for the optional plan."""
from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from service.decide import status
from service.decide.labels import state_label
from service.model import ReportState
from service.outgoing import digest
from service.report import summary
from tests.conftest import make_config

NOW = datetime(2022, 1, 10, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


def labels_everywhere(config, city: str, deadline_id: str, state: str) -> set[str]:
    deadline = config.deadline(deadline_id)
    report = ReportState(city=city, deadline=deadline_id, state=state)
    return {status._cell(report, config).split(" ")[0], summary.state_label(config, report, deadline),
            digest._cell(config, config.city(city), deadline, report, NOW)["label"]}


@pytest.mark.parametrize("plan_cities, city, state, word", [
    ((), "长沙市", "missing", "—"),  # nobody said they run sub-venues: nothing owed
    ((), "长沙市", "pending", "—"),
    (("株洲市",), "株洲市", "missing", "未报"),  # said so: the plan is owed
    (("株洲",), "株洲市", "pending", "待报"),  # an alias counts
    (("株洲市",), "长沙市", "missing", "—"),
    (("株洲市",), "长沙市", "on_time", "按时"),  # a plan sent anyway is shown as sent
])
def test_the_optional_plan_reads_the_same_in_status_digest_and_workbook(tmp_path: Path, plan_cities, city, state,
                                                                        word):
    config = make_config(tmp_path, reminders={"plan_cities": list(plan_cities)})
    assert not config.deadline("plan").required
    assert labels_everywhere(config, city, "plan", state) == {word}


@pytest.mark.parametrize("state, word", [("on_time", "按时"), ("late", "逾期"), ("missing", "未报"), ("pending", "待报")])
def test_a_required_report_has_its_four_words(tmp_path: Path, state, word):
    config = make_config(tmp_path)
    assert state_label(config, "长沙市", config.deadline("summary"), state) == word
    assert labels_everywhere(config, "长沙市", "summary", state) == {word}
