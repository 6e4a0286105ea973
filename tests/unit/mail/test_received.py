"""Received fields in the formats real MTAs write. Each header is written here in the documented or observed
format of its MTA (Postfix smtpd_received_header, Sendmail's Received macro, Exim received_header_text, qmail-smtpd,
Exchange/Exchange Online, Gmail), with documentation addresses for the senders."""

from __future__ import annotations

import dataclasses
import email
import ipaddress
import re
from email.policy import compat32
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from signalement.mail import received
from signalement.mail.received import (
    MAX_HOPS,
    Hop,
    Reading,
    header_fields,
    hops,
    ip_object,
    ip_value,
    normalize_ip,
    parse_date,
    parse_received,
    received_ip,
)

CASES: list[tuple[str, str, dict[str, Any]]] = [
    (
        "postfix",
        "from mail.example.net (mail.example.net [192.0.2.10]) (using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 "
        "(256/256 bits) key-exchange X25519) (No client certificate requested) by mx.example.org (Postfix) "
        "with ESMTPS id 4XyZ12 for <bob@example.org>; Tue, 3 Nov 2026 10:00:00 +0100 (CET)",
        {
            "helo": "mail.example.net",
            "rdns": "mail.example.net",
            "ip": "192.0.2.10",
            "by_host": "mx.example.org",
            "protocol": "ESMTPS",
            "tls": "TLSv1.3 TLS_AES_256_GCM_SHA384",
            "id": "4XyZ12",
            "for_": "bob@example.org",
            "received_at": "2026-11-03T09:00:00+00:00",
        },
    ),
    (
        "postfix-unknown-rdns",
        "from helo.invalid (unknown [198.51.100.7]) by mx.example.org (Postfix) with ESMTP id 1; "
        "Tue, 3 Nov 2026 10:00:00 +0000",
        {"helo": "helo.invalid", "rdns": None, "ip": "198.51.100.7", "tls": False},
    ),
    (
        "sendmail",
        "from client.example.net (host.example.net [203.0.113.5] (may be forged)) by mx.example.org "
        "(8.15.2/8.15.2) with ESMTPS id 0A3A0abc (version=TLSv1.3 cipher=TLS_AES_256_GCM_SHA384 bits=256 "
        "verify=NOT) for <bob@example.org>; Tue, 3 Nov 2026 10:00:00 -0500",
        {
            "helo": "client.example.net",
            "rdns": "host.example.net",
            "ip": "203.0.113.5",
            "tls": "TLSv1.3 TLS_AES_256_GCM_SHA384",
            "received_at": "2026-11-03T15:00:00+00:00",
            "defects": ("rdns-may-be-forged",),
        },
    ),
    (
        "exim",
        "from host.example.net ([192.0.2.20]:51234 helo=laptop.local) by mx.example.org with esmtpsa (TLS1.3) "
        "tls TLS_AES_256_GCM_SHA384 (Exim 4.96) (envelope-from <a@example.net>) id 1qAbCd-000Xyz-2Z "
        "for bob@example.org; Tue, 03 Nov 2026 10:00:00 +0000",
        {
            "helo": "laptop.local",
            "rdns": "host.example.net",
            "ip": "192.0.2.20",
            "protocol": "esmtpsa",
            "tls": "TLS1.3 TLS_AES_256_GCM_SHA384",
            "id": "1qAbCd-000Xyz-2Z",
        },
    ),
    (
        "exim-no-rdns",
        "from [192.0.2.21] (helo=foo) by mx.example.org with esmtp (Exim 4.96) id 1abc; "
        "Tue, 03 Nov 2026 10:00:00 +0000",
        {"helo": "foo", "rdns": None, "ip": "192.0.2.21"},
    ),
    (
        "qmail",
        "from unknown (HELO mail.example.net) (198.51.100.9) by mail.example.org with SMTP; 3 Nov 2026 10:00:00 -0000",
        {"helo": "mail.example.net", "rdns": None, "ip": "198.51.100.9", "protocol": "SMTP"},
    ),
    (
        "qmail-user",
        "from host.example.net (HELO x) (user@203.0.113.8) by mail.example.org with SMTP; 3 Nov 2026 10:00:00 -0000",
        {"helo": "x", "rdns": "host.example.net", "ip": "203.0.113.8"},
    ),
    (
        "qmail-note",
        "(qmail 12345 invoked from network); 3 Nov 2026 10:00:00 -0000",
        {"helo": None, "ip": None, "by_host": None},
    ),
    (
        "exchange-online-border",
        "from sender.example.net (198.51.100.44) by DB8EUR06FT032.mail.protection.outlook.com (10.233.253.34) "
        "with Microsoft SMTP Server (version=TLS1_2, cipher=TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384) "
        "id 15.20.6768.30 via Frontend Transport; Fri, 8 Sep 2023 05:47:04 +0000",
        {
            "helo": "sender.example.net",
            "ip": "198.51.100.44",
            "by_host": "db8eur06ft032.mail.protection.outlook.com",
            "by_ip": "10.233.253.34",
            "protocol": "Microsoft SMTP Server",
            "tls": "TLS1_2 TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
            "id": "15.20.6768.30",
            "via": "Frontend Transport",
        },
    ),
    (
        "exchange-ipv6",
        "from DB8EUR06FT032.eop-eur06.prod.protection.outlook.com (2603:10a6:10:130:cafe::9b) by "
        "DB8P191CA0014.outlook.office365.com (2603:10a6:10:130::24) with Microsoft SMTP Server "
        "(version=TLS1_2, cipher=TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384) id 15.20.6768.30 via Frontend Transport; "
        "Fri, 8 Sep 2023 05:47:04 +0000",
        {"ip": "2603:10a6:10:130:cafe::9b", "by_ip": "2603:10a6:10:130::24"},
    ),
    (
        "exchange-mapi",
        "from AM0PR01MB1234.eurprd01.prod.outlook.com ([fe80::1c2d:3e4f:5a6b:7c8d]) by "
        "AM0PR01MB1234.eurprd01.prod.outlook.com ([fe80::1c2d:3e4f:5a6b:7c8d%5]) with mapi id 15.20.7000.000; "
        "Fri, 8 Sep 2023 05:47:04 +0000",
        {"ip": "fe80::1c2d:3e4f:5a6b:7c8d", "by_ip": "fe80::1c2d:3e4f:5a6b:7c8d", "protocol": "mapi"},
    ),
    (
        "gmail-mx",
        "from mail-sor-f41.google.com (mail-sor-f41.google.com. [209.85.220.41]) by mx.google.com with SMTPS id "
        "a1sor12.2023.02.13.23.51.09 for <bob@gmail.com> (Google Transport Security); "
        "Mon, 13 Feb 2023 23:51:09 -0800 (PST)",
        {
            "helo": "mail-sor-f41.google.com",
            "rdns": "mail-sor-f41.google.com",
            "ip": "209.85.220.41",
            "by_host": "mx.google.com",
            "tls": True,
            "received_at": "2023-02-14T07:51:09+00:00",
        },
    ),
    (
        "gmail-esmtpsa",
        "from [127.0.0.1] ([203.0.113.77]) by smtp.gmail.com with ESMTPSA id v19sm48.2023 for <x@example.org> "
        "(version=TLS1_3 cipher=TLS_AES_256_GCM_SHA384 bits=256/256); Mon, 21 Aug 2023 18:03:47 -0700 (PDT)",
        {"helo": "[127.0.0.1]", "ip": "203.0.113.77", "protocol": "ESMTPSA", "tls": "TLS1_3 TLS_AES_256_GCM_SHA384"},
    ),
    (
        "gmail-internal-by-only",
        "by 2002:a05:6504:16d6:b0:203:671c:d426 with HTTP; Sun, 25 Dec 2022 14:18:59 -0800 (PST)",
        {"ip": None, "by_host": "2002:a05:6504:16d6:b0:203:671c:d426", "protocol": "HTTP"},
    ),
    (
        "ipv6-literal",
        "from [IPv6:2001:db8::1] (unknown [IPv6:2001:db8::1]) by mx.example.org (Postfix) with ESMTP id 9; "
        "Tue, 3 Nov 2026 10:00:00 +0000",
        {"ip": "2001:db8::1"},
    ),
    (
        "ipv4-mapped",
        "from h (h [IPv6:::ffff:192.0.2.3]) by mx.example.org with ESMTP; Tue, 3 Nov 2026 10:00:00 +0000",
        {"ip": "192.0.2.3"},
    ),
    (
        "webmail-via-http",
        "from [192.0.2.50] ([192.0.2.50]) by web-mail.gmx.net (3c-app-gmx-bap05.server.lan [172.19.172.75]) "
        "(via HTTP); Tue, 3 Nov 2026 10:00:00 +0100",
        {"ip": "192.0.2.50", "by_host": "web-mail.gmx.net", "by_ip": "172.19.172.75", "via": "HTTP"},
    ),
    (
        "yahoo-http",
        "from 127.0.0.1 by atlas-production.v2-mail-prod1-gq1.omega.yahoo.com pod-id NONE with HTTP; "
        "Tue, 3 Nov 2026 10:00:00 +0000",
        {"ip": "127.0.0.1", "by_host": "atlas-production.v2-mail-prod1-gq1.omega.yahoo.com", "protocol": "HTTP"},
    ),
    (
        "fetchmail",
        "from pop.example.net [192.0.2.60] by localhost with IMAP (fetchmail-6.4.37) for <bob@localhost> "
        "(single-drop); Tue, 03 Nov 2026 10:00:00 +0100 (CET)",
        {"helo": "pop.example.net", "ip": "192.0.2.60", "by_host": "localhost", "protocol": "IMAP"},
    ),
    (
        "orange-esmtp-id",
        "from [192.168.1.20] ([198.51.100.90]) by smtp.orange.fr with ESMTPA id AbCdEf; "
        "Tue, 03 Nov 2026 10:00:00 +0100",
        {"ip": "198.51.100.90", "by_host": "smtp.orange.fr", "protocol": "ESMTPA", "id": "AbCdEf"},
    ),
]


