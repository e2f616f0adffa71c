"""Two (here: three) `import`s of the same mail at once, as real processes on one database: each message
is recorded once, every process ends cleanly, none dies of an IntegrityError (SQLite and PostgreSQL)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import create_engine, func, select

from service.store.schema import deliveries, messages, results
from tests.builders import make_email
from tests.conftest import DEFAULT_TOML, ROOT
from tests.table_builders import HEADER, SAMPLE_ROWS, make_xlsx

MAILS = 60
PROCESSES = 3


def mail_set(folder: Path) -> Path:
    folder.mkdir()
    table = make_xlsx([HEADER, *SAMPLE_ROWS])
    for i in range(MAILS):
        (folder / f"{i:03}.eml").write_bytes(make_email(subject=f"长沙市网上年货节活动总结（第{i}版）",
                                                        attachments=[("附件1.xlsx", table)], message_id=f"<{i}@x>"))
    return folder


def test_imports_running_at_once_record_each_message_once_and_all_succeed(tmp_path, database_url):
    folder = mail_set(tmp_path / "set")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SERVICE_CONFIG": str(DEFAULT_TOML),
           "SERVICE_DATA_DIR": str(tmp_path / "data"), "SERVICE_DATABASE_URL": database_url}
    command = [sys.executable, "-m", "service"]
    subprocess.run([*command, "migrate"], env=env, cwd=ROOT, check=True, capture_output=True)
    running = [subprocess.Popen([*command, "import", str(folder), "--now", "2022-02-10T12:00"], env=env, cwd=ROOT,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(PROCESSES)]
    finished = [(p.wait(timeout=300), *p.communicate()) for p in running]
    for code, out, err in finished:
        assert code == 0 and "Traceback" not in err and "IntegrityError" not in err, err
        assert f"导入 {MAILS} 封" in out
    new = sum(int(out.split("新邮件 ")[1].split("，")[0]) for _, out, _ in finished)
    assert new == MAILS  # each message is new to exactly one process
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            counts = [conn.execute(select(func.count()).select_from(t)).scalar() for t in (messages, deliveries, results)]
    finally:
        engine.dispose()
    assert counts == [MAILS, MAILS, MAILS]


def test_a_message_recorded_by_another_process_between_read_and_insert_comes_back_not_new(database_url):
    """The race made certain: just before this store inserts, another one commits the same message."""
    from datetime import datetime, timezone

    from sqlalchemy import event

    from service.store import Store

    now = datetime(2022, 2, 10, 4, tzinfo=timezone.utc)
    found = [dict(sha256=f"{i:064x}", message_id=f"<{i}@x>", size=10, source_id=f"import:/set/{i}.eml",
                  source_received_at=None) for i in range(3)]
    mine, other = Store.open(database_url), Store.open(database_url)
    raced: list[str] = []

    @event.listens_for(mine.engine, "before_cursor_execute")
    def other_process_first(conn, cursor, statement, parameters, context, executemany):
        if statement.startswith("INSERT INTO messages") and not raced:
            raced.append(statement)
            other.record_messages(found[1:2], now)  # committed between our read and our insert
    try:
        recorded = mine.record_messages(found, now)
        assert raced and [is_new for _, is_new in recorded] == [True, False, True]
        assert [s.sha256 for s, _ in recorded] == [f["sha256"] for f in found]
        assert len({s.id for s, _ in recorded}) == 3 and len(mine.stored_messages()) == 3
    finally:
        mine.close()
        other.close()
