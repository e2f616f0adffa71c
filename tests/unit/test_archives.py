"""7z, rar and winmail.dat are unpacked like zip: the same bounds, names and problems.

The .rar samples in tests/data/archives were made by WinRAR/rar for rarfile's own tests (ISC
licence); no free tool writes .rar, so the ones built here are stored archives (make_rar).
two-files.tnef is a real Outlook winmail.dat from tnefparse's tests.
"""
import io
import struct
import time
import zipfile
from pathlib import Path

import pytest

from service.config import LimitsSection
from service.parse import parse_message
from service.parse.containers import read_container
from service.parse.sniff import sniff_kind
from service.parse.unpack import Budget
from tests.builders import SHANGHAI, make_7z, make_email, make_rar, make_tnef, make_xlsx

XLSX = make_xlsx([["县（市、区）", "活动名称"], ["芙蓉区", "年货节"]])
LIMITS = LimitsSection()
SAMPLES = Path(__file__).parents[1] / "data" / "archives"


def _read(kind: str, data: bytes, limits: LimitsSection = LIMITS, name: str = "附件"):
    members, problems = read_container(kind, data, name, limits, Budget.from_limits(limits))
    return dict(members), problems


def _codes(problems) -> list[str]:
    return [p.code for p in problems]


def _sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


@pytest.mark.parametrize("kind, data", [
    ("7z", make_7z({"统计表/附件1.xlsx": XLSX, "说明.txt": "请查收".encode("gbk"), "空.txt": b""})),
    ("rar", make_rar({"统计表/附件1.xlsx": XLSX, "说明.txt": "请查收".encode("gbk"), "空.txt": b""})),
    ("rar", make_rar({"统计表/附件1.xlsx": XLSX, "说明.txt": "请查收".encode("gbk"), "空.txt": b""},
                     gbk_names=True)),  # WinRAR on Chinese Windows: GBK names without the Unicode flag
    ("tnef", make_tnef({"统计表/附件1.xlsx": XLSX, "说明.txt": "请查收".encode("gbk")})),
])
def test_each_container_gives_its_members_with_their_chinese_names(kind, data):
    assert sniff_kind(data, "附件") == kind
    members, problems = _read(kind, data)
    assert members["统计表/附件1.xlsx"] == XLSX
    assert members["说明.txt"] == "请查收".encode("gbk")
    assert problems == []


def test_compressed_and_solid_rar_members_are_read_through_the_extraction_tool():
    for sample in ("rar5-crc.rar", "rar3-solid.rar"):
        members, problems = _read("rar", _sample(sample))
        assert sorted(members) == ["stest1.txt", "stest2.txt"] and problems == []
        assert members["stest1.txt"] == members["stest2.txt"] and len(members["stest1.txt"]) == 2048


@pytest.mark.parametrize("kind, data", [
    ("7z", make_7z({"附件1.xlsx": XLSX}, password="1234")),
    ("7z", make_7z({"附件1.xlsx": XLSX}, password="1234", header_encryption=True)),
    ("rar", _sample("rar5-psw.rar")),
    ("rar", _sample("rar5-hpsw.rar")),  # even the names are encrypted
])
def test_an_encrypted_archive_is_one_precise_problem_and_stays_the_mail_s_attachment(kind, data):
    members, problems = _read(kind, data, name="附件.x")
    assert members == {} and _codes(problems) == [f"{kind}_encrypted"]
    assert "设有密码" in problems[0].message_zh
    message = parse_message(make_email(attachments=[(f"材料.{kind}", data)]), LIMITS, SHANGHAI)
    assert [a.kind for a in message.attachments] == [kind]  # so the mail still counts as a report


def test_a_7z_bomb_is_refused_on_its_declared_size_before_inflating():
    bomb = make_7z({"统计表.csv": bytes(60 * 1024 * 1024), "附件1.xlsx": XLSX})
    started = time.monotonic()
    members, problems = _read("7z", bomb)
    assert time.monotonic() - started < 2
    assert list(members) == ["附件1.xlsx"]
    assert _codes(problems) == ["7z_member_too_large"]
    members, problems = _read("7z", bomb, LimitsSection(max_attachment_bytes=100 * 1024 * 1024))
    assert _codes(problems) == ["7z_bomb"]  # under the size limit: its ratio gives it away


def _rar_declaring(size: int) -> bytes:
    """A stored rar whose one member claims `size` unpacked bytes (its header CRC kept right)."""
    data = bytearray(make_rar({"统计表.xlsx": XLSX}))
    at = data.index(b"\x74\x00\x82") - 2  # the file block: CRC16, type 0x74, flags (LONG, UNICODE)
    struct.pack_into("<I", data, at + 11, size)  # UNP_SIZE
    head_size = struct.unpack_from("<H", data, at + 5)[0]
    struct.pack_into("<H", data, at, zipfile.crc32(bytes(data[at + 2:at + head_size])) & 0xFFFF)
    return bytes(data)


