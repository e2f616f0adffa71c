"""Every derive runs in a bounded worker: a message that kills, starves or stalls its worker is
quarantined with a problem, the worker is replaced, and the rest of the batch and the next poll go on."""
from __future__ import annotations

import io
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import openpyxl
import pytest

from service.app import App
from service.clock import fixed_clock
from service.decide.status import states_at
from service.decide.track import state_of
from service.ingest import pipeline
from service.ingest.derive import QUARANTINED_ZH
from service.ingest.pool import Deriver
from service.model import Fetched
from tests.builders import make_email
from tests.conftest import ROOT, make_config
from tests.poison import derive_or_misbehave
from tests.table_builders import HEADER, SAMPLE_ROWS, make_xlsx

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2022, 2, 10, 12, 0, tzinfo=TZ)


def report(city: str, sender: str, n: int, poison: str = "") -> bytes:
    return make_email(subject=f"{city}网上年货节活动总结", sender=sender,
                      attachments=[("附件1.xlsx", make_xlsx([HEADER, *SAMPLE_ROWS]))],
                      received=datetime(2022, 2, 6, 10, n, tzinfo=TZ), message_id=f"<q{n}@example>",
                      headers={"X-Poison": poison} if poison else None)


CHANGSHA = ("长沙市", "changsha@example.gov.cn")
ZHUZHOU = ("株洲市", "zhuzhou@example.gov.cn")


@pytest.fixture
def bounded_app(tmp_path: Path):
    config = make_config(tmp_path / "data", limits={"max_worker_memory_mb": 512, "max_seconds_per_message": 3})
    app = App.open(config, fixed_clock("2022-02-10T12:00:00", config.tz))
    yield app
    app.close()


def ingest(app: App, raws: list[bytes], deriver: Deriver) -> list[pipeline.Outcome]:
    fetched = [Fetched(f"test:{i}:{len(raw)}", raw) for i, raw in enumerate(raws)]
    return [o for batch in pipeline.ingest_batches(app, fetched, deriver) for o in batch]


def codes(app: App, message: int) -> list[str]:
    return [p.code for p in app.store.problems([message]).get(message, ())]


def credited(app: App, city: str) -> bool:
    return state_of(states_at(app.config, app.store.snapshot(), NOW), city, "summary").state == "on_time"


@pytest.mark.parametrize("how, reason", [("abort", "died twice"), ("hang", "longer than 3 s"),
                                         ("memory", "out of memory")])
def test_a_poisoned_message_is_quarantined_and_the_rest_of_the_batch_goes_on(bounded_app, how, reason):
    poisoned, normal = report(*CHANGSHA, 1, poison=how), report(*ZHUZHOU, 2)
    with Deriver(bounded_app.config, bounded_app.converter, workers=1, task=derive_or_misbehave) as deriver:
        first, second = ingest(bounded_app, [poisoned, normal], deriver)
        assert codes(bounded_app, first.message) == ["quarantined"]
        assert reason in bounded_app.store.quarantined()[first.message]
        assert second.is_report and second.rows == len(SAMPLE_ROWS) and credited(bounded_app, "株洲市")
        # the worker was replaced: the next poll on the same deriver is read as usual
        (later,) = ingest(bounded_app, [report(*CHANGSHA, 3)], deriver)
    assert later.rows == len(SAMPLE_ROWS) and credited(bounded_app, "长沙市")
    problem = bounded_app.store.problems([first.message])[first.message][0]
    assert problem.message_zh == QUARANTINED_ZH


def test_quarantined_mail_is_left_alone_by_the_next_poll_and_by_reprocess(bounded_app):
    with Deriver(bounded_app.config, bounded_app.converter, workers=1, task=derive_or_misbehave) as deriver:
        (held,) = ingest(bounded_app, [report(*CHANGSHA, 1, poison="abort")], deriver)
        assert bounded_app.store.count_unprocessed() == 0  # not "left unprocessed": no retry loop
        assert pipeline.process_pending(bounded_app, deriver) == []
        assert pipeline.reprocess(bounded_app, deriver=deriver) == 1
        assert codes(bounded_app, held.message) == ["quarantined"]
        assert list(bounded_app.store.quarantined()) == [held.message]


