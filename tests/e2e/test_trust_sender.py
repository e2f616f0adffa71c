"""A forged report from a city's registered address is held, not credited (issue 14).

A city's genuine report (DKIM-signed with a freshly generated key, served by a stub resolver; our
receiving server says dmarc=pass), then a forged one from the same address with other figures (our
server says dmarc=fail, spf=fail; the forger wrote an Authentication-Results of our server's id saying
pass, lower down). `status`, `compile` and the digest still show the genuine report; the forged one is
held with its problem, first in the digest's 需要人工处理, and gets no receipt; `confirm-sender`
credits it. On SQLite and PostgreSQL.
"""
from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import openpyxl
import pytest
import tomli_w

from service import jobs
from service.app import App
from service.cli import main
from service.clock import fixed_clock
from service.config import config_from_dict
from service.model import Fetched
from tests.auth_builders import published, received_by, signed, signing_key
from tests.builders import SHANGHAI, make_email, make_xlsx
from tests.conftest import config_data
from tests.integration.conftest import database_url, postgres_server  # noqa: F401 - fixtures
from tests.table_builders import SAMPLE_ROWS, template_rows

OURS = "mx.163.com"
KEY = signing_key("example.gov.cn")  # the shipped config's 长沙市 sends from changsha@example.gov.cn
GENUINE_AT = datetime(2022, 2, 7, 10, 0, tzinfo=SHANGHAI)
FORGED_AT = datetime(2022, 2, 7, 15, 0, tzinfo=SHANGHAI)
INGESTED = "2022-02-07T15:10:00"
T_END = "2022-02-10T12:00"
PLANTED = "参与企业900家，上线商品9000余款，实现销售额8亿元"  # the forger's figures for row 1


def genuine() -> bytes:
    raw = make_email(subject="长沙市网上年货节活动总结", attachments=[("附件1.xlsx", make_xlsx(template_rows()))],
                     date=GENUINE_AT, message_id="<genuine@example.gov.cn>")
    return received_by(signed(raw, KEY), f"{OURS}; dkim=pass header.d=example.gov.cn; dmarc=pass "
                                         f"header.from=example.gov.cn")


def forged() -> bytes:
    rows = [[*SAMPLE_ROWS[0][:5], PLANTED, ""], *SAMPLE_ROWS[1:]]
    raw = make_email(subject="长沙市网上年货节活动总结（更正）", date=FORGED_AT, message_id="<forged@evil.example>",
                     attachments=[("附件1.xlsx", make_xlsx(template_rows(rows)))])
    raw = received_by(raw, f"{OURS}; dmarc=pass header.from=example.gov.cn", by="mx.163.com")  # the forger's own
    return received_by(raw, f"{OURS}; spf=fail smtp.mailfrom=changsha@example.gov.cn; dkim=none; "
                            f"dmarc=fail (p=none) header.from=example.gov.cn", sender_host="evil.example")


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database_url: str) -> Path:  # noqa: F811
    data = config_data()
    data["service"] = {**data["service"], "data_dir": str(tmp_path / "data"), "database_url": database_url}
    data["mailbox"] = {**data.get("mailbox", {}), "trusted_authserv_ids": [OURS]}
    (tmp_path / "service.toml").write_bytes(tomli_w.dumps(data).encode("utf-8"))
    monkeypatch.setenv("SERVICE_CONFIG", str(tmp_path / "service.toml"))
    monkeypatch.delenv("SERVICE_DATA_DIR", raising=False)
    monkeypatch.delenv("SERVICE_DATABASE_URL", raising=False)
    config = config_from_dict(data, environ={})
    # Ingested by the service's own job, with the stub resolver serving the city's key (no network).
    app = App.open(config, fixed_clock(INGESTED, config.tz), txt_lookup=published(KEY))
    try:
        jobs.ingest_all(app, [Fetched("file:genuine.eml", genuine(), GENUINE_AT),
                              Fetched("file:forged.eml", forged(), FORGED_AT)])
    finally:
        app.close()
    return tmp_path


def run(capsys, *argv: str) -> str:
    capsys.readouterr()
    assert main(list(argv)) == 0, capsys.readouterr()
    return capsys.readouterr().out


def messages(capsys) -> dict[str, dict]:
    return {d["message_id"]: d for d in json.loads(run(capsys, "messages", "--json", "--now", T_END))}


def summary_report(capsys) -> dict:
    doc = json.loads(run(capsys, "status", "--json", "--now", T_END))
    return next(c for c in doc["cities"] if c["city"] == "长沙市")["reports"]["summary"]


