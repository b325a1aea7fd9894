"""Parsing inbound e-mail: real-looking messages (many Japanese), damaged ones, and
properties over what the standard library writes and over arbitrary bytes."""

from __future__ import annotations

import base64
import quopri
import re
from datetime import datetime, timedelta, timezone
from email.header import Header
from email.headerregistry import Address
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default as default_policy

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ecrm.domain.inbound_email import (
    MAX_EMAIL_BYTES,
    Attachment,
    InboundEmail,
    html_to_text,
    parse_email,
    reply_text,
)
from ecrm.errors import ValidationError

JST = timezone(timedelta(hours=9))


def mail(headers: list[tuple[str, str]], body: bytes = b"") -> bytes:
    """A raw message with CRLF line endings, as it comes off the wire."""
    head = "".join(f"{name}: {value}\r\n" for name, value in headers)
    return head.encode("utf-8") + b"\r\n" + body


def b_word(text: str, charset: str) -> str:
    """``text`` as one RFC 2047 "B" encoded word."""
    return f"=?{charset}?B?{base64.b64encode(text.encode(charset)).decode()}?="


def crlf(text: str) -> str:
    return text.replace("\n", "\r\n")


BASIC = [("From", "Taro Yamada <Taro@Example.JP>"), ("To", "support@shop.example.jp"),
         ("Date", "Thu, 01 Jan 2026 10:00:00 +0900"), ("MIME-Version", "1.0")]


# -- plain and Japanese mail -----------------------------------------------------------


def test_plain_utf8_mail() -> None:
    raw = mail([("From", '"Taro Yamada" <Taro@Example.JP>'),
                ("To", "Support <support@shop.example.jp>, sales@Shop.Example.JP"),
                ("Cc", "boss@example.jp"), ("Reply-To", "taro.private@example.jp"),
                ("Subject", "Order A-1001: where is it?"),
                ("Date", "Thu, 01 Jan 2026 10:00:00 +0900"),
                ("Message-ID", "<CAF1234@mail.example.jp>"), ("MIME-Version", "1.0"),
                ("Content-Type", "text/plain; charset=utf-8"),
                ("Content-Transfer-Encoding", "8bit")],
               crlf("Hello,\n\nMy order has not arrived. ¥4,980 paid.\n\nTaro\n\n\n").encode())
    msg = parse_email(raw)
    assert isinstance(msg, InboundEmail)
    assert msg.from_address == "Taro@example.jp"
    assert msg.from_name == "Taro Yamada"
    assert msg.to == ("support@shop.example.jp", "sales@shop.example.jp")
    assert msg.cc == ("boss@example.jp",)
    assert msg.reply_to == ("taro.private@example.jp",)
    assert msg.subject == "Order A-1001: where is it?"
    assert msg.sent_at == datetime(2026, 1, 1, 1, 0, tzinfo=timezone.utc)
    assert msg.sent_at.tzinfo is timezone.utc
    assert msg.message_id == "CAF1234@mail.example.jp"
    assert msg.in_reply_to is None and msg.references == ()
    assert msg.text == "Hello,\n\nMy order has not arrived. ¥4,980 paid.\n\nTaro"
    assert msg.reply_text == msg.text
    assert msg.attachments == ()
    assert msg.header("message-id") == "<CAF1234@mail.example.jp>"
    assert msg.header("X-Missing") is None
    assert ("Subject", "Order A-1001: where is it?") in msg.headers


def test_iso_2022_jp_mail_with_encoded_subject_and_7bit_body() -> None:
    body = "山田様\n\nお世話になっております。\n注文番号 A-1001 の商品がまだ届きません。\n"
    raw = mail([("From", f"{b_word('山田 太郎', 'iso-2022-jp')} <taro@example.jp>"),
                ("To", "support@shop.example.jp"),
                ("Subject", b_word("【至急】ご注文の商品について", "ISO-2022-JP")),
                ("Date", "Thu, 1 Jan 2026 10:00:00 +0900 (JST)"), ("MIME-Version", "1.0"),
                ("Content-Type", "text/plain; charset=ISO-2022-JP"),
                ("Content-Transfer-Encoding", "7bit")],
               crlf(body).encode("iso-2022-jp"))
    msg = parse_email(raw)
    assert msg.from_name == "山田 太郎"
    assert msg.subject == "【至急】ご注文の商品について"
    assert msg.text == body.rstrip()
    assert msg.sent_at == datetime(2026, 1, 1, 10, 0, tzinfo=JST)


