"""The 2027 example campaign (config/examples/nianhuo2027.toml, examples/nianhuo2027/mail) through the CLI,
with no code of its own: check-config, then the season at the reminder moments check-config prints
(import what had arrived, remind), status at chosen moments, compile, and the demo replaying it.
"""
from __future__ import annotations

import email
import importlib.util
import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest

from service.cli import main
from service.demo import load_samples

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "config" / "examples" / "nianhuo2027.toml"
MAIL = ROOT / "examples" / "nianhuo2027" / "mail"
CITIES = ["长沙市", "株洲市", "岳阳市", "常德市", "湘西土家族苗族自治州"]
# (moment, deadline, kind) -> the cities reminded: those that had not reported by then
REMINDED = {
    ("2027-01-05T09:00+08:00", "plan", "upcoming"): sorted(["岳阳市", "长沙市"]),  # plan_cities only
    ("2027-01-07T09:00+08:00", "plan", "upcoming"): sorted(["岳阳市"]),
    ("2027-01-28T09:00+08:00", "progress", "upcoming"): sorted(CITIES),
    ("2027-01-31T09:00+08:00", "progress", "upcoming"): sorted(["岳阳市", "株洲市"]),  # a make-up working Sunday
    ("2027-02-02T09:00+08:00", "progress", "overdue"): sorted(["岳阳市"]),
    ("2027-02-03T09:00+08:00", "enterprises", "upcoming"): sorted(CITIES),  # before the Spring Festival
    ("2027-02-15T09:00+08:00", "enterprises", "upcoming"): sorted(["常德市", "岳阳市", "湘西土家族苗族自治州", "长沙市"]),
    ("2027-02-17T09:00+08:00", "enterprises", "overdue"): sorted(["常德市", "湘西土家族苗族自治州"]),
}