@pytest.mark.parametrize(("value", "expected"), [(v, e) for _, v, e in CASES], ids=[n for n, _, _ in CASES])
def test_real_formats(value: str, expected: dict[str, Any]) -> None:
    hop = parse_received(value)
    for name, wanted in expected.items():
        assert getattr(hop, name) == wanted, name


def test_hops_are_top_first_capped_and_positioned() -> None:
    raw = b"".join(
        b"Received: from h%d (h [192.0.2.%d]) by mx%d.example.org; Tue, 3 Nov 2026 10:00:00 +0000\r\n" % (i, i, i)
        for i in range(MAX_HOPS + 10)
    )
    msg = email.message_from_bytes(b"Subject: x\r\n" + raw + b"\r\nbody", policy=compat32)
    found = hops(msg)
    assert len(found) == MAX_HOPS
    assert found[0].ip == "192.0.2.0" and found[0].position == 1
    assert found[1].by_host == "mx1.example.org"


def test_raw_8bit_and_long_values() -> None:
    msg = email.message_from_bytes(
        b"Received: from h\xe9llo ([192.0.2.1]) by mx.example.org; Tue, 3 Nov 2026 10:00:00 +0100\r\n"
        b"Received: from x (" + b"(" * 5000 + b" by y\r\n\r\nbody",
        policy=compat32,
    )
    first, second = hops(msg)
    assert first.ip == "192.0.2.1" and "\ufffd" in (first.helo or "")
    assert "truncated" in second.defects and len(second.raw) <= 500


