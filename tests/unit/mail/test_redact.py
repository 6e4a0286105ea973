"""RFC 6590 redaction: no byte of the output holds the reporter's address in any encoding, kept fields are kept.

The leak check here (`leaks`) is written independently of the module: plain byte searches, the standard
library's quopri, base64, html and urllib decoders, and the email package's own decoding of every part.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import contextlib
import email
import html
import quopri
import re
from email.header import decode_header, make_header
from email.policy import compat32
from email.utils import getaddresses
from pathlib import Path
from urllib.parse import unquote

import pytest

from signalement.mail import redact as redact_module
from signalement.mail.redact import (
    TOKEN_LENGTH,
    RedactionError,
    pseudonym,
    redact_headers,
    redact_message,
)

FIXTURES = Path(__file__).parents[2] / "fixtures" / "mail"
CORPUS = Path("/work/shared/corpus/dev")
KEY = b"member-one-key-0123456789abcdef"
OTHER_KEY = b"member-two-key-0123456789abcdef"
ADDRESS = "jean.dupont@example.org"
ALIAS = "jdupont@alias.example"
NAMES = ["Jean Dupont"]
KEPT = ("list-unsubscribe", "list-unsubscribe-post", "return-path", "message-id", "feedback-id", "cfbl-feedback-id")


# ---------------------------------------------------------------------------------------------------------------
# The independent leak check


def _base64_pieces(address: str) -> set[bytes]:
    """What base64 of the address looks like wherever it starts in a stream: 3 alignments, 3 letter cases."""
    pieces: set[bytes] = set()
    for variant in {address, address.lower(), address.upper()}:
        data = variant.encode()
        for shift in range(3):
            encoded = base64.b64encode(bytes(shift) + data)
            first_full = (shift * 8 + 5) // 6  # first character made of address bits only
            last_full = (shift + len(data)) * 8 // 6
            pieces.add(encoded[first_full:last_full])
    return pieces


def _header_text(value: object) -> str:
    try:
        return str(make_header(decode_header(re.sub(r"\r?\n(?=[ \t])", "", str(value)))))
    except Exception:
        return str(value)


def leaks(data: bytes, address: str) -> list[str]:
    """Every place and encoding where `address` is still found in `data` (an empty list: none)."""
    found: list[str] = []
    addr = address.lower().encode()
    local, domain = addr.rsplit(b"@", 1)
    low = data.lower()
    forms = {
        "clear": addr,
        "percent @": local + b"%40" + domain,
        "percent all": b"".join(b"%%%02x" % c for c in addr),
        "entity @": local + b"&#64;" + domain,
        "hex entity @": local + b"&#x40;" + domain,
        "named entity @": local + b"&commat;" + domain,
        "entity all": b"".join(b"&#%d;" % c for c in addr),
        "quoted-printable @": local + b"=40" + domain,
    }
    found += [name for name, form in forms.items() if form in low]
    if addr in quopri.decodestring(data).lower():
        found.append("quoted-printable decoded")
    squeezed = re.sub(rb"\s+", b"", data)
    found += [f"base64 {piece!r}" for piece in _base64_pieces(address) if piece in squeezed]
    msg = email.message_from_bytes(data, policy=compat32)
    for part in msg.walk():
        found += [f"header {k}" for k, v in part.items() if address.lower() in _header_text(v).lower()]
        if part.is_multipart():
            continue
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes):
            continue
        texts = [payload.decode("utf-8", "replace"), payload.decode("latin-1")]
        charset = part.get_content_charset()
        if charset:
            with contextlib.suppress(LookupError):
                texts.append(payload.decode(charset, "replace"))
        for text in texts:
            if address.lower() in html.unescape(unquote(text)).lower() or address.lower() in text.lower():
                found.append(f"part {part.get_content_type()}")
                break
    return found


def assert_no_leak(data: bytes, *addresses: str) -> None:
    for address in addresses:
        assert leaks(data, address) == [], address


def test_the_leak_check_finds_every_encoding() -> None:
    b64 = base64.b64encode(b"xx " + ADDRESS.upper().encode() + b" yy").decode()
    samples = [
        ADDRESS.upper(),
        "jean.dupont%40example.org",
        "".join(f"&#{ord(c)};" for c in ADDRESS),
        "jean.du=\r\npont=40example.org",
        "=?utf-8?B?" + base64.b64encode(ADDRESS.encode()).decode() + "?=",
        "=?utf-8?Q?jean.dupont=40example.org?=",
        b64[:10] + "\r\n" + b64[10:],
    ]
    for sample in samples:
        assert leaks(b"Subject: x\r\n\r\n" + sample.encode() + b"\r\n", ADDRESS), sample
        assert leaks(f"Subject: {sample}\r\n\r\nx\r\n".encode(), ADDRESS), sample


# ---------------------------------------------------------------------------------------------------------------
# Helpers


def fields(data: bytes) -> dict[str, list[bytes]]:
    """Raw header fields of the top-level header block, by lower-case name, byte for byte."""
    head = re.split(rb"\r?\n\r?\n", data, maxsplit=1)[0] + b"\n"
    out: dict[str, list[bytes]] = {}
    for m in re.finditer(rb"^([!-9;-~]+):.*?(?=^[^ \t]|\Z)", head, re.MULTILINE | re.DOTALL):
        out.setdefault(m.group(1).decode().lower(), []).append(m.group().rstrip(b"\r\n"))
    return out


def structure(data: bytes) -> list[tuple[str, str | None, str]]:
    msg = email.message_from_bytes(data, policy=compat32)
    return [
        (p.get_content_type(), p.get_content_charset(), str(p.get("Content-Transfer-Encoding", ""))) for p in msg.walk()
    ]


def texts(data: bytes) -> list[str]:
    msg = email.message_from_bytes(data, policy=compat32)
    out = []
    for part in msg.walk():
        payload = part.get_payload(decode=True) if not part.is_multipart() else None
        if isinstance(payload, bytes) and part.get_content_maintype() == "text":
            out.append(payload.decode(part.get_content_charset() or "utf-8", "replace"))
    return out


def token(address: str = ADDRESS, key: bytes = KEY) -> str:
    return pseudonym(address, key).split("@")[0]


def redact(raw: bytes, **kwargs: object) -> bytes:
    result = redact_message(raw, [ADDRESS, ALIAS], KEY, names=NAMES, **kwargs)  # type: ignore[arg-type]
    assert_no_leak(result.data, ADDRESS, ALIAS)
    assert structure(result.data) == structure(raw)
    return result.data


def crlf(text: str) -> bytes:
    return text.replace("\n", "\r\n").encode("utf-8")


# ---------------------------------------------------------------------------------------------------------------
# The form of the hash


def test_pseudonym_is_a_fixed_length_keyed_hash_with_the_domain_kept() -> None:
    p = pseudonym(ADDRESS, KEY)
    local, domain = p.split("@")
    assert domain == "example.org"
    assert re.fullmatch(f"[0-9a-f]{{{TOKEN_LENGTH}}}", local)
    assert pseudonym("Jean.Dupont@EXAMPLE.org", KEY) == p  # one person, one hash, whatever the letter case
    assert pseudonym(ADDRESS, KEY) == p  # stable for one key
    assert pseudonym(ADDRESS, OTHER_KEY) != p  # two members cannot correlate
    assert token("jean.dupont@example.net") != token()  # the whole address is hashed, not the local-part alone


def test_the_key_and_the_addresses_are_checked() -> None:
    with pytest.raises(ValueError, match="key"):
        redact_message(b"To: a@b\r\n\r\nx", [ADDRESS], b"short")
    with pytest.raises(ValueError, match="address"):
        redact_message(b"To: a@b\r\n\r\nx", ["no-at-sign"], KEY)
    with pytest.raises(TypeError):
        redact_message(b"To: a@b\r\n\r\nx", ADDRESS, KEY)


def test_an_empty_list_is_refused_and_display_forms_are_read() -> None:
    with pytest.raises(ValueError, match="no address"):
        redact_message(b"To: a@b\r\n\r\nx", [" "], KEY)
    raw = crlf(f"To: {ADDRESS}\n\nx\n")
    assert redact_message(raw, [f"Jean Dupont <{ADDRESS}>"], KEY).data == redact_message(raw, [ADDRESS], KEY).data


def test_an_internationalised_domain_in_either_form() -> None:
    address = "jean@exämple.org"
    raw = crlf("To: jean@xn--exmple-cua.org\nContent-Type: text/plain; charset=utf-8\n\nto jean@exämple.org\n")
    result = redact_message(raw, [address], KEY)
    assert_no_leak(result.data, "jean@xn--exmple-cua.org")
    t = pseudonym(address, KEY).split("@")[0]
    assert pseudonym("jean@xn--exmple-cua.org", KEY).split("@")[0] == t
    assert result.data == crlf(
        f"To: {t}@xn--exmple-cua.org\nContent-Type: text/plain; charset=utf-8\n\nto {t}@exämple.org\n"
    )


def test_a_one_word_display_name_is_redacted_in_address_fields_only() -> None:
    raw = crlf(
        "To: FoRK <fork@example.com>\nSender: fork-admin@xent.com\nList-Id: Friends <fork.xent.com>\n"
        'Cc: "Fork" <fork@example.com>\nContent-Type: text/plain\n\nHi Fork,\nthe fork list\n'
    )
    out = redact_message(raw, ["fork@example.com"], KEY).data
    t = token("fork@example.com")
    assert out == crlf(
        f"To: redacted <{t}@example.com>\nSender: fork-admin@xent.com\nList-Id: Friends <fork.xent.com>\n"
        f'Cc: "redacted" <{t}@example.com>\nContent-Type: text/plain\n\nHi [redacted],\nthe fork list\n'
    )


def test_one_key_gives_the_same_output_and_another_key_differs_only_in_the_hash() -> None:
    raw = crlf(f"To: {ADDRESS}\nSubject: hi\n\nWrite to {ADDRESS}.\n")
    first = redact_message(raw, [ADDRESS], KEY).data
    assert redact_message(raw, [ADDRESS], KEY).data == first
    second = redact_message(raw, [ADDRESS], OTHER_KEY).data
    assert second != first
    assert second.replace(token(key=OTHER_KEY).encode(), token().encode()) == first


# ---------------------------------------------------------------------------------------------------------------
# Cases built for each place and encoding

PLAIN = f"""Return-Path: <bounce-jean.dupont=example.org@mailer.example.net>
Received: from mx1.example.net (mx1.example.net [192.0.2.1])
\tby mx.example.org (Postfix) with ESMTPS id 4AB
\tfor <{ADDRESS}>; Mon, 1 Jan 2024 10:00:00 +0000
Delivered-To: {ADDRESS}
X-Original-To: {ALIAS}
From: Shop <news@shop.example.net>
To: "Jean Dupont" <Jean.Dupont@Example.ORG>, Marie Martin <marie@example.org>
Cc: "Dupont, Jean" <{ALIAS}>
Subject: Your order, Jean Dupont
Message-ID: <20240101.abc@shop.example.net>
Feedback-ID: campaign42:customer7:shop
CFBL-Feedback-ID: 7f3a9c
X-Member-Rcpt: r-88125
List-Unsubscribe: <https://shop.example.net/u/Zk3p9>, <mailto:unsub-Zk3p9@shop.example.net>
List-Unsubscribe-Post: List-Unsubscribe=One-Click
Content-Type: text/plain; charset=utf-8

