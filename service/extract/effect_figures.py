"""Extract stage, 活动成效 free text read in full -> Metrics (参与主体数量, 商品数量, 销售额 in 万元).

A figure is a number with its unit ("120家", "3000余款", "1.2亿元", "2000万") read
together with the keyword next to it: just before it ("参与企业120家", "销售额约860万元";
only words such as 共/累计/达/约/超/上线 may sit between) or, failing that, just after it
("120家企业参与", "三千余种年货"). The nearest keyword decides (a noun of another field is
stepped over: "销售年货12万元" is sales): 人次/观看/粉丝/订单/就业/主播/消费券 and the like make
the figure "not ours", so people counts and orders never become participants, products or
sales. Growth ("同比增长35%", "较上年增加300万元") is dropped before reading.
- participants: 家/户/名/个 next to 企业/商户/商家/主体/店铺/网店/门店/电商/合作社/超市…
  (主播, 农户, 平台 and 基地 are not 参与主体).
- products: 款/SKU/单品 (款 needs no keyword), 种/个 next to 商品/产品/年货/特产/种类….
  件 is a sales volume and 品类/大类 ("20个品类") a count of categories: neither is products.
- sales: 元/万元/亿元, or a number carrying 万/亿, next to 销售/交易/成交/营业额/零售额/GMV/带货.
  消费 ("拉动消费"), 订单金额 and 预计 figures are not sales. 余/多/约/近/超/逾/以上 are
  dropped, the number kept.
Double counting, per field:
- figures inside parentheses or after 其中 (to the end of the sentence) are sub-parts,
  used only when the text gives no other figure for that field;
- the same value named twice counts once;
- sales named for distinct channels (抖音/快手/淘宝/京东…, or 线上 + 线下) with no total
  are summed; a figure marked 共/共计/合计/累计/总 is the total and wins;
- anything else (two different figures, "100-200家", "销售额1200" with no unit) leaves the
  field None with Problem("ambiguous_metric"). "多家", "若干", "数十家" give None, no problem.
"""
from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from decimal import Decimal
from typing import NamedTuple

from ..model import Metrics, Problem
from .numbers import CN_BIG, THOUSANDS
from .numbers import CN_CHARS as _CN
from .numbers import parse_decimal as _parse_decimal

NUMBER = rf"(?![万亿])(?:\d+(?:\.\d+)?|[{_CN}])+"
UNIT = ("元|个百分点|百分点|%|人次|场次|sku|单品|家|户|个|名|款|种|类|件|场|次|人|单|笔"
        "|年|月|日|号|天|期|批|位|倍|吨|斤|公斤|千克|小时|条|张|份|套|台|间|辆")
# NUMBER with possessive digit runs: the same matches (nothing after a number in MENTION starts with a
# digit or "."), without re trying every split of "3000" into digit runs when a range's low end fails.
_NUMBER_RUNS = rf"(?![万亿])(?:\d++(?:\.\d++)?|[{_CN}])+"
_RANGE_SEPARATORS = "-~—–至到"
_FIGURE = rf"(?P<num>{_NUMBER_RUNS})(?P<approx>余|多|来|\+)?(?P<mult>[万亿])?(?:余|多)?(?P<unit>{UNIT})?"
MENTION = re.compile(
    rf"(?P<ordinal>第|[数几](?=[十百千万]))?(?:(?P<low>{_NUMBER_RUNS})(?:{UNIT})?(?:[-~—–]|至|到))?{_FIGURE}")