def test_iso_2022_jp_with_windows_extensions_and_half_width_katakana() -> None:
    # ① and ㈱ are NEC row 13, 髙 an IBM extension, ｶﾀｶﾅ half-width kana (ESC ( I):
    # Python's iso2022_jp codec refuses them all, Windows and Japanese phones send them.
    body = (b"\x1b$B-!\x1b(B \x1b$B-j\x1b(B\x1b$B;3ED\x1b(B \x1b$B|b\x1b(B\r\n"
            b"\x1b(I6@6E\x1b(B\r\n")
    raw = mail([*BASIC, ("Subject", "=?ISO-2022-JP?B?GyRCLSEbKEI=?= x"),
                ("Content-Type", 'text/plain; charset="iso-2022-jp"')], body)
    msg = parse_email(raw)
    assert msg.text == "① ㈱山田 髙\nｶﾀｶﾅ"
    assert msg.subject == "① x"


def test_shift_jis_quoted_printable() -> None:
    body = "ご担当者様\n\n返品を希望します。～よろしくお願いいたします。①\n"
    encoded = quopri.encodestring(crlf(body).encode("cp932"))
    subject_q = "=?Shift_JIS?Q?" + "".join(f"={b:02X}" for b in "返品希望".encode("shift_jis"))
    raw = mail([*BASIC, ("Subject", subject_q + "?="),
                ("Content-Type", "text/plain; charset=Shift_JIS"),
                ("Content-Transfer-Encoding", "quoted-printable")], encoded)
    msg = parse_email(raw)
    assert msg.subject == "返品希望"
    assert msg.text == body.rstrip()


def test_euc_jp_and_windows_31j_labels() -> None:
    for label, codec in [("EUC-JP", "euc_jp"), ("Windows-31J", "cp932"), ("x-sjis", "cp932")]:
        raw = mail([*BASIC, ("Content-Type", f"text/plain; charset={label}")],
                   "住所変更のお願い".encode(codec))
        assert parse_email(raw).text == "住所変更のお願い", label


def test_encoded_word_split_inside_a_character_is_joined() -> None:
    data = "お問い合わせ".encode()
    first, second = base64.b64encode(data[:4]).decode(), base64.b64encode(data[4:]).decode()
    raw = mail([*BASIC, ("Subject", f"Re: =?UTF-8?B?{first}?=\r\n =?utf-8?B?{second}?=")])
    assert parse_email(raw).subject == "Re: お問い合わせ"


def test_raw_8bit_headers_are_read_as_utf8_or_shift_jis() -> None:
    raw = ("From: 山田 太郎 <taro@example.jp>\r\nSubject: 配送について\r\n\r\nbody\r\n").encode()
    msg = parse_email(raw)
    assert (msg.from_name, msg.subject) == ("山田 太郎", "配送について")
    raw = "From: taro@example.jp\r\nSubject: 配送について\r\n\r\nbody\r\n".encode("cp932")
    assert parse_email(raw).subject == "配送について"
    raw = "From: taro@example.jp\r\nSubject: 配送\r\n\r\n".encode("iso-2022-jp")
    assert parse_email(raw).subject == "配送"


def test_japanese_mobile_addresses_and_recipients() -> None:
    raw = mail([("From", "taro..yamada.@docomo.ne.jp"),
                ("To", "undisclosed-recipients:;"), ("Cc", "Shop: a@Shop.JP, b@shop.jp;")])
    msg = parse_email(raw)
    assert msg.from_address == "taro..yamada.@docomo.ne.jp"
    assert msg.from_name is None
    assert msg.to == ()
    assert msg.cc == ("a@shop.jp", "b@shop.jp")


