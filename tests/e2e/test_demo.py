"""The README's first command: the demo replays the campaign with the bundled samples."""
from __future__ import annotations

import email
import subprocess
import sys
from pathlib import Path

import openpyxl

ROOT = Path(__file__).resolve().parents[2]


def test_the_demo_replays_the_campaign_and_ends_with_the_matrix_and_the_paths(tmp_path):
    env = {"SERVICE_DATA_DIR": str(tmp_path / "var"), "SERVICE_DATABASE_URL": f"sqlite:///{tmp_path / 'var' / 'db.sqlite'}",
           "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "service", "demo"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "长沙市" in out and "湘西土家族苗族自治州" in out and "活动全面总结" in out
    assert "逾期" in out and "未报" in out
    outbox = tmp_path / "var" / "outbox"
    assert str(outbox) in out
    kinds = {p.name.split("_")[1] for p in outbox.glob("*.eml")}
    assert {"digest", "receipt", "reminder"} <= kinds
    # reminders went out on the 2022-01-30 make-up working day, never on the Spring Festival holiday
    reminder_days = {p.name[:8] for p in outbox.glob("*reminder*")}
    assert "20220130" in reminder_days and not any("20220131" <= d <= "20220206" for d in reminder_days)
    workbook = tmp_path / "var" / "汇总表.xlsx"
    assert str(workbook) in out
    assert openpyxl.load_workbook(workbook).worksheets[0].max_row > 20
    receipt = email.message_from_bytes(next(outbox.glob("*receipt*")).read_bytes())
    assert receipt["In-Reply-To"]