def test_reprocess_include_quarantined_tries_again_and_releases_what_now_goes_through(bounded_app):
    with Deriver(bounded_app.config, bounded_app.converter, workers=1, task=derive_or_misbehave) as deriver:
        (held,) = ingest(bounded_app, [report(*CHANGSHA, 1, poison="hang")], deriver)
    assert not credited(bounded_app, "长沙市")
    # the bug is fixed (here: the plain derive), staff ask for a retry
    with Deriver(bounded_app.config, bounded_app.converter, workers=1) as deriver:
        pipeline.reprocess(bounded_app, include_quarantined=True, deriver=deriver)
    assert bounded_app.store.quarantined() == {}
    assert codes(bounded_app, held.message) == [] and credited(bounded_app, "长沙市")


def test_a_retry_that_fails_again_keeps_the_first_reason(bounded_app):
    with Deriver(bounded_app.config, bounded_app.converter, workers=1, task=derive_or_misbehave) as deriver:
        (held,) = ingest(bounded_app, [report(*CHANGSHA, 1, poison="hang")], deriver)
        first = bounded_app.store.quarantined()
        pipeline.reprocess(bounded_app, include_quarantined=True, deriver=deriver)
    assert bounded_app.store.quarantined() == first and codes(bounded_app, held.message) == ["quarantined"]


def calamine_bomb() -> bytes:
    """2.4 KB of xlsx: a sheet with one cell at A1 and one at XFD1048576 (calamine asks for 512 GB)."""
    book = openpyxl.Workbook()
    book.active["A1"] = "序号"
    book.active["XFD1048576"] = "x"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def run_cli(config_path: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "service", "--config", str(config_path), *args,
                           "--now", "2022-02-10T12:00:00"], cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_the_2kb_xlsx_that_killed_the_process_no_longer_stops_collection(tmp_path: Path):
    """The issue's attack, through the real CLI: import, a later import, reprocess all still work."""
    import tomli_w

    from tests.conftest import config_data
    data = config_data()
    data["service"] = {**data["service"], "data_dir": str(tmp_path / "data"),
                       "database_url": f"sqlite:///{tmp_path / 'data' / 'service.db'}"}
    data["limits"] = {"max_worker_memory_mb": 1024, "max_seconds_per_message": 30}
    config_path = tmp_path / "service.toml"
    config_path.write_text(tomli_w.dumps(data), encoding="utf-8")
    bomb = make_email(subject="长沙市网上年货节活动总结", sender="changsha@example.gov.cn",
                      attachments=[("附件1.xlsx", calamine_bomb())], message_id="<bomb@x>")
    assert len(calamine_bomb()) < 8 * 1024
    mail = tmp_path / "mail"
    mail.mkdir()
    (mail / "1-bomb.eml").write_bytes(bomb)
    (mail / "2-zhuzhou.eml").write_bytes(report(*ZHUZHOU, 2))
    first = run_cli(config_path, "import", str(mail))
    assert first.returncode == 0, first.stderr
    (tmp_path / "later.eml").write_bytes(report(*CHANGSHA, 3))
    later = run_cli(config_path, "import", str(tmp_path / "later.eml"))
    assert later.returncode == 0 and "left unprocessed" not in later.stderr, later.stderr
    assert run_cli(config_path, "reprocess").returncode == 0
    import json
    status = json.loads(run_cli(config_path, "status", "--json").stdout)
    states = {c["city"]: c["reports"]["summary"]["state"] for c in status["cities"]}
    assert states["株洲市"] == "on_time" and states["长沙市"] == "on_time"
    messages = json.loads(run_cli(config_path, "messages", "--json").stdout)
    bomb_codes = [p["code"] for m in messages if m["message_id"] == "<bomb@x>" for p in m["problems"]]
    assert bomb_codes and set(bomb_codes) & {"quarantined", "sheet_too_large", "too_large", "table_too_large", "unreadable"}, bomb_codes
