"""Write the sample city mail of the 2027 example campaign (examples/nianhuo2027/mail/*.eml), from a seed.

The campaign is config/examples/nianhuo2027.toml: five cities and the 附件2 参与企业名单 table
(企业名称, 统一社会信用代码, 店铺网址, 线上销售额（万元）, 带动就业人数). Made with the tests' builders (real
openpyxl/xlwt/python-docx output, GBK csv, raw GBK file names), in the shapes cities send: a plan, the
progress reports (one late), the enterprise lists as xlsx, xls, docx and csv (one late, one resent with
more rows, one with a 合计 row), a question that is no report, and a city that never sends its list.

    python examples/make_nianhuo2027.py            # rewrites examples/nianhuo2027/mail/
"""
from __future__ import annotations

import random
import sys
import tomllib
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from examples.make_examples import write_samples  # noqa: E402
from service.config import City  # noqa: E402
from tests.builders import make_email  # noqa: E402
from tests.table_builders import make_csv, make_docx, make_xls, make_xlsx  # noqa: E402

TZ = ZoneInfo("Asia/Shanghai")
CONFIG = ROOT / "config" / "examples" / "nianhuo2027.toml"
OUT = ROOT / "examples" / "nianhuo2027" / "mail"
TITLE = "附件2 “2027湖南网上年货节”参与企业名单"
HEADER = ["序号", "企业名称", "统一社会信用代码", "店铺网址", "线上销售额（万元）", "带动就业人数"]
# another office's own wording of the same columns (aliases in the template)
HEADER_OWN_WORDS = ["编号", "企业（商户）名称", "社会信用代码", "店铺链接", "网络销售额（万元）", "带动就业（人）"]
TRADES = ["电子商务", "农产品", "食品", "特产贸易", "供应链管理", "网络科技"]
REGION = {"长沙市": "430100", "株洲市": "430200", "岳阳市": "430600", "常德市": "430700",
          "湘西土家族苗族自治州": "433100"}


def at(day: str, hour: int, minute: int = 0) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, minute=minute, tzinfo=TZ)


def enterprise_rows(rng: random.Random, city: City, n: int) -> list[list[object]]:
    """序号, 企业名称, 统一社会信用代码 (18 characters), 店铺网址, 线上销售额（万元）, 带动就业人数."""
    rows = []
    for i in range(n):
        county = city.counties[i % len(city.counties)]
        short = county.removesuffix("区").removesuffix("县").removesuffix("市")
        code = f"91{REGION[city.name]}{rng.randrange(10**8):08d}{rng.choice('0123456789ABCDEFGHJKLMNPQRTUWXY')}X"
        sales = f"{rng.randint(5, 3000)}.{rng.randint(0, 99):02d}"
        rows.append([i + 1, f"{short}{rng.choice(TRADES)}有限公司", code[:18], f"https://shop{rng.randint(1000, 9999)}"
                     f".mall.example.cn", float(sales), rng.randint(3, 300)])
    return rows


def title_rows(city: City) -> list[list[object]]:
    return [[TITLE], [f"填报单位（盖章）：{city.name}商务局"], ["联系人：李华 联系方式：0731-8888xxxx"]]


def table_file(kind: str, city: City, rows: list[list[object]], header: list[str] = HEADER) -> tuple[str, bytes]:
    """One city's enterprise list as a real file of `kind` (xlsx, xls, docx or GBK csv)."""
    grid = [header, *rows]
    if kind == "xls":
        return f"附件2：{city.name}参与企业名单.xls", make_xls(grid, title_rows=title_rows(city))
    if kind == "docx":
        return f"附件2：{city.name}参与企业名单.docx", make_docx(grid, paragraphs_before=[TITLE, title_rows(city)[1][0]])
    if kind == "csv":
        return f"{city.name}参与企业名单.csv", make_csv(grid, encoding="gbk")
    return f"附件2：{city.name}参与企业名单.xlsx", make_xlsx(grid, title_rows=title_rows(city), merges=[(0, 0, 0, 5)])


def prose_docx(title: str, city: City) -> bytes:
    return make_docx([], paragraphs_before=[title, f"{city.name}商务局", "一、工作开展情况……", "二、下一步安排……"],
                     tables=0)


def sender(city: City) -> str:
    return f"{city.name}商务局 <{city.emails[0]}>"


def tag(city: City) -> str:
    return city.emails[0].split("@")[0]


def short(city: City) -> str:
    return city.aliases[0] if city.aliases else city.name


