"""Charset layer: labels, bodies, RFC 2047 words, RFC 2231 parameters, raw 8-bit bytes."""
import base64

import pytest

from service.parse.charset import LabelIssue, codec_for, decode_bytes, decode_header, param_value, split_header_params

MISLABELLED, UNKNOWN = "charset_mislabelled", "unknown_charset"


def _b_words(text: str, label: str, cut: int) -> bytes:
    data = text.encode("gbk")
    return b"\r\n ".join(f"=?{label}?B?".encode() + base64.b64encode(data[i:i + cut]) + b"?="
                         for i in range(0, len(data), cut))


@pytest.mark.parametrize("label, codec", [
    ("gb2312", "gb18030"), ("GB2312", "gb18030"), ("gbk", "gb18030"), ("x-gbk", "gb18030"),
    ("cp936", "gb18030"), ("euc-cn", "gb18030"), ("GB_2312-80", "gb18030"), ("gb18030", "gb18030"),
    ('"gb2312"', "gb18030"), ("gb2312*zh-cn", "gb18030"), ("utf8", "utf-8"), ("UTF-8", "utf-8"),
    ("big5", "big5hkscs"), ("hz-gb-2312", "hz"), ("iso-8859-1", "iso-8859-1"),
    ("us-ascii", None), ("", None), (None, None), ("x-bogus-charset", None), ("base64", None), ("rot13", None),
])
def test_charset_labels_map_to_the_codec_that_reads_what_clients_really_send(label, codec):
    assert codec_for(label) == codec


@pytest.mark.parametrize("data, label, text, issue", [
    ("朱镕基同志".encode("gbk"), "gb2312", "朱镕基同志", None),  # 镕 is GBK-only
    ("长沙市".encode("gbk"), "x-unknown-label", "长沙市", (UNKNOWN, "x-unknown-label", "gb18030")),
    ("长沙市".encode("utf-8"), "x-unknown-label", "长沙市", (UNKNOWN, "x-unknown-label", "utf-8")),
    ("长沙市".encode("gbk"), "x-unknown", "长沙市", (UNKNOWN, "x-unknown", "gb18030")),  # says it does not know
    # UTF-8 under a GB label, when GB18030 cannot read it
    ("长沙市".encode("utf-8"), "gb2312", "长沙市", (MISLABELLED, "gb2312", "utf-8")),
    ("长沙市".encode("gbk"), "utf-8", "长沙市", (MISLABELLED, "utf-8", "gb18030")),  # falls back to GB18030
    ("长沙市".encode("gbk"), "us-ascii", "长沙市", (MISLABELLED, "us-ascii", "gb18030")),
    ("长沙市".encode("gbk"), None, "长沙市", None),  # raw 8-bit without a label promises nothing
    ("长沙市".encode("gbk"), "gb\x002312", "长沙市", (UNKNOWN, "gb\\x002312", "gb18030")),  # NUL shown escaped
    (b"plain ascii", "x-bogus", "plain ascii", None),  # the label did not matter
])
def test_bodies_decode_through_the_label_then_the_fallback_chain_and_a_wrong_label_is_an_issue(
        data, label, text, issue):
    decoded = decode_bytes(data, label)
    assert (decoded.text, decoded.doubtful) == (text, False)
    assert decoded.issues == ((LabelIssue(*issue),) if issue else ())


CHINESE = ["长沙市“2022湖南网上年货节”活动全面总结", "您好！附件是我市促消费活动进展情况，请查收。", "湘西州", "长沙"]


@pytest.mark.parametrize("label", ["big5", "shift_jis", "iso-8859-1", "windows-1252", "koi8-r"])
@pytest.mark.parametrize("text", CHINESE)
def test_gbk_bytes_a_label_reads_into_garbage_are_read_as_gbk_and_the_label_reported(text, label):
    data = text.encode("gbk")
    decoded = decode_bytes(data, label)
    assert (decoded.text, decoded.doubtful) == (text, False)
    assert [(i.code, i.declared) for i in decoded.issues] == [(MISLABELLED, label)]


@pytest.mark.parametrize("text, label", [
    ("長沙市“2022湖南網上年貨節”活動全面總結", "big5"),
    ("您好！附件是我市促消費活動進展情況，請查收。", "big5"),
    ("報告", "big5"), ("臺灣", "big5"), ("香港特別行政區政府", "big5-hkscs"),
    ("東京都の天気は晴れです。よろしくお願いします。", "shift_jis"), ("添付ファイル", "shift_jis"), ("資料", "shift_jis"),
    ("Grüße aus München", "iso-8859-1"), ("café crème brûlée", "iso-8859-1"), ("Ça coûte 5 €", "windows-1252"),
    ("“Smart quotes” – and a dash", "windows-1252"), ("Привет мир, как дела", "koi8-r"),
    ("ΑΘΗΝΑ καλημέρα", "iso-8859-7"), ("长沙市", "utf-8"), ("长沙市", "gb18030"),
])
def test_text_genuinely_in_its_labelled_charset_is_kept_as_labelled(text, label):
    assert decode_bytes(text.encode(label), label) == (text, False, ())