# -- structure -------------------------------------------------------------------------


ALTERNATIVE_TEXT = """\
--alt
Content-Type: text/plain; charset=utf-8

Plain version.
--alt
Content-Type: text/html; charset=utf-8

<p>HTML version.</p>
--alt--
"""
ALTERNATIVE = crlf(ALTERNATIVE_TEXT).encode()


def test_multipart_alternative_prefers_text() -> None:
    raw = mail([*BASIC, ("Content-Type", 'multipart/alternative; boundary="alt"')],
               ALTERNATIVE)
    msg = parse_email(raw)
    assert msg.text == "Plain version."
    assert msg.attachments == ()


def test_html_only() -> None:
    html = ("<html><head><title>Mail</title><style>p {color: red}</style></head><body>"
            "<div>こんにちは&nbsp;&amp; hello<br>second   line</div><div><br></div>"
            "<p>Price: &yen;1,000 &lt;tax&gt;</p><script>alert(1)</script>"
            "<ul><li>one</li><li>two</li></ul></body></html>")
    raw = mail([*BASIC, ("Content-Type", "text/html; charset=utf-8"),
                ("Content-Transfer-Encoding", "base64")],
               base64.encodebytes(html.encode()))
    msg = parse_email(raw)
    assert msg.text == "こんにちは & hello\nsecond line\n\nPrice: ¥1,000 <tax>\none\ntwo"


def test_attachments_with_japanese_filenames() -> None:
    rfc2231 = "".join(f"%{b:02X}" for b in "見積書.pdf".encode())
    body = crlf(f"""\
--mix
Content-Type: multipart/alternative; boundary="alt"

{ALTERNATIVE_TEXT}
--mix
Content-Type: application/pdf
Content-Disposition: attachment; filename*=UTF-8''{rfc2231}
Content-Transfer-Encoding: base64

{base64.b64encode(b"%PDF-1.4 " + bytes(100)).decode()}
--mix
Content-Type: image/jpeg; name="{b_word("写真.jpg", "iso-2022-jp")}"
Content-Disposition: inline
Content-Transfer-Encoding: base64

{base64.b64encode(bytes(range(256))).decode()}
--mix
Content-Type: text/plain; charset=utf-8
Content-Disposition: attachment; filename="C:\\\\Users\\\\taro\\\\memo.txt"

memo
--mix--
""").encode()
    raw = mail([*BASIC, ("Content-Type", "multipart/mixed; boundary=mix")], body)
    msg = parse_email(raw)
    assert msg.text == "Plain version."
    assert msg.attachments == (Attachment("見積書.pdf", "application/pdf", 109),
                               Attachment("写真.jpg", "image/jpeg", 256),
                               Attachment("memo.txt", "text/plain", 4))


def test_forwarded_message_is_one_attachment() -> None:
    inner = mail([("From", "old@example.jp"), ("Subject", "old")], b"old body\r\n")
    body = (b"--b\r\nContent-Type: text/plain\r\n\r\nsee below\r\n--b\r\n"
            b"Content-Type: message/rfc822\r\n\r\n" + inner + b"\r\n--b--\r\n")
    msg = parse_email(mail([*BASIC, ("Content-Type", "multipart/mixed; boundary=b")], body))
    assert msg.text == "see below"
    [forwarded] = msg.attachments
    assert forwarded.content_type == "message/rfc822" and forwarded.size > 0


def test_html_body_in_related_with_inline_image() -> None:
    body = crlf("""\
--rel
Content-Type: text/html; charset=utf-8

<div>See the photo:</div><img src="cid:p1">
--rel
Content-Type: image/png
Content-ID: <p1>
Content-Transfer-Encoding: base64

iVBORw0KGgo=
--rel--
""").encode()
    msg = parse_email(mail([*BASIC, ("Content-Type", "multipart/related; boundary=rel")], body))
    assert msg.text == "See the photo:"
    assert msg.attachments == (Attachment(None, "image/png", 8),)


# -- replies ---------------------------------------------------------------------------


