"""`demo` with a config whose mailbox is a real IMAP server and whose SMTP is real: it must not
connect to either, nor open the configured database; everything lands in its own folder."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import tomli_w

from service.cli import main
from tests.conftest import ROOT, config_data
from tests.dovecot import Account, Dovecot
from tests.smtp_server import HOST, SmtpServer

SMTP_PASSWORD = "AuthCodeXyz123"


def live_config(tmp_path: Path, dovecot: Dovecot, account: Account, smtp: SmtpServer) -> Path:
    data = config_data()
    data["service"] = {**data["service"], "data_dir": str(tmp_path / "live"),
                       "database_url": f"sqlite:///{tmp_path / 'live' / 'live.db'}"}
    data["mailbox"] = {"kind": "imap", "host": dovecot.host, "port": dovecot.port, "security": "none",
                       "user": account.user, "timeout": 10.0}
    data["smtp"] = {"kind": "smtp", "host": HOST, "port": smtp.port, "security": "none",
                    "timeout": 5.0, "retries": 0}
    path = tmp_path / "live.toml"
    path.write_bytes(tomli_w.dumps(data).encode("utf-8"))
    return path


def imap_logins(dovecot: Dovecot, since: int) -> int:
    return dovecot.log_text()[since:].count("imap-login:")


def assert_demo_in_its_folder(out: str, folder: Path, tmp_path: Path) -> None:
    assert str(folder / "outbox") in out and str(folder / "service.db") in out
    assert len(list((folder / "outbox").glob("*reminder*.eml"))) > 14
    assert (folder / "service.db").is_file() and (folder / "汇总表.xlsx").is_file()
    assert not (tmp_path / "live").exists() and not (tmp_path / "env.db").exists()


def test_demo_with_a_live_imap_and_smtp_config_touches_neither(tmp_path, dovecot, imap_account, smtp,
                                                               monkeypatch, capsys):
    config = live_config(tmp_path, dovecot, imap_account, smtp)
    dovecot.append(imap_account, b"From: a@b.cn\r\nSubject: real mail\r\nMessage-ID: <real@b.cn>\r\n\r\nx\r\n")
    env = {"SERVICE_IMAP_PASSWORD": imap_account.password, "SERVICE_SMTP_PASSWORD": SMTP_PASSWORD,
           "SERVICE_DATABASE_URL": f"sqlite:///{tmp_path / 'env.db'}"}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    log_at, smtp_at = dovecot.log_size(), smtp.handler.connections

    assert main(["--config", str(config), "demo", "--dir", str(tmp_path / "by-option")]) == 0
    assert_demo_in_its_folder(capsys.readouterr().out, tmp_path / "by-option", tmp_path)

    child_env = {**os.environ, **env, "SERVICE_CONFIG": str(config), "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "service", "demo"], cwd=tmp_path, env=child_env,
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    assert_demo_in_its_folder(done.stdout, tmp_path / "var" / "demo", tmp_path)

    assert smtp.handler.connections == smtp_at and smtp.messages == []
    assert imap_logins(dovecot, log_at) == 0
    assert dovecot.flags(imap_account)  # the real mail is still there, unread by anyone but us

    # the counters do see this config's own commands: the zeros above are not blind
    monkeypatch.delenv("SERVICE_DATABASE_URL")
    assert main(["--config", str(config), "poll", "--now", "2022-01-04T09:00"]) == 0
    assert main(["--config", str(config), "digest", "--now", "2022-01-04T08:30"]) == 0
    assert "imap-login:" in dovecot.wait_for_log("imap-login:", since=log_at)
    assert smtp.handler.connections > smtp_at and len(smtp.messages) == 1
