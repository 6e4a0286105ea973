"""Authentication results: only from the trusted receiving system. Headers follow the formats providers write:
Gmail (`mx.google.com; dkim=pass header.i=@d header.s=s header.b=...; spf=...; dmarc=pass (p=NONE sp=NONE
dis=NONE) header.from=d`, placed just below its border Received field), Exchange Online (no authserv-id, above its
border Received field), ARC-Authentication-Results with `i=`."""

from __future__ import annotations

import dataclasses
import email
from email.message import Message
from email.policy import compat32

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from signalement.mail.authresults import authentication, parse_authentication_results, parse_signature
from signalement.mail.trust import TrustContext

GMAIL_TOP = "Received: by 2002:a05:7108:3e8a:b0:2f1:1c1e:59a3 with SMTP id p10csp1; Tue, 3 Nov 2026 02:00:01 -0800"
GMAIL_BORDER = (
    "Received: from mail.example.net (mail.example.net. [198.51.100.23]) by mx.google.com with ESMTPS id x1si2 "
    "for <victim@gmail.com>; Tue, 03 Nov 2026 02:00:00 -0800 (PST)"
)
GMAIL_SPF = (
    "Received-SPF: pass (google.com: domain of bounce@mail.example.net designates 198.51.100.23 as permitted "
    "sender) client-ip=198.51.100.23;"
)
GMAIL_AR = (
    "Authentication-Results: mx.google.com; dkim=pass header.i=@example.net header.s=s1 header.b=AbCd; "
    "spf=pass (google.com: domain of bounce@mail.example.net designates 198.51.100.23 as permitted sender) "
    "smtp.mailfrom=bounce@mail.example.net; dmarc=pass (p=REJECT sp=REJECT dis=NONE) header.from=example.net"
)
SIGNATURE = (
    "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.net; s=s1; t=1762164000; x=1762768800;\r\n"
    " h=From:To:Subject:Date:Message-ID; bh=abc=; b=AbCdEf=="
)
FORGED_AR = "Authentication-Results: mx.google.com; dkim=pass header.d=paypal.com; spf=pass smtp.mailfrom=paypal.com"


def message(*fields: str, sender: str = "From: Service <service@example.net>") -> Message:
    raw = "\r\n".join([*fields, sender, "Subject: x"]) + "\r\n\r\nbody\r\n"
    return email.message_from_bytes(raw.encode(), policy=compat32)


def test_gmail_results_are_read_and_a_forged_block_below_is_ignored() -> None:
    msg = message(GMAIL_TOP, GMAIL_BORDER, GMAIL_SPF, GMAIL_AR, FORGED_AR, SIGNATURE)
    result = authentication(msg, "example.net")
    assert result.authserv_id == "mx.google.com" and result.trusted_by == "registry:gmail"
    assert result.spf is not None and (result.spf.result, result.spf.domain) == ("pass", "mail.example.net")
    assert result.spf.aligned and not result.spf.strict
    assert [(d.result, d.domain, d.selector, d.aligned) for d in result.dkim] == [("pass", "example.net", "s1", True)]
    assert result.dkim[0].headers == ("from", "to", "subject", "date", "message-id")
    assert result.dkim[0].algorithm == "rsa-sha256"
    assert result.dmarc is not None and (result.dmarc.result, result.dmarc.policy) == ("pass", "reject")
    assert all(d.domain != "paypal.com" for d in result.dkim)


def test_a_forged_gmail_block_alone_is_not_trusted() -> None:
    # Delivered by an unknown system that writes no results: the only results are the sender's own.
    msg = message(
        "Received: from mail.spam.example (mail.spam.example [198.51.100.23]) by mx.example.org (Postfix) "
        "with ESMTP id 1; Tue, 3 Nov 2026 10:00:00 +0000",
        "Subject: hello",
        FORGED_AR,
    )
    result = authentication(msg, "paypal.com")
    assert result.trusted_by is None and result.dkim == [] and result.spf is None
    assert result.note is not None


