"""What a report adds to a member's statistics, and the buckets that cover a range."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from signalement.domain.stats import Dimension, Period, bucket, cover, feedback_customer, network_of, report_keys

FACTS = {
    "origin": {"ip": "198.51.100.23", "trusted_by": "registry:gmail"},
    "sender": {
        "from_domain": "News.Example.com",
        "feedback_id": {"fields": ["camp42", "cust7", "promo", "esp1"], "sender_id": "esp1"},
        "list_id": "Weekly <weekly.news.example.com>",
    },
    "authentication": {
        "trusted_by": "registry:gmail",
        "dkim": [{"domain": "news.example.com", "result": "pass"}, {"domain": "esp.example", "result": "fail"}],
    },
}


def test_a_report_adds_one_to_each_of_its_keys() -> None:
    keys = report_keys(FACTS, category="spam", campaign_id=12, source="association")
    assert keys == [
        (Dimension.ALL, ""),
        (Dimension.IP, "198.51.100.23"),
        (Dimension.NETWORK, "198.51.100.0/24"),
        (Dimension.DKIM, "news.example.com"),  # the failing signature's d= is no key
        (Dimension.SENDER_DOMAIN, "news.example.com"),
        (Dimension.FEEDBACK_ID, "esp1:cust7"),
        (Dimension.LIST_ID, "weekly.news.example.com"),
        (Dimension.CATEGORY, "spam"),
        (Dimension.CAMPAIGN, "12"),
        (Dimension.SOURCE, "association"),
    ]


def test_an_origin_no_trusted_party_vouched_for_is_in_nobody_s_statistics() -> None:
    untrusted = {**FACTS, "origin": {"ip": "198.51.100.23", "trusted_by": None}}
    dimensions = [d for d, _ in report_keys(untrusted, category=None, campaign_id=None, source="association")]
    assert Dimension.IP not in dimensions and Dimension.NETWORK not in dimensions


def test_an_empty_analysis_still_counts_once() -> None:
    assert report_keys({}, category=None, campaign_id=None, source="trap-1") == [
        (Dimension.ALL, ""),
        (Dimension.SOURCE, "trap-1"),
    ]


@pytest.mark.parametrize(
    ("fields", "sender_id", "expected"),
    [
        (["c", "cust", "t", "s"], "s", "s:cust"),
        (["cust", "t", "s"], "s", "s:cust"),
        (["t", "s"], "s", "s"),
        ([], None, None),
    ],
)
def test_the_feedback_id_customer(fields: list[str], sender_id: str | None, expected: str | None) -> None:
    facts = {"sender": {"feedback_id": {"fields": fields, "sender_id": sender_id}}}
    assert feedback_customer(facts) == expected


def test_networks() -> None:
    assert network_of("203.0.113.200") == "203.0.113.0/24"
    assert network_of("2001:db8:1234:5678::1") == "2001:db8:1234::/48"


def test_buckets_are_utc() -> None:
    at = datetime(2026, 3, 29, 2, 30, tzinfo=UTC) + timedelta(hours=0)
    assert bucket(at, Period.HOUR) == datetime(2026, 3, 29, 2, tzinfo=UTC)
    assert bucket(at, Period.DAY) == datetime(2026, 3, 29, tzinfo=UTC)
    assert bucket(at, Period.MONTH) == datetime(2026, 3, 1, tzinfo=UTC)


def test_a_range_is_covered_by_months_then_days_then_hours() -> None:
    since, until = datetime(2026, 1, 30, 22, tzinfo=UTC), datetime(2026, 4, 2, 3, tzinfo=UTC)
    assert cover(since, until) == [
        (Period.HOUR, datetime(2026, 1, 30, 22, tzinfo=UTC), datetime(2026, 1, 31, tzinfo=UTC)),
        (Period.DAY, datetime(2026, 1, 31, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC)),
        (Period.MONTH, datetime(2026, 2, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC)),
        (Period.DAY, datetime(2026, 4, 1, tzinfo=UTC), datetime(2026, 4, 2, tzinfo=UTC)),
        (Period.HOUR, datetime(2026, 4, 2, tzinfo=UTC), datetime(2026, 4, 2, 3, tzinfo=UTC)),
    ]


_HOURS = st.integers(min_value=0, max_value=3 * 366 * 24)


@given(_HOURS, _HOURS)
def test_the_cover_of_any_range_tiles_it_exactly(a: int, b: int) -> None:
    origin = datetime(2025, 1, 1, tzinfo=UTC)
    since, until = origin + timedelta(hours=min(a, b)), origin + timedelta(hours=max(a, b))
    parts = cover(since, until)
    hours, read = [], 0
    for period, first, end in parts:
        assert bucket(first, period) == first and bucket(end, period) == end  # whole buckets only
        at = first
        while at < end:
            hours.append(at)
            at += timedelta(hours=1)
        read += len({bucket(h, period) for h in hours if first <= h < end})
    expected = [since + timedelta(hours=h) for h in range(max(a, b) - min(a, b))]
    assert hours == expected
    assert len(parts) <= 5 and read <= 2 * 23 + 2 * 30 + 37  # hours and days at the edges only, then months