Bonjour Jean Dupont,

Your account {ADDRESS.upper()} has a parcel. Marie Martin <marie@example.org> sent it.
Reply to jean.dupont+shop@example.org or {ALIAS}.
Bounce id: bounce-jean.dupont=example.org
"""


def test_plain_message_headers_and_body() -> None:
    raw = crlf(PLAIN)
    out = redact(raw, recipient_id_headers=["X-Member-Rcpt"])
    t, ta = token(), token(ALIAS)
    kept = ["return-path", "message-id", "feedback-id", "cfbl-feedback-id", "x-member-rcpt"]
    for name in [*kept, "list-unsubscribe", "list-unsubscribe-post", "from"]:
        assert fields(out)[name] == fields(raw)[name], name
    assert fields(out)["to"] == [f'To: "redacted" <{t}@Example.ORG>, Marie Martin <marie@example.org>'.encode()]
    assert fields(out)["cc"] == [f'Cc: "redacted" <{ta}@alias.example>'.encode()]
    assert fields(out)["delivered-to"] == [f"Delivered-To: {t}@example.org".encode()]
    assert fields(out)["x-original-to"] == [f"X-Original-To: {ta}@alias.example".encode()]
    assert f"for <{t}@example.org>".encode() in fields(out)["received"][0]
    assert fields(out)["subject"] == [b"Subject: Your order, redacted"]
    assert texts(out) == [
        (
            "Bonjour [redacted],\r\n\r\n"
            f"Your account {t}@EXAMPLE.ORG has a parcel. Marie Martin <marie@example.org> sent it.\r\n"
            f"Reply to {t}@example.org or {ta}@alias.example.\r\n"
            "Bounce id: bounce-jean.dupont=example.org\r\n"  # a VERP-like id is the sender's, not an encoding
        )
    ]
    assert b"\r\n" in out and b"\n" not in out.replace(b"\r\n", b"")  # CRLF kept everywhere


def test_counts_say_where_and_what() -> None:
    result = redact_message(crlf(PLAIN), [ADDRESS, ALIAS], KEY, names=NAMES)
    assert result.counts["header:to:address"] == 1
    assert result.counts["header:to:name"] == 1
    assert result.counts["header:received:address"] == 1
    assert result.counts["body:text/plain:address"] == 3
    assert result.counts["body:text/plain:name"] == 1
    assert "header:return-path:address" not in result.counts
    assert not result.byte_level
    assert result.total == sum(result.counts.values())


def test_a_clear_address_inside_a_kept_field_is_redacted_but_a_verp_form_is_kept() -> None:
    raw = crlf(
        "Return-Path: <bounce-jean.dupont=example.org@mailer.example.net>\n"
        f"List-Unsubscribe: <mailto:unsub@mailer.example.net?subject={ADDRESS}>,\n"
        " <https://mailer.example.net/u?e=jean.dupont%40example.org&v=jean.dupont=example.org>\n"
        f"Feedback-ID: {ADDRESS}:c1\n"
        "Content-Type: text/plain\n\nx\n"
    )
    out = redact(raw)
    t = token()
    assert fields(out)["return-path"] == fields(raw)["return-path"]
    assert fields(out)["list-unsubscribe"] == [
        f"List-Unsubscribe: <mailto:unsub@mailer.example.net?subject={t}@example.org>,\r\n"
        f" <https://mailer.example.net/u?e={t}%40example.org&v=jean.dupont=example.org>".encode()
    ]
    assert fields(out)["feedback-id"] == [f"Feedback-ID: {t}@example.org:c1".encode()]


ALTERNATIVE = """From: Shop <news@shop.example.net>
To: jean.dupont@example.org
Subject: =?utf-8?Q?Votre_colis?=
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="b1"