def enterprise_lists() -> dict[str, list[list]]:
    """The rows the sample script put in each city's list."""
    spec = importlib.util.spec_from_file_location("make_nianhuo2027", ROOT / "examples" / "make_nianhuo2027.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.enterprise_lists()


@pytest.fixture
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "data"
    monkeypatch.setenv("SERVICE_DATA_DIR", str(folder))
    monkeypatch.setenv("SERVICE_DATABASE_URL", f"sqlite:///{folder / 'service.db'}")
    monkeypatch.delenv("SERVICE_CONFIG", raising=False)
    return folder


def cli(capsys, *argv: str) -> str:
    capsys.readouterr()
    assert main(["--config", str(CONFIG), *argv]) == 0
    return capsys.readouterr().out


def status(capsys, now: str) -> dict:
    doc = json.loads(cli(capsys, "status", "--json", "--now", now))
    return {c["city"]: c["reports"] for c in doc["cities"]}


def season(capsys) -> dict[tuple[str, str, str], list[str]]:
    """At each reminder moment check-config prints: import the mail received by then, then remind."""
    plan = json.loads(cli(capsys, "check-config", "--json", "--now", "2027-01-04T08:00"))
    samples, imported, reminded = load_samples(MAIL), set(), {}
    for moment in plan["reminders"]:
        arrived = [s.path for s in samples if s.delivered_at.isoformat() < moment["at"] and s.path not in imported]
        if arrived:
            cli(capsys, "import", *map(str, arrived), "--now", moment["at"])
            imported.update(arrived)
        due = json.loads(cli(capsys, "remind", "--json", "--replay", "--now", moment["at"]))
        assert {(d["deadline"], d["kind"]) for d in due} <= {(moment["deadline"], moment["kind"])}
        reminded[(moment["at"], moment["deadline"], moment["kind"])] = sorted(d["city"] for d in due)
    rest = [str(s.path) for s in samples if s.path not in imported]
    cli(capsys, "import", *rest, "--now", "2027-02-20T12:00")
    return reminded


def test_check_config_plans_the_2027_season_without_warnings(data, capsys):
    plan = json.loads(cli(capsys, "check-config", "--json", "--now", "2027-01-04T08:00"))
    assert plan["warnings"] == [] and plan["cities"] == CITIES
    assert [(d["id"], d["due"], d["required"], d["table"]) for d in plan["deadlines"]] == [
        ("plan", "2027-01-08", False, None), ("progress", "2027-02-01", True, None),
        ("enterprises", "2027-02-16", True, "enterprises")]
    assert [(r["at"], r["deadline"], r["kind"]) for r in plan["reminders"]] == list(REMINDED)
    [table] = plan["tables"]
    assert [(f["title"], f["kind"], f["required"]) for f in table["fields"]] == [
        ("序号", "seq", False), ("企业名称", "text", True), ("统一社会信用代码", "text", False),
        ("店铺网址", "text", False), ("线上销售额（万元）", "money", False), ("带动就业人数", "integer", False)]
    assert not data.exists()  # nothing written
    text = cli(capsys, "check-config", "--now", "2027-01-04T08:00")
    assert "2027-01-31 周日 09:00（调休上班）" in text and "企业名称" in text


def test_the_season_reminds_at_the_planned_moments_and_ends_with_the_right_states_and_workbook(data, capsys):
    assert season(capsys) == REMINDED
    letters = sorted((data / "outbox").glob("*_reminder_*.eml"))
    assert len(letters) == sum(map(len, REMINDED.values()))
    assert not [p.name for p in letters if "20270205" <= p.name[:8] <= "20270214"]  # none in the holiday
    overdue = email.message_from_bytes(next(p for p in letters if "湘西" in p.name and "overdue" in p.name).read_bytes())
    assert overdue["To"] == "xiangxi@example.gov.cn"

    early = status(capsys, "2027-02-01T12:00")
    assert {c: early[c]["progress"]["state"] for c in CITIES} == {
        "长沙市": "on_time", "株洲市": "on_time", "岳阳市": "pending", "常德市": "on_time", "湘西土家族苗族自治州": "on_time"}
    end = status(capsys, "2027-02-20T12:00")
    assert end["岳阳市"]["progress"]["state"] == "late"
    assert {c: (end[c]["enterprises"]["state"], end[c]["enterprises"]["rows"]) for c in CITIES} == {
        "长沙市": ("on_time", 6), "株洲市": ("on_time", 3), "岳阳市": ("on_time", 5), "常德市": ("late", 2),
        "湘西土家族苗族自治州": ("missing", 0)}
    assert end["长沙市"]["enterprises"]["versions"] == 2
    assert all(end[c]["enterprises"]["problems"] == [] for c in CITIES[:4])

    out = data.parent / "汇总.xlsx"
    cli(capsys, "compile", "--out", str(out), "--deadline", "enterprises", "--now", "2027-02-20T12:00")
    values = [[c.value for c in row] for row in openpyxl.load_workbook(out)["汇总"].iter_rows()]
    at = next(i for i, r in enumerate(values) if "企业名称" in r)
    header = values[at]
    assert {"市州", "企业名称", "统一社会信用代码", "店铺网址", "线上销售额（万元）", "带动就业人数"} <= set(header)
    rows = [r for r in values[at + 1:] if r[header.index("企业名称")]]
    lists = enterprise_lists()
    expected = [(city, *row[1:]) for city, key in (("长沙市", "changsha_resent"), ("株洲市", "zhuzhou"),
                                                   ("岳阳市", "yueyang"), ("常德市", "changde")) for row in lists[key]]
    columns = ("市州", "企业名称", "统一社会信用代码", "店铺网址", "线上销售额（万元）", "带动就业人数")
    got = [tuple(r[header.index(c)] for c in columns) for r in rows]
    assert [(g[0], g[1], g[2], g[3], Decimal(str(g[4])), int(g[5])) for g in got] == [
        (e[0], e[1], e[2], e[3], Decimal(str(e[4])), int(e[5])) for e in expected]


def test_the_demo_replays_the_example_campaign(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "service", "--config", str(CONFIG), "demo", "--dir", "show"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "模拟 2027-01-03 至 2027-02-19：投递示例邮件 13 封，计为报送 12" in done.stdout
    assert f"催报提醒 {sum(map(len, REMINDED.values()))}" in done.stdout
    assert "湘西土家族苗族自治州" in done.stdout and "未报" in done.stdout
    assert "汇总表（16 行）" in done.stdout
