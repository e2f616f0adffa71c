"""The document converter seam: app.py picks antiword, LibreOffice, both or none from PATH, each is a
picklable value (it crosses to the derive workers), and derive reads legacy files through the one given."""
from __future__ import annotations

import pickle
from datetime import datetime
from pathlib import Path

import pytest

from service.app import installed_converter
from service.extract.convert import Antiword, Converted, FirstHandling, LibreOffice, NoConversion, NoConverter
from service.ingest.derive import Job, derive
from tests.builders import SHANGHAI, make_email
from tests.conftest import make_config
from tests.converters import FixedDocx
from tests.table_builders import make_docx, template_rows

DATA = Path(__file__).resolve().parent.parent / "data"
DOC = (DATA / "statistics-2022.doc").read_bytes()


def on_path(*names: str):
    """A `which` that finds exactly these programs, under /opt/bin."""
    return lambda name: f"/opt/bin/{name}" if name in names else None


@pytest.mark.parametrize(("installed", "expected"), [
    ((), NoConverter()),
    (("antiword",), Antiword("/opt/bin/antiword")),
    (("soffice",), LibreOffice("/opt/bin/soffice")),
    (("libreoffice",), LibreOffice("/opt/bin/libreoffice")),
    (("soffice", "libreoffice"), LibreOffice("/opt/bin/soffice")),
    (("antiword", "libreoffice"), FirstHandling((Antiword("/opt/bin/antiword"), LibreOffice("/opt/bin/libreoffice")))),
])
def test_the_app_picks_antiword_for_doc_first_then_libreoffice_else_none(installed, expected):
    assert installed_converter(on_path(*installed)) == expected


def test_each_converter_survives_pickling_to_a_worker_process():
    both = installed_converter(on_path("antiword", "soffice"))
    for converter in (NoConverter(), Antiword("/usr/bin/antiword"), LibreOffice("/usr/bin/soffice"), both):
        assert pickle.loads(pickle.dumps(converter)) == converter


@pytest.mark.parametrize("kind", ["doc", "wps", "et"])
def test_no_converter_converts_nothing(kind):
    with pytest.raises(NoConversion):
        NoConverter().convert(DOC, kind)


def test_antiword_reads_only_doc_and_libreoffice_the_wps_formats_too():
    assert [kind for kind in ("doc", "wps", "et", "xls") if Antiword("x").handles(kind)] == ["doc"]
    assert [kind for kind in ("doc", "wps", "et", "xls") if LibreOffice("x").handles(kind)] == ["doc", "wps", "et"]


def test_several_converters_give_a_kind_to_the_first_that_handles_it():
    doc, wps = FixedDocx(b"doc"), LibreOffice("/nonexistent/soffice")
    chain = FirstHandling((doc, wps))
    assert chain.convert(DOC, "doc") == Converted("docx", b"doc")  # LibreOffice is never started
    with pytest.raises(FileNotFoundError):  # the wps goes to LibreOffice, which is not there
        chain.convert(DOC, "wps")
    with pytest.raises(NoConversion):
        chain.convert(DOC, "rtf")


def report_with_doc() -> bytes:
    return make_email(subject="长沙市网上年货节活动总结", sender="长沙 <changsha@example.gov.cn>",
                      attachments=[("总结.doc", DOC)])


def test_derive_reads_a_doc_through_the_converter_it_is_given(tmp_path):
    named = [[1, "芙蓉区", "芙蓉区商务局", "转换得到的活动", "直播", "销售额10万元", ""]]
    converter = FixedDocx(make_docx(template_rows(named)))
    derived = derive(Job(report_with_doc(), None, datetime(2022, 1, 3, 12, tzinfo=SHANGHAI)),
                     make_config(tmp_path), converter)
    assert [row.get("name") for row in derived.rows] == ["转换得到的活动"]


def test_derive_with_no_converter_records_the_precise_problem(tmp_path):
    derived = derive(Job(report_with_doc(), None, datetime(2022, 1, 3, 12, tzinfo=SHANGHAI)),
                     make_config(tmp_path), NoConverter())
    assert derived.rows == ()
    assert [(p.code, p.message_zh, p.file) for p in derived.problems if p.code == "unreadable_attachment"] == [
        ("unreadable_attachment", "未安装 antiword，无法读取 .doc", "总结.doc")]

