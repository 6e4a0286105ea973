"""The trust walk. Chains are written in the formats the providers produce (Gmail's mx.google.com and internal
`by 2002:a05:...` hops, Exchange Online's *.prod.outlook.com / *.mail.protection.outlook.com hops as observed in
real headers), with the providers' real relay names and published addresses, and documentation addresses
(192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32) for every sender that must not be trusted."""

from __future__ import annotations

import dataclasses
import email
import ipaddress
from email.message import Message
from email.policy import compat32

import pytest

from signalement.mail.trust import (
    Names,
    Networks,
    TrustContext,
    is_internal,
    is_trusted_authserv_id,
    origin,
    registry,
    trusted_authserv_ids,
)


def message(*fields: str) -> Message:
    raw = "\r\n".join(fields) + "\r\nFrom: a@example.net\r\nSubject: test\r\n\r\nbody\r\n"
    return email.message_from_bytes(raw.encode("utf-8"), policy=compat32)


GMAIL_TOP = (
    "Received: by 2002:a05:7108:3e8a:b0:2f1:1c1e:59a3 with SMTP id p10csp1234; Tue, 3 Nov 2026 02:00:01 -0800 (PST)"
)
GMAIL_BORDER = (
    "Received: from mail.spam.example (mail.spam.example. [198.51.100.23]) by mx.google.com with ESMTPS id "
    "x1si2.2026 for <victim@gmail.com> (version=TLS1_3 cipher=TLS_AES_256_GCM_SHA384 bits=256/256); "
    "Tue, 03 Nov 2026 02:00:00 -0800 (PST)"
)
# What a spammer writes under the real chain to blame someone else.
FORGED = (
    "Received: from innocent.example (innocent.example [203.0.113.99]) by mail.spam.example (Postfix) with ESMTP "
    "id 1; Tue, 03 Nov 2026 09:59:00 +0000"
)


def test_gmail_delivery_origin_is_the_spammer_and_forged_fields_below_are_ignored() -> None:
    result = origin(message(GMAIL_TOP, GMAIL_BORDER, FORGED))
    assert result.ip == "198.51.100.23"
    assert result.rdns == "mail.spam.example"
    assert result.trusted_by == "registry:gmail"
    assert result.received_at == "2026-11-03T10:00:00+00:00"
    assert [h.hop.by_host for h in result.hops] == ["mx.google.com"]  # the 2002:a05 hop is above the anchor
    assert result.untrusted_reason is None and not result.webmail


def test_gmail_sender_through_gmail_submission_is_the_authenticated_client() -> None:
    # An Exchange Online mailbox receiving from a Gmail user who sent with SMTP AUTH (formats seen in real mail).
    result = origin(
        message(
            "Received: from MW4PR03CA0328.namprd03.prod.outlook.com (2603:10b6:303:dd::33) by "
            "MW4PR19MB6935.namprd19.prod.outlook.com (2603:10b6:303:220::16) with Microsoft SMTP Server "
            "(version=TLS1_2, cipher=TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384) id 15.20.6699.24; "
            "Tue, 22 Aug 2023 01:03:48 +0000",
            "Received: from MW2NAM12FT110.eop-nam12.prod.protection.outlook.com (2603:10b6:303:dd:cafe::fd) by "
            "MW4PR03CA0328.outlook.office365.com (2603:10b6:303:dd::33) with Microsoft SMTP Server "
            "(version=TLS1_2, cipher=TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384) id 15.20.6699.20 via Frontend "
            "Transport; Tue, 22 Aug 2023 01:03:48 +0000",
            "Received: from mail-oa1-f68.google.com (209.85.160.68) by MW2NAM12FT110.mail.protection.outlook.com "
            "(10.13.181.217) with Microsoft SMTP Server (version=TLS1_3, cipher=TLS_AES_256_GCM_SHA384) "
            "id 15.20.6723.15 via Frontend Transport; Tue, 22 Aug 2023 01:03:48 +0000",
            "Received: by mail-oa1-f68.google.com with SMTP id 586e51a60fabf-1c5so2566383fac.1 "
            "for <victim@example.org>; Mon, 21 Aug 2023 18:03:48 -0700 (PDT)",
            "Received: from [127.0.0.1] ([203.0.113.45]) by smtp.gmail.com with ESMTPSA id v19sm4894109oag.15 "
            "for <victim@example.org> (version=TLS1_3 cipher=TLS_AES_256_GCM_SHA384 bits=256/256); "
            "Mon, 21 Aug 2023 18:03:47 -0700 (PDT)",
            FORGED,
        )
    )
    assert result.ip == "203.0.113.45"
    assert result.trusted_by == "registry:gmail"
    assert [h.trust for h in result.hops][:4] == [
        "registry:microsoft",  # 2603:10b6: Exchange Online back-end, between two Exchange hosts
        "registry:microsoft",
        "registry:gmail",  # 209.85.128.0/17 in Google's published blocks
        "no sending address: internal hop of registry:gmail",
    ]