# The same without the range's low end, for texts holding no range separator (trying it costs a third)
_MENTION_NO_RANGE = re.compile(rf"(?P<ordinal>第|[数几](?=[十百千万]))?(?P<low>(?!)|){_FIGURE}")
# Nouns that make a number "not ours" whatever the template reads: people, views, orders, growth, money
# given out. The nouns that make a number one of the template's figures come from its config (keywords).
BLOCK_WORDS = ("人次", "人数", "观看", "浏览", "访问", "访客", "点击", "点赞", "粉丝", "关注", "曝光", "播放", "客流",
               "订单", "单量", "就业", "岗位", "同比", "环比", "增长", "增加", "增幅", "提升", "提高", "下降", "减少",
               "主播", "达人", "网红", "消费者", "群众", "游客", "人员", "员工", "消费券", "优惠券", "补贴", "让利",
               "资金", "投入", "奖励", "发放", "快递", "包裹", "农户", "品类", "类别", "大类")
READ_KINDS = ("participants", "products", "sales")


class Vocabulary:
    """The keywords of the figures one text field is read for (a template's from_text fields), compiled.

    KEYWORD is one alternation of plain words: block words first, then each kind's in READ_KINDS order
    (the first that matches at a position wins). Every branch starts with a literal, so re skips positions
    that cannot begin a keyword (named groups per kind made it try all 86 words at every position).
    It also holds the shapes cache of extract/effect_shapes.py: readings depend on the keywords."""

    def __init__(self, words: dict[str, tuple[str, ...]], names_zh: dict[str, str], text_zh: str):
        kinds = {"block": BLOCK_WORDS, **{k: tuple(words.get(k, ())) for k in READ_KINDS}}
        self.keyword = re.compile("|".join(w for found in kinds.values() for w in found))
        self.keyword_kind = {re.sub(r"\(.*\)", "", w): kind for kind, found in kinds.items() for w in found}
        self.names_zh = {k: names_zh[k] for k in READ_KINDS if k in names_zh}  # the kinds read, in order
        self.text_zh = text_zh  # the text field's name, in problems
        self.shapes: dict = {}
        self.seen_once: dict = {}

# What may stand between a keyword and its number: "销售额累计达", "参与企业数量共".
FILLER = re.compile(
    r"(?:数量|总数|总量|总额|金额|收入|总计|共计|合计|累计|一共|实现|完成|达到|将近|接近|超过"
    r"|突破|共有|参与|参加|入驻|上线|上架|推出|数|量|额|总|共|计|达|约|近|超|逾|上|有|为|了|[:,()])*"
)
# A keyword followed by one of these is not the head noun: "5个电商平台", "120名企业负责人".
NOT_HEAD = re.compile(r"平台|基地|专区|展区|展位|直播|馆|中心|园|街|集市|活动|品牌|协会|联盟"
                      r"|服务站|站点|网点|示范|项目|节|会|专场|团队|负责人|代表|从业")
TOTAL = re.compile(r"共计|合计|总计|累计|一共|总额|(?<!公)共(?!同|享|建|赢)|总(?!结|部|经理)")
CHANNEL = re.compile(r"抖音|快手|淘宝|天猫|京东|拼多多|视频号|微信小程序|微信|小程序|美团|饿了么"
                     r"|有赞|苏宁|唯品会|小红书|线上|线下")
SPLIT_CHANNELS = {"线上", "线下"}
SENTENCE_END = re.compile(r"[。;!?]")
CLAUSE_END = re.compile(r"[,、。;!?]")
# Growth carries none of our fields; dropping it joins "销售额同比增长20%，达到1200万元".
GROWTH = re.compile(rf"(?:同比|环比|较[^,。;\d]{{0,6}})?(?:增长|增加|提升|提高|下降|减少|增幅)"
                    rf"(?:了|达到|达|为|约|近|超)?{NUMBER}(?:%|个百分点|倍|成|[万亿]?元|[万亿])?,?")
IDIOMS = re.compile(r"千家万户|千方百计|万家灯火|一家一户")
# A unit declared in parentheses goes after its number: "销售额(万元):1200" -> "销售额1200万元".
DECLARED_UNIT = re.compile(r"\((万元|亿元|元|家|户|个|款|种)\):?(\d+(?:\.\d+)?)")
SPACE = re.compile(r"[ \t\u3000\u00a0\u200b\ufeff]+")

