"""The workbench over HTTP (Starlette's TestClient), on SQLite and PostgreSQL: who may see and change
what, the same bytes and JSON as the CLI, decisions through the CLI's checks with the user as `by`."""
from __future__ import annotations

import email
import email.policy
import io
import json
import re
from pathlib import Path
from typing import Iterator
from urllib.parse import unquote

import pytest
from starlette.testclient import TestClient

from service.app import App
from service.cli import main
from service.clock import system_clock
from service.web import make_web_app
from tests.integration.conftest import database_url, postgres_server  # noqa: F401 - fixtures
from tests.web_helpers import (
    ATTACHMENT_NAME,
    HOSTILE_SUBJECT,
    NOW,
    PASSWORDS,
    csrf_of,
    message_number,
    season_app,
)

HENGYANG = "衡阳市网上年货节活动组织情况"  # no attachment: the rules say no report, staff say it is one


@pytest.fixture
def season(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[App]:  # noqa: F811
    app = season_app(tmp_path, database_url)
    monkeypatch.setenv("SERVICE_DATA_DIR", str(tmp_path / "data"))  # the CLI, for comparisons
    monkeypatch.setenv("SERVICE_DATABASE_URL", database_url)
    monkeypatch.delenv("SERVICE_CONFIG", raising=False)
    monkeypatch.chdir(Path(__file__).resolve().parents[2])
    yield app
    app.close()


def client(app: App, **kwargs) -> TestClient:
    return TestClient(make_web_app(app, system_clock(app.config.tz)), follow_redirects=False, **kwargs)


def logged_in(app: App, name: str = "ann", **kwargs) -> TestClient:
    c = client(app, **kwargs)
    token = csrf_of(c.get("/login").text)
    answer = c.post("/login", data=dict(username=name, password=PASSWORDS[name], csrf_token=token))
    assert answer.status_code == 303 and answer.headers["location"] == "/", answer.text
    return c


def cli(capsys, *argv: str) -> str:
    capsys.readouterr()
    assert main([*argv, "--now", NOW]) == 0
    return capsys.readouterr().out


def test_every_page_but_login_needs_a_session(season: App) -> None:
    c = client(season)
    number = message_number(season, HENGYANG)
    for path in ("/", "/cities/长沙市", f"/messages/{number}", f"/messages/{number}/attachments/0", "/problems",
                 "/outgoing", "/decisions", "/workbook.xlsx", "/workbook.csv"):
        answer = c.get(path)
        assert (answer.status_code, answer.headers.get("location")) == (303, "/login"), path
    assert c.get("/api/status").status_code == 401
    for path in (f"/messages/{number}/assign", f"/messages/{number}/ignore", "/problems/1/resolve", "/decisions/1/undo"):
        assert c.post(path, data={"city": "衡阳市"}).status_code == 303, path
    assert season.store.decisions() == []
    assert c.get("/login").status_code == 200


def test_a_login_needs_its_csrf_token_the_right_password_and_pauses_after_five_failures(season: App) -> None:
    c = client(season)
    token = csrf_of(c.get("/login").text)
    assert c.post("/login", data=dict(username="ann", password=PASSWORDS["ann"])).status_code == 403
    for _ in range(5):  # each answer is a fresh form with a fresh token
        answer = c.post("/login", data=dict(username="ann", password="wrong-guess", csrf_token=token))
        assert answer.status_code == 401 and "用户名或密码不正确" in answer.text
        token = csrf_of(answer.text)
    paused = c.post("/login", data=dict(username="ann", password=PASSWORDS["ann"], csrf_token=token))
    assert paused.status_code == 401 and "登录失败次数过多" in paused.text
    logged_in(season, "vic")  # another user (another name) is not paused


def test_the_session_cookie_is_httponly_lax_and_secure_behind_tls(season: App) -> None:
    c = client(season)
    token = csrf_of(c.get("/login").text)
    plain = c.post("/login", data=dict(username="ann", password=PASSWORDS["ann"], csrf_token=token))
    cookie = plain.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie
    c = client(season, base_url="https://testserver")
    token = csrf_of(c.get("/login").text)
    secure = c.post("/login", data=dict(username="ann", password=PASSWORDS["ann"], csrf_token=token))
    assert "Secure" in secure.headers["set-cookie"]
    behind_nginx = client(season, headers={"X-Forwarded-Proto": "https"}).get("/login")
    assert "Secure" in behind_nginx.headers["set-cookie"]


def test_every_answer_carries_a_csp_without_unsafe_inline(season: App) -> None:
    c = logged_in(season)
    for path in ("/login", "/", "/api/status"):
        csp = c.get(path).headers["content-security-policy"]
        assert "unsafe-inline" not in csp and "default-src 'none'" in csp


def test_an_editor_assigns_a_message_and_the_matrix_and_status_follow(season: App, capsys) -> None:
    c = logged_in(season)
    number = message_number(season, HENGYANG)
    before = json.loads(c.get("/api/status").text)
    assert before == json.loads(cli(capsys, "status", "--json"))
    assert _state(before, "衡阳市", "progress") == "missing"
    page = c.get(f"/messages/{number}").text
    refused = c.post(f"/messages/{number}/assign", data=dict(city="衡阳市", deadline="progress"))
    assert refused.status_code == 403 and season.store.decisions() == []
    answer = c.post(f"/messages/{number}/assign", data=dict(city="衡阳市", deadline="progress", note="电话确认",
                                                            csrf_token=csrf_of(page)))
    assert answer.status_code == 200 and "衡阳市 活动组织情况: 未报 -&gt; 按时" in answer.text
    (decision,) = season.store.decisions()
    assert (decision.kind, decision.by, decision.note) == ("assign", "ann", "电话确认")
    after = json.loads(c.get("/api/status").text)
    assert _state(after, "衡阳市", "progress") == "on_time"
    assert after == json.loads(cli(capsys, "status", "--json"))


def test_a_wrong_argument_is_refused_as_on_the_command_line_and_nothing_is_recorded(season: App) -> None:
    c = logged_in(season)
    number = message_number(season, HENGYANG)
    token = csrf_of(c.get(f"/messages/{number}").text)
    answer = c.post(f"/messages/{number}/assign", data=dict(city="火星市", deadline="progress", csrf_token=token))
    assert answer.status_code == 400 and "未知的市州：火星市" in answer.text
    assert season.store.decisions() == []


def test_a_viewer_sees_everything_and_changes_nothing(season: App) -> None:
    c = logged_in(season, "vic")
    number = message_number(season, HENGYANG)
    page = c.get(f"/messages/{number}")
    assert page.status_code == 200 and f'/messages/{number}/assign' not in page.text
    answer = c.post(f"/messages/{number}/assign", data=dict(city="衡阳市", deadline="progress",
                                                            csrf_token=csrf_of(page.text)))
    assert answer.status_code == 403 and season.store.decisions() == []


def test_undo_and_resolve_from_the_pages_record_the_user(season: App) -> None:
    c = logged_in(season)
    token = csrf_of(c.get("/problems").text)
    number = next(p.number for found in season.store.problems().values() for p in found if p.number)
    assert c.post(f"/problems/{number}/resolve", data=dict(csrf_token=token)).status_code == 200
    assert c.post(f"/problems/{number}/resolve", data=dict(csrf_token=token)).status_code == 400  # already
    (resolved,) = season.store.decisions()
    assert c.post(f"/decisions/{resolved.id}/undo", data=dict(csrf_token=token)).status_code == 200
    assert [(d.kind, d.by) for d in season.store.decisions()] == [("resolve", "ann"), ("undo", "ann")]
    assert "已由 #2 撤销" in c.get("/decisions").text


def test_an_attachment_is_its_original_bytes_as_a_download_with_its_chinese_name(season: App, tmp_path) -> None:
    c = logged_in(season)
    number = message_number(season, HOSTILE_SUBJECT)
    answer = c.get(f"/messages/{number}/attachments/0")
    raw = season.archive.load(season.store.stored_messages_by_id([number])[0].sha256)
    assert raw == (tmp_path / "mail" / "99_hostile.eml").read_bytes()
    original = next(email.message_from_bytes(raw, policy=email.policy.default).iter_attachments())
    assert answer.content == original.get_content()
    assert answer.headers["content-disposition"] == (
        "attachment; filename=\"__1____ (__).xlsx\"; "
        "filename*=UTF-8''%E9%99%84%E4%BB%B61%EF%BC%9A%E7%BB%9F%E8%AE%A1%E8%A1%A8%20%28%E7%BB%88%E7%A8%BF%29.xlsx")
    assert unquote(answer.headers["content-disposition"].split("''")[1]) == ATTACHMENT_NAME
    assert answer.headers["content-type"] == "application/octet-stream"
    assert c.get(f"/messages/{number}/attachments/1").status_code == 404
    assert c.get("/messages/99999/attachments/0").status_code == 404


def test_the_workbook_is_the_bytes_compile_writes(season: App, tmp_path: Path, capsys) -> None:
    c = logged_in(season)
    out = tmp_path / "out.xlsx"
    cli(capsys, "compile", "--out", str(out), "--csv", str(tmp_path / "out.csv"))
    assert c.get("/workbook.xlsx").content == out.read_bytes()
    assert c.get("/workbook.csv").content == (tmp_path / "out.csv").read_bytes()


def test_text_from_mail_is_shown_as_text(season: App) -> None:
    c = logged_in(season)
    page = c.get(f"/messages/{message_number(season, HOSTILE_SUBJECT)}").text
    assert "&lt;img src=x onerror=alert(1)&gt;" in page and "<img" not in page
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in page and "<script" not in page


def test_logout_and_disabling_a_user_end_their_sessions(season: App, capsys, monkeypatch) -> None:
    ann, vic = logged_in(season), logged_in(season, "vic")
    token = csrf_of(ann.get("/").text)
    assert ann.post("/logout", data=dict(csrf_token=token)).headers["location"] == "/login"
    ann.cookies.clear()
    assert ann.get("/").status_code == 303
    cli(capsys, "user", "disable", "vic")
    assert vic.get("/").status_code == 303


def test_user_commands_add_list_set_a_password_and_refuse_a_short_one(season: App, capsys, monkeypatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("new-password-9\n"))
    assert "已添加用户 eve（editor）" in cli(capsys, "user", "add", "eve", "--role", "editor", "--password-stdin")
    listed = cli(capsys, "user", "list")
    assert "eve\teditor\t可用" in listed and "vic\tviewer\t可用" in listed
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main(["user", "passwd", "eve", "--password-stdin"]) == 2
    assert "密码至少 8 个字符" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.StringIO("x-password-9\n"))
    assert main(["user", "add", "eve", "--password-stdin"]) == 2
    assert "已存在" in capsys.readouterr().err


def _state(doc: dict, city: str, deadline: str) -> str:
    return next(c for c in doc["cities"] if c["city"] == city)["reports"][deadline]["state"]


def test_a_sent_letter_opens_with_the_text_that_went_out(season: App) -> None:
    c = logged_in(season)
    listing = c.get("/outgoing").text
    link = re.search(r'href="(/outgoing/letter\?key=[^"]+)"', listing).group(1).replace("&amp;", "&")
    letter = c.get(link)
    record = next(s for s in season.store.sent_records() if s.key == unquote(link.split("key=", 1)[1]))
    assert letter.status_code == 200 and f"Subject: {record.subject}" in letter.text
    assert c.get("/outgoing/letter?key=no-such-key").status_code == 404
