"""Indicators of confirmed campaigns in the database (signalement.verdict.indicators, docs/feeds.md): what each
report shows, which campaigns are confirmed, the indicators' tallies and their changes, each with a sequence number
from one counter (as the URLs', so that a feed's cursor never skips a change)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select, update

from signalement.domain.members import Tlp
from signalement.store import versions
from signalement.store.change_log import Change, commit
from signalement.store.sql import insert_ignore_many, utcnow
from signalement.store.tables import (
    campaigns,
    indicator_events,
    indicators,
    report_indicators,
    report_urls,
    reports,
)
from signalement.store.urls import reporting_source
from signalement.verdict.indicators import Indicator, IndicatorState, Kind, Tally

INDICATORS = "indicators"  # the counter of indicator changes (signalement.store.versions)
MAX_CAMPAIGNS = 20  # public ids kept per indicator, the latest first


@dataclass(frozen=True)
class Row:
    id: int
    kind: Kind
    value: str
    state: IndicatorState
    tlp: Tlp
    first_seen: datetime
    last_seen: datetime
    reports: int
    sources: int
    campaigns: tuple[str, ...]
    confirmed_at: datetime | None
    shown_tlp: Tlp | None
    changed_at: datetime | None
    seq: int | None


def _row(r: Any) -> Row:
    return Row(r.id, Kind(r.kind), r.value, IndicatorState(r.state), Tlp(r.tlp), r.first_seen, r.last_seen,
               r.reports, r.sources, tuple(r.campaigns or ()), r.confirmed_at,
               Tlp(r.shown_tlp) if r.shown_tlp else None, r.changed_at, r.seq)  # fmt: skip


def record(conn: Connection, report_id: int, found: Sequence[Indicator]) -> None:
    """What a report shows, replacing what an earlier analysis of it found."""
    conn.execute(report_indicators.delete().where(report_indicators.c.report_id == report_id))
    rows = [{"kind": i.kind.value, "value": i.value, "report_id": report_id} for i in found]
    insert_ignore_many(conn, report_indicators, rows)


def campaigns_of_url(conn: Connection, url_id: int) -> list[int]:
    query = (
        select(reports.c.campaign_id)
        .join(report_urls, report_urls.c.report_id == reports.c.id)
        .where(report_urls.c.url_id == url_id, reports.c.campaign_id.is_not(None))
        .distinct()
    )
    return [int(c) for c in conn.execute(query).scalars()]


def confirm_campaigns(conn: Connection, campaign_ids: Sequence[int]) -> list[int]:
    """Confirm the campaigns not confirmed yet (their rows stay locked to the end of the transaction, so a report
    joining one meanwhile is seen either before or after); the ones this confirmed."""
    if not campaign_ids:
        return []
    query = (
        update(campaigns)
        .where(campaigns.c.id.in_(sorted(set(campaign_ids))), campaigns.c.confirmed_at.is_(None))
        .values(confirmed_at=utcnow())
        .returning(campaigns.c.id)
    )
    return sorted(int(c) for c in conn.execute(query).scalars())


def confirmed_campaign_of(conn: Connection, report_id: int) -> bool:
    """Whether the report's campaign is confirmed, its row locked (see confirm_campaigns)."""
    campaign_id = conn.execute(select(reports.c.campaign_id).where(reports.c.id == report_id)).scalar()
    if campaign_id is None:
        return False
    query = select(campaigns.c.confirmed_at).where(campaigns.c.id == campaign_id).with_for_update()
    return conn.execute(query).scalar() is not None


def of_campaign(conn: Connection, campaign_id: int) -> list[Indicator]:
    query = (
        select(report_indicators.c.kind, report_indicators.c.value)
        .join(reports, reports.c.id == report_indicators.c.report_id)
        .where(reports.c.campaign_id == campaign_id)
        .distinct()
    )
    return sorted(Indicator(Kind(k), v) for k, v in conn.execute(query))


def of_report(conn: Connection, report_id: int) -> list[Indicator]:
    query = select(report_indicators.c.kind, report_indicators.c.value).where(
        report_indicators.c.report_id == report_id
    )
    return sorted(Indicator(Kind(k), v) for k, v in conn.execute(query))


@dataclass(frozen=True)
class Seen:
    tally: Tally
    first: datetime
    last: datetime
    campaigns: tuple[str, ...]