OUTLOOK_CHAIN = (
    "Received: from SJ0PR19MB6679.namprd19.prod.outlook.com (::1) by MN0PR19MB6312.namprd19.prod.outlook.com "
    "with HTTPS; Fri, 8 Sep 2023 05:47:06 +0000",
    "Received: from DB8P191CA0014.EURP191.PROD.OUTLOOK.COM (2603:10a6:10:130::24) by "
    "SJ0PR19MB6679.namprd19.prod.outlook.com (2603:10b6:a03:477::19) with Microsoft SMTP Server "
    "(version=TLS1_2, cipher=TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384) id 15.20.6768.30; Fri, 8 Sep 2023 05:47:04 +0000",
    "Received: from DB8EUR06FT032.eop-eur06.prod.protection.outlook.com (2603:10a6:10:130:cafe::9b) by "
    "DB8P191CA0014.outlook.office365.com (2603:10a6:10:130::24) with Microsoft SMTP Server (version=TLS1_2, "
    "cipher=TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384) id 15.20.6768.30 via Frontend Transport; "
    "Fri, 8 Sep 2023 05:47:04 +0000",
    "Authentication-Results: spf=fail (sender IP is 198.51.100.44) smtp.mailfrom=example.net; dkim=none "
    "(message not signed) header.d=none;dmarc=fail action=none header.from=example.net;",
    "Received: from sender.example.net (198.51.100.44) by DB8EUR06FT032.mail.protection.outlook.com "
    "(10.233.253.34) with Microsoft SMTP Server id 15.20.6768.30 via Frontend Transport; "
    "Fri, 8 Sep 2023 05:47:04 +0000",
)


def test_outlook_chain_with_internal_ipv6_and_private_hops() -> None:
    result = origin(message(*OUTLOOK_CHAIN, FORGED))
    assert result.ip == "198.51.100.44"
    assert result.helo == "sender.example.net" and result.rdns is None
    assert result.trusted_by == "registry:microsoft"
    assert [h.trust for h in result.hops][:3] == ["private", "registry:microsoft", "registry:microsoft"]
    assert result.boundary == 4  # the border's Received field: everything below is the sender's


def test_webmail_submission_uses_x_originating_ip() -> None:
    result = origin(
        message(
            OUTLOOK_CHAIN[0],
            "Received: from AM0PR01MB1234.eurprd01.prod.outlook.com ([fe80::1c2d:3e4f:5a6b:7c8d]) by "
            "SJ0PR19MB6679.namprd19.prod.outlook.com ([fe80::1c2d:3e4f:5a6b:7c8d%5]) with mapi id "
            "15.20.7000.000; Fri, 8 Sep 2023 05:47:00 +0000",
            "X-Originating-IP: [192.0.2.33]",
        )
    )
    assert result.ip == "192.0.2.33" and result.webmail
    assert result.trusted_by == "registry:microsoft"


def test_api_submission_does_not_trust_x_originating_ip() -> None:
    result = origin(
        message(
            GMAIL_TOP,
            "Received: from mail-pg1-f172.google.com (mail-pg1-f172.google.com. [209.85.215.172]) by "
            "mx.google.com with SMTPS id a1sor1; Mon, 14 Jul 2025 12:04:20 -0700 (PDT)",
            "Received: by mail-pg1-f172.google.com with SMTP id 41be03b00d2f7-b321bd so4189485a12.2; "
            "Mon, 14 Jul 2025 12:04:20 -0700 (PDT)",
            "Received: from 944344852355 named unknown by gmailapi.google.com with HTTPREST; "
            "Mon, 14 Jul 2025 19:04:18 +0000",
            "X-Originating-IP: [203.0.113.1]",  # set by whoever called the API: the sender
        )
    )
    assert result.ip is None and result.webmail
    assert result.trusted_by == "registry:gmail"
    assert result.x_originating_ip == "203.0.113.1"
    assert "not disclosed" in (result.untrusted_reason or "")


def test_no_received_field() -> None:
    result = origin(message("X-Originating-IP: 192.0.2.1"))
    assert result.ip is None and result.boundary is None
    assert result.untrusted_reason == "the message has no Received field"


def test_inconsistent_chain_stops_and_says_why() -> None:
    result = origin(
        message(
            GMAIL_BORDER.replace("198.51.100.23", "209.85.220.41").replace(
                "mail.spam.example", "mail-sor-f41.google.com"
            ),
            FORGED,  # not written by mail-sor-f41.google.com: a Google relay always writes its own field
        )
    )
    assert result.ip is None
    assert result.trusted_by == "registry:gmail"
    assert "breaks below mx.google.com" in (result.untrusted_reason or "")
    assert "mail.spam.example" in (result.untrusted_reason or "")