# Precompiled forms of patterns used per mention (re's own cache costs a lookup per call).
_DIGIT = re.compile(r"\d")
ANY_NUMBER = re.compile(rf"[\d{_CN}]")  # NUMBER needs one of these: without any, a text holds no mention
# Where a MENTION can begin (第/数/几 or a number); MENTION looks at nothing before its start.
_MENTION_START = re.compile(rf"[第数几\d{_CN}]")
_NOT_WORD = re.compile(r"[^\w]")
_PARENS = re.compile(r"\([^()]*\)?")
_LINE_BREAKS = re.compile(r"[\r\n]+")

STRONG_PRODUCT_UNITS = {"款", "sku", "单品"}
UNIT_KINDS = {"元": {"sales"}, "家": {"participants"}, "户": {"participants"},
              "名": {"participants"}, "个": {"participants", "products"}, "种": {"products"},
              "款": {"products"}, "sku": {"products"}, "单品": {"products"}}
_SALES, _NO_KINDS, _ANY_KIND = {"sales"}, set(), {"sales", "participants", "products"}
GROWTH_WORD = re.compile(r"增长|增加|提升|提高|下降|减少|增幅")  # GROWTH needs one of these


class Figure(NamedTuple):  # a tuple: thousands are made per second
    kind: str  # "participants" | "products" | "sales"
    value: Decimal | None  # None: unreadable (a range, a sum of money without unit)
    part: bool = False  # inside parentheses or after 其中
    clause: str = ""  # its clause up to it: marked a total (共/合计/累计/总), a sales channel named?

    @property
    def total(self) -> bool:
        return bool(TOTAL.search(self.clause))

    @property
    def channel(self) -> str:
        """The one sales channel named in its clause, if any."""
        channels = set(CHANNEL.findall(self.clause))
        return channels.pop() if len(channels) == 1 else ""


def read_in_full(text: str, vocab: Vocabulary | None = None) -> Metrics:
    """The metrics of one text, read in full (what extract/effect_shapes.py stands in for); vocab: the
    template's keywords (default: the shipped template's)."""
    vocab = vocab or _default_vocabulary()
    return settled(text, _find_figures(_normalise(text), vocab), vocab)


def _default_vocabulary() -> Vocabulary:
    from .template import (
        default_vocabulary,  # template.py builds Vocabulary: imported when first asked
    )
    return default_vocabulary()


def settled(text: str, figures: list[Figure], vocab: Vocabulary) -> Metrics:
    """One value per field from its figures; a field whose figures disagree is None with a problem."""
    if not figures:
        return Metrics()
    by_kind: dict[str, list[Figure]] = {}
    for f in figures:
        by_kind.setdefault(f.kind, []).append(f)
    values: dict[str, Decimal | None] = {}
    problems = []
    for kind, name_zh in vocab.names_zh.items():
        value, ambiguous = _settle(by_kind.get(kind, []))
        values[kind] = value
        if ambiguous:
            problems.append(ambiguous_problem(text, name_zh, vocab.text_zh))
    return Metrics(values.get("participants"), values.get("products"), values.get("sales"), tuple(problems))

def _normalise(text: str) -> str:
    """NFKC, lower case, no blanks; thousands separators, declared units, idioms and growth handled."""
    text = normalise_but_growth(text)
    return GROWTH.sub("", text) if GROWTH_WORD.search(text) else text


def normalise_but_growth(text: str) -> str:
    """_normalise up to growth (the one step that drops digits). Each substitution runs only when its
    text can match (most cells need none of them)."""
    text = unicodedata.normalize("NFKC", text or "").lower().strip()
    if "\n" in text or "\r" in text:
        text = _LINE_BREAKS.sub("。", text)
    text = SPACE.sub("", text)
    if "," in text:
        text = THOUSANDS.sub("", text)
    if "(" in text:
        text = DECLARED_UNIT.sub(r"\2\1", text)
    if "家" in text or "千" in text:
        text = IDIOMS.sub("", text)
    return text