def test_reply_with_threading_headers_and_english_quote() -> None:
    body = crlf("""\
Thanks, that works.

On Mon, Jan 5, 2026 at 10:00 AM Shop Support <support@shop.example.jp> wrote:

> Please try again.
>
> > Original question
""")
    raw = mail([*BASIC, ("Subject", "Re: Order A-1001"),
                ("In-Reply-To", "<case-42.3@shop.example.jp>"),
                ("References", "<case-42.1@shop.example.jp>\r\n <case-42.3@shop.example.jp>")],
               body.encode())
    msg = parse_email(raw)
    assert msg.in_reply_to == "case-42.3@shop.example.jp"
    assert msg.references == ("case-42.1@shop.example.jp", "case-42.3@shop.example.jp")
    assert msg.reply_text == "Thanks, that works."
    assert msg.text.endswith("> > Original question")


@pytest.mark.parametrize("quote", [
    "2026年1月5日(月) 10:00 ショップ サポート <support@shop.example.jp>:\n\n> 再度お試しください。",
    "2026年1月5日(月) 10:00 ショップ サポート <\nsupport@shop.example.jp>:\n> 再度お試しください。",
    "2026/01/05 10:00、ショップ <support@shop.example.jp>のメッセージ:\n\n> 再度",
    "2026/01/05 10:00、ショップのメール:\n> 再度",
    "-----元のメッセージ-----\n差出人: ショップ <support@shop.example.jp>\n"
    "送信日時: 2026年1月5日 10:00\n件名: 注文\n\n再度お試しください。",
    "-----Original Message-----\nFrom: Shop\nSent: Monday, January 5, 2026 10:00 AM\n\nTry",
    "________________________________\n差出人: ショップ <support@shop.example.jp>\n"
    "送信日時: 2026年1月5日 10:00\n宛先: 山田\n\n再度お試しください。",
    "On 2026/01/05 10:00, Shop Support wrote:\n> Try again.",
])
def test_reply_text_strips_japanese_and_english_quotes(quote: str) -> None:
    text = f"承知しました。\nよろしくお願いします。\n\n{quote}\n"
    raw = mail([*BASIC, ("Content-Type", "text/plain; charset=iso-2022-jp")],
               crlf(text).encode("iso-2022-jp"))
    assert parse_email(raw).reply_text == "承知しました。\nよろしくお願いします。"


def test_reply_text_is_conservative() -> None:
    bottom = "On Mon, Jan 5, 2026 at 10:00 AM Shop <a@b.jp> wrote:\n> question?\nmy answer"
    assert reply_text(bottom) == "my answer"
    inline = "2026年1月5日(月) 10:00 Shop <a@b.jp>:\n> q1\na1\n> q2\n\n\n\na2"
    assert reply_text(inline) == "a1\n\na2"
    assert reply_text("> only\n> quotes") == ""
    assert reply_text("On Monday I wrote:\n> x") == "On Monday I wrote:"
    assert reply_text("Hi\nOn the phone you wrote:\nthe box was empty") == (
        "Hi\nOn the phone you wrote:\nthe box was empty")
    assert reply_text("Hi\nOn Monday, January 5, 2026, Shop wrote:\nold") == "Hi"
    # a date line that is not an attribution is kept
    assert reply_text("2026年1月5日に注文した件:\n届いていません") == (
        "2026年1月5日に注文した件:\n届いていません")
    forwarded = "-----Original Message-----\nFrom: a\nSent: b\n\nold text"
    assert reply_text(forwarded) == forwarded


def test_html_reply_quote_is_stripped_too() -> None:
    html = ('<div dir="ltr">了解です</div><br><div class="gmail_quote">'
            '<div>2026年1月5日(月) 10:00 Shop &lt;a@b.jp&gt;:<br></div>'
            "<blockquote>ご確認ください<br>よろしく</blockquote></div>")
    assert html_to_text(html) == ("了解です\n\n2026年1月5日(月) 10:00 Shop <a@b.jp>:\n"
                                  "> ご確認ください\n> よろしく")
    raw = mail([*BASIC, ("Content-Type", "text/html; charset=utf-8")], html.encode())
    assert parse_email(raw).reply_text == "了解です"


