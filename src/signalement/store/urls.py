"""The URLs' reputation in the database (signalement.domain.url_reputation, docs/urls.md): the evidence of their
reports, their changes (each with a sequence number from one counter, allocated under its row lock, so that feeds
read changes in commit order) and the reporters' judged records."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, String, case, cast, func, literal, select, update

from signalement.domain.members import Tlp
from signalement.domain.url_reputation import ConfirmedBy, Evidence, Level, Record, UrlState, Weight
from signalement.store import versions
from signalement.store.change_log import Change, commit
from signalement.store.sql import insert_ignore_many, utcnow
from signalement.store.tables import (
    campaigns,
    delisting_requests,
    indicators,
    report_urls,
    reports,
    url_events,
    url_judgements,
    urls,
    users,
)

URLS = "urls"  # the counter of URL changes (signalement.store.versions)
MAX_EVIDENCE = 1000  # reports of one URL read to weigh it: the most recent
EARLY_REPORTERS = 5  # the first reporters of a URL later confirmed count as early
EARLY_WINDOW = timedelta(hours=1)  # ... and so do those within an hour of its first report


@dataclass(frozen=True)
class Url:
    id: int
    canonical: str
    host: str
    state: UrlState
    tlp: Tlp
    level: Level | None
    listed: str | None
    brand: str | None
    reports: int
    reporters: int
    first_seen: datetime
    last_seen: datetime
    confirmed_by: str | None
    confirmed_at: datetime | None
    changed_at: datetime | None
    seq: int | None
    shown_tlp: Tlp | None = None  # the least strict TLP it was listed at


def url_of(row: Any) -> Url:
    return Url(row.id, row.canonical, row.host, UrlState(row.state), Tlp(row.tlp),
               Level(row.level) if row.level else None, row.listed, row.brand, row.reports, row.reporters,
               row.first_seen, row.last_seen, row.confirmed_by, row.confirmed_at, row.changed_at, row.seq,
               Tlp(row.shown_tlp) if row.shown_tlp else None)  # fmt: skip


def get(conn: Connection, url_id: int, *, for_update: bool = False) -> Url | None:
    query = select(urls).where(urls.c.id == url_id)
    row = conn.execute(query.with_for_update() if for_update else query).first()
    return url_of(row) if row is not None else None


def of_report(conn: Connection, report_id: int) -> list[int]:
    return list(conn.execute(select(report_urls.c.url_id).where(report_urls.c.report_id == report_id)).scalars())


def evidence(conn: Connection, url_id: int) -> list[Evidence]:
    """Each reporter's report of the URL (the most recent MAX_EVIDENCE), with its judged record."""
    rows = conn.execute(
        select(reports.c.submitter, reporting_source().label("source"))
        .join(report_urls, report_urls.c.report_id == reports.c.id)
        .where(report_urls.c.url_id == url_id)
        .order_by(reports.c.id.desc())
        .limit(MAX_EVIDENCE)
    ).all()
    records = _records(conn, sorted({r.submitter for r in rows}))
    return [
        Evidence(r.submitter, r.source, r.submitter.startswith("anon:"), records.get(r.submitter, Record()))
        for r in rows
    ]


def reporting_source(*, anonymous_together: bool = False) -> ColumnElement[str]:
    """Who a report counts for, so that a flood counts once: its reporter's organization, else the configured
    source it came through, else its reporter (anonymous reporters as one, if asked)."""
    organization = select(users.c.organization_id).where(users.c.id == reports.c.reporter_id).scalar_subquery()
    anonymous = [(reports.c.submitter.startswith("anon:"), literal("anonymous"))] if anonymous_together else []
    return case(
        (organization.is_not(None), literal("organization:") + cast(organization, String)),
        (reports.c.source.is_not(None), literal("source:") + reports.c.source),
        *anonymous,
        else_=reports.c.submitter,
    )


