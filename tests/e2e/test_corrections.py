"""Staff corrections through the CLI over a season of mail, on SQLite and PostgreSQL (issue 12).

Every command is applied in turn and checked where staff would look: `status --json`,
`remind --dry-run --json`, `compile` (its JSON rows and 问题) and the digest. Then `reprocess`
must change nothing, and `undo` of every decision must give the first answers back.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from service.cli import main
from tests.e2e.test_campaign_import import season_folder
from tests.integration.conftest import database_url, postgres_server  # noqa: F401 - fixtures

T_PROGRESS = "2022-01-06T08:00"  # after the progress due day; the overdue reminders go at 09:00
T_REMIND = "2022-01-06T09:00"
T_END = "2022-02-10T12:00"


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database_url: str) -> Path:  # noqa: F811
    return season_folder(tmp_path, monkeypatch, database_url)


def run(capsys, *argv: str, code: int = 0) -> str:
    capsys.readouterr()
    assert main(list(argv)) == code, capsys.readouterr()
    return capsys.readouterr().out


def status(capsys, now: str) -> dict:
    doc = json.loads(run(capsys, "status", "--json", "--now", now))
    return {c["city"]: c["reports"] for c in doc["cities"]}


def reminders(capsys, now: str = T_REMIND) -> set[tuple[str, str]]:
    return {(r["city"], r["deadline"]) for r in json.loads(run(capsys, "remind", "--dry-run", "--json", "--now", now))}


def compiled(capsys, env: Path, now: str = T_END) -> dict:
    """The workbook's rows (its JSON twin) and the values of its 概况 and 问题 sheets."""
    import openpyxl

    out = env / "out.xlsx"
    run(capsys, "compile", "--deadline", "summary", "--out", str(out), "--json", str(env / "out.json"), "--now", now)
    book = openpyxl.load_workbook(out, read_only=True)
    sheets = {name: [list(r) for r in book[name].iter_rows(values_only=True)] for name in ("概况", "问题")}
    return {**json.loads((env / "out.json").read_text(encoding="utf-8")), **sheets}


def digest_text(capsys, now: str = T_END) -> str:
    """The digest without its 今日人工处理 list (which rightly names undone decisions too)."""
    text = run(capsys, "digest", "--dry-run", "--now", now)
    return re.sub(r"今日人工处理.*?\n\n", "", text, flags=re.S)


def views(capsys, env: Path) -> dict:
    return {"status": status(capsys, T_END), "status_progress": status(capsys, T_PROGRESS),
            "remind": reminders(capsys), "compile": compiled(capsys, env), "digest": digest_text(capsys)}


def message_ids(capsys) -> dict[str, dict]:
    return {d["subject"]: d for d in json.loads(run(capsys, "messages", "--json", "--now", T_END))}


def decide(capsys, *argv: str, now: str = T_END) -> str:
    return run(capsys, *argv, "--by", "张三", "--note", "测试", "--now", now)