# -- dates -----------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "expected"), [
    (None, None),
    ("next Tuesday", None),
    ("2026/01/01 10:00", None),
    ("Thu, 31 Feb 2026 10:00:00 +0900", None),
    ("Thu, 1 Jan 2026 10:00:00 +9999", None),
    ("Thu, 1 Jan 2026 10:00:00", None),  # no zone: ambiguous
    ("Fri, 31 Dec 9999 23:00:00 -0900", None),  # after datetime.max in UTC
    ("Thu, 1 Jan 2026 10:00:00 -0000", datetime(2026, 1, 1, 10, tzinfo=timezone.utc)),
    ("Thu, 1 Jan 2026 10:00:00 JST", datetime(2026, 1, 1, 1, tzinfo=timezone.utc)),
    ("1 Jan 2026 10:00 GMT", datetime(2026, 1, 1, 10, tzinfo=timezone.utc)),
])
def test_sent_at(value: str | None, expected: datetime | None) -> None:
    headers = [("From", "a@example.jp")] + ([("Date", value)] if value else [])
    assert parse_email(mail(headers, b"x")).sent_at == expected


# -- damaged input degrades ------------------------------------------------------------


def test_broken_base64_keeps_what_can_be_read() -> None:
    good = base64.b64encode("返金をお願いします".encode()).decode()
    raw = mail([*BASIC, ("Content-Type", "text/plain; charset=utf-8"),
                ("Content-Transfer-Encoding", "base64")],
               f"{good[:12]}!!*\r\n{good[12:]}$x\r\n".encode())
    assert parse_email(raw).text == "返金をお願いします"
    chunks = (base64.b64encode("ご注文!".encode()) + b"\r\n"
              + base64.b64encode("ありがとうございます".encode()))  # joined after encoding
    raw = mail([*BASIC, ("Content-Transfer-Encoding", "base64")], chunks)
    assert parse_email(raw).text == "ご注文!ありがとうございます"
    raw = mail([*BASIC, ("Content-Transfer-Encoding", "base64")], b"%%%\xff\xfe=\r\n")
    assert parse_email(raw).text == ""


def test_unknown_or_missing_charset_is_guessed() -> None:
    for label in ["x-unknown", "", "us-ascii", "base64", "punycode"]:
        header = f"text/plain; charset={label}" if label else "text/plain"
        for codec in ["utf-8", "cp932", "euc_jp"]:
            raw = mail([*BASIC, ("Content-Type", header)], "お届け先の変更".encode(codec))
            assert parse_email(raw).text == "お届け先の変更", (label, codec)
        raw = mail([*BASIC, ("Content-Type", header)], "ご注文".encode("iso-2022-jp"))
        assert parse_email(raw).text == "ご注文"


def test_wrong_charset_gives_replacement_characters() -> None:
    raw = mail([*BASIC, ("Content-Type", "text/plain; charset=utf-8")],
               b"caf\xe9 \xff ok")
    assert parse_email(raw).text == "caf\ufffd \ufffd ok"


def test_missing_boundary_keeps_the_text() -> None:
    raw = mail([*BASIC, ("Content-Type", "multipart/mixed")], b"Where is my order?\r\n")
    assert "Where is my order?" in parse_email(raw).text
    raw = mail([*BASIC, ("Content-Type", 'multipart/mixed; boundary="nope"')],
               b"--other\r\nContent-Type: text/plain\r\n\r\nhello\r\n--other--\r\n")
    assert "hello" in parse_email(raw).text


def test_nul_and_surrogates_never_come_out() -> None:
    raw = mail([("From", "Ta\x00ro <taro@example.jp>"), ("Subject", "a\x00b SURROGATE")],
               b"x\x00y\r\n").replace(b"SURROGATE", "\udcff".encode("utf-8", "surrogatepass"))
    msg = parse_email(raw)
    assert (msg.from_name, msg.text) == ("Taro", "xy")
    assert "\x00" not in msg.subject and "\udcff" not in msg.subject
    assert all(_storable(value) for _, value in msg.headers)