def test_bytes_no_codec_can_read_fall_back_to_latin1_and_are_marked_doubtful():
    text, doubtful, _ = decode_bytes(b"\xff\xfe\x80\xff", "x-bogus")
    assert (text, doubtful) == ("\xff\xfe\x80\xff", True)


def test_undecodable_bytes_under_a_known_label_are_replaced_and_marked_doubtful():
    text, doubtful, _ = decode_bytes("长沙".encode("gbk") + b"\xff", "gbk")
    assert text.startswith("长沙") and doubtful


@pytest.mark.parametrize("raw, text", [
    (_b_words("长沙市2022年促消费活动进展情况", "GBK", 15), "长沙市2022年促消费活动进展情况"),
    (_b_words("长沙市2022年促消费活动进展情况", "gbk", 7), "长沙市2022年促消费活动进展情况"),
    (_b_words("朱镕基纪念馆", "gb2312", 3), "朱镕基纪念馆"),
    (b"=?gbk?Q?=B3=A4=C9?= =?gbk?Q?=B3=CA=D0?=", "长沙市"),  # Q words split mid-character
    (b"=?gbk?B?s6TJsw==?= =?utf-8?B?5biC?=", "长沙市"),  # different charsets are decoded apart
    (b"Re: =?gbk?B?s6TJsw==?= report", "Re: 长沙 report"),  # space next to plain text is kept
    (b"=?gbk?B?s6TJsw==?=\r\n\t=?GB2312?B?ytA=?=", "长沙市"),  # same codec, different label spelling
    ("长沙市商务局".encode("gbk"), "长沙市商务局"),  # raw 8-bit GBK
    ("长沙市商务局".encode("utf-8"), "长沙市商务局"),  # raw 8-bit UTF-8
    (b"=?gbk?B?s6TJsw?=", "长沙"),  # missing padding
    (b"=?GBK*zh?B?s6TJsw==?=", "长沙"),  # RFC 2231 language in the word
    (b"Folded\r\n subject", "Folded subject"),
])
def test_headers_decode_encoded_words_joined_as_bytes_and_raw_8bit_values(raw, text):
    assert decode_header(raw)[:2] == (text, False)


def test_an_encoded_word_with_broken_base64_is_kept_literally_and_marked_doubtful():
    assert decode_header(b"=?gbk?B?*#*?= tail") == ("=?gbk?B?*#*?= tail", True, ())


def test_a_header_reports_each_lying_label_once_however_many_words_carry_it():
    raw = _b_words("长沙市2022年促消费活动进展情况", "big5", 6) + b" " + _b_words("湘潭", "utf-8", 4)
    decoded = decode_header(raw)
    assert decoded.text == "长沙市2022年促消费活动进展情况湘潭"
    assert decoded.issues == (LabelIssue(MISLABELLED, "big5", "gb18030"), LabelIssue(MISLABELLED, "utf-8", "gb18030"))


@pytest.mark.parametrize("raw, name", [
    (b"attachment; filename*=gbk''%B3%A4%C9%B3.xlsx", "长沙.xlsx"),
    (b"attachment; filename*0*=gb2312''%D6%EC%E9; filename*1*=%46%BB%F9.xls", "朱镕基.xls"),  # cut mid-char
    (b"attachment; filename*0*=utf-8''%E9%95; filename*1*=%95.doc", "镕.doc"),
    (b"attachment; filename*1=\"b.xls\"; filename*0*=gbk''%B3%A4", "长b.xls"),  # sections out of order
    (b"attachment; filename*0*=gbk''%B3%A; filename*1*=4.xls", "长.xls"),  # %XX cut by the client
    (b'attachment; filename="=?GBK?B?s6TJs8rQ?= =?GBK?B?Lnhsc3g=?="', "长沙市.xlsx"),  # RFC 2047 in a parameter
    (b'attachment; filename="' + "长沙市.xlsx".encode("gbk") + b'"', "长沙市.xlsx"),  # raw GBK
    (b'attachment; filename="a;b.xls"', "a;b.xls"),
    (b'attachment; filename="say \\"hi\\".xls"', 'say "hi".xls'),
    (b'attachment; filename="C:\\Users\\x\\a.xls"', "C:\\Users\\x\\a.xls"),  # backslashes stay data
    (b"attachment; FILENAME=plain.xls", "plain.xls"),
    (b"attachment;\r\n filename*=gbk''%B3%A4.xlsx; filename=\"fallback.xlsx\"", "长.xlsx"),  # 2231 wins
])
def test_filename_parameters_decode_rfc2231_rfc2047_and_raw_bytes(raw, name):
    value, params = split_header_params(raw)
    assert value == "attachment"
    assert param_value(params, "filename")[:2] == (name, False)


def test_a_missing_parameter_is_none():
    assert param_value(split_header_params(b"attachment")[1], "filename") is None


def test_a_charset_label_holding_a_nul_is_treated_as_unknown():
    from service.parse.charset import decode_bytes
    decoded = decode_bytes("长沙".encode("gb18030"), "gb\x002312")
    assert decoded.text == "长沙" and [i.code for i in decoded.issues] == [UNKNOWN]
