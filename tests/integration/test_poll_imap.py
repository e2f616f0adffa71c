"""`poll` through the CLI against a real Dovecot: exactly once, unseen, INTERNALDATE counts."""
from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import tomli_w

from service.cli import main
from tests.builders import make_email
from tests.conftest import config_data
from tests.dovecot import Account, Dovecot
from tests.table_builders import HEADER, SAMPLE_ROWS, make_xlsx

TZ = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def imap_config(tmp_path: Path, dovecot: Dovecot, imap_account: Account, monkeypatch) -> Path:
    data = config_data()
    data["service"] = {**data["service"], "data_dir": str(tmp_path / "data"),
                       "database_url": f"sqlite:///{tmp_path / 'data' / 'service.db'}"}
    data["mailbox"] = {"kind": "imap", "host": dovecot.host, "port": dovecot.port, "security": "none",
                       "user": imap_account.user, "timeout": 10.0, "batch_size": 2}
    path = tmp_path / "imap.toml"
    path.write_bytes(tomli_w.dumps(data).encode("utf-8"))
    monkeypatch.setenv("SERVICE_IMAP_PASSWORD", imap_account.password)
    monkeypatch.delenv("SERVICE_DATA_DIR", raising=False)
    monkeypatch.delenv("SERVICE_DATABASE_URL", raising=False)
    return path


def summary_mail(n: int) -> bytes:
    # no Received header and a Date long before: only INTERNALDATE can say when the office got it
    return make_email(subject="长沙市网上年货节活动总结", date=datetime(2022, 1, 1, 8, 0, tzinfo=TZ),
                      attachments=[("附件1.xlsx", make_xlsx([HEADER, *SAMPLE_ROWS[:n]]))],
                      message_id=f"<poll-{n}@changsha>")


def cli(capsys, config: Path, *argv: str) -> str:
    capsys.readouterr()
    assert main(["--config", str(config), *argv]) == 0
    return capsys.readouterr().out


def test_poll_once_ingests_each_message_once_and_leaves_them_unseen(capsys, dovecot, imap_account, imap_config):
    for n in (1, 2, 3):
        dovecot.append(imap_account, summary_mail(n), when=datetime(2022, 2, 6 + n, 10, 0, tzinfo=TZ))
    assert "新邮件 3 封" in cli(capsys, imap_config, "poll", "--now", "2022-02-10T12:00")
    assert "新邮件 0 封" in cli(capsys, imap_config, "poll", "--now", "2022-02-10T12:05")
    assert all(b"\\Seen" not in flags for flags in dovecot.flags(imap_account).values())

    doc = json.loads(cli(capsys, imap_config, "status", "--json", "--now", "2022-02-10T12:00"))
    changsha = next(c for c in doc["cities"] if c["city"] == "长沙市")["reports"]["summary"]
    # the first version arrived 02-07 (on time, by INTERNALDATE); the latest (3 rows) on 02-09
    assert (changsha["state"], changsha["rows"], changsha["versions"]) == ("on_time", 3, 3)
    assert changsha["received_at"].startswith("2022-02-07T10:00")


def test_new_mail_after_a_poll_is_picked_up_by_the_next_one(capsys, dovecot, imap_account, imap_config):
    dovecot.append(imap_account, summary_mail(1), when=datetime(2022, 2, 7, 10, 0, tzinfo=TZ))
    cli(capsys, imap_config, "poll", "--now", "2022-02-10T12:00")
    dovecot.append(imap_account, summary_mail(2), when=datetime(2022, 2, 8, 10, 0, tzinfo=TZ))
    assert "新邮件 1 封" in cli(capsys, imap_config, "poll", "--now", "2022-02-10T12:05")
    messages = json.loads(cli(capsys, imap_config, "messages", "--json"))
    assert len(messages) == 2


def test_a_wrong_password_is_a_clear_error_without_the_password(capsys, dovecot, imap_account, imap_config,
                                                               monkeypatch):
    monkeypatch.setenv("SERVICE_IMAP_PASSWORD", "wrong-授权码-123")
    assert main(["--config", str(imap_config), "poll"]) != 0
    err = capsys.readouterr().err
    assert "授权码" in err and "wrong-授权码-123" not in err