def test_a_rar_member_declaring_a_huge_size_is_refused_before_reading():
    members, problems = _read("rar", _rar_declaring(3 * 1024 ** 3))
    assert members == {} and _codes(problems) == ["rar_member_too_large"]


@pytest.mark.parametrize("kind, build", [
    ("7z", lambda files: make_7z(files)), ("rar", make_rar), ("tnef", make_tnef)])
def test_member_count_and_total_size_are_bounded_across_the_message(kind, build):
    files = {f"{i}.csv": bytes([i]) * 4000 for i in range(6)}
    members, problems = _read(kind, build(files), LimitsSection(max_members=4))
    assert len(members) == 4 and _codes(problems) == [f"{kind}_too_many_members"]
    members, problems = _read(kind, build(files), LimitsSection(max_unpacked_bytes=10_000))
    assert len(members) == 2 and _codes(problems) == [f"{kind}_total_too_large"] * 4


def test_traversal_names_in_a_7z_are_refused_and_in_a_rar_renamed():
    seven = make_7z({"aa/aa/x.xlsx": XLSX, "ok.csv": b"1"}, renames={"aa/aa/x.xlsx": "../../x.xlsx"})
    members, problems = _read("7z", seven)
    assert list(members) == ["ok.csv"] and _codes(problems) == ["unsafe_filename"]
    assert "../../x.xlsx" in problems[0].detail
    members, problems = _read("rar", make_rar({"../../x.xlsx": XLSX}))
    assert _codes(problems) == ["unsafe_filename"]
    message = parse_message(make_email(attachments=[("附件.rar", make_rar({"../../x.xlsx": XLSX}))]),
                            LIMITS, SHANGHAI)
    assert [a.filename for a in message.attachments] == ["x.xlsx"]


def test_a_bad_crc_is_a_problem_on_that_member_and_the_others_are_read():
    rar = bytearray(make_rar({"a.csv": b"1,2,3", "b.csv": b"4,5,6"}))
    rar[rar.index(b"1,2,3")] = ord("9")
    members, problems = _read("rar", bytes(rar))
    assert list(members) == ["b.csv"] and _codes(problems) == ["rar_member_unreadable"]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("a.csv", b"1,2,3")
        archive.writestr("b.csv", b"4,5,6")
    data = bytearray(buffer.getvalue())
    data[data.index(b"1,2,3")] = ord("9")
    members, problems = read_container("zip", bytes(data), "附件.zip", LIMITS, Budget.from_limits(LIMITS))
    assert [name for name, _ in members] == ["b.csv"] and _codes(problems) == ["zip_member_unreadable"]
    assert "CRC" in problems[0].detail


def test_a_winmail_dat_attachment_failing_its_checksum_is_read_with_a_problem():
    members, problems = _read("tnef", make_tnef({"附件1.xlsx": XLSX, "b.txt": b"x"}, bad_checksum=["附件1.xlsx"]))
    assert members["附件1.xlsx"] == XLSX and _codes(problems) == ["tnef_member_checksum"]


def test_a_real_outlook_winmail_dat_gives_its_attachments():
    members, problems = _read("tnef", _sample("two-files.tnef"))
    assert sorted(members) == ["AUTHORS", "README"] and problems == []


@pytest.mark.parametrize("kind, data", [
    ("7z", make_7z({"附件1.xlsx": XLSX})[:120]),
    ("rar", make_rar({"附件1.xlsx": XLSX})[:40]),
    ("rar", b"Rar!\x1a\x07\x00" + bytes(range(256))),
    ("tnef", b"\x78\x9f\x3e\x22\x01\x00" + b"\x02\x0f\x80\x06\x00\x00\x00\x00\x00\x00\x00" * 200_000),
])
def test_a_broken_container_is_one_problem_and_is_kept_as_an_attachment(kind, data):
    members, problems = _read(kind, data)
    assert members == {} and _codes(problems) == [f"{kind}_unreadable"]
    message = parse_message(make_email(attachments=[("附件.bin", data)]), LIMITS, SHANGHAI)
    assert [a.kind for a in message.attachments] == [kind]


@pytest.mark.parametrize("kind, build", [
    ("7z", lambda files: make_7z(files)), ("rar", make_rar), ("tnef", make_tnef)])
def test_a_container_in_a_message_is_replaced_by_its_members_with_its_name_as_origin(kind, build):
    raw = make_email(attachments=[("winmail.dat" if kind == "tnef" else f"报表.{kind}",
                                   build({"附件1：长沙市统计表.xlsx": XLSX}))])
    message = parse_message(raw, LIMITS, SHANGHAI)
    assert [(a.filename, a.kind, a.content == XLSX) for a in message.attachments] == [
        ("附件1：长沙市统计表.xlsx", "xlsx", True)]
    assert message.attachments[0].origin in ("winmail.dat", f"报表.{kind}")