--b1
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: base64

{b64}
--b1
Content-Type: text/html; charset=utf-8
Content-Transfer-Encoding: quoted-printable

{qp}
--b1--
"""

PLAIN_TEXT = (
    "Bonjour Jean Dupont,\n"
    "Compte : jean.dupont@example.org\n"  # three alignments of the address in the base64 stream
    "ab jean.dupont@example.org\n"
    "x JEAN.DUPONT@EXAMPLE.ORG\n"
    "Lien : https://t.example.net/c?e=jean.dupont%40example.org&k=1\n"
    "Merci, à bientôt.\n"
)
HTML_TEXT = (
    "<html><body><p>Dear Jean,</p>\n"
    '<p><a href="mailto:jean.dupont@example.org">Jean Dupont</a>\n'
    '<img src="https://t.example.net/o.gif?u=jean.dupont%40example.org&amp;r=2">\n'
    '<a href="https://t.example.net/u?e=jean.dupont%2540example.org">unsubscribe</a>\n'
    "<span>jean.dupont&#64;example.org</span> <span>jean.dupont&#x40;example.org</span>\n"
    "<span>jean.dupont&commat;example.org</span>\n"
    "<span>" + "".join(f"&#{ord(c)};" for c in ADDRESS) + "</span>\n"
    "<span>JEAN&#46;DUPONT&#64;EXAMPLE&#46;ORG</span>\n"
    "<p>Sent to jean.dupont@example.org by the shop, caf\u00e9 et cr\u00e8me.</p></body></html>\n"
)


def _b64_lines(data: bytes, width: int = 76) -> str:
    encoded = base64.b64encode(data).decode()
    return "\n".join(encoded[i : i + width] for i in range(0, len(encoded), width))


def alternative(newline: str = "\n") -> bytes:
    qp = quopri.encodestring(HTML_TEXT.encode()).decode()
    qp = qp.replace("jean.dupont@example.org by", "jean.du=\npont=40example.org by")  # soft break in the address
    assert "jean.du=\npont=40example.org" in qp
    text = ALTERNATIVE.format(b64=_b64_lines(PLAIN_TEXT.encode()), qp=qp)
    return text.replace("\n", newline).encode()


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_base64_and_quoted_printable_parts_and_html(newline: str) -> None:
    raw = alternative(newline)
    out = redact(raw)
    t = token()
    plain, page = texts(out)
    assert plain == (
        "Bonjour [redacted],\n"
        f"Compte : {t}@example.org\n"
        f"ab {t}@example.org\n"
        f"x {t}@EXAMPLE.ORG\n"
        f"Lien : https://t.example.net/c?e={t}%40example.org&k=1\n"
        "Merci, à bientôt.\n"
    )
    assert page == (
        "<html><body><p>Dear [redacted],</p>\n"
        f'<p><a href="mailto:{t}@example.org">[redacted]</a>\n'
        f'<img src="https://t.example.net/o.gif?u={t}%40example.org&amp;r=2">\n'
        f'<a href="https://t.example.net/u?e={t}%2540example.org">unsubscribe</a>\n'
        f"<span>{t}&#64;example.org</span> <span>{t}&#x40;example.org</span>\n"
        f"<span>{t}&commat;example.org</span>\n"
        f"<span>{t}&#64;&#101;&#120;&#97;&#109;&#112;&#108;&#101;&#46;&#111;&#114;&#103;</span>\n"
        f"<span>{t}&#64;EXAMPLE&#46;ORG</span>\n"
        f"<p>Sent to {t}@example.org by the shop, caf\u00e9 et cr\u00e8me.</p></body></html>\n"
    ).replace("\n", newline)
    body = out.split(b"Content-Transfer-Encoding: base64" + newline.encode() * 2)[1]
    assert body.split(newline.encode())[0] and len(body.split(newline.encode())[0]) == 76  # same line length
    if newline == "\r\n":
        assert b"\n" not in out.replace(b"\r\n", b"")


def test_quoted_printable_equals_forty_in_decoded_text_is_redacted() -> None:
    # "=40" survives quoted-printable decoding only when it was written "=3D40": still the address, redacted.
    raw = crlf(
        "Content-Type: text/plain\nContent-Transfer-Encoding: quoted-printable\n\nid jean.dupont=3D40example.org\n"
    )
    out = redact(raw)
    assert texts(out) == [f"id {token()}=40example.org\r\n"]


ENCODED_WORDS = """From: =?utf-8?Q?Boutique_=C3=A9t=C3=A9?= <shop@shop.example.net>
To: =?utf-8?Q?Jean_Dupont?= <jean.dupont@example.org>
Cc: =?utf-8?B?{b64_whole}?=
Reply-To: =?utf-8?Q?Jean_Dupont_<jean.du?= =?utf-8?Q?pont@example.org>?=
Subject: =?iso-8859-1?Q?Bonjour_Jean_Dupont=2C_votre_facture_jean=2Edupont=40example=2Eorg?=
X-Campaign: =?utf-8?B?{b64_address}?=
Content-Type: text/plain; charset=us-ascii

