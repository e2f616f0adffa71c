"""write_atomically: the workbook's bytes are on disk before the rename makes them the file."""
import os
from pathlib import Path

import pytest

from service.report import workbook


def test_the_temp_file_is_fsynced_before_it_replaces_the_workbook_and_the_folder_after(tmp_path: Path, monkeypatch):
    calls: list[tuple[str, str]] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        calls.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        real_fsync(fd)

    def replace(src, dst) -> None:
        calls.append(("replace", str(src)))
        real_replace(src, dst)
    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    target = tmp_path / "汇总表.xlsx"
    workbook.write_atomically(target, b"rows")
    (_, synced), (_, replaced), folder = calls
    assert synced == replaced and Path(synced).parent == tmp_path and Path(synced).name.startswith(".汇总表.xlsx.")
    assert folder == ("fsync", str(tmp_path)) and target.read_bytes() == b"rows"


def test_a_write_that_dies_leaves_the_old_workbook_and_no_temp_file(tmp_path: Path, monkeypatch):
    target = tmp_path / "汇总表.xlsx"
    workbook.write_atomically(target, b"old")

    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError):
        workbook.write_atomically(target, b"new")
    assert [p.name for p in tmp_path.iterdir()] == ["汇总表.xlsx"] and target.read_bytes() == b"old"