def letter(city: City, deadline: str, title: str, attachments: list, received: datetime, tag: str,
           **options) -> bytes:
    return make_email(subject=f"{short(city)}“2027湖南网上年货节”{title}", sender=sender(city),
                      attachments=attachments, received=received, message_id=f"<{deadline}-{tag}@nianhuo2027.example>",
                      **options)


def cities() -> list[City]:
    """The example's cities, read from its config (only [[cities]]: the rest is the service's business)."""
    return [City.model_validate(c) for c in tomllib.loads(CONFIG.read_text(encoding="utf-8"))["cities"]]


def enterprise_lists(seed: int = 2027) -> dict[str, list[list[object]]]:
    """The enterprise rows each list carries (the e2e test compares the workbook with them)."""
    rng = random.Random(seed)
    cs, zz, yy, cd, _ = cities()
    sizes = {"changsha": (cs, 4), "changsha_resent": (cs, 6), "zhuzhou": (zz, 3), "yueyang": (yy, 5), "changde": (cd, 2)}
    return {name: enterprise_rows(rng, city, n) for name, (city, n) in sizes.items()}


def build(seed: int = 2027) -> dict[str, bytes]:
    """file name -> raw email for the whole 2027 example season."""
    lists = enterprise_lists(seed)
    cs, zz, yy, cd, xx = cities()
    mail: dict[str, bytes] = {}
    for city, day in ((cs, "2027-01-06"), (yy, "2027-01-08")):  # the plan_cities file their plans
        mail[f"{tag(city)}_1_plan.eml"] = letter(
            city, "plan", "活动实施方案报备", [(f"{short(city)}网上年货节实施方案.docx", prose_docx("活动实施方案", city))],
            at(day, 10), tag(city))
    progress = {cs: "2027-01-29", zz: "2027-02-01", yy: "2027-02-03", cd: "2027-01-29", xx: "2027-01-30"}
    for i, (city, day) in enumerate(progress.items()):  # 岳阳 is late (due 2027-02-01)
        mail[f"{tag(city)}_2_progress.eml"] = letter(
            city, "progress", "活动进展情况", [(f"{short(city)}活动进展情况.docx", prose_docx("活动进展情况", city))],
            at(day, 9 + i, 5 * i), tag(city), charset="gbk" if i % 2 else "utf-8")
    cover = [(f"{short(cs)}网上年货节工作总结.docx", prose_docx("活动工作总结", cs))]
    mail["changsha_3_enterprises.eml"] = letter(
        cs, "enterprises", "参与企业名单及销售情况", [*cover, table_file("xlsx", cs, lists["changsha"])],
        at("2027-02-15", 10), "cs", filename_style="rfc2231")
    mail["changsha_4_enterprises_resent.eml"] = letter(  # the resend: more enterprises, still on time
        cs, "enterprises", "参与企业名单及销售情况（更正版）", [table_file("xlsx", cs, lists["changsha_resent"])],
        at("2027-02-16", 15, 20), "cs-v2")
    zz_rows = lists["zhuzhou"]
    zz_total = ["合计", "", "", "", round(sum(float(r[4]) for r in zz_rows), 2), sum(int(r[5]) for r in zz_rows)]
    mail["zhuzhou_3_enterprises.eml"] = letter(  # before the holiday, raw GBK names, with a 合计 row
        zz, "enterprises", "参与企业名单及销售情况", [table_file("xls", zz, [*zz_rows, zz_total])],
        at("2027-02-04", 16), "zz", charset="gbk", filename_style="raw")
    mail["yueyang_3_enterprises.eml"] = letter(
        yy, "enterprises", "参与企业名单及销售情况", [table_file("docx", yy, lists["yueyang"], HEADER_OWN_WORDS)],
        at("2027-02-16", 11), "yy", filename_style="rfc2047")
    mail["changde_3_enterprises_late.eml"] = letter(  # late: after the due day
        cd, "enterprises", "参与企业名单及销售情况", [table_file("csv", cd, lists["changde"])],
        at("2027-02-18", 9, 30), "cd", charset="gbk")
    mail["xiangxi_3_question.eml"] = make_email(  # a question, no report; 湘西 never sends its list
        subject="关于参与企业名单的请示", sender=sender(xx), body="请问参与企业名单是否需要加盖公章？",
        received=at("2027-02-10", 9, 15), message_id="<question-xx@nianhuo2027.example>")
    return mail


def main() -> None:
    write_samples(OUT, build())


if __name__ == "__main__":
    main()
