"""Unit tests for service.extract.metrics: 活动成效 text -> (participants, products, sales_wan)."""
from __future__ import annotations

from decimal import Decimal

import pytest

from service.extract.metrics import parse_metrics
from service.extract.numbers import parse_chinese_number
from service.model import Metrics

N = None
# (text, participants, products, sales_wan, problem expected), id
CASES = [
    # --- the plain cases
    pytest.param("参与企业120家，上线商品3000余款，实现销售额1.2亿元", 120, 3000, 12000, False,
                 id="reads all three figures from a plain sentence"),
    pytest.param("带动商户500余户参与，销售额约860万元", 500, N, 860, False,
                 id="reads households of merchants and an approximate sum in 万元"),
    pytest.param("线上销售额达3,560.5万元，参与主体68个", 68, N, 3560.5, False,
                 id="reads a sum with a thousands separator and decimals"),
    pytest.param("三千余种年货上线，成交额超2000万", N, 3000, 2000, False,
                 id="reads a Chinese numeral before its noun and 万 without 元"),
    pytest.param("组织80余家电商企业开展年货节直播促销活动，带动就业200余人，订单量1.5万单，交易额达1500余万元。",
                 80, N, 1500, False, id="reads the noun after the number and ignores jobs and orders"),
    pytest.param("活动期间共开展直播带货32场次，累计观看人次达56万，参与企业45家，实现网络零售额2860万元，同比增长23.5%。",
                 45, N, 2860, False, id="ignores broadcasts, viewers and growth in a long report sentence"),
    pytest.param("全县共有126家商贸企业参与，推出年货商品2000多种，活动期间实现销售额3.6亿元，较去年同期增长12%。",
                 126, 2000, 36000, False, id="reads a noun a few words after the number and 亿元"),
    pytest.param("参与企业：58家；上线产品：1,200个；销售额：356.8万元", 58, 1200, 356.8, False,
                 id="reads figures written after colons"),
    pytest.param("汇聚本地特产400余种，参展商家86家，现场成交额约230万元", 86, 400, 230, False,
                 id="reads specialities, exhibitors and on-site deals"),
    pytest.param("上线SKU超1500个，累计成交订单8.6万笔", N, 1500, N, False,
                 id="reads SKUs and does not take orders for sales"),
    pytest.param("SKU 1500个", N, 1500, N, False, id="reads SKUs written with a space"),
    pytest.param("全区参与活动的市场主体达到2,300余个，推出商品1.2万款", 2300, 12000, N, False,
                 id="reads market entities and a product count in 万"),
    pytest.param("网店销售额超过2000万元，网店数量达到350家", 350, N, 2000, False,
                 id="tells shop sales from the number of shops"),
    pytest.param("年货节期间，全县32家超市、商场共实现销售额4500万元，发放消费券100万元", 32, N, 4500, False,
                 id="does not take consumption vouchers for sales"),
    pytest.param("带动1200余家网店参与，网络零售额达2.3亿元，快递包裹发送量突破120万件", 1200, N, 23000, False,
                 id="does not take parcels for products"),
    pytest.param("通过抖音、快手等平台开展直播带货活动15场，销售额320万元", N, N, 320, False,
                 id="reads one sales figure after platforms are named together"),
    pytest.param("参与企业（商户）120家", 120, N, N, False, id="reads a noun with an aside in parentheses"),
    # --- units and markers
    pytest.param("带动销售额50000元", N, N, 5, False, id="converts 元 to 万元"),
    pytest.param("带动销售额1,200元", N, N, 0.12, False, id="converts a small sum in 元 to 万元"),
    pytest.param("交易额突破1亿元", N, N, 10000, False, id="converts 亿元 to 万元"),
    pytest.param("GMV达3200万元", N, N, 3200, False, id="reads GMV as sales"),
    pytest.param("实现销售额1200多万元，带动农户增收", N, N, 1200, False,
                 id="reads a marker between the number and 万元"),
    pytest.param("活动销售额4,500余万元", N, N, 4500, False, id="reads 余 before 万元 with a separator"),
    pytest.param("超市门店销售额5000万元以上", N, N, 5000, False, id="ignores 以上 after the sum"),
    pytest.param("销售额近百万元", N, N, 100, False, id="reads 百万元 as one hundred 万元"),
    pytest.param("直播带货1200万元", N, N, 1200, False, id="reads 带货 as sales"),
    pytest.param("实现1.2亿元销售额", N, N, 12000, False, id="reads a sum placed before its keyword"),
    # --- full-width forms and Chinese numerals
    pytest.param("参与企业１２０家，上线商品３０００余款，销售额１．２亿元", 120, 3000, 12000, False,
                 id="reads full-width digits and points"),
    pytest.param("线上销售额达３，５６０万元", N, N, 3560, False, id="reads a full-width thousands separator"),
    pytest.param("参与企业五十余家，上线商品两百余款", 50, 200, N, False, id="reads 五十 and 两百"),
    pytest.param("参与商户一千二百户，销售额一千五百万元", 1200, N, 1500, False,
                 id="reads Chinese numerals for counts and sums"),
    pytest.param("参与商家3千余家，商品1.5万款", 3000, 15000, N, False, id="reads 3千 and 1.5万 as counts"),
    pytest.param("十二家企业参与，上线年货两百余种", 12, 200, N, False, id="reads 十二 at the start"),
    pytest.param("参与企业约一百二十家", 120, N, N, False, id="reads 一百二十 after 约"),
    # --- double counting
    pytest.param("直播带货销售额125万元，其中农产品销售额80万元", N, N, 125, False,
                 id="takes the total and not the part after 其中"),
    pytest.param("销售额1200万元（其中线上销售额1200万元）", N, N, 1200, False,
                 id="takes a figure named twice once"),
    pytest.param("销售额125万元，销售额125万元", N, N, 125, False, id="takes a repeated sentence once"),
    pytest.param("实现销售收入860万元，其中线上销售560万元、线下销售300万元", N, N, 860, False,
                 id="does not add channel parts given after 其中"),
    pytest.param("完成交易额2.5亿元，其中农产品交易额8000万元，线上交易额1.2亿元", N, N, 25000, False,
                 id="treats every figure after 其中 to the end of the sentence as a part"),
    pytest.param("实现销售额1.2亿元，其中：线上销售额8000万元，线下4000万元", N, N, 12000, False,
                 id="takes the total when parts follow 其中 and a colon"),
    pytest.param("参与企业120家，其中规模以上企业30家", 120, N, N, False, id="takes all entities not a part of them"),
    pytest.param("参与企业120家（其中：规上企业35家，个体工商户85户）", 120, N, N, False,
                 id="ignores parts in parentheses"),
    pytest.param("开展活动5场，其中直播带货销售额50万元", N, N, 50, False,
                 id="takes a part when the text gives no total"),
    pytest.param("参与企业120家。活动期间，120家企业累计实现销售额2.3亿元", 120, N, 23000, False,
                 id="takes the same count in two sentences once"),
    pytest.param("单日最高销售额200万元，活动期间累计销售额1500万元", N, N, 1500, False,
                 id="takes the figure marked 累计 as the total"),
    pytest.param("抖音销售额50万元，淘宝销售额30万元", N, N, 80, False, id="adds figures of distinct platforms"),
    pytest.param("淘宝店铺销售额120万元，京东店铺销售额80万元，拼多多店铺销售额60万元", N, N, 260, False,
                 id="adds three platforms"),
    pytest.param("线上销售额800万元，线下销售额1200万元", N, N, 2000, False, id="adds online and offline sales"),
    pytest.param("抖音直播销售额50万元，快手直播销售额50万元", N, N, 100, False,
                 id="adds equal figures of distinct platforms"),
    pytest.param("抖音直播销售额50万元，快手直播销售额30万元，共计实现销售额80万元", N, N, 80, False,
                 id="takes the 共计 figure over its channels"),
    pytest.param("通过微信小程序销售年货12万元，抖音直播销售8万元", N, N, 20, False,
                 id="adds platforms when the goods sold stand between 销售 and the sum"),
    pytest.param("线上销售额500万元，抖音销售额200万元", N, N, N, True,
                 id="does not add a platform to the online total it may belong to"),
    pytest.param("直播带货销售额125万元，农产品销售额80万元", N, N, N, True,
                 id="leaves two unrelated sales figures to a person"),
    pytest.param("参与企业120家，带动商户500余户", N, N, N, True,
                 id="leaves two different participant counts to a person"),
    # --- ambiguous or absent
    pytest.param("销售额1200，参与企业30家", 30, N, N, True, id="leaves a sum without unit to a person"),
    pytest.param("销售额达100万元至200万元", N, N, N, True, id="leaves a range written with 至 to a person"),
    pytest.param("预计参与企业100-200家", N, N, N, True, id="leaves a range of participants to a person"),
    pytest.param("销售额约100万-150万元", N, N, N, True, id="leaves a range of sales to a person"),
    pytest.param("同比增长35%，环比增长12个百分点", N, N, N, False, id="finds nothing in percentages only"),
    pytest.param("若干企业参与，销售情况良好", N, N, N, False, id="finds nothing in 若干"),
    pytest.param("多家企业积极参与", N, N, N, False, id="finds nothing in 多家"),
    pytest.param("数十家企业参与，上线数千款商品", N, N, N, False, id="finds nothing in 数十 and 数千"),
    pytest.param("活动成效良好，群众满意度高", N, N, N, False, id="finds nothing in praise"),
    pytest.param("上线商品3000款，覆盖20个品类", N, 3000, N, False, id="does not take categories for products"),
    pytest.param("让优质年货走进千家万户", N, N, N, False, id="does not read 千家万户 as a thousand entities"),
    # --- counts of people and other numbers
    pytest.param("直播观看量达120万人次，点赞数35万，新增粉丝2.3万个", N, N, N, False,
                 id="does not take viewers, likes or fans for anything"),
    pytest.param("活动期间培训电商主播120名，带动就业300人", N, N, N, False,
                 id="does not take trained streamers for participants"),
    pytest.param("120名企业负责人参加培训", N, N, N, False, id="does not take company managers for companies"),
    pytest.param("带货主播50名，直播带货销售额300万元", N, N, 300, False, id="does not count streamers"),
    pytest.param("建设农产品电商服务站点15个，打造县域公共品牌3个", N, N, N, False,
                 id="does not take service stations or brands for participants"),
    pytest.param("订单量达2.6万单，订单金额380万元", N, N, N, False, id="does not take orders for sales"),
    pytest.param("发放消费券200万元，拉动消费1800万元", N, N, N, False,
                 id="does not take vouchers or consumption for sales"),
    pytest.param("参与合作社15个，带动农户2000余户增收", 15, N, N, False,
                 id="counts cooperatives but not farming households"),
    pytest.param("商品销售量3000件，销售额45万元", N, N, 45, False, id="does not take pieces sold for products"),
    pytest.param("销售额达860万元，同比增长1200万元", N, N, 860, False, id="does not take growth for sales"),
    pytest.param("活动累计吸引客流12万人次，销售额同比增长20%，达到1200万元", N, N, 1200, False,
                 id="reads sales across a growth rate"),
    pytest.param("参与企业120余家，其中新增企业20家，销售额较上年增加300万元，达到1800万元", 120, N, 1800, False,
                 id="reads sales across an increase in 万元"),
    pytest.param("带动全县2000余户农户通过电商平台实现增收，销售额200万元", N, N, 200, False,
                 id="does not take farming households named after the number for participants"),
    pytest.param("1.开展直播带货12场；2.参与商户86户；3.销售额约260万元。", 86, N, 260, False,
                 id="ignores the numbers of a numbered list"),
    pytest.param("销售额（万元）：1200", N, N, 1200, False, id="reads a unit declared in parentheses"),
    pytest.param("一是组织企业参与，共46家；二是上线商品1200个；三是实现销售额680万元。", 46, 1200, 680, False,
                 id="reads figures set apart from their noun by 共"),
    pytest.param("联系电话：0731-84561234，2022年1月10日至2月7日举办，参与企业35家", 35, N, N, False,
                 id="ignores phone numbers, years and dates"),
    pytest.param("2022年春节期间，全市网络零售额同比增长18.6%", N, N, N, False,
                 id="finds no sales in a year and a growth rate"),
]