def _records(conn: Connection, reporters: Sequence[str]) -> dict[str, Record]:
    if not reporters:
        return {}
    confirmed = func.sum(case((url_judgements.c.outcome == UrlState.CONFIRMED, 1), else_=0))
    cleared = func.sum(case((url_judgements.c.outcome == UrlState.CLEARED, 1), else_=0))
    early = func.sum(case((url_judgements.c.early.is_(True), 1), else_=0))
    query = (
        select(url_judgements.c.reporter, confirmed, cleared, early)
        .where(url_judgements.c.reporter.in_(list(reporters)))
        .group_by(url_judgements.c.reporter)
    )
    return {r[0]: Record(int(r[1] or 0), int(r[2] or 0), int(r[3] or 0)) for r in conn.execute(query)}


def set_counts(conn: Connection, url_id: int, reports_count: int, weight: Weight) -> None:
    query = update(urls).where(urls.c.id == url_id)
    conn.execute(query.values(reports=reports_count, reporters=weight.sources, weight=round(weight.total, 6)))


def recount(conn: Connection, url_id: int) -> None:
    """Its reports and distinct sources, counted in the database (the weight is left as it was)."""
    counts = (
        select(func.count(), func.count(reporting_source().distinct()))
        .select_from(reports.join(report_urls, report_urls.c.report_id == reports.c.id))
        .where(report_urls.c.url_id == url_id)
    )
    total, sources = conn.execute(counts).one()
    conn.execute(update(urls).where(urls.c.id == url_id).values(reports=total, reporters=sources))


def report_count(conn: Connection, url_id: int) -> int:
    query = select(func.count()).select_from(report_urls).where(report_urls.c.url_id == url_id)
    return int(conn.execute(query).scalar() or 0)


def change(
    conn: Connection,
    url: Url,
    *,
    actor: str,
    action: str,
    reason: str | None = None,
    state: UrlState | None = None,
    tlp: Tlp | None = None,
    listing: tuple[Level, str] | None = None,
    confirmed_by: ConfirmedBy | None = None,
    brand: str | None = None,
) -> int:
    """Change a URL (its state, TLP or listing), record who and why, and give the change its sequence number;
    the reporters' judgements follow a confirmation or a clearing. Returns the sequence number."""
    now = utcnow()
    made = Change(reason)
    if made.move("state", url.state, state) and state is UrlState.CONFIRMED:
        made.values |= {"confirmed_by": confirmed_by or ConfirmedBy.ANALYST, "confirmed_at": now}
    made.move("tlp", url.tlp, tlp)
    if listing is not None:
        made.values |= {"level": listing[0], "listed": listing[1]}
        made.detail["listing"] = [listing[0].value, listing[1]]
    if brand is not None:
        made.values["brand"] = brand[:100]
    if (state or url.state) is UrlState.CONFIRMED:
        made.values["shown_tlp"] = (tlp or url.tlp).widest(url.shown_tlp)
    seq = commit(conn, made, counter=URLS, table=urls, events=url_events, ref="url_id", row_id=url.id, actor=actor,
                 action=action, now=now)  # fmt: skip
    if state in (UrlState.CONFIRMED, UrlState.CLEARED) and state is not url.state:
        _judge(conn, url, state, now)
    return seq


def _judge(conn: Connection, url: Url, outcome: UrlState, at: datetime) -> None:
    """Every reporter of the URL gets this outcome in its record (a later judgement replaces an earlier one);
    early: among its first reporters, or within an hour of its first report, before the confirmation."""
    rows = conn.execute(
        select(reports.c.submitter, func.min(reports.c.received_at).label("first"))
        .join(report_urls, report_urls.c.report_id == reports.c.id)
        .where(report_urls.c.url_id == url.id, reports.c.received_at <= at)
        .group_by(reports.c.submitter)
        .order_by(func.min(reports.c.received_at))
    ).all()
    made = [
        {"url_id": url.id, "reporter": r.submitter, "outcome": outcome,
         "early": outcome is UrlState.CONFIRMED and (n < EARLY_REPORTERS or r.first <= url.first_seen + EARLY_WINDOW)}
        for n, r in enumerate(rows)
    ]  # fmt: skip
    conn.execute(url_judgements.delete().where(url_judgements.c.url_id == url.id))
    insert_ignore_many(conn, url_judgements, made)