def test_str_input_is_encoded_as_utf8() -> None:
    msg = parse_email("From: 山田 <taro@example.jp>\nSubject: 件名\n\n本文\n")
    assert (msg.from_name, msg.subject, msg.text) == ("山田", "件名", "本文")


def test_deep_nesting_is_not_walked_for_ever() -> None:
    depth = 60
    body = b"".join(f"--b{i}\r\nContent-Type: multipart/mixed; boundary=b{i + 1}\r\n\r\n"
                    .encode() for i in range(depth))
    body += b"--b60\r\nContent-Type: text/plain\r\n\r\ndeep\r\n"
    raw = mail([*BASIC, ("Content-Type", "multipart/mixed; boundary=b0")], body)
    msg = parse_email(raw)
    assert msg.text == "" and len(msg.attachments) == 1


# -- refused input ---------------------------------------------------------------------


@pytest.mark.parametrize(("raw", "field", "words"), [
    (b"", "message", "empty"),
    ("  \r\n ", "message", "empty"),
    (b"Subject: hi\r\n\r\nbody", "from", "missing"),
    (b"From: Taro Yamada\r\nSubject: hi\r\n\r\nbody", "from", "holds no e-mail address"),
    (b"From: <>\r\n\r\n", "from", "holds no e-mail address"),
    (b"\x00\xffnot an e-mail at all", "from", "missing"),
    ("From: a@b.jp\n\n\udc00", "message", "lone surrogate"),
    (12, "message", "expected bytes or str, got int"),
])
def test_refused(raw: object, field: str, words: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_email(raw)  # type: ignore[arg-type]
    assert caught.value.field == field
    assert words in caught.value.message


def test_oversized() -> None:
    raw = mail([("From", "a@example.jp")], b"x" * 2000)
    with pytest.raises(ValidationError) as caught:
        parse_email(raw, max_bytes=1000)
    assert caught.value.field == "message"
    assert caught.value.message == (f"is {len(raw):,} bytes, more than the limit of 1,000 "
                                    "(max_bytes)")
    with pytest.raises(ValidationError, match="message"):
        parse_email("x" * 1001, max_bytes=1000)
    with pytest.raises(ValidationError, match="max_bytes"):
        parse_email(raw, max_bytes=0)
    assert MAX_EMAIL_BYTES == 10 * 1024 * 1024
    assert parse_email(bytearray(raw), max_bytes=len(raw)).from_address == "a@example.jp"


# -- properties ------------------------------------------------------------------------


def _storable(value: str) -> bool:
    return "\x00" not in value and not re.search("[\ud800-\udfff]", value)


def _strings(msg: InboundEmail) -> list[str]:
    values = [msg.from_address, msg.from_name or "", msg.subject, msg.text, msg.reply_text,
              msg.message_id or "", msg.in_reply_to or "", *msg.to, *msg.cc, *msg.reply_to,
              *msg.references, *(a.filename or "" for a in msg.attachments),
              *(a.content_type for a in msg.attachments)]
    return values + [text for header in msg.headers for text in header]


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _read_back(raw: bytes) -> EmailMessage:
    return BytesParser(policy=default_policy).parsebytes(raw)  # type: ignore[return-value]


line_text = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=80)
names = line_text.map(str.strip).filter(bool)


@given(subject=line_text, body=st.text(), name=names,
       local=st.from_regex(r"[A-Za-z0-9_+-]{1,10}(\.[A-Za-z0-9_+-]{1,10}){0,2}", fullmatch=True),
       domain=st.sampled_from(["example.jp", "Shop.Example.COM", "docomo.ne.jp"]))