@pytest.mark.parametrize("text, participants, products, sales_wan, problem", CASES)
def test_metrics_are_read_from_activity_text(text, participants, products, sales_wan, problem):
    metrics = parse_metrics(text)
    got = (metrics.participants, metrics.products, metrics.sales_wan)
    # exact: the parser's figures are Decimal (0.1 万元 is 0.1, not 0.1000000000000000055)
    assert got == (participants, products, Decimal(str(sales_wan)) if sales_wan else None)
    assert bool(metrics.problems) == problem
    assert all(p.code == "ambiguous_metric" and p.detail == text for p in metrics.problems)


@pytest.mark.parametrize("text", ["", "   ", "\u3000\n"], ids=["empty", "spaces", "full-width space"])
def test_blank_text_gives_empty_metrics_without_problems(text):
    assert parse_metrics(text) == Metrics()


def test_an_ambiguous_sum_names_the_field_and_quotes_the_text():
    (problem,) = parse_metrics("销售额1200").problems
    assert problem.message_zh == "活动成效“销售额1200”中的销售额无法确定，请人工核对"


def test_zero_ten_thousand_yuan_is_zero_sales():
    # "0万" once read as "万" alone (10,000): a city reporting no sales got 1 万元
    assert parse_metrics("线下展销，现场成交额0万元").sales_wan == 0


def test_numbers_come_back_as_exact_decimals():
    metrics = parse_metrics("参与企业120家，上线商品3000余款，实现销售额1.2亿元")
    assert all(type(v) is Decimal for v in (metrics.participants, metrics.products, metrics.sales_wan))
    assert metrics.sales_wan == Decimal("12000")


@pytest.mark.parametrize(
    "text, expected",
    [("三千", 3000), ("一万二千", 12000), ("两百", 200), ("十二", 12), ("五十", 50),
     ("一百零五", 105), ("三千五", 3500), ("一万二", 12000), ("3千", 3000), ("1.5万", 15000),
     ("1.2亿", 120000000), ("３，５６０", 3560), ("3,560.5", 3560.5), ("１２０", 120),
     ("二〇二二", 2022), ("十", 10), ("0万", 0), ("0.5万", 5000), ("万", 10000)],
    ids=lambda v: str(v),
)
def test_chinese_and_arabic_numbers_are_parsed(text, expected):
    assert parse_chinese_number(text) == expected


@pytest.mark.parametrize("text", ["", "若干", "多家", "3一", "12a"])
def test_text_that_is_not_a_number_gives_none(text):
    assert parse_chinese_number(text) is None
