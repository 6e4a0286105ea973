"""Statistics of the reports about each member's claimed resources: what a report adds to them, and the buckets
they are kept in (issue 10, docs/statistics.md).

A report that concerns a member (its identities match one of the member's verified claims, signalement.domain.
matching) adds one to each of its keys, in that member's counts: `verified` when a match was authenticated, else
apart as unverified. The keys are (dimension, value) pairs read from the report's analysis:

- `all` (""): every report about the member, the series its alerts watch first;
- `ip` and `network` (its /24, or /48 for IPv6): the origin IP, only when a trusted chain found it (forged
  Received fields cannot put an address in anyone's statistics);
- `dkim`: the d= of the signatures that passed;
- `sender_domain`: the From domain, as written;
- `feedback_id`: the Feedback-ID's sender id and customer (`<sender id>:<customer>`, Google's
  `campaign:customer:type:sender` layout), as written;
- `list_id`, `category` (the verdict, else the reporter's word), `campaign`, `source` (whose reporters:
  `association`, `organization:<id>`, or a trap's name).

Counts are kept per hour, day and month (UTC): each report adds to its three buckets, so a query over a year reads
months, not hours. `weight` counts a spam trap's hit TRAP_WEIGHT times (signalement.domain.reports).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from signalement.domain.matching import identities_from_facts

MAX_VALUE = 255  # characters of a key's value, as stored


class Dimension(StrEnum):
    ALL = "all"
    IP = "ip"
    NETWORK = "network"
    DKIM = "dkim"
    SENDER_DOMAIN = "sender_domain"
    FEEDBACK_ID = "feedback_id"
    LIST_ID = "list_id"
    CATEGORY = "category"
    CAMPAIGN = "campaign"
    SOURCE = "source"


class Period(StrEnum):
    HOUR = "hour"
    DAY = "day"
    MONTH = "month"


Key = tuple[Dimension, str]


@dataclass(frozen=True)
class Contribution:
    """What one report adds to one member's counts."""

    organization_id: int
    verified: bool
    at: datetime  # when it was reported (UTC)
    weight: float
    keys: tuple[Key, ...]


def report_keys(facts: Mapping[str, Any], *, category: str | None, campaign_id: int | None, source: str) -> list[Key]:
    """Every key a report adds one to, without repeats, `all` first."""
    who = identities_from_facts(facts)
    keys: list[Key] = [(Dimension.ALL, "")]
    if who.origin_ip is not None:
        keys.append((Dimension.IP, str(who.origin_ip)))
        keys.append((Dimension.NETWORK, network_of(str(who.origin_ip))))
    keys += [(Dimension.DKIM, d) for d in who.dkim_pass_domains]
    if who.from_domain:
        keys.append((Dimension.SENDER_DOMAIN, who.from_domain))
    customer = feedback_customer(facts)
    if customer:
        keys.append((Dimension.FEEDBACK_ID, customer))
    keys += [(Dimension.LIST_ID, list_id) for list_id in who.list_ids]
    if category:
        keys.append((Dimension.CATEGORY, category))
    if campaign_id is not None:
        keys.append((Dimension.CAMPAIGN, str(campaign_id)))
    keys.append((Dimension.SOURCE, source))
    return list(dict.fromkeys((dimension, value[:MAX_VALUE]) for dimension, value in keys))


def network_of(ip: str) -> str:
    """The /24 of an IPv4 address, the /48 of an IPv6 one: what one operator's customer usually holds."""
    address = ipaddress.ip_address(ip)
    prefix = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


def feedback_customer(facts: Mapping[str, Any]) -> str | None:
    """`<sender id>:<customer>` of the report's Feedback-ID (the customer is the second of Google's four fields,
    the third from the end), or the sender id alone when the field names no customer."""
    sender = facts.get("sender")
    feedback = sender.get("feedback_id") if isinstance(sender, dict) else None
    if not isinstance(feedback, dict):
        return None
    fields = [f.strip() for f in feedback.get("fields") or [] if isinstance(f, str)]
    sender_id = feedback.get("sender_id")
    if not isinstance(sender_id, str) or not sender_id.strip():
        return None
    customer = fields[-3] if len(fields) >= 3 else ""
    return f"{sender_id.strip()}:{customer}" if customer else sender_id.strip()


def bucket(at: datetime, period: Period) -> datetime:
    """The start of the period `at` falls in, in UTC."""
    at = at.astimezone(UTC)
    if period is Period.HOUR:
        return at.replace(minute=0, second=0, microsecond=0)
    if period is Period.DAY:
        return at.replace(hour=0, minute=0, second=0, microsecond=0)
    return at.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def next_bucket(start: datetime, period: Period) -> datetime:
    if period is Period.HOUR:
        return start + timedelta(hours=1)
    if period is Period.DAY:
        return start + timedelta(days=1)
    return (start.replace(day=28) + timedelta(days=4)).replace(day=1)


def cover(since: datetime, until: datetime, finest: Period = Period.HOUR) -> list[tuple[Period, datetime, datetime]]:
    """The range [since, until) as few buckets as can be read: whole months, then whole days, then hours at the
    edges (down to `finest`; `since` and `until` are rounded out to it). Each item: (period, first bucket start,
    end of the last bucket)."""
    since, until = bucket(since, finest), _ceil(until, finest)
    if since >= until:
        return []
    periods = [p for p in (Period.MONTH, Period.DAY, Period.HOUR) if _rank(p) <= _rank(finest)]
    return _cover(since, until, periods)


def _cover(since: datetime, until: datetime, periods: list[Period]) -> list[tuple[Period, datetime, datetime]]:
    period, finer = periods[0], periods[1:]
    first = since if bucket(since, period) == since else next_bucket(bucket(since, period), period)
    last = bucket(until, period)
    if not finer:
        return [(period, since, until)] if since < until else []
    if first >= last:  # no whole bucket of this period inside: all of it at a finer one
        return _cover(since, until, finer)
    head = _cover(since, first, finer) if since < first else []
    tail = _cover(last, until, finer) if last < until else []
    return [*head, (period, first, last), *tail]


def _rank(period: Period) -> int:
    return {Period.MONTH: 0, Period.DAY: 1, Period.HOUR: 2}[period]


def _ceil(at: datetime, period: Period) -> datetime:
    start = bucket(at, period)
    return start if start == at.astimezone(UTC) else next_bucket(start, period)


def contributions(
    matched: Mapping[int, bool],
    keys: Iterable[Key],
    *,
    at: datetime,
    weight: float,
) -> list[Contribution]:
    """One contribution per member the report concerns (`matched`: organization -> whether authenticated)."""
    shared = tuple(keys)
    return [Contribution(org, verified, at, weight, shared) for org, verified in sorted(matched.items())]