def test_dates_and_addresses() -> None:
    assert parse_date("8 Sep 2023 05:47:04 GMT") == "2023-09-08T05:47:04+00:00"
    assert parse_date("Mon, 2 Dec 02 03:33:12 -0000") == "2002-12-02T03:33:12+00:00"
    assert parse_date("31 Feb 2023 10:00:00 +0000") is None
    assert normalize_ip("2001:DB8:0:0:0:0:0:1") == "2001:db8::1"
    assert normalize_ip("::ffff:198.51.100.1") == "198.51.100.1"
    assert normalize_ip("192.0.2.300") is None


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=600))
def test_arbitrary_text_never_raises(value: str) -> None:
    parse_received(value)
    parse_received("from " + value + " by x; " + value)


# The common shape is read in one match (received._SHAPE); anything else by the general reading. Both must give the
# same hop: each value below is read both ways.
SHAPED = [value for _, value, _ in CASES] + [
    "from a by b; Tue, 3 Nov 2026 10:00:00 +0000",
    "from by by by with with; x",  # the first word of a clause may be a keyword
    "from x.example (x.example [192.0.2.1]) (helo=y) (may be forged) by mx.example with esmtp tls X id 1 via a b; d",
    "from h (c) by mx.example (c) with cipher (z) id using (TLSv1.2); d (a) (b)",
    "from h by mx.example with ESMTPS tls (x) for <a@b.example> (c); d",
    "from h (x (y (z))) by mx.example; d",  # three levels: the general reading
    "from h (x (y (z (w)))) by mx.example; d",  # four: what is left of the comment is read as text
    "FROM h BY mx.example; d",
    "from h by mx.example for a for b; d",
    "from h by mx.example with SMTP id 1 via Frontend Transport; Fri, 8 Sep 2023 05:47:04 +0000 (x;y)",
    "from [IPv6:2001:db8::1] ([IPv6:2001:db8::1]) by [192.0.2.9] with SMTP; d",
    "by 10.0.0.1 with SMTP id x; d",
]
_TOKENS = [
    *("from", "by", "with", "id", "via", "for", "FROM", "By", "h.example", "[192.0.2.1]", "198.51.100.7"),
    *("2001:db8::5", "tls", "TLS_X", "cipher", "using", "version=TLS1_2", "ESMTPS", "esmtpa", "Microsoft", "SMTP"),
    *("helo=x", "<a@b.example>", "(c)", "(a [192.0.2.2])", "(HELO z)", "(using TLSv1.3 (256 bits))", "(x (y (z)))"),
    *("(may be forged)", "(via HTTP)", "(", ")", ";", "; Tue, 3 Nov 2026 10:00:00 +0000 (CET)"),
]