Hello.
"""


def test_encoded_words_in_headers() -> None:
    raw = crlf(
        ENCODED_WORDS.format(
            b64_whole=base64.b64encode(b'"Jean Dupont" <jean.dupont@example.org>').decode(),
            b64_address=base64.b64encode(ADDRESS.encode()).decode(),
        )
    )
    out = redact(raw)
    t = token()
    msg = email.message_from_bytes(out, policy=compat32)
    decoded = {k.lower(): _header_text(v) for k, v in msg.items()}
    assert decoded["from"] == "Boutique été <shop@shop.example.net>"
    assert decoded["to"] == f"redacted <{t}@example.org>"
    assert decoded["cc"] == f'"redacted" <{t}@example.org>'
    assert f"{t}@example.org" in decoded["reply-to"] and "Jean" not in decoded["reply-to"]
    assert decoded["subject"] == f"Bonjour redacted, votre facture {t}@example.org"
    assert decoded["x-campaign"] == f"{t}@example.org"
    assert fields(out)["from"] == fields(raw)["from"]  # untouched encoded-words stay byte for byte
    assert fields(out)["subject"][0].startswith(b"Subject: =?iso-8859-1?Q?Bonjour_redacted=2C_")


NESTED = """From: "Jean Dupont" <jean.dupont@example.org>
To: signal@report.example
Subject: Fwd: phishing
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="outer"

