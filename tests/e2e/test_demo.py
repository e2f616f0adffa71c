"""The README's first command: the demo replays the campaign with the bundled samples, in its own folder."""
from __future__ import annotations

import email
import subprocess
import sys
from pathlib import Path

import openpyxl

ROOT = Path(__file__).resolve().parents[2]


def run_demo(cwd: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(cwd), "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run([sys.executable, "-m", "service", "--config", str(ROOT / "config" / "service.toml"),
                           "demo", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=180)


def test_the_demo_replays_the_campaign_and_ends_with_the_matrix_and_the_paths(tmp_path):
    done = run_demo(tmp_path)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "长沙市" in out and "湘西土家族苗族自治州" in out and "活动全面总结" in out
    assert "逾期" in out and "未报" in out
    demo = tmp_path / "var" / "demo"  # the default folder, under the current directory
    outbox = demo / "outbox"
    assert str(outbox) in out and str(demo / "mailbox") in out and str(demo / "service.db") in out
    kinds = {p.name.split("_")[1] for p in outbox.glob("*.eml")}
    assert {"digest", "receipt", "reminder"} <= kinds
    # reminders went out on the 2022-01-30 make-up working day, never on the Spring Festival holiday
    reminder_days = {p.name[:8] for p in outbox.glob("*reminder*")}
    assert "20220130" in reminder_days and not any("20220131" <= d <= "20220206" for d in reminder_days)
    workbook = demo / "汇总表.xlsx"
    assert str(workbook) in out
    assert openpyxl.load_workbook(workbook).worksheets[0].max_row > 20
    receipt = email.message_from_bytes(next(outbox.glob("*receipt*")).read_bytes())
    assert receipt["In-Reply-To"]
    # nothing outside its folder: the configured data_dir (var) holds only the demo
    assert sorted(p.name for p in (tmp_path / "var").iterdir()) == ["demo"]


def test_a_second_demo_starts_afresh_and_a_foreign_folder_is_refused(tmp_path):
    first = run_demo(tmp_path, "--dir", "show")
    assert first.returncode == 0, first.stderr
    outbox = tmp_path / "show" / "outbox"
    count = len(list(outbox.glob("*.eml")))
    second = run_demo(tmp_path, "--dir", "show")
    assert second.returncode == 0, second.stderr
    assert len(list(outbox.glob("*.eml"))) == count  # emptied and replayed, not appended to
    assert second.stdout.splitlines()[-6:] == first.stdout.splitlines()[-6:]

    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    refused = run_demo(tmp_path, "--dir", str(foreign))
    assert refused.returncode != 0 and "--dir" in refused.stderr
    assert (foreign / "notes.txt").read_text() == "keep me"
