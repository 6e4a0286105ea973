"""A report in the statistics of every member it concerns (signalement.domain.stats), verified when one of its
matches with that member's claims authenticated; done by the match job (signalement.analysis.match), in its
transaction, replacing what an earlier analysis of the report added."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Connection

from signalement.domain.matching import Match, authenticated_for
from signalement.domain.stats import contributions, report_keys
from signalement.store import stats


def count_report(
    conn: Connection,
    report_id: int,
    row: Any,
    facts: Mapping[str, Any],
    matches: Iterable[Match[int]],
    own_domains: Mapping[int, tuple[str, ...]],
    *,
    source: str,
    weight: float,
) -> None:
    """`row`: the report's received_at, campaign_id, verdict_category and reported_category; `matches` keyed by
    organization."""
    matched: dict[int, bool] = {}
    for match in matches:
        matched[match.key] = matched.get(match.key, False) or authenticated_for(match, own_domains.get(match.key, ()))
    category = row.verdict_category or row.reported_category or "unknown"
    keys = report_keys(facts, category=category, campaign_id=row.campaign_id, source=source) if matched else []
    stats.record(conn, report_id, contributions(matched, keys, at=row.received_at, weight=weight))