def test_every_correction_applies_everywhere_survives_reprocess_and_undoes(env, capsys):
    run(capsys, "import", str(env / "mail"), "--now", T_END)
    first = views(capsys, env)
    msgs = message_ids(capsys)
    hengyang = msgs["衡阳市网上年货节活动组织情况"]["id"]  # no attachment: no report
    yueyang = msgs["岳阳市网上年货节活动组织情况"]  # unregistered sender, the city's only progress report
    news = msgs["Weekly newsletter"]["id"]
    cs_v1 = msgs["长沙市网上年货节活动总结"]["id"]
    shaoyang_problem = next(p["id"] for p in msgs["邵阳市网上年货节活动总结"]["problems"] if "无法读取" in p["message_zh"])
    assert ("衡阳市", "progress") in first["remind"] and ("岳阳市", "progress") not in first["remind"]
    assert "Weekly newsletter" in first["digest"]

    # exempt: 免报, never reminded
    out = decide(capsys, "exempt", "衡阳", "progress", now=T_PROGRESS)
    assert "衡阳市 活动组织情况: 未报 -> 免报" in out
    assert status(capsys, T_END)["衡阳市"]["progress"]["state"] == "exempt"
    assert status(capsys, T_END)["衡阳市"]["progress"]["note"] == "测试"
    assert ("衡阳市", "progress") not in reminders(capsys)
    assert "免报" in json.dumps(compiled(capsys, env)["概况"], ensure_ascii=False)
    assert status(capsys, "2022-01-06T07:00")["衡阳市"]["progress"]["state"] == "missing"  # before it was taken

    # assign --report: staff count a mail the rules did not; the exemption gives way to the report
    out = decide(capsys, "assign", str(hengyang), "--report", now=T_PROGRESS)
    assert "衡阳市 活动组织情况: 免报 -> 按时" in out
    report = status(capsys, T_END)["衡阳市"]["progress"]
    assert report["state"] == "on_time" and len(report["decisions"]) == 2

    # assign --not-report: the city's only report assigned away -> it is reminded
    out = decide(capsys, "assign", str(yueyang["id"]), "--not-report", now=T_PROGRESS)
    assert "岳阳市 活动组织情况: 按时 -> 未报" in out
    assert ("岳阳市", "progress") in reminders(capsys)
    decide(capsys, "assign", str(yueyang["id"]), "--city", "岳阳市", "--deadline", "progress", "--report",
           now=T_PROGRESS)
    assert ("岳阳市", "progress") not in reminders(capsys)
    # confirm-sender: the unregistered-sender problem is settled
    assert any("未登记" in p for p in status(capsys, T_END)["岳阳市"]["progress"]["problems"]) is False
    decide(capsys, "confirm-sender", str(yueyang["id"]), "--register")
    listed = message_ids(capsys)["岳阳市网上年货节活动组织情况"]
    assert all(p["resolved"] for p in listed["problems"] if p["code"] == "unregistered_sender")

    # ignore: the newsletter leaves the digest's list of mail to register
    decide(capsys, "ignore", str(news))
    assert "Weekly newsletter" not in digest_text(capsys)

    # choose: the earlier version of 长沙's summary is the one in force; the workbook follows
    out = decide(capsys, "choose", str(cs_v1))
    assert "长沙市 活动全面总结" in out and "4 -> 3 行" in out
    assert status(capsys, T_END)["长沙市"]["summary"]["rows"] == 3
    assert status(capsys, T_END)["长沙市"]["summary"]["latest_at"].startswith("2022-02-06T16:00")
    assert len([r for r in compiled(capsys, env)["rows"] if r["city"] == "长沙市"]) == 3

    # resolve: the problem leaves status, the digest and the workbook's 问题, and stays in `messages`
    decide(capsys, "resolve", str(shaoyang_problem))
    assert not any("无法读取" in p for p in status(capsys, T_END)["邵阳市"]["summary"]["problems"])
    assert "无法读取" not in digest_text(capsys)
    assert "无法读取" in json.dumps(first["compile"]["问题"], ensure_ascii=False)
    assert "无法读取" not in json.dumps(compiled(capsys, env)["问题"], ensure_ascii=False)
    shaoyang = message_ids(capsys)["邵阳市网上年货节活动总结"]
    assert any(p["id"] == shaoyang_problem and p["resolved"] for p in shaoyang["problems"])

    decided = views(capsys, env)
    run(capsys, "reprocess", "--now", T_END)
    assert views(capsys, env) == decided
    assert message_ids(capsys)["邵阳市网上年货节活动总结"] == shaoyang  # problem numbers kept too

    log = json.loads(run(capsys, "decisions", "--json", "--now", T_END))
    assert [d["kind"] for d in log][-1] == "exempt" and all(d["by"] == "张三" for d in log)
    for d in log:  # newest first
        decide(capsys, "undo", str(d["id"]))
    assert views(capsys, env) == first


