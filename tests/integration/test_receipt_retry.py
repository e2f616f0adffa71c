"""A receipt that could not be written because of a local error (the outbox unwritable, as when the
disk is full) is logged "retry" and sent at the next poll, not failed for ever (issue 19)."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from service import jobs
from service.app import App
from service.clock import fixed_clock
from tests.builders import make_email
from tests.conftest import make_config
from tests.table_builders import HEADER, SAMPLE_ROWS, make_xlsx

TZ = ZoneInfo("Asia/Shanghai")


def test_a_receipt_the_outbox_could_not_take_is_sent_at_the_next_poll(tmp_path):
    outbox = tmp_path / "outbox"
    outbox.write_text("not a folder")  # mkdir fails with an OSError, as a full or read-only disk would
    config = make_config(tmp_path / "data", smtp={"kind": "outbox", "outbox": str(outbox)})
    maildir = config.mailbox_folder / "new"
    maildir.mkdir(parents=True)
    (maildir / "1.eml").write_bytes(make_email(
        subject="长沙市网上年货节活动总结", attachments=[("附件1.xlsx", make_xlsx([HEADER, *SAMPLE_ROWS]))],
        received=datetime(2022, 2, 7, 10, 0, tzinfo=TZ), message_id="<cs-summary@x>"))
    app = App.open(config, fixed_clock("2022-02-07T10:05", config.tz))
    try:
        counts = jobs.poll(app)
        assert counts.new == 1 and counts.receipts == 0
        (record,) = [r for r in app.store.sent_records() if r.kind == "receipt"]
        assert record.status == "retry" and "cannot write" in record.error

        outbox.unlink()  # space again
        app.clock = fixed_clock("2022-02-07T10:10", config.tz)
        counts = jobs.poll(app)
        assert counts.new == 0 and counts.receipts == 1
        assert app.store.sent_record(record.key).status == "sent"
        (written,) = outbox.glob("*receipt*.eml")
        assert b"In-Reply-To: <cs-summary@x>" in written.read_bytes()
        assert jobs.poll(app).receipts == 0  # once
    finally:
        app.close()


def test_a_receipt_still_waiting_when_its_window_has_passed_is_failed_with_a_reason(tmp_path):
    outbox = tmp_path / "outbox"
    outbox.write_text("not a folder")
    config = make_config(tmp_path / "data", smtp={"kind": "outbox", "outbox": str(outbox)})
    maildir = config.mailbox_folder / "new"
    maildir.mkdir(parents=True)
    (maildir / "1.eml").write_bytes(make_email(
        subject="长沙市网上年货节活动总结", attachments=[("附件1.xlsx", make_xlsx([HEADER, *SAMPLE_ROWS]))],
        received=datetime(2022, 2, 7, 10, 0, tzinfo=TZ), message_id="<cs-old@x>"))
    app = App.open(config, fixed_clock("2022-02-07T10:05", config.tz))
    try:
        jobs.poll(app)
        outbox.unlink()
        app.clock = fixed_clock("2022-02-20T10:00", config.tz)  # past receipts.window_hours
        assert jobs.poll(app).receipts == 0
        (record,) = [r for r in app.store.sent_records() if r.kind == "receipt"]
        assert record.status == "failed" and "回执期限" in record.error
        assert not outbox.exists() or not list(outbox.glob("*.eml"))
    finally:
        app.close()


def test_with_smtp_down_a_poll_s_receipts_stop_at_the_breaker_and_all_go_out_at_the_next_poll(tmp_path):
    from tests.smtp_server import HOST, SmtpServer, free_port

    port = free_port()
    config = make_config(tmp_path / "data", smtp={"kind": "smtp", "host": HOST, "port": port, "security": "none",
                                                  "retries": 1, "backoff_seconds": 0.1, "timeout": 5.0})
    maildir = config.mailbox_folder / "new"
    maildir.mkdir(parents=True)
    cities = [("长沙市", "changsha"), ("株洲市", "zhuzhou"), ("湘潭市", "xiangtan"), ("衡阳市", "hengyang"),
              ("邵阳市", "shaoyang")]
    for n, (city, user) in enumerate(cities):
        (maildir / f"{n}.eml").write_bytes(make_email(
            subject=f"{city}网上年货节活动总结", sender=f"{city}商务局 <{user}@example.gov.cn>",
            attachments=[("附件1.xlsx", make_xlsx([HEADER, *SAMPLE_ROWS]))],
            received=datetime(2022, 2, 7, 10, n, tzinfo=TZ), message_id=f"<r{n}@x>"))
    app = App.open(config, fixed_clock("2022-02-07T10:30", config.tz))
    try:
        assert jobs.poll(app).receipts == 0
        receipts = [r for r in app.store.sent_records() if r.kind == "receipt"]
        assert len(receipts) == 5 and {r.status for r in receipts} == {"retry"}
        assert sum("not attempted" in r.error for r in receipts) == 2  # after 3 failures the circuit opened
        with SmtpServer.start(port=port) as server:
            app.clock = fixed_clock("2022-02-07T10:40", config.tz)
            assert jobs.poll(app).receipts == 5
            assert sorted(m.rcpt_tos[0] for m in server.messages) == sorted(f"{u}@example.gov.cn" for _, u in cities)
    finally:
        app.close()