def test_exchange_online_results_without_authserv_id() -> None:
    msg = message(
        "Received: from DB8P191CA0014.outlook.office365.com (2603:10a6:10:130::24) by "
        "SJ0PR19MB6679.namprd19.prod.outlook.com (2603:10b6:a03:477::19) with Microsoft SMTP Server id 15.20.6768.30;"
        " Fri, 8 Sep 2023 05:47:04 +0000",
        "Authentication-Results: spf=softfail (sender IP is 198.51.100.44) smtp.mailfrom=lookalike.example; "
        "dkim=fail (body hash did not verify) header.d=example.net;dmarc=fail action=quarantine "
        "header.from=example.net;compauth=fail reason=000",
        "Received-SPF: SoftFail (protection.outlook.com: domain of transitioning lookalike.example discourages "
        "use of 198.51.100.44 as permitted sender)",
        "Received: from lookalike.example (198.51.100.44) by DB8P191CA0014.mail.protection.outlook.com "
        "(10.233.253.34) with Microsoft SMTP Server id 15.20.6768.30 via Frontend Transport; "
        "Fri, 8 Sep 2023 05:47:04 +0000",
        "Authentication-Results: spf=pass smtp.mailfrom=example.net; dmarc=pass header.from=example.net",
    )
    result = authentication(msg, "example.net")
    assert result.authserv_id is None and result.trusted_by == "registry:microsoft"
    assert result.spf is not None and result.spf.result == "softfail" and result.spf.aligned is False
    assert result.dmarc is not None and result.dmarc.result == "fail"
    assert result.dkim[0].result == "fail" and result.dkim[0].aligned


def test_member_authserv_id_and_arc_fallback() -> None:
    msg = message(
        "ARC-Authentication-Results: i=1; mx.example.org; spf=pass smtp.mailfrom=sub.example.net; dmarc=pass "
        "policy.published-domain-policy=none header.from=example.net; arc=none",
        "Received: from mail.example.net (mail.example.net [198.51.100.23]) by mx.example.org (Postfix) with ESMTP "
        "id 1; Tue, 3 Nov 2026 10:00:00 +0000",
    )
    context = TrustContext(authserv_ids=("mx.example.org",))
    result = authentication(msg, "example.net", context)
    assert result.trusted_by == "member" and result.from_arc
    assert result.spf is not None and result.spf.aligned and not result.spf.strict
    assert result.dmarc is not None and result.dmarc.policy == "none"
    assert result.arc == "none"
    assert authentication(msg, "example.net").trusted_by is None


def test_dmarc_alignment_cases() -> None:
    fields = (GMAIL_TOP, GMAIL_BORDER, GMAIL_AR)
    assert authentication(message(*fields), "example.net").dkim[0].strict
    other = authentication(message(*fields), "example.com")
    assert other.dkim[0].aligned is False and other.spf is not None and other.spf.aligned is False
    sub = authentication(message(*fields), "news.example.net")
    assert sub.dkim[0].aligned and not sub.dkim[0].strict
    assert authentication(message(*fields), None).dkim[0].aligned is None


def test_no_received_keeps_signatures_unverified() -> None:
    result = authentication(message(SIGNATURE, GMAIL_AR), "example.net")
    assert result.trusted_by is None and result.note and "no Received" in result.note
    assert result.signatures[0].domain == "example.net" and result.signatures[0].aligned


def test_parsers() -> None:
    field = parse_authentication_results('mx.example.org 1; dkim=pass (good) header.d=x.example reason="a;b"; spf=none')
    assert field.authserv_id == "mx.example.org"
    assert [(m, r) for m, r, _, _ in field.results] == [("dkim", "pass"), ("spf", "none")]
    assert parse_authentication_results("mx.example.org; none").results == []
    signature = parse_signature("v=1; a=ed25519-sha256; d=Example.NET; s=k; l=100; i=@news.example.net; h=From : To")
    assert signature.has_length and signature.headers == ("from", "to") and signature.domain == "example.net"


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=400), st.text(max_size=200))
def test_arbitrary_header_text_never_raises(value: str, other: str) -> None:
    parse_authentication_results(value)
    parse_authentication_results(value, arc=True)
    parse_signature(other)
    clean = "".join(c for c in value if c.isprintable() and c not in "\r\n")
    msg = message(
        GMAIL_TOP, GMAIL_BORDER, f"Authentication-Results: {clean}", f"DKIM-Signature: {clean}", f"Received: {clean}"
    )
    authentication(msg, clean or None)


def test_authentication_json_is_the_dataclass_as_a_dict() -> None:
    msg = message(GMAIL_TOP, GMAIL_BORDER, GMAIL_SPF, GMAIL_AR, FORGED_AR, SIGNATURE)
    result = authentication(msg, "example.net")
    assert result.spf is not None and result.dmarc is not None and result.dkim and result.signatures
    assert result.as_json() == dataclasses.asdict(result) and list(result.as_json()) == list(dataclasses.asdict(result))
    empty = authentication(message(), "example.net")
    assert empty.as_json() == dataclasses.asdict(empty)


def test_a_result_read_again_is_the_same_and_read_only() -> None:
    value = "mx.example.org; dkim=pass header.d=example.net header.s=s1; spf=pass smtp.mailfrom=example.net"
    first, again = parse_authentication_results(value), parse_authentication_results(value)
    assert first == again
    assert first.results[0][2] == {"header.d": "example.net", "header.s": "s1"}
    with pytest.raises(TypeError):  # shared between messages
        first.results[0][2]["header.d"] = "forged.example"  # type: ignore[index]