def _general(value: str, monkeypatch: pytest.MonkeyPatch) -> Hop:
    with monkeypatch.context() as patch:
        patch.setattr(received, "_SHAPE", re.compile("(?!)"))  # never matches
        return parse_received(value, 7)


@pytest.mark.parametrize("value", SHAPED)
def test_the_common_shape_reads_as_the_general_reading(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    hop = parse_received(value, 7)
    assert hop == _general(value, monkeypatch) and hop.received_at == _general(value, monkeypatch).received_at
    assert received_ip(value) == hop.ip
    reading = Reading(value, 7)
    assert reading.has_clauses == hop.has_clauses and reading.hop() == hop


def test_most_fields_take_the_common_shape() -> None:
    matched = [value for value in SHAPED if received._SHAPE.fullmatch(" ".join(value.split()))]
    assert len(matched) >= len(CASES)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tokens=st.lists(st.sampled_from(_TOKENS), max_size=14))
def test_token_soup_reads_the_same_both_ways(tokens: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    value = " ".join(tokens)
    hop = parse_received(value, 7)
    assert hop == _general(value, monkeypatch)
    assert received_ip(value) == hop.ip and Reading(value).has_clauses == hop.has_clauses


def test_ip_values_match_ipaddress() -> None:
    for text in ["192.0.2.1", "0.0.0.0", "255.255.255.255", "2001:db8::1", "::1", "::", "fe80::1:2", "1:2:3:4:5:6:7:8"]:
        canonical = normalize_ip(text)
        assert canonical is not None
        address = ipaddress.ip_address(canonical)
        assert ip_value(canonical) == (address.version, int(address))
        assert ip_object(canonical) == address
    assert ip_value("192.0.2.300") is None and ip_value("١٩٢.٠.٢.١") is None and ip_object(None) is None


def test_the_shared_header_pass_is_redone_when_fields_change() -> None:
    msg = email.message_from_bytes(b"Received: by a; d\r\nFrom: x@example.net\r\n\r\nbody", policy=compat32)
    assert [text for _, text in header_fields(msg)["received"]] == ["by a; d"]
    msg["Received"] = "by b; d"
    assert [text for _, text in header_fields(msg)["received"]] == ["by a; d", "by b; d"]
    assert header_fields(msg)["from"] == [(1, "x@example.net")]


def test_hop_json_is_the_dataclass_as_a_dict() -> None:
    hop = parse_received(CASES[0][1], 4)
    expected = dataclasses.asdict(hop)
    expected["for"] = expected.pop("for_")
    expected["received_at"] = hop.received_at
    expected["defects"] = list(hop.defects)
    assert hop.as_json() == expected and list(hop.as_json()) == list(expected)


@pytest.mark.parametrize("value", [*(value for _, value, _ in CASES), *SHAPED])
def test_memoized_clause_readings_equal_fresh_ones(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    first, again = parse_received(value, 3), parse_received(value, 3)  # the second from the memos
    with monkeypatch.context() as patch:
        patch.setattr(received, "_MEMO_MAX", -1)  # every clause read afresh
        fresh = parse_received(value, 3)
        assert received_ip(value) == fresh.ip
    assert first == again == fresh


def test_a_long_clause_is_read_without_the_memo() -> None:
    comment = "(" + "x" * 600 + " [192.0.2.77])"
    hop = parse_received(
        f"from h.example {comment} by mx.example {comment} with ESMTP id 1; Tue, 3 Nov 2026 10:00:00 +0000"
    )
    assert (hop.ip, hop.by_ip, hop.helo, hop.rdns) == ("192.0.2.77", "192.0.2.77", "h.example", None)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="0123456789abcdefABCDEFxg _+-:.\u0660\u00b2", max_size=6))
def test_hextets_are_what_the_pattern_said(group: str) -> None:
    assert received._is_hextet(group) == bool(re.fullmatch(r"[0-9a-f]{1,4}", group))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Tue, 3 Nov 2026 10:00:00 +0000", "2026-11-03T10:00:00+00:00"),
        ("Tue, 3 Nov 2026 10:00:00 -0000", "2026-11-03T10:00:00+00:00"),
        ("Tue, 3 Nov 2026 10:00:00 +0130", "2026-11-03T08:30:00+00:00"),
        ("31 Dec 9999 23:30:00 +0000", "9999-12-31T23:30:00+00:00"),
        ("31 Dec 9999 23:30:00 -0100", None),  # past year 9999 in UTC
        ("31 Feb 2026 10:00:00 +0000", None),
    ],
)
def test_dates_in_utc(text: str, expected: str | None) -> None:
    assert parse_date(text) == expected
