"""Zip unpacking: legacy-encoded names, junk, nesting, and every bound (bombs, lies, passwords)."""
import io
import struct
import time
import tracemalloc
import zipfile
import zlib

import pytest

from service.config import LimitsSection
from service.parse import parse_message
from service.parse.unpack import Budget, is_unsafe_name, read_zip
from tests.builders import SHANGHAI, make_email, make_xlsx, make_zip

XLSX = make_xlsx([["县（市、区）", "活动名称"], ["芙蓉区", "年货节"]])
LIMITS = LimitsSection()


def _read(data: bytes, limits: LimitsSection = LIMITS):
    members, problems = read_zip(data, "附件.zip", limits, Budget.from_limits(limits))
    return dict(members), problems


def _codes(problems) -> list[str]:
    return [p.code for p in problems]


def _patch_single_member(data: bytes, *, file_size: int | None = None, flags: int | None = None,
                         method: int | None = None) -> bytes:
    """Rewrite the header fields of a one-member zip, in the local and the central header."""
    out = bytearray(data)
    central = out.index(b"PK\x01\x02")
    for field, value, local_at, central_at in (("<I", file_size, 22, 24), ("<H", flags, 6, 8),
                                                ("<H", method, 8, 10)):
        if value is not None:
            struct.pack_into(field, out, local_at, value)
            struct.pack_into(field, out, central + central_at, value)
    return bytes(out)