def _find_figures(text: str, vocab: Vocabulary) -> list[Figure]:
    if not text or not ANY_NUMBER.search(text):
        return []
    return [Figure(kind, _value(g, kind) if g else None, part, clause)
            for kind, g, part, clause in figure_slots(text, vocab)]


def figure_slots(text: str, vocab: Vocabulary) -> list[tuple[str, tuple | None, bool, str]]:
    """(kind, mention if its number is readable, part, clause before it) for each figure of a normalised text."""
    mentions = [g for g in _mentions(text) if _is_figure(g)]
    if not mentions:
        return []
    parts = _part_spans(text) if "(" in text or "其中" in text else ()
    sentence_ends = [m.end() for m in SENTENCE_END.finditer(text)]
    clause_ends = [m.end() for m in CLAUSE_END.finditer(text)]
    found = []
    for i, g in enumerate(mentions):
        start = g[0]
        prev_end = mentions[i - 1][1] if i else 0
        next_start = mentions[i + 1][0] if i + 1 < len(mentions) else len(text)
        kind, readable = _classify(text, g, prev_end, next_start, sentence_ends, vocab)
        if kind is None:
            continue
        found.append((kind, g if readable and not g[M_LOW] else None,
                      bool(parts) and any(a <= start < b for a, b in parts),
                      text[_last_end(clause_ends, start):start]))  # total and channel are read only when figures differ
    return found


# A mention as a tuple: (start, end, ordinal, low, num, approx, mult, unit, where num starts) - group lookups by name
# on a re.Match cost more than the rest of reading it. M_* index it (effect_shapes.py reads three).
M_LOW, M_NUM, M_APPROX, M_MULT, M_UNIT, M_NUM_AT = 3, 4, 5, 6, 7, 8
_GROUPS = ("ordinal", "low", "num", "approx", "mult", "unit")


def _mentions(text: str) -> list[tuple]:
    """MENTION.finditer(text), trying MENTION only where one can begin (re scans every position)."""
    out = []
    pos = 0
    search = _MENTION_START.search
    match = MENTION.match if any(c in text for c in _RANGE_SEPARATORS) else _MENTION_NO_RANGE.match
    while True:
        start = search(text, pos)
        if start is None:
            return out
        p = start.start()
        m = match(text, p)
        if m is None:
            pos = p + 1
        else:
            pos = m.end()  # never empty: NUMBER matches at least one character
            out.append((p, pos, *m.group(*_GROUPS), m.start("num")))


def _is_figure(g: tuple) -> bool:
    """Arabic digits, or a Chinese numeral with a unit: "零售", "百货", "十分" hold no figure."""
    num = g[M_NUM]
    if num == "一":  # "一家一户", "打造一个平台"
        return False
    return bool(g[M_UNIT] or g[M_MULT] or g[M_APPROX] or _DIGIT.search(num))


def _classify(text: str, g: tuple, prev_end: int, next_start: int,
              sentence_ends: list[int], vocab: Vocabulary) -> tuple[str | None, bool]:
    """The field a mention belongs to, and whether its number is readable as such."""
    start, end, ordinal, _low, num, _approx, mult, unit_group, _at = g
    if ordinal:
        return None, False
    has_big = bool(mult) or "万" in num or "亿" in num
    unit = unit_group or ("元" if has_big else "")
    kinds = UNIT_KINDS.get(unit, _SALES if not unit else _NO_KINDS)
    if has_big and not unit_group:  # "成交额超2000万", "上线商品超1万"
        kinds = _ANY_KIND
    if not kinds:
        return None, False
    keyword = _keyword_before(text[max(prev_end, _last_end(sentence_ends, start)):start], kinds, vocab)
    if keyword is None and (unit_group or has_big):  # a bare number has no noun after it
        keyword = _keyword_after(text[end:next_start], vocab)
    if keyword == "block":
        return None, False
    if keyword in kinds:
        return keyword, bool(unit)  # "销售额1200": sales, but in which unit?
    if unit in STRONG_PRODUCT_UNITS and unit_group and "products" in vocab.names_zh:
        return "products", True
    return None, False


