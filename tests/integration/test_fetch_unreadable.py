"""Files that cannot be read where mail is expected are skipped, reported and counted; the rest is ingested.

Tests run as root, which ignores file modes, so the unreadable files are ones root cannot read either:
a FIFO (reading would hang), a folder named like mail, a broken symlink, a device, a file gone since listing.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from service.cli import main
from service.ingest.folder import FolderSource, read_mail_file
from tests.builders import make_email
from tests.conftest import DEFAULT_TOML
from tests.table_builders import HEADER, SAMPLE_ROWS, make_xlsx

NOW = "2022-02-07T12:00"


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SERVICE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SERVICE_DATABASE_URL", f"sqlite:///{tmp_path / 'data' / 'service.db'}")
    monkeypatch.setenv("SERVICE_CONFIG", str(DEFAULT_TOML))
    return tmp_path / "data"


def report(city: str = "长沙市", address: str = "changsha") -> bytes:
    return make_email(subject=f"{city}网上年货节活动总结", sender=f"{city}商务局 <{address}@example.gov.cn>",
                      attachments=[("附件1.xlsx", make_xlsx([HEADER, *SAMPLE_ROWS]))],
                      message_id=f"<{address}@example.gov.cn>")


def hostile_maildir(root: Path) -> dict[str, Path]:
    """A Maildir whose new/ holds one good mail among things no one can read as mail."""
    for sub in ("tmp", "new", "cur"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    new = root / "new"
    os.mkfifo(new / "1.fifo.eml")
    (new / "2.folder.eml").mkdir()
    (new / "3.broken-link.eml").symlink_to(root / "gone.eml")
    (new / "4.device.eml").symlink_to("/dev/zero")
    (new / "5.good.eml").write_bytes(report())
    return {"good": new / "5.good.eml"}


def messages_json(capsys) -> list[dict]:
    capsys.readouterr()
    assert main(["messages", "--json", "--now", NOW]) == 0
    return json.loads(capsys.readouterr().out)


def test_a_poll_skips_unreadable_mail_files_reports_them_and_ingests_the_rest(data_dir, capsys):
    hostile_maildir(data_dir / "mailbox")
    assert main(["poll", "--now", NOW]) == 0  # a FIFO would hang it, a PermissionError stopped it
    out, err = capsys.readouterr()
    assert "收取新邮件 1 封" in out and "无法读取已跳过 4" in out
    skipped = [line for line in err.splitlines() if line.startswith("跳过无法读取的文件")]
    assert len(skipped) == 4 and all(".eml" in line for line in skipped)
    assert "管道 (FIFO)" in err and "directory" in err and "设备 (device)" in err
    assert [m["city"] for m in messages_json(capsys)] == ["长沙市"]


def test_a_skipped_file_is_ingested_by_the_next_poll_once_it_can_be_read(data_dir, capsys):
    hostile_maildir(data_dir / "mailbox")
    assert main(["poll", "--now", NOW]) == 0
    (data_dir / "mailbox" / "new" / "2.folder.eml").rmdir()
    (data_dir / "mailbox" / "new" / "2.folder.eml").write_bytes(report("株洲市", "zhuzhou"))
    capsys.readouterr()
    assert main(["poll", "--now", NOW]) == 0
    assert "收取新邮件 1 封" in capsys.readouterr().out
    assert sorted(m["city"] for m in messages_json(capsys)) == ["株洲市", "长沙市"]


def test_a_file_gone_between_listing_and_reading_is_skipped(tmp_path):
    maildir = tmp_path / "mailbox"
    hostile_maildir(maildir)
    (maildir / "new" / "6.gone.eml").write_bytes(report("湘潭市", "xiangtan"))

    class Store:
        def delivery_ids(self, prefix):
            (maildir / "new" / "6.gone.eml").unlink()  # listed next, removed before it is read
            return set()

    source = FolderSource(maildir)
    fetched = list(source.fetch_new(Store()))
    assert [f.source_id for f in fetched] == ["folder:new/5.good.eml"]
    assert sorted(s.path.name for s in source.skipped) == ["1.fifo.eml", "2.folder.eml", "3.broken-link.eml",
                                                           "4.device.eml"]


def test_import_of_a_folder_skips_what_cannot_be_read_and_ingests_the_rest(data_dir, tmp_path, capsys):
    hostile_maildir(tmp_path / "set")
    assert main(["import", str(tmp_path / "set"), "--now", NOW]) == 0
    out, err = capsys.readouterr()
    assert "新邮件 1" in out and "无法读取已跳过 4" in out and err.count("跳过无法读取的文件") == 4
    assert [m["city"] for m in messages_json(capsys)] == ["长沙市"]


@pytest.mark.parametrize("named", ["/dev/zero", "fifo"])
def test_a_fifo_or_device_named_on_the_command_line_is_refused_unread(data_dir, tmp_path, capsys, named):
    if named == "fifo":
        named = str(tmp_path / "mail.eml")
        os.mkfifo(named)  # no writer: a blocking read would never return
    good = tmp_path / "good.eml"
    good.write_bytes(report())
    assert main(["import", str(good), named, "--now", NOW]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and named in err[0] and "拒绝读取" in err[0]
    assert messages_json(capsys) == []  # refused before anything was read


def test_read_mail_file_refuses_what_is_not_a_regular_file(tmp_path):
    os.mkfifo(tmp_path / "fifo")
    for path in (tmp_path / "fifo", Path("/dev/zero")):
        with pytest.raises(OSError, match="不是普通文件"):
            read_mail_file(path)
    with pytest.raises(IsADirectoryError):
        read_mail_file(tmp_path)
    (tmp_path / "x.eml").write_bytes(b"Subject: x\r\n\r\nbody")
    assert read_mail_file(tmp_path / "x.eml") == b"Subject: x\r\n\r\nbody"