def confirmed_on_host(conn: Connection, host: str, but: int) -> list[str]:
    """The other confirmed URLs of a host (for the kit directory of signalement.verdict.listing)."""
    query = select(urls.c.canonical).where(urls.c.host == host, urls.c.state == UrlState.CONFIRMED, urls.c.id != but)
    return list(conn.execute(query.limit(1000)).scalars())


def events(conn: Connection, url_id: int) -> list[Any]:
    query = select(url_events).where(url_events.c.url_id == url_id).order_by(url_events.c.id)
    return list(conn.execute(query))


def listing(
    conn: Connection,
    *,
    state: UrlState | None = None,
    host: str | None = None,
    after: int = 0,
    limit: int = 100,
) -> list[Url]:
    query = select(urls).where(urls.c.id > after).order_by(urls.c.id).limit(limit)
    if state is not None:
        query = query.where(urls.c.state == state)
    if host:
        query = query.where(urls.c.host == host)
    return [url_of(r) for r in conn.execute(query)]


def changed_since(
    conn: Connection, cursor: int, max_tlp: Tlp, limit: int, levels: tuple[Level, ...] | None = None
) -> list[Url]:
    """The URLs changed after `cursor` whose marking the reader may receive, or once could (it gets the withdrawal
    when a marking tightens past its ceiling), in change order (each at its latest state: a consumer applies them
    in turn)."""
    allowed = [t.value for t in Tlp if max_tlp.allows(t)]
    visible = urls.c.tlp.in_(allowed) | urls.c.shown_tlp.in_(allowed)
    query = select(urls).where(urls.c.seq > cursor, visible).order_by(urls.c.seq).limit(limit)
    if levels is not None:
        query = query.where(urls.c.level.in_([level.value for level in levels]))
    return [url_of(r) for r in conn.execute(query)]


def campaigns_of(conn: Connection, url_ids: Sequence[int], per_url: int = 20) -> dict[int, tuple[str, ...]]:
    """The public ids of the campaigns whose reports carry each URL, the latest first."""
    found: dict[int, list[str]] = {}
    for start in range(0, len(url_ids), 500):
        query = (
            select(report_urls.c.url_id, campaigns.c.public_id)
            .join(reports, reports.c.id == report_urls.c.report_id)
            .join(campaigns, campaigns.c.id == reports.c.campaign_id)
            .where(report_urls.c.url_id.in_(url_ids[start : start + 500]))
            .group_by(report_urls.c.url_id, campaigns.c.public_id)
            .order_by(report_urls.c.url_id, func.max(reports.c.received_at).desc(), campaigns.c.public_id)
        )
        for url_id, public_id in conn.execute(query):
            found.setdefault(url_id, []).append(public_id)
    return {url_id: tuple(ids[:per_url]) for url_id, ids in found.items()}


def last_seq(conn: Connection) -> int:
    return versions.current(conn, URLS)


def request_delisting(conn: Connection, target: tuple[str, str], contact: str, reason: str) -> dict[str, Any]:
    """A site owner's request about a URL, an origin IP or a sender domain (`target`: kind and value), pending an
    analyst's decision; the row as made."""
    kind, value = target
    url_id = conn.execute(select(urls.c.id).where(urls.c.canonical == value)).scalar() if kind == "url" else None
    indicator_id = None
    if kind != "url":
        where = (indicators.c.kind == kind, indicators.c.value == value)
        indicator_id = conn.execute(select(indicators.c.id).where(*where)).scalar()
    row = {"url": value, "url_id": url_id, "indicator_id": indicator_id, "contact": contact, "reason": reason,
           "state": "pending", "created_at": utcnow()}  # fmt: skip
    made = conn.execute(delisting_requests.insert().returning(delisting_requests.c.id), row).scalar_one()
    return {"id": made, "decision": None, "decided_at": None, **row}