def _keyword_before(before: str, kinds: set[str], vocab: Vocabulary) -> str | None:
    """Kind of the keyword ending right before the number, fillers aside.

    A noun of another field is stepped over: in "销售年货12万元" the sum belongs to 销售.
    """
    if not before:
        return None
    end = len(before)
    for found in reversed(list(vocab.keyword.finditer(before))):
        if end != found.end() and not FILLER.fullmatch(before, found.end(), end):
            return None
        kind = vocab.keyword_kind[found.group()]
        if kind in kinds or kind == "block":
            return kind
        end = found.start()
    return None


def _keyword_after(after: str, vocab: Vocabulary) -> str | None:
    """Kind of the head noun right after the number: "120家企业", "80余家重点电商企业"."""
    clause = _NOT_WORD.split(after, maxsplit=1)[0][:8]
    found = vocab.keyword.search(clause)
    if not found or NOT_HEAD.match(clause, found.end()):
        return None
    return vocab.keyword_kind[found.group()]


def _value(g: tuple, kind: str) -> Decimal | None:
    number = _parse_decimal(g[M_NUM])
    if number is None:
        return None
    if g[M_MULT]:
        number *= CN_BIG[g[M_MULT]]
    return number / 10**4 if kind == "sales" else number  # sales are kept in 万元


def _settle(figures: list[Figure]) -> tuple[Decimal | None, bool]:
    """One value from a field's figures, or (None, True) when they do not agree."""
    if len(figures) == 1:  # the usual case of the steps below
        value = figures[0].value
        return (None, True) if value is None else (value, False)
    main = [f for f in figures if not f.part] or figures
    if not main:
        return None, False
    if any(f.value is None for f in main):
        return None, True
    if _distinct_channels(main):
        return sum(f.value for f in main), False
    values = {f.value for f in main}
    if len(values) == 1:
        return values.pop(), False
    totals = {f.value for f in main if f.total}
    if len(totals) == 1:
        return totals.pop(), False
    return None, True


def _distinct_channels(figures: list[Figure]) -> bool:
    """Sales figures each named for its own platform (or 线上 and 线下), none a total."""
    if len(figures) < 2 or figures[0].kind != "sales" or any(f.total for f in figures):
        return False
    channels = [f.channel for f in figures]
    if not all(channels) or len(set(channels)) != len(channels):
        return False
    split = [c in SPLIT_CHANNELS for c in channels]
    return all(split) or not any(split)  # 线上 with 抖音 may overlap: not summed


def _part_spans(text: str) -> list[tuple[int, int]]:
    """Spans holding sub-parts: (parentheses) and 其中 up to the end of its sentence."""
    spans = [(m.start(), m.end()) for m in _PARENS.finditer(text)] if "(" in text else []
    if "其中" not in text:
        return spans
    for m in re.finditer("其中", text):
        inside = next((b for a, b in spans if a <= m.start() < b), None)
        end = SENTENCE_END.search(text, m.end())
        spans.append((m.start(), inside or (end.start() if end else len(text))))
    return spans


def _last_end(ends: list[int], pos: int) -> int:
    """Where the sentence (or clause) holding pos starts, from the sorted ends of its separators."""
    k = bisect_right(ends, pos)
    return ends[k - 1] if k else 0


def ambiguous_problem(text: str, field_zh: str, text_zh: str) -> Problem:
    quoted = text.strip() if len(text.strip()) <= 60 else text.strip()[:60] + "…"
    return Problem(
        code="ambiguous_metric",
        message_zh=f"{text_zh}“{quoted}”中的{field_zh}无法确定，请人工核对",
        detail=text,
    )