def test_a_wrong_argument_is_one_line_exit_2_and_nothing_recorded(env, capsys):
    run(capsys, "import", str(env / "mail"), "--now", T_END)
    wrong = [("assign", "999", "--report"), ("assign", "1", "--city", "火星市", "--deadline", "progress"),
             ("assign", "1", "--city", "长沙市", "--deadline", "nope"), ("assign", "1"),
             ("exempt", "火星市", "plan"), ("exempt", "长沙市", "nope"), ("unexempt", "长沙市", "plan"),
             ("resolve", "99999"), ("resolve", "abc"), ("choose", "999"), ("undo", "42"),
             ("confirm-sender", "1")]  # message 1 comes from a registered address
    for argv in wrong:
        capsys.readouterr()
        assert main([*argv, "--now", T_END]) == 2, argv
        err = capsys.readouterr().err.strip()
        assert err.startswith("错误：") and "\n" not in err, (argv, err)
    assert json.loads(run(capsys, "decisions", "--json", "--now", T_END)) == []


def test_a_message_assigned_after_the_fact_gets_no_second_receipt(env, capsys):
    run(capsys, "import", str(env / "mail"), "--now", T_END)
    outbox = env / "data" / "outbox"
    sent = sorted(p.name for p in outbox.glob("*.eml"))
    news = message_ids(capsys)["Weekly newsletter"]["id"]
    decide(capsys, "assign", str(news), "--city", "长沙市", "--deadline", "summary")
    run(capsys, "reprocess", "--now", T_END)
    run(capsys, "import", str(env / "mail"), "--now", T_END)
    assert sorted(p.name for p in outbox.glob("*.eml")) == sent


def test_a_decision_whose_message_was_purged_is_reported_not_dropped(env, capsys):
    run(capsys, "import", str(env / "mail"), "--now", T_END)
    news = message_ids(capsys)["Weekly newsletter"]["id"]
    decide(capsys, "ignore", str(news))
    run(capsys, "purge", "--before", "2022-01-07", "--yes", "--now", T_END)
    log = json.loads(run(capsys, "decisions", "--json", "--now", T_END))
    assert log[0]["stale"] and "已不存在" in log[0]["stale"]
    assert "不再适用" in run(capsys, "decisions", "--now", T_END)
    assert f"#{log[0]['id']} 邮件 #{news} 已不存在" in run(capsys, "reprocess", "--now", T_END)


def test_a_registered_address_is_the_citys_sender_for_later_mail(env, capsys):
    from tests.builders import make_email
    from tests.e2e.test_campaign_import import at, table

    run(capsys, "import", str(env / "mail"), "--now", T_END)
    yueyang = message_ids(capsys)["岳阳市网上年货节活动组织情况"]["id"]  # from xiaoli@qq.com
    decide(capsys, "confirm-sender", str(yueyang), "--register", now="2022-02-01T09:00")
    doc = json.loads(run(capsys, "status", "--json", "--now", T_END))
    assert doc["registered_senders"] == [{"city": "岳阳市", "address": "xiaoli@qq.com", "decision": 1,
                                          "since": "2022-02-01T09:00:00+08:00"}]
    assert "工作人员登记的报送邮箱：岳阳市 xiaoli@qq.com" in run(capsys, "status", "--now", T_END)
    later = env / "later"
    later.mkdir()
    (later / "a.eml").write_bytes(make_email(  # names no city: only the registered address tells
        subject="网上年货节活动总结", sender="小李 <xiaoli@qq.com>", attachments=[("附件1.xlsx", table())],
        received=at("2022-02-05T10:00"), message_id="<later@qq.com>"))
    run(capsys, "import", str(later), "--now", T_END)
    new = message_ids(capsys)["网上年货节活动总结"]
    assert (new["city"], new["city_source"], new["unregistered_sender"]) == ("岳阳市", "sender", False)
    assert status(capsys, T_END)["岳阳市"]["summary"]["state"] == "on_time"
    run(capsys, "reprocess", "--now", T_END)
    assert message_ids(capsys)["网上年货节活动总结"]["city"] == "岳阳市"
