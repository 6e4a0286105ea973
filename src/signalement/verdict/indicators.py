"""Which origin IP and sender domain a report gives for the DNSBL zones (docs/feeds.md), and when one is listed.

Only what the sender controls and a trusted party vouched for:
- the origin IP: the first untrusted sender of a trusted Received chain (signalement.mail.trust), never the address a
  webmail saw its user at (it never connects to a filter), never a non-global address, and never a relay of a shared
  mail service: one whose reverse name, or a domain that authenticated the message, is a mailbox provider's, an
  ESP's, or a big provider's outbound infrastructure;
- the sender domain: the From's registered domain when a trusted receiver saw it pass DMARC (an aligned DKIM
  signature or SPF); a From that did not authenticate is forged as often as not (the brand it imitates). Never a
  shared domain (mailbox providers, ESPs, hosting, file sharing, shorteners), nor one under a suffix of the Public
  Suffix List's private section, nor a brand's own (a brand's hacked account is the brand's to fix).

An indicator is listed when reports from at least MIN_SOURCES distinct sources show it in confirmed campaigns
(anonymous reporters count as one source together): one reporter, whose relays the platform trusts, could otherwise
name any address. It expires when no new report shows it for EXPIRES[kind] (addresses change hands).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Any

from signalement.mail.domains import registered_domain, under_private_suffix
from signalement.verdict.brands import registry
from signalement.verdict.domain_lists import kind_of

MIN_SOURCES = 2
MAIL_SERVICES = ("freemail", "esp")  # domain_lists kinds whose relays many senders share
SHARED_KINDS = ("freemail", "esp", "hosting", "file_sharing", "shortener")

# Reverse names of the outbound relays of mail services whose customers bring their own domains (hosted mail,
# clouds' mail services): their addresses send for many unrelated senders. Registered domains, as in domain_lists.
MAIL_INFRASTRUCTURE = frozenset({
    "google.com", "googlemail.com", "outlook.com", "hotmail.com", "microsoft.com", "office365.com",
    "yahoo.com", "yahoodns.net", "yahoo.net", "aol.com", "icloud.com", "apple.com", "me.com",
    "amazonses.com", "amazonaws.com", "zoho.com", "zoho.eu", "zohomail.com", "protonmail.ch", "proton.me",
    "gmx.net", "web.de", "mail.ru", "yandex.net", "yandex.ru", "orange.fr", "wanadoo.fr", "free.fr", "sfr.fr",
    "laposte.net", "ovh.net", "mail.ovh.net", "ionos.com", "1and1.com", "gandi.net", "infomaniak.ch", "fastmail.com",
    "messagingengine.com", "mimecast.com", "pphosted.com", "ppe-hosted.com", "barracudanetworks.com",
    "iphmx.com", "secureserver.net", "emailsrvr.com", "mailchimp.com", "mcsv.net", "mcdlv.net", "rsgsv.net",
    "sendgrid.net", "mailgun.net", "mailgun.org", "sparkpostmail.com", "mailjet.com", "brevo.com",
    "sendinblue.com", "postmarkapp.com", "mandrillapp.com", "exacttarget.com", "salesforce.com",
})  # fmt: skip


class Kind(StrEnum):
    IP = "ip"
    DOMAIN = "domain"


class IndicatorState(StrEnum):
    SUSPECTED = "suspected"  # shown by reports of confirmed campaigns, from too few sources yet
    CONFIRMED = "confirmed"  # listed
    CLEARED = "cleared"  # an analyst's decision (or a member's claim): reports never list it again
    EXPIRED = "expired"  # no new report for a while: withdrawn until one shows it again


EXPIRES = {Kind.IP: timedelta(days=14), Kind.DOMAIN: timedelta(days=60)}


@dataclass(frozen=True, order=True)
class Indicator:
    kind: Kind
    value: str


def of_report(facts: Mapping[str, Any]) -> tuple[Indicator, ...]:
    """The origin IP and sender domain a report's analysis gives, each only when trusted and not shared."""
    found = (origin_ip(facts), sender_domain(facts))
    return tuple(i for i in found if i is not None)


