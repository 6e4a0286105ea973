"""Protected clicks: per listed URL and day, how many times the warning page stood between a person and it
(signalement.ui.warning). Nothing about who clicked is kept: no address, no cookie, no browser."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from functools import cache

from sqlalchemy import Connection, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.dml import Insert

from signalement.store.tables import campaigns, report_urls, reports, url_clicks

CHUNK = 500  # ids in one IN (...)


@cache
def _upsert(dialect_name: str) -> Insert:
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    statement = dialect.insert(url_clicks)
    upsert: Insert = statement.on_conflict_do_update(
        index_elements=["url_id", "day"], set_={"clicks": url_clicks.c.clicks + statement.excluded.clicks}
    )
    return upsert


def count(conn: Connection, url_id: int, day: date, clicks: int = 1) -> None:
    """One more protected click on the URL that day (one statement: concurrent clicks do not lose each other)."""
    conn.execute(_upsert(conn.dialect.name), {"url_id": url_id, "day": day, "clicks": clicks})


def protected(conn: Connection, url_ids: Sequence[int]) -> dict[int, int]:
    """The protected clicks of each URL, over all days (URLs never warned about are absent)."""
    found: dict[int, int] = {}
    unique = sorted(set(url_ids))
    for start in range(0, len(unique), CHUNK):
        query = (
            select(url_clicks.c.url_id, func.sum(url_clicks.c.clicks))
            .where(url_clicks.c.url_id.in_(unique[start : start + CHUNK]))
            .group_by(url_clicks.c.url_id)
        )
        found.update({int(url_id): int(total) for url_id, total in conn.execute(query)})
    return found


def of_report(conn: Connection, report_id: int) -> int:
    """The protected clicks of all the URLs a report carries."""
    query = (
        select(func.coalesce(func.sum(url_clicks.c.clicks), 0))
        .join(report_urls, report_urls.c.url_id == url_clicks.c.url_id)
        .where(report_urls.c.report_id == report_id)
    )
    return int(conn.execute(query).scalar_one())


def by_campaign(conn: Connection, public_ids: Sequence[str]) -> dict[str, int]:
    """The protected clicks of each campaign: those of the URLs its reports carry, each URL counted once however
    many of its reports carry it (campaigns without any are absent)."""
    found: dict[str, int] = {}
    unique = sorted(set(public_ids))
    for start in range(0, len(unique), CHUNK):
        pairs = (
            select(campaigns.c.public_id, report_urls.c.url_id)
            .join(reports, reports.c.campaign_id == campaigns.c.id)
            .join(report_urls, report_urls.c.report_id == reports.c.id)
            .where(campaigns.c.public_id.in_(unique[start : start + CHUNK]))
            .distinct()
            .subquery()
        )
        query = (
            select(pairs.c.public_id, func.sum(url_clicks.c.clicks))
            .join(url_clicks, url_clicks.c.url_id == pairs.c.url_id)
            .group_by(pairs.c.public_id)
        )
        found.update({str(public_id): int(total) for public_id, total in conn.execute(query)})
    return found