UNKNOWN_TOP = (
    "Received: from relay.example.org (relay.example.org [192.0.2.200]) by mailbox.example.org (Postfix) "
    "with ESMTP id A1; Tue, 3 Nov 2026 10:00:02 +0000",
    "Received: from mail.spam.example (mail.spam.example [198.51.100.23]) by relay.example.org (Postfix) "
    "with ESMTP id B2; Tue, 3 Nov 2026 10:00:01 +0000",
    FORGED,
)


def test_unknown_receiving_system_is_not_guessed() -> None:
    result = origin(message(*UNKNOWN_TOP))
    assert result.ip is None and result.trusted_by is None
    assert "mailbox.example.org is neither a known provider" in (result.untrusted_reason or "")


@pytest.mark.parametrize(
    "context",
    [
        TrustContext(hosts=("mailbox.example.org", "192.0.2.200/32")),
        TrustContext(hosts=("mailbox.example.org", "relay.example.org")),
        TrustContext(networks=("192.0.2.192/26",), hosts=("mailbox.example.org",)),
    ],
    ids=["reporter-cidr", "reporter-name", "member-network"],
)
def test_member_networks_and_reporter_hosts_make_hops_trusted(context: TrustContext) -> None:
    result = origin(message(*UNKNOWN_TOP), context)
    assert result.ip == "198.51.100.23"
    assert result.trusted_by == "reporter-host"
    assert result.hops[0].trust in ("reporter-host", "member")


def test_single_hop_from_an_unknown_receiver_is_the_origin() -> None:
    result = origin(message(UNKNOWN_TOP[1]))
    assert result.ip == "198.51.100.23" and result.trusted_by == "recipient"


def test_local_hops_on_top_are_skipped() -> None:
    result = origin(
        message(
            "Received: from localhost (localhost [127.0.0.1]) by laptop.example.org (Postfix) with ESMTP id 1; "
            "Tue, 3 Nov 2026 10:00:05 +0000",
            "Received: from pop.gmail.com [2a00:1450:4013:c00::6c] by localhost with POP3 (fetchmail-6.4.37) "
            "for <me@localhost> (single-drop); Tue, 03 Nov 2026 10:00:04 +0000",
            GMAIL_TOP,
            GMAIL_BORDER,
        )
    )
    assert result.ip == "198.51.100.23" and result.trusted_by == "registry:gmail"


def test_registry_and_authserv_ids() -> None:
    names = {relay.name for relay in registry().relays}
    assert {"gmail", "microsoft", "yahoo", "orange", "sfr", "laposte", "free", "gmx", "apple", "proton"} <= names
    assert all(relay.evidence for relay in registry().relays)
    assert is_trusted_authserv_id("mx.google.com") == "registry:gmail"
    assert is_trusted_authserv_id("mailin034.protonmail.ch") == "registry:proton"
    assert is_trusted_authserv_id("mx.example.org") is None
    assert is_trusted_authserv_id("mx.example.org", TrustContext(authserv_ids=("mx.example.org",))) == "member"
    assert trusted_authserv_ids(TrustContext(authserv_ids=("a.example",)))["member"] == ("a.example",)


def test_origin_json_is_the_dataclass_as_a_dict() -> None:
    result = origin(message(*OUTLOOK_CHAIN, FORGED))
    expected = dataclasses.asdict(result)
    expected["hops"] = [{**walked.hop.as_json(), "trust": walked.trust} for walked in result.hops]
    assert result.as_json() == expected and list(result.as_json()) == list(expected)
    assert result == origin(message(*OUTLOOK_CHAIN, FORGED))  # frozen dataclasses, compared by value


def test_addresses_are_looked_up_by_value() -> None:
    networks = Networks([("192.0.2.0/24", "doc"), ("192.0.2.128/25", "half"), ("2001:db8::/32", "doc6"), ("x", "bad")])
    assert networks.get(ipaddress.ip_address("192.0.2.200")) == "half"
    assert networks.lookup(4, int(ipaddress.ip_address("192.0.2.1"))) == "doc"
    assert networks.lookup(6, int(ipaddress.ip_address("2001:db8::1"))) == "doc6"
    assert networks.get(None) is None and networks.lookup(4, 1) is None and networks
    assert not Networks([])
    for text, internal in [
        ("10.1.2.3", True),
        ("100.64.0.1", True),
        ("2002:a05:6504:16d6::1", True),  # 6to4 of 10.5.101.4
        ("2002:c000:0201::1", False),  # 6to4 of 192.0.2.1
        ("fe80::1", True),
        ("192.0.2.1", False),
        ("2001:db8::1", False),
    ]:
        assert is_internal(ipaddress.ip_address(text)) is internal, text
    names = Names([("*.example.org", "under"), ("mx.example.net", "exact"), ("bad*", "x")])
    assert [names.get(n) for n in ("a.b.example.org", "MX.example.net.", "example.org", None)] == [
        "under",
        "exact",
        None,
        None,
    ]
    assert names.get("a.b.example.org") == "under"  # remembered
