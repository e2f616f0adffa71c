"""Legacy documents through the converter the App holds: LibreOffice really converts WPS files that
are not Word 97/BIFF8 inside, and the derive workers use whichever converter the App was opened with."""
from __future__ import annotations

import shutil
import threading
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from service.app import App
from service.clock import fixed_clock
from service.extract import extract_attachment
from service.extract.convert import LibreOffice
from service.ingest import pipeline
from service.ingest.pool import Deriver, start_method
from service.model import Attachment, Fetched
from tests.builders import make_email
from tests.conftest import make_config
from tests.converters import FixedDocx
from tests.table_builders import SAMPLE_ROWS, make_docx, make_xlsx, template_rows

TZ = ZoneInfo("Asia/Shanghai")
DOC = (Path(__file__).resolve().parent.parent / "data" / "statistics-2022.doc").read_bytes()
CONVERTED = [[1, "芙蓉区", "芙蓉区商务局", "转换得到的活动", "直播", "销售额10万元", ""]]


def soffice() -> str:
    found = shutil.which("soffice") or shutil.which("libreoffice")
    assert found, "LibreOffice is part of the test set-up (scripts/test)"
    return found


@pytest.mark.parametrize(("name", "kind", "content"), [("统计表.et", "et", make_xlsx(template_rows())),
                                                       ("总结.wps", "wps", make_docx(template_rows()))])
def test_libreoffice_reads_wps_files_that_are_not_in_the_old_binary_formats(name, kind, content):
    found = extract_attachment(Attachment(name, content, kind), converter=LibreOffice(soffice()))
    assert found.problems == ()
    assert [r.get("name") for r in found.tables[0].rows] == [r[3] for r in SAMPLE_ROWS]


@pytest.fixture
def converting_app(tmp_path: Path):
    config = make_config(tmp_path / "data")
    app = App.open(config, fixed_clock("2022-02-10T12:00:00", config.tz),
                   converter=FixedDocx(make_docx(template_rows(CONVERTED))))
    yield app
    app.close()


def report_with_doc(n: int) -> Fetched:
    raw = make_email(subject="长沙市网上年货节活动总结", sender="长沙 <changsha@example.gov.cn>",
                     attachments=[("总结.doc", DOC)], message_id=f"<doc{n}@changsha>",
                     received=datetime(2022, 2, 6, 10, n, tzinfo=TZ))
    return Fetched(f"test:{n}", raw)


def test_the_derive_worker_reads_a_doc_through_the_apps_converter(converting_app):
    outcome = pipeline.ingest(converting_app, report_with_doc(1))
    assert outcome.rows == 1
    assert [r.get("name") for r in converting_app.store.rows([outcome.message])[outcome.message]] == ["转换得到的活动"]


def test_the_converter_is_pickled_to_workers_started_by_a_forkserver(converting_app):
    """From the threaded `run` worker, derive workers come from a forkserver: the converter crosses pickled."""
    release = threading.Event()
    other = threading.Thread(target=release.wait)
    other.start()
    try:
        assert start_method() == "forkserver"
        with Deriver(converting_app.config, converting_app.converter, workers=1) as deriver:
            [outcome] = next(pipeline.ingest_batches(converting_app, [report_with_doc(2)], deriver))
    finally:
        release.set()
        other.join()
    assert [r.get("name") for r in converting_app.store.rows([outcome.message])[outcome.message]] == ["转换得到的活动"]