--outer
Content-Type: text/plain; charset=utf-8

Here is the message I received.
--outer
Content-Type: message/rfc822

Received: from evil.example.net by mx.example.org for <jean.dupont@example.org>; Mon, 1 Jan 2024 10:00:00 +0000
From: Bank <alert@evil.example.net>
To: Jean Dupont <jean.dupont@example.org>
Subject: Account locked
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="inner"

--inner
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: base64

{b64}
--inner
Content-Type: text/html; charset=utf-8

<a href="https://evil.example.net/login#{fragment}">Verify</a>
--inner--

--outer--
"""


def test_nested_message_rfc822() -> None:
    inner_text = "Dear Jean Dupont,\nYour account jean.dupont@example.org is locked.\n"
    fragment = base64.b64encode(ADDRESS.encode()).decode()  # phishing kits pre-fill the victim's address
    raw = crlf(NESTED.format(b64=_b64_lines(inner_text.encode()), fragment=fragment))
    out = redact(raw)
    t = token()
    assert fields(out)["from"] == [f'From: "redacted" <{t}@example.org>'.encode()]
    inner = next(p for p in email.message_from_bytes(out, policy=compat32).walk() if p["Subject"] == "Account locked")
    assert inner["To"] == f"redacted <{t}@example.org>"
    assert f"for <{t}@example.org>" in inner["Received"]
    assert texts(out) == [
        "Here is the message I received.",
        f"Dear [redacted],\nYour account {t}@example.org is locked.\n",
        '<a href="https://evil.example.net/login#'
        + base64.b64encode(f"{t}@example.org".encode()).decode()
        + '">Verify</a>',  # the line break before a boundary belongs to the boundary
    ]
    counts = redact_message(raw, [ADDRESS], KEY).counts
    assert counts["rfc822>header:to:address"] == 1
    assert counts["rfc822>body:text/html:address"] == 1


GREETINGS = """From: shop@shop.example.net
To: "Hélène Martin" <helene.martin@example.org>
Subject: =?iso-8859-1?Q?Bonjour_H=E9l=E8ne?=
Content-Type: multipart/alternative; boundary="g"