def compiled_effects(capsys, env: Path) -> list[str]:
    out = env / "out.json"
    run(capsys, "compile", "--deadline", "summary", "--out", str(env / "out.xlsx"), "--json", str(out), "--now", T_END)
    return [r["effect"] for r in json.loads(out.read_text(encoding="utf-8"))["rows"] if r["city"] == "长沙市"]


def test_a_forged_report_from_a_registered_address_is_held_until_staff_confirm_it(env, capsys):
    msgs = messages(capsys)
    real, fake = msgs["<genuine@example.gov.cn>"], msgs["<forged@evil.example>"]
    assert real["auth"] == {"verdict": "pass", "dkim": "pass", "dkim_domain": "example.gov.cn", "aligned": True,
                            "spf": "", "dmarc": "pass", "authserv_id": OURS}
    assert fake["auth"] == {"verdict": "fail", "dkim": "none", "dkim_domain": "", "aligned": False,
                            "spf": "fail", "dmarc": "fail", "authserv_id": OURS}
    assert fake["sender_unverified"] and fake["problems"][0]["code"] == "sender_unverified"
    listing = run(capsys, "messages", "--now", T_END)
    assert "changsha@example.gov.cn（已验证）" in listing and "（发件人未验证，未计入）" in listing

    report = summary_report(capsys)  # the genuine version stands; the forged one is named, not counted
    assert report["state"] == "on_time" and report["versions"] == 1 and report["held"] == [fake["id"]]
    assert report["latest_at"].startswith("2022-02-07T10:00")
    assert any(f"confirm-sender {fake['id']}" in p for p in report["problems"])
    assert "按时 02-07 4行 ! ✗" in run(capsys, "status", "--now", T_END)
    assert PLANTED not in compiled_effects(capsys, env) and len(compiled_effects(capsys, env)) == len(SAMPLE_ROWS)
    sheet = openpyxl.load_workbook(env / "out.xlsx", read_only=True)["问题"]
    issues = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert any("sender_unverified" in r and "长沙市" in r for r in issues)

    digest = run(capsys, "digest", "--dry-run", "--now", T_END)
    manual = digest.split("三、需要人工处理的问题", 1)[1]
    first = next(line for line in manual.splitlines() if line.startswith("- "))
    assert first.startswith(f"- 长沙市：【疑似伪造，邮件 #{fake['id']}】发件人 changsha@example.gov.cn")

    receipts = [p.read_bytes() for p in (env / "data" / "outbox").glob("*.eml")]
    assert len(receipts) == 1 and b"genuine@example.gov.cn" in receipts[0]  # the forger got nothing back

    out = run(capsys, "confirm-sender", str(fake["id"]), "--by", "张三", "--note", "电话核实", "--now", T_END)
    assert "长沙市 活动全面总结" in out and f"#{real['id']} -> #{fake['id']}" in out
    report = summary_report(capsys)
    assert report["held"] == [] and report["versions"] == 2 and report["latest_at"].startswith("2022-02-07T15:00")
    assert PLANTED in compiled_effects(capsys, env)
    assert all(p["resolved"] for p in messages(capsys)["<forged@evil.example>"]["problems"]
               if p["code"] == "sender_unverified")
    assert "疑似伪造" not in run(capsys, "digest", "--dry-run", "--now", T_END)
    assert "✗" not in run(capsys, "status", "--now", T_END)


def test_the_workbench_message_page_shows_the_verdict_and_the_hold(env, capsys):
    from starlette.testclient import TestClient

    from service.clock import system_clock
    from service.config import load_config
    from service.web import make_web_app
    from service.web.auth import hash_password
    from tests.web_helpers import PASSWORDS, csrf_of

    msgs = messages(capsys)
    real, fake = msgs["<genuine@example.gov.cn>"], msgs["<forged@evil.example>"]
    app = App.open(load_config(str(env / "service.toml")), fixed_clock(T_END, SHANGHAI))
    app.store.add_user("ann", "editor", hash_password(PASSWORDS["ann"]), app.clock())
    try:
        c = TestClient(make_web_app(app, system_clock(app.config.tz)), follow_redirects=False)
        token = csrf_of(c.get("/login").text)
        assert c.post("/login", data=dict(username="ann", password=PASSWORDS["ann"], csrf_token=token)).status_code == 303
        forged_page, genuine_page = c.get(f"/messages/{fake['id']}").text, c.get(f"/messages/{real['id']}").text
    finally:
        app.close()
    assert "验证失败" in forged_page and "未计入，待确认发件人" in forged_page and "确认发件人" in forged_page
    assert "已验证" in genuine_page and "d=example.gov.cn，与发件域一致" in genuine_page