def seen(conn: Connection, indicator: Indicator) -> Seen | None:
    """What the reports of confirmed campaigns say of an indicator (reports an analysis found legitimate aside);
    None when none shows it."""
    shown = (
        select(reports.c.received_at, reporting_source(anonymous_together=True).label("source"), campaigns.c.public_id)
        .join(report_indicators, report_indicators.c.report_id == reports.c.id)
        .join(campaigns, campaigns.c.id == reports.c.campaign_id)
        .where(
            report_indicators.c.kind == indicator.kind.value,
            report_indicators.c.value == indicator.value,
            campaigns.c.confirmed_at.is_not(None),
            func.coalesce(reports.c.verdict_category, "") != "legitimate",
        )
        .subquery()
    )
    totals = conn.execute(
        select(
            func.count(),
            func.count(shown.c.source.distinct()),
            func.min(shown.c.received_at),
            func.max(shown.c.received_at),
        )
    ).one()
    if not totals[0]:
        return None
    latest = conn.execute(
        select(shown.c.public_id)
        .group_by(shown.c.public_id)
        .order_by(func.max(shown.c.received_at).desc(), shown.c.public_id)
        .limit(MAX_CAMPAIGNS)
    ).scalars()
    return Seen(Tally(int(totals[0]), int(totals[1])), totals[2], totals[3], tuple(latest))


def get(conn: Connection, indicator_id: int, *, for_update: bool = False) -> Row | None:
    query = select(indicators).where(indicators.c.id == indicator_id)
    found = conn.execute(query.with_for_update() if for_update else query).first()
    return _row(found) if found is not None else None


def upsert(conn: Connection, indicator: Indicator, seen: Seen) -> Row:
    """The indicator's row with the new tally, made (suspected) if it was not there yet; locked."""
    counts = {"first_seen": seen.first, "last_seen": seen.last, "reports": seen.tally.reports,
              "sources": seen.tally.sources, "campaigns": list(seen.campaigns)}  # fmt: skip
    made = {"kind": indicator.kind.value, "value": indicator.value, "state": IndicatorState.SUSPECTED.value,
            "tlp": Tlp.GREEN.value, **counts}  # fmt: skip
    insert_ignore_many(conn, indicators, [made])
    where = (indicators.c.kind == indicator.kind.value, indicators.c.value == indicator.value)
    found = conn.execute(select(indicators).where(*where).with_for_update()).one()
    conn.execute(update(indicators).where(indicators.c.id == found.id).values(**counts))
    changed = get(conn, found.id)
    assert changed is not None
    return changed


def change(
    conn: Connection,
    row: Row,
    *,
    actor: str,
    action: str,
    reason: str | None = None,
    state: IndicatorState | None = None,
    tlp: Tlp | None = None,
) -> int:
    """Change an indicator's state or TLP, record who and why, give the change its sequence number (returned)."""
    now = utcnow()
    made = Change(reason)
    if made.move("state", row.state, state) and state is IndicatorState.CONFIRMED:
        made.values["confirmed_at"] = now
    made.move("tlp", row.tlp, tlp)
    if (state or row.state) is IndicatorState.CONFIRMED:
        made.values["shown_tlp"] = (tlp or row.tlp).widest(row.shown_tlp)
    return commit(conn, made, counter=INDICATORS, table=indicators, events=indicator_events, ref="indicator_id",
                  row_id=row.id, actor=actor, action=action, now=now)  # fmt: skip


def changed_since(conn: Connection, cursor: int, max_tlp: Tlp, limit: int, kind: Kind | None = None) -> list[Row]:
    """The indicators changed after `cursor` that the reader may receive, or once could (so it gets the withdrawal
    when one's marking tightens past its ceiling), in change order."""
    allowed = [t.value for t in Tlp if max_tlp.allows(t)]
    query = (
        select(indicators)
        .where(indicators.c.seq > cursor, indicators.c.tlp.in_(allowed) | indicators.c.shown_tlp.in_(allowed))
        .order_by(indicators.c.seq)
        .limit(limit)
    )
    if kind is not None:
        query = query.where(indicators.c.kind == kind.value)
    return [_row(r) for r in conn.execute(query)]


def listing(
    conn: Connection,
    *,
    kind: Kind | None = None,
    state: IndicatorState | None = None,
    value: str | None = None,
    after: int = 0,
    limit: int = 100,
) -> list[Row]:
    query = select(indicators).where(indicators.c.id > after).order_by(indicators.c.id).limit(limit)
    for column, wanted in ((indicators.c.kind, kind), (indicators.c.state, state), (indicators.c.value, value)):
        if wanted is not None:
            query = query.where(column == wanted)
    return [_row(r) for r in conn.execute(query)]


def events(conn: Connection, indicator_id: int) -> list[Any]:
    query = select(indicator_events).where(indicator_events.c.indicator_id == indicator_id)
    return list(conn.execute(query.order_by(indicator_events.c.id)))


def stale(conn: Connection, kind: Kind, before: datetime, limit: int) -> list[int]:
    """Listed indicators of a kind no report has shown since `before`."""
    query = select(indicators.c.id).where(
        indicators.c.kind == kind.value,
        indicators.c.state == IndicatorState.CONFIRMED.value,
        indicators.c.last_seen < before,
    )
    return [int(i) for i in conn.execute(query.order_by(indicators.c.id).limit(limit)).scalars()]


def last_seq(conn: Connection) -> int:
    return versions.current(conn, INDICATORS)
