"""What became of a report, in plain words: its timeline, and the sum of what a reporter's reports did. Each later
feature (feedback loops, URL feeds, takedowns, warnings) adds its events here as it lands."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, distinct, func, select

from signalement.store.tables import campaigns, reports
from signalement.ui.i18n import Translate
from signalement.verdict.chain import HARMFUL
from signalement.verdict.rules import RULES

MAX_REASONS = 8


@dataclass(frozen=True)
class Event:
    when: datetime | None
    title: str
    detail: str | None = None
    items: tuple[str, ...] = ()


def timeline(row: Any, t: Translate) -> list[Event]:
    events = [Event(row.received_at, t("event.received"), t(f"channel.{row.channel}"))]
    if row.status == "analyzed":
        events.append(_verdict(row, t))
        others = (row.campaign_reports or 1) - 1
        if others > 0:
            events.append(Event(None, t("event.campaign", count=others), t("event.campaign_detail")))
    elif row.status == "failed":
        events.append(Event(row.analyzed_at, t("event.failed")))
    else:
        events.append(Event(None, t("event.pending")))
    return events


def _verdict(row: Any, t: Translate) -> Event:
    facts: Mapping[str, Any] = row.facts or {}
    category = row.verdict_category or "none"
    rules = [r.get("rule") for r in facts.get("reasons") or [] if isinstance(r, dict)]
    reasons = tuple(t(f"rule.{name}") for name in rules if name in RULES)[:MAX_REASONS]
    brands = [b.get("name") or b.get("brand") for b in facts.get("brands") or [] if b.get("impersonated")]
    detail = t("event.impersonates", brands=", ".join(brands)) if brands else None
    return Event(row.analyzed_at, t(f"verdict.{category}"), detail, reasons)


def impact(conn: Connection, user_id: int) -> dict[str, int]:
    """A reporter's reports: how many, how many were harmful, in how many campaigns, and how many reports of other
    people those campaigns gathered (the same attack, seen by others)."""
    mine = reports.c.reporter_id == user_id
    total, harmful, joined, in_campaigns = conn.execute(
        select(
            func.count(),
            func.count().filter(reports.c.verdict_category.in_(HARMFUL)),
            func.count(distinct(reports.c.campaign_id)),
            func.count(reports.c.campaign_id),
        ).where(mine)
    ).one()
    theirs = select(reports.c.campaign_id).where(mine, reports.c.campaign_id.is_not(None)).distinct().scalar_subquery()
    gathered = conn.execute(
        select(func.coalesce(func.sum(campaigns.c.reports), 0)).where(campaigns.c.id.in_(theirs))
    ).scalar_one()
    return {"reports": total, "harmful": harmful, "campaigns": joined, "others": max(int(gathered) - in_campaigns, 0)}
