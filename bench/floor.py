"""The floor: FETCH the folder in the service's batches, parse with compat32, read spreadsheets with calamine.

Stores nothing. Run as its own process by bench/backlog.py so it pays its own start-up, like `poll`:

    SERVICE_IMAP_PASSWORD=... python bench/floor.py --host 127.0.0.1 --port 1143 --user bench1 [--batch-size 50]

Prints one JSON object: seconds per stage (fetch, parse, calamine) and in total, from process start.
"""
from __future__ import annotations

import time

STARTED = time.perf_counter()

import argparse  # noqa: E402
import email  # noqa: E402
import email.policy  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
import zipfile  # noqa: E402
from typing import Sequence  # noqa: E402

import python_calamine  # noqa: E402
from imapclient import IMAPClient  # noqa: E402

SPREADSHEETS = (".xlsx", ".xlsm", ".xls", ".ods")


class Floor:
    """Accumulated seconds and counts of the bare loop."""

    def __init__(self) -> None:
        self.fetch = self.parse = self.read = 0.0
        self.messages = self.bytes = self.sheets = self.rows = self.unreadable = 0

    def message(self, raw: bytes) -> None:
        start = time.perf_counter()
        msg = email.message_from_bytes(raw, policy=email.policy.compat32)
        files = [(part.get_filename() or "", part.get_payload(decode=True) or b"")
                 for part in msg.walk() if part.get_filename()]
        self.parse += time.perf_counter() - start
        for name, data in files:
            self.file(name.lower(), data)

    def file(self, name: str, data: bytes) -> None:
        """Spreadsheets are read; zips opened; attached .eml parsed (what the service must do too)."""
        if name.endswith(SPREADSHEETS):
            self.spreadsheet(data)
        elif name.endswith(".zip"):
            start = time.perf_counter()
            try:
                with zipfile.ZipFile(io.BytesIO(data)) as archive:
                    members = [(i.filename.lower(), archive.read(i)) for i in archive.infolist()]
            except zipfile.BadZipFile:
                members = []
            self.parse += time.perf_counter() - start
            for member, content in members:
                self.file(member, content)
        elif name.endswith(".eml"):
            self.message(data)

    def spreadsheet(self, data: bytes) -> None:
        start = time.perf_counter()
        try:
            book = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data))
            for index in range(len(book.sheet_names)):
                self.rows += len(book.get_sheet_by_index(index).to_python(skip_empty_area=False))
            self.sheets += 1
        except Exception:  # noqa: BLE001 - a broken file in the corpus is still read as far as it goes
            self.unreadable += 1
        self.read += time.perf_counter() - start


def run(host: str, port: int, user: str, password: str, folder: str, batch_size: int) -> dict:
    floor = Floor()
    start = time.perf_counter()
    client = IMAPClient(host, port, ssl=False, timeout=60)
    client.login(user, password)
    client.select_folder(folder, readonly=True)
    uids = sorted(client.search(["ALL"]))
    floor.fetch += time.perf_counter() - start
    for at in range(0, len(uids), batch_size):
        start = time.perf_counter()
        replies = client.fetch(uids[at:at + batch_size], [b"BODY.PEEK[]", b"INTERNALDATE"])
        floor.fetch += time.perf_counter() - start
        for uid in uids[at:at + batch_size]:
            raw = replies[uid][b"BODY[]"]
            floor.messages += 1
            floor.bytes += len(raw)
            floor.message(raw)
    client.logout()
    return {"fetch_s": floor.fetch, "parse_s": floor.parse, "calamine_s": floor.read,
            "work_s": floor.fetch + floor.parse + floor.read, "total_s": time.perf_counter() - STARTED,
            "messages": floor.messages, "bytes": floor.bytes, "spreadsheets": floor.sheets,
            "sheet_rows": floor.rows, "unreadable": floor.unreadable}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--folder", default="INBOX")
    parser.add_argument("--batch-size", type=int, default=50)
    args = parser.parse_args(argv)
    print(json.dumps(run(args.host, args.port, args.user, os.environ["SERVICE_IMAP_PASSWORD"], args.folder, args.batch_size)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