--g
Content-Type: text/plain; charset=iso-8859-1
Content-Transfer-Encoding: quoted-printable

{qp}
--g
Content-Type: text/html; charset=utf-8

<p>Dear John,</p><p>Hello John Smith, H&eacute;l&egrave;ne Martin and HÉLÈNE MARTIN.</p>
<p>Bonjour Madame Durand,</p>
<p>Hello World!</p>
--g--
"""


def test_names_in_greetings_and_text() -> None:
    plain = "Bonjour Hélène,\nHello John Smith,\nhello john,\nCher client,\nDear Mr. Brown,\nMerci HÉLÈNE MARTIN.\n"
    raw = crlf(GREETINGS.format(qp=quopri.encodestring(plain.encode("latin-1")).decode()))
    result = redact_message(raw, ["helene.martin@example.org"], KEY, names=["John Smith"])
    assert_no_leak(result.data, "helene.martin@example.org")
    assert structure(result.data) == structure(raw)
    t = token("helene.martin@example.org")
    assert fields(result.data)["to"] == [f'To: "redacted" <{t}@example.org>'.encode()]
    assert _header_text(email.message_from_bytes(result.data)["Subject"]) == "Bonjour redacted"
    assert texts(result.data) == [
        "Bonjour [redacted],\r\nHello [redacted],\r\nhello [redacted],\r\nCher client,\r\n"
        "Dear Mr. [redacted],\r\nMerci [redacted].\r\n",
        "<p>Dear [redacted],</p><p>Hello [redacted], [redacted] and [redacted].</p>\r\n"
        "<p>Bonjour Madame [redacted],</p>\r\n"
        "<p>Hello World!</p>",  # generic words after a greeting are not names
    ]


@pytest.mark.parametrize(("bom", "codec"), [(codecs.BOM_UTF16_BE, "utf-16-be"), (b"", "utf-16-be"), (b"", "utf-16-le")])
def test_utf16_text_part(bom: bytes, codec: str) -> None:
    text = "Bonjour Jean Dupont,\nvotre adresse jean.dupont@example.org.\n"
    body = _b64_lines(bom + text.encode(codec))
    raw = crlf(f"Content-Type: text/plain; charset=utf-16\nContent-Transfer-Encoding: base64\n\n{body}\n")
    out = redact(raw)
    part = email.message_from_bytes(out, policy=compat32).get_payload(decode=True)
    assert isinstance(part, bytes) and part.startswith(bom)
    assert part[len(bom) :].decode(codec) == f"Bonjour [redacted],\nvotre adresse {token()}@example.org.\n"


def test_attachment_bytes_and_filenames() -> None:
    payload = b"%PDF-1.4 owner: jean.dupont@example.org " + "jean.dupont@example.org".encode("utf-16-le")
    raw = crlf(
        "Content-Type: multipart/mixed; boundary=m\n\n--m\nContent-Type: text/plain\n\nsee attached\n--m\n"
        'Content-Type: application/pdf; name="jean.dupont@example.org.pdf"\n'
        "Content-Disposition: attachment; filename*=utf-8''jean.dupont%40example.org.pdf\n"
        f"Content-Transfer-Encoding: base64\n\n{_b64_lines(payload)}\n--m--\n"
    )
    out = redact(raw)
    pdf = next(p for p in email.message_from_bytes(out, policy=compat32).walk() if p.get_filename())
    assert pdf.get_filename() == f"{token()}@example.org.pdf"
    assert "jean.dupont".encode("utf-16-le") not in pdf.get_payload(decode=True)


def test_untouched_parts_stay_byte_for_byte() -> None:
    raw = alternative("\r\n").replace(b"Subject: =?utf-8?Q?Votre_colis?=", b"Subject: hi")
    raw = raw.replace(
        b"--b1--", b"--b1\r\nContent-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n--b1--"
    )
    out = redact(raw)
    assert (
        b"\r\n--b1\r\nContent-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n--b1--" in out
    )
    assert out.startswith(b"From: Shop <news@shop.example.net>\r\nTo: ")


# ---------------------------------------------------------------------------------------------------------------
# Header block only


def test_redact_headers_gives_the_redacted_header_block_alone() -> None:
    raw = crlf(PLAIN)
    whole = redact_message(raw, [ADDRESS, ALIAS], KEY, names=NAMES).data
    head = redact_headers(raw, [ADDRESS, ALIAS], KEY, names=NAMES)
    assert whole.startswith(head.data + b"\r\n")
    assert b"Bonjour" not in head.data
    assert_no_leak(head.data, ADDRESS, ALIAS)
    assert head.counts["header:to:address"] == 1
    alone = raw.split(b"\r\n\r\n")[0] + b"\r\n"  # a header block without its message
    assert redact_headers(alone, [ADDRESS, ALIAS], KEY, names=NAMES).data == head.data


# ---------------------------------------------------------------------------------------------------------------
# Refusing rather than leaking


def test_an_address_that_cannot_be_redacted_is_refused() -> None:
    # uuencoded content: the email package decodes it, this module does not: no output at all.
    line = binascii.b2a_uu(b"owner jean.dupont@example.org").decode()
    raw = crlf(f"Content-Type: text/plain\nContent-Transfer-Encoding: x-uuencode\n\nbegin 644 a.txt\n{line}`\nend\n")
    with pytest.raises(RedactionError, match="could not be redacted") as caught:
        redact_message(raw, [ADDRESS], KEY)
    assert caught.value.places


def test_when_the_structured_pass_fails_the_byte_level_pass_redacts_or_refuses(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(*args: object) -> bytes:
        raise ValueError("parser failure")

    monkeypatch.setattr(redact_module._Run, "part", broken)
    raw = crlf(f"To: Jean Dupont <{ADDRESS}>\nContent-Type: text/plain\n\nwrite to {ADDRESS}\n")
    result = redact_message(raw, [ADDRESS], KEY, names=NAMES)
    assert result.byte_level
    assert_no_leak(result.data, ADDRESS)
    assert result.data == crlf(
        f"To: [redacted] <{token()}@example.org>\nContent-Type: text/plain\n\nwrite to {token()}@example.org\n"
    )

    # base64 whose lines cut the address: only MIME decoding could find it, and this pass has none
    in_base64 = crlf(f"Content-Transfer-Encoding: base64\n\n{_b64_lines(b'x ' + ADDRESS.encode(), 12)}\n")
    with pytest.raises(RedactionError):
        redact_message(in_base64, [ADDRESS], KEY)


# ---------------------------------------------------------------------------------------------------------------
# Real messages


def _recipients(raw: bytes) -> list[str]:
    msg = email.message_from_bytes(raw, policy=compat32)
    values = [_header_text(v) for name in ("To", "Delivered-To", "X-Original-To") for v in msg.get_all(name) or []]
    found = (a.lower() for _, a in getaddresses(values) if re.fullmatch(r"[^@\s]+@[^@\s]+", a) and a.isascii())
    return list(dict.fromkeys(found))


def test_real_newsletter_keeps_what_lets_the_sender_act() -> None:
    raw = (FIXTURES / "ham-newsletter-mailchimp-dkim.eml").read_bytes()
    reporter = "dpinnix@coastbankcalifornia.com"
    result = redact_message(raw, [reporter], KEY)
    assert_no_leak(result.data, reporter)
    assert structure(result.data) == structure(raw)
    for name in ("return-path", "message-id", "feedback-id", "list-unsubscribe", "list-unsubscribe-post"):
        assert fields(result.data)[name] == fields(raw)[name], name
    assert b"bounce-mc.us14_65794145.395229-dpinnix=coastbankcalifornia.com@" in result.data  # VERP kept
    assert fields(result.data)["to"] == [f"To: <{token(reporter)}@coastbankcalifornia.com>".encode()]


def test_real_french_newsletter_quoted_printable_body() -> None:
    raw = (FIXTURES / "ham-fr-newsletter-latin1-dkim-images.eml").read_bytes()
    reporter = "rollierjocelyne@fake.com"
    result = redact_message(raw, [reporter], KEY)
    assert_no_leak(result.data, reporter)
    assert structure(result.data) == structure(raw)
    assert result.counts["body:text/plain:address"] >= 1
    assert result.counts["body:text/html:address"] >= 1
    assert fields(result.data)["feedback-id"] == fields(raw)["feedback-id"]
    before, after = texts(raw), texts(result.data)
    assert [t.replace(reporter, "X") for t in before] == [t.replace(f"{token(reporter)}@fake.com", "X") for t in after]


def test_real_arf_report_with_a_nested_message() -> None:
    raw = (FIXTURES / "arf-hotmail-auth-failure-via-google-groups.eml").read_bytes()
    reporters = ["foobar@sas.upenn.edu", "foobar@sendgrid.com"]
    result = redact_message(raw, reporters, KEY)
    assert_no_leak(result.data, *reporters)
    assert structure(result.data) == structure(raw)
    assert any(k.startswith("rfc822>header:") for k in result.counts)
    assert b"bounces+898596-fd77-foobar=sas.upenn.edu@sendgrid.net" in result.data  # VERP kept


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("*.eml")), ids=lambda p: p.name)
def test_every_fixture_with_its_recipient_as_reporter(path: Path) -> None:
    raw = path.read_bytes()
    reporters = _recipients(raw)
    if not reporters:
        pytest.skip("no recipient address")
    result = redact_message(raw, reporters, KEY)
    assert_no_leak(result.data, *reporters)
    assert structure(result.data) == structure(raw)
    email.message_from_bytes(result.data, policy=compat32)


def _corpus_sample(count: int = 200) -> list[Path]:
    files = sorted(p for p in CORPUS.rglob("*") if p.is_file() and p.suffix not in (".md", ".csv"))
    step = max(1, len(files) // count)
    return files[::step][:count]


def test_corpus_sample_never_leaks() -> None:
    """200 real messages (spread over the corpus), the To address as the reporter's: parse back, no leak."""
    if not CORPUS.is_dir():
        pytest.skip("corpus not present")
    done = refused = 0
    for path in _corpus_sample():
        raw = path.read_bytes()
        reporters = _recipients(raw)[:3]
        if not reporters:
            continue
        try:
            result = redact_message(raw, reporters, KEY)
        except RedactionError:
            refused += 1
            continue
        problems = [(a, leaks(result.data, a)) for a in reporters if leaks(result.data, a)]
        assert problems == [], path.name
        assert structure(result.data) == structure(raw), path.name
        before, after = fields(raw), fields(result.data)
        for name in KEPT:  # kept byte for byte unless the field itself holds the address
            if not any(a.split("@")[0].encode() in b"".join(before.get(name, [])).lower() for a in reporters):
                assert after.get(name) == before.get(name), (path.name, name)
        done += 1
    assert done >= 150
    assert refused <= 2
