"""Nothing counted twice (issue 19 item 3): identical attachments in one message, at any depth, are read
once with a problem, and zip directory entries sharing one member's data are skipped before inflating."""
import pytest

from service.config import LimitsSection
from service.extract import extract_attachments
from service.extract.convert import NoConverter
from service.parse import parse_message
from tests.attack_builders import zip_listing_one_member
from tests.builders import SHANGHAI, make_email, make_zip
from tests.table_builders import SAMPLE_ROWS, make_xlsx, template_rows

TABLE = make_xlsx(template_rows())
OTHER = make_xlsx(template_rows([[1, "岳麓区", "岳麓区商务局", "年货节", "直播", "销售额10万元", ""]]))
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
LIMITS = LimitsSection()


def _read(attachments):
    msg = parse_message(make_email(attachments=attachments), LIMITS, SHANGHAI)
    tables, problems = extract_attachments(msg.attachments, LIMITS, NoConverter())
    return msg, sum(len(t.rows) for t in tables), [(p.code, p.message_zh, p.file) for p in (*msg.problems, *problems)]


def test_the_same_xlsx_attached_twice_is_read_once_with_a_problem():
    msg, rows, problems = _read([("附件1.xlsx", TABLE), ("附件1（重发）.xlsx", TABLE)])
    assert [a.filename for a in msg.attachments] == ["附件1.xlsx"] and rows == len(SAMPLE_ROWS)
    assert problems == [("duplicate_attachment", "附件“附件1（重发）.xlsx”与同一邮件中的另一附件“附件1.xlsx”内容相同，"
                         "已忽略重复的一份", "附件1.xlsx")]


@pytest.mark.parametrize("attachments", [
    [("a.zip", make_zip({"附件1.xlsx": TABLE})), ("b.zip", make_zip({"统计表.xlsx": TABLE}))],  # zipped twice
    [("材料.zip", make_zip({"附件1.xlsx": TABLE, "备份/统计表.xlsx": TABLE}))],  # twice in one zip
    [("附件1.xlsx", TABLE), ("材料.zip", make_zip({"统计表.xlsx": TABLE}))],  # attached and zipped
], ids=["two-zips", "one-zip", "attached-and-zipped"])
def test_the_same_xlsx_at_any_depth_is_read_once(attachments):
    msg, rows, problems = _read(attachments)
    assert len(msg.attachments) == 1 and rows == len(SAMPLE_ROWS)
    [(code, message, _file)] = problems
    assert code == "duplicate_attachment" and message.endswith("内容相同，已忽略重复的一份")


def test_the_same_zip_attached_twice_is_not_even_unpacked_again():
    data = make_zip({"附件1.xlsx": TABLE, "说明.xlsx": OTHER})
    msg, rows, problems = _read([("材料.zip", data), ("材料(1).zip", data)])
    assert [a.filename for a in msg.attachments] == ["附件1.xlsx", "说明.xlsx"] and rows == len(SAMPLE_ROWS) + 1
    assert problems == [("duplicate_attachment", "附件“材料(1).zip”与同一邮件中的另一附件“材料.zip”内容相同，"
                         "已忽略重复的一份", "材料.zip")]


def test_many_copies_make_one_problem_counting_them():
    members = {f"第{n}份.xlsx": TABLE for n in range(5)}
    msg, rows, problems = _read([("材料.zip", make_zip(members))])
    assert rows == len(SAMPLE_ROWS)
    assert problems == [("duplicate_attachment", "另有 4 个附件与同一邮件中的附件“第0份.xlsx”内容相同，已忽略重复的 4 份",
                         "第0份.xlsx")]


@pytest.mark.parametrize("entries", [100, 200])
def test_a_zip_listing_one_member_many_times_is_read_once_without_inflating_the_copies(entries):
    data = zip_listing_one_member("附件1.xlsx", TABLE, entries)
    assert len(data) < len(TABLE) + 120 * entries  # the member's bytes are there once
    msg, rows, problems = _read([("材料.zip", data), ("说明.xlsx", OTHER)])
    assert rows == len(SAMPLE_ROWS) + 1  # not entries x 4
    assert [a.filename for a in msg.attachments] == ["附件1.xlsx", "说明.xlsx"]
    [(code, message, file)] = problems
    assert (code, file) == ("duplicate_attachment", "材料.zip")
    assert message == f"附件“材料.zip”中有 {entries - 1} 个文件与其中另一文件指向同一份数据（内容相同），已忽略重复的条目"


def test_shared_entries_do_not_use_up_the_member_budget():
    data = zip_listing_one_member("附件1.xlsx", TABLE, 100)
    msg = parse_message(make_email(attachments=[("材料.zip", data)]), LimitsSection(max_members=2), SHANGHAI)
    assert "zip_too_many_members" not in [p.code for p in msg.problems] and len(msg.attachments) == 1


def test_a_repeated_image_is_dropped_without_a_problem():
    msg, _rows, problems = _read([("附件1.xlsx", TABLE), ("logo.png", PNG), ("logo2.png", PNG)])
    assert [a.filename for a in msg.attachments] == ["附件1.xlsx", "logo.png"]
    assert "duplicate_attachment" not in [code for code, _message, _file in problems]


def test_different_files_with_one_name_are_both_read():
    msg, rows, problems = _read([("附件1.xlsx", TABLE), ("附件1.xlsx", OTHER)])
    assert len(msg.attachments) == 2 and rows == len(SAMPLE_ROWS) + 1 and problems == []