@pytest.fixture(scope="module")
def bomb() -> bytes:
    """100 MB of zeros deflated to about 100 KB."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("统计表.xlsx", bytes(100 * 1024 * 1024))
    return buffer.getvalue()


def test_the_builder_writes_raw_gbk_names_that_the_stdlib_alone_misreads():
    data = make_zip({"长沙市统计表.xlsx": XLSX})
    info = zipfile.ZipFile(io.BytesIO(data)).infolist()[0]
    assert info.flag_bits & 0x800 == 0
    assert info.filename != "长沙市统计表.xlsx"


@pytest.mark.parametrize("encoding", ["gbk", "utf-8"])
def test_member_names_without_the_utf8_flag_are_read_as_utf8_or_gbk(encoding):
    members, problems = _read(make_zip({"长沙市/统计表.xlsx": XLSX, "说明.txt": b"hi"}, encoding=encoding))
    assert set(members) == {"长沙市/统计表.xlsx", "说明.txt"} and problems == []


def test_member_names_with_the_utf8_flag_are_kept():
    members, _ = _read(make_zip({"统计表.xlsx": XLSX}, gbk_names=False))
    assert list(members) == ["统计表.xlsx"]


def test_the_info_zip_unicode_path_field_names_the_member():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        info = zipfile.ZipInfo("x.txt")
        utf8 = "统计.txt".encode()
        info.extra = struct.pack("<HHBI", 0x7075, 5 + len(utf8), 1, zlib.crc32(b"x.txt")) + utf8
        archive.writestr(info, b"data")
    assert list(_read(buffer.getvalue())[0]) == ["统计.txt"]


def test_directories_mac_litter_thumbnails_and_office_lock_files_are_skipped():
    data = make_zip({"资料/": b"", "__MACOSX/资料/._统计表.xlsx": b"x", "资料/Thumbs.db": b"x",
                     "~$统计表.xlsx": b"x", ".DS_Store": b"x", "资料/统计表.xlsx": XLSX})
    members, problems = _read(data)
    assert list(members) == ["资料/统计表.xlsx"] and problems == []


def test_a_zip_bomb_is_refused_on_its_declared_size_quickly_and_in_little_memory(bomb):
    tracemalloc.start()
    started = time.perf_counter()
    members, problems = _read(bomb)
    elapsed = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert members == {} and _codes(problems) == ["zip_member_too_large"]
    assert "解压后超过大小限制" in problems[0].message_zh
    assert elapsed < 1 and peak < 5 * 1024 * 1024


def test_a_zip_bomb_under_the_size_limit_is_refused_for_its_compression_ratio(bomb):
    members, problems = _read(bomb, LimitsSection(max_attachment_bytes=200 * 1024 * 1024))
    assert members == {} and _codes(problems) == ["zip_bomb"]


def test_a_bomb_that_lies_about_its_size_is_stopped_without_inflating_it(bomb):
    lying = _patch_single_member(bomb, file_size=1000)
    tracemalloc.start()
    started = time.perf_counter()
    members, problems = _read(lying)
    elapsed, peak = time.perf_counter() - started, tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert members == {} and _codes(problems) == ["zip_member_unreadable"]
    assert elapsed < 1 and peak < 5 * 1024 * 1024


def test_the_total_unpacked_size_is_bounded_across_members():
    data = make_zip({f"{i}.bin": bytes(range(256)) * 400 for i in range(5)})  # 100 KB each
    members, problems = _read(data, LimitsSection(max_unpacked_bytes=250 * 1024))
    assert len(members) == 2 and set(_codes(problems)) == {"zip_total_too_large"}


def test_the_member_count_is_bounded():
    members, problems = _read(make_zip({f"{i}.txt": b"x" for i in range(5)}), LimitsSection(max_members=3))
    assert len(members) == 3 and _codes(problems) == ["zip_too_many_members"]


def test_a_password_protected_member_is_refused_with_a_problem():
    members, problems = _read(_patch_single_member(make_zip({"统计表.xlsx": XLSX}), flags=1))
    assert members == {} and _codes(problems) == ["zip_encrypted"]
    assert "设有密码" in problems[0].message_zh and problems[0].file == "附件.zip"


def test_an_unsupported_compression_method_is_a_problem_not_a_crash():
    members, problems = _read(_patch_single_member(make_zip({"a.xlsx": XLSX}), method=9))  # Deflate64
    assert members == {} and _codes(problems) == ["zip_member_unreadable"]


@pytest.mark.parametrize("data", [b"PK\x03\x04" + b"\0" * 50, make_zip({"a.xlsx": XLSX})[:-30], b"PK\x05\x06"])
def test_a_corrupt_zip_is_one_problem(data):
    members, problems = _read(data)
    assert members == {} and len(problems) <= 1


def _parse(raw: bytes, limits: LimitsSection = LIMITS):
    return parse_message(raw, limits, SHANGHAI)


def test_a_zipped_attachment_is_replaced_by_its_members_named_in_gbk():
    msg = _parse(make_email(attachments=[("长沙市统计表.xlsx", XLSX), ("说明.txt", "请查收".encode("gbk"))],
                            zipped=True, zip_name="长沙市报送材料.zip"))
    assert [(a.filename, a.kind, a.origin) for a in msg.attachments] == [
        ("长沙市统计表.xlsx", "xlsx", "长沙市报送材料.zip"), ("说明.txt", "text", "长沙市报送材料.zip")]
    assert msg.problems == ()


def test_nested_zips_are_unpacked_with_their_path_as_origin():
    inner = make_zip({"统计表.xlsx": XLSX})
    msg = _parse(make_email(attachments=[("外层.zip", make_zip({"内层.zip": inner}))]))
    assert [(a.filename, a.origin) for a in msg.attachments] == [("统计表.xlsx", "外层.zip/内层.zip")]


def test_zips_nested_deeper_than_max_depth_stop_with_a_problem():
    data = make_zip({"统计表.xlsx": XLSX})
    for level in range(4):
        data = make_zip({f"第{level}层.zip": data})
    msg = _parse(make_email(attachments=[("外层.zip", data)]), LimitsSection(max_depth=3))
    assert [a.kind for a in msg.attachments] == ["zip"]
    assert [p.code for p in msg.problems] == ["too_deep"]


def test_path_tricks_in_member_names_become_bare_names():
    data = make_zip({"../../etc/passwd": b"x", "/abs/统计表.xlsx": XLSX, "..\\..\\win.ini": b"y", "..": b"z"})
    msg = _parse(make_email(attachments=[("附件.zip", data)]))
    assert [a.filename for a in msg.attachments] == ["passwd", "统计表.xlsx", "win.ini", "attachment"]


def test_a_zip_bomb_in_a_message_is_refused_and_the_rest_is_kept(bomb):
    started = time.perf_counter()
    msg = _parse(make_email(attachments=[("炸弹.zip", bomb), ("统计表.xlsx", XLSX)]))
    assert time.perf_counter() - started < 2
    assert [a.filename for a in msg.attachments] == ["统计表.xlsx"]
    assert [(p.code, p.file) for p in msg.problems] == [("zip_member_too_large", "炸弹.zip")]


def test_an_unreadable_zip_is_kept_as_an_attachment_with_a_problem():
    msg = _parse(make_email(attachments=[("坏的.zip", b"PK\x03\x04" + b"\0" * 50)]))
    assert [(a.filename, a.kind) for a in msg.attachments] == [("坏的.zip", "zip")]
    assert [p.code for p in msg.problems] == ["zip_unreadable"]


@pytest.mark.parametrize("name, in_zip, unsafe", [
    ("统计表.xlsx", False, False), (" 统计表.xlsx ", False, False), ("统计表.xlsx", True, False),
    ("长沙市/统计表.xlsx", True, False), ("长沙市\\附件\\统计表.xlsx", True, False),  # folders inside a zip
    ("长沙市/统计表.xlsx", False, True),  # a path in a MIME filename
    ("../统计表.xlsx", True, True), ("a/../../统计表.xlsx", True, True), ("/etc/passwd", True, True),
    ("C:\\Windows\\win.ini", True, True), ("..\\..\\win.ini", True, True),
    ("统计\x00表.xlsx", False, True), ("evil\u202egpj.exe", False, True), ("a\r\nb.xlsx", True, True),
    ('a<b>.xls', False, True), ("统计表.xlsx.", False, True), ("." * 10, False, True),
    ("长" * 100 + ".xlsx", False, True), ("长" * 60 + ".xlsx", False, False),
])
def test_a_name_is_unsafe_when_sanitising_changes_more_than_spaces_and_zip_folders(name, in_zip, unsafe):
    assert is_unsafe_name(name, folders_ok=in_zip) is unsafe