def origin_ip(facts: Mapping[str, Any]) -> Indicator | None:
    origin = facts.get("origin") or {}
    text = origin.get("ip")
    if not isinstance(text, str) or not origin.get("trusted_by") or origin.get("webmail"):
        return None
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if not address.is_global or _shared_relay(origin.get("rdns"), _authenticated_domains(facts)):
        return None
    return Indicator(Kind.IP, str(address))


def sender_domain(facts: Mapping[str, Any]) -> Indicator | None:
    auth = facts.get("authentication") or {}
    sender = (facts.get("sender") or {}).get("from_domain")
    if not isinstance(sender, str) or not auth.get("trusted_by") or not _aligned_pass(auth):
        return None
    domain = registered_domain(sender)
    if domain is None or shared_domain(sender) or registry().owner(domain) is not None:
        return None
    return Indicator(Kind.DOMAIN, domain)


def shared_domain(host: str) -> bool:
    return kind_of(host) in SHARED_KINDS or under_private_suffix(host)


def _aligned_pass(auth: Mapping[str, Any]) -> bool:
    """DMARC would pass: the receiver said so, or an aligned DKIM signature or aligned SPF passed."""
    dmarc, spf = auth.get("dmarc") or {}, auth.get("spf") or {}
    return (
        dmarc.get("result") == "pass"
        or any(d.get("result") == "pass" and d.get("aligned") for d in auth.get("dkim") or [])
        or (spf.get("result") == "pass" and bool(spf.get("aligned")))
    )


def _authenticated_domains(facts: Mapping[str, Any]) -> list[str]:
    """The domains a trusted receiver saw pass (DKIM d=, SPF): whose relays sent the message."""
    auth = facts.get("authentication") or {}
    if not auth.get("trusted_by"):
        return []
    spf = auth.get("spf") or {}
    found = [d.get("domain") for d in auth.get("dkim") or [] if d.get("result") == "pass"]
    found.append(spf.get("domain") if spf.get("result") == "pass" else None)
    return [d for d in found if isinstance(d, str) and d]


def _shared_relay(rdns: object, authenticated: list[str]) -> bool:
    if isinstance(rdns, str) and rdns and _infrastructure(rdns):
        return True
    return any(kind_of(d) in MAIL_SERVICES for d in authenticated)


def _infrastructure(host: str) -> bool:
    name = host.lower().rstrip(".")
    return kind_of(name) in MAIL_SERVICES or any(name == d or name.endswith("." + d) for d in MAIL_INFRASTRUCTURE)


@dataclass(frozen=True)
class Tally:
    """What the reports of confirmed campaigns say of one indicator."""

    reports: int
    sources: int  # distinct sources, anonymous reporters together as one


def next_state(current: IndicatorState, tally: Tally, *, claimed: bool) -> IndicatorState:
    """What new reports do: list a suspected or expired indicator shown by enough sources; never one a member holds
    a verified claim on (the member gets the complaints instead), withdrawn if it was listed; nothing undoes an
    analyst's clearing."""
    if current is IndicatorState.CLEARED:
        return current
    if claimed:
        return IndicatorState.SUSPECTED if current is IndicatorState.CONFIRMED else current
    if current in (IndicatorState.SUSPECTED, IndicatorState.EXPIRED) and tally.sources >= MIN_SOURCES:
        return IndicatorState.CONFIRMED
    return current


MOVES = {
    IndicatorState.SUSPECTED: {IndicatorState.CONFIRMED, IndicatorState.CLEARED},
    IndicatorState.CONFIRMED: {IndicatorState.CLEARED, IndicatorState.EXPIRED},
    IndicatorState.EXPIRED: {IndicatorState.CONFIRMED, IndicatorState.CLEARED},
    IndicatorState.CLEARED: {IndicatorState.CONFIRMED, IndicatorState.SUSPECTED},
}


def move(current: IndicatorState, wanted: IndicatorState) -> IndicatorState:
    """An analyst's move; ValueError when it makes no sense from here."""
    if wanted not in MOVES[current]:
        raise ValueError(f"a {current} indicator cannot become {wanted}")
    return wanted