def test_reads_back_what_the_standard_library_writes(subject: str, body: str, name: str,
                                                     local: str, domain: str) -> None:
    message = EmailMessage()
    message["From"] = Address(display_name=name, addr_spec=f"{local}@{domain}")
    message["To"] = "shop@example.jp"
    message["Subject"] = subject
    message.set_content(body)
    raw = message.as_bytes()
    msg = parse_email(raw)
    assert msg.subject == subject.strip()
    if _read_back(raw)["From"].addresses[0].display_name == name:
        assert msg.from_name == name
    else:  # a long name folded at a space between encoded words, which readers drop
        assert msg.from_name is not None and _squash(msg.from_name) == _squash(name)
    assert msg.from_address == f"{local}@{domain.lower()}"
    assert msg.to == ("shop@example.jp",)
    expected = re.sub("\r\n?", "\n", body).replace("\x00", "").rstrip()
    assert msg.text == expected


def _japanese_alphabet() -> list[str]:
    """Characters each of ISO-2022-JP, Shift_JIS and EUC-JP encodes and reads back alike."""
    chars = [chr(c) for c in range(0x3000, 0xA000)] + list("ABCxyz019 .,!?-\n")

    def fits(char: str) -> bool:
        try:
            return all(char.encode(c).decode(c) == char
                       for c in ("iso-2022-jp", "shift_jis", "euc-jp"))
        except UnicodeError:
            return False

    return [char for char in chars if fits(char)]


JAPANESE = _japanese_alphabet()
japanese = st.text(st.sampled_from(JAPANESE), max_size=120)
japanese_line = st.text(st.sampled_from([c for c in JAPANESE if c != "\n"]), max_size=60)


@given(subject=japanese_line, body=japanese, name=japanese_line.map(str.strip).filter(bool),
       charset=st.sampled_from(["iso-2022-jp", "shift_jis", "euc-jp"]),
       encoding=st.sampled_from(["8bit", "base64", "quoted-printable"]))
def test_reads_japanese_charsets(subject: str, body: str, name: str, charset: str,
                                 encoding: str) -> None:
    data = crlf(body).encode(charset)
    if encoding == "base64":
        data = base64.encodebytes(data)
    elif encoding == "quoted-printable":
        data = quopri.encodestring(data)
    raw = mail([("From", f"{Header(name, charset).encode()} <taro@example.jp>"),
                ("Subject", Header(subject, charset).encode()),
                ("Content-Type", f"text/plain; charset={charset}"),
                ("Content-Transfer-Encoding", encoding)], data)
    msg = parse_email(raw)
    assert (msg.subject, msg.from_name) == (subject.strip(), name)
    assert msg.text == body.rstrip()


@given(st.binary(max_size=2000))
def test_arbitrary_bytes_give_a_message_or_a_validation_error(raw: bytes) -> None:
    for data in (raw, b"From: a@example.jp\r\n" + raw):
        try:
            msg = parse_email(data)
        except ValidationError:
            continue
        assert all(_storable(value) for value in _strings(msg))


SAMPLE = mail([*BASIC, ("Subject", b_word("件名", "iso-2022-jp")),
               ("Content-Type", "multipart/mixed; boundary=mix")], crlf(f"""\
--mix
Content-Type: multipart/alternative; boundary="alt"

{ALTERNATIVE_TEXT}
--mix
Content-Type: application/pdf; name="=?utf-8?B?6KaL56mN?="
Content-Disposition: attachment; filename*=ISO-2022-JP''%1B%24B8%2B%40Q%1B%28B
Content-Transfer-Encoding: base64

JVBERi0xLjQK
--mix--
""").encode())


@given(st.data())
def test_damaged_real_mail_never_raises_anything_else(data: st.DataObject) -> None:
    raw = bytearray(SAMPLE)
    for _ in range(data.draw(st.integers(1, 8))):
        at = data.draw(st.integers(0, len(raw)))
        raw[at:at + data.draw(st.integers(0, 4))] = data.draw(st.binary(max_size=6))
    try:
        msg = parse_email(bytes(raw))
    except ValidationError:
        return
    assert all(_storable(value) for value in _strings(msg))


def test_sample_parses() -> None:
    msg = parse_email(SAMPLE)
    assert msg.subject == "件名"
    assert msg.attachments == (Attachment("見積", "application/pdf", 9),)
