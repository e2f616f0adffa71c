"""`check-config`: exit 0 and the plan for a valid file, exit 2 and one line naming the key for a broken
one; nothing written anywhere (no database, no data folder)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from service.cli import main

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "config" / "service.toml"


@pytest.fixture
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty current folder whose data_dir (var) must stay absent."""
    monkeypatch.chdir(tmp_path)
    for key in ("SERVICE_CONFIG", "SERVICE_DATA_DIR", "SERVICE_DATABASE_URL"):
        monkeypatch.delenv(key, raising=False)
    return tmp_path


def test_the_shipped_config_is_valid_and_its_plan_is_printed_without_touching_data(elsewhere, capsys):
    assert main(["check-config", "--config", str(SHIPPED), "--now", "2022-01-20T10:00"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("配置有效：2022湖南网上年货节")
    assert "summary   活动全面总结            2022-02-07 周一 24:00  必报" in out
    assert "2022-01-30 周日 09:00（调休上班）  summary   截止前提醒" in out
    assert "! 报送节点 progress（活动组织情况）的截止日期 2022-01-05 已过" in out
    assert list(elsewhere.iterdir()) == []


def test_json_gives_the_stable_shape(elsewhere, capsys):
    assert main(["check-config", "--config", str(SHIPPED), "--json", "--now", "2022-01-20T10:00"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert set(doc) == {"valid", "campaign", "now", "deadlines", "reminders", "reminders_enabled", "digest",
                        "tables", "cities", "warnings"}
    assert doc["valid"] is True and doc["now"] == "2022-01-20T10:00:00+08:00"
    assert doc["deadlines"][2] == {**doc["deadlines"][2], "id": "summary", "due": "2022-02-07",
                                   "due_at": "2022-02-08T00:00+08:00", "required": True, "past": False}
    assert doc["reminders"][-1] == {"at": "2022-02-08T09:00+08:00", "deadline": "summary", "kind": "overdue",
                                    "cities": doc["cities"], "conditional": False, "past": False,
                                    "makeup_workday": False}
    assert [w["code"] for w in doc["warnings"]] == ["deadline_past", "deadline_past"]
    assert list(elsewhere.iterdir()) == []


def test_a_broken_config_exits_2_with_one_line_naming_the_key(elsewhere, capsys):
    broken = elsewhere / "next.toml"
    broken.write_text(SHIPPED.read_text(encoding="utf-8").replace('keywords = ["组织情况"', 'keyword = ["组织情况"'),
                      encoding="utf-8")
    assert main(["check-config", "--config", str(broken)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines() == [
        f'error: {broken}: deadline "progress": unknown key "keyword" (did you mean "keywords"?)']
    assert main(["check-config", "--config", str(broken), "--json"]) == 2
    assert json.loads(capsys.readouterr().out)["valid"] is False
    assert sorted(p.name for p in elsewhere.iterdir()) == ["next.toml"]


def test_a_missing_file_exits_2(elsewhere, capsys):
    assert main(["check-config", "--config", str(elsewhere / "nope.toml")]) == 2
    assert "config file not found" in capsys.readouterr().err
