"""Campaigns in the database: finding a report's candidates by its keys, founding, joining and leaving a
campaign, and what staff read about one. The decision itself is signalement.verdict.campaigns (pure).

A report counts once in one campaign. Analysing it again reads what it counted for before (its campaign, its
verdict category and the brands of its stored document) and moves only the difference: it keeps its campaign while
that still qualifies, and a report that moves is taken out of the old campaign's counters first. First and last
seen only widen. Every counter, the brands' counts included, moves inside one UPDATE of the campaign's row, from
the row it locked, so concurrent workers lose nothing.

On PostgreSQL an assignment is two round trips (pg_batch): the lookup (the key locks, the report's prior state and
the candidates), then every write. SQLite runs in this process: its statements go one by one through SQLAlchemy.
"""

from __future__ import annotations

import ipaddress
import json
import secrets
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Integer,
    RowMapping,
    Select,
    String,
    any_,
    bindparam,
    case,
    cast,
    func,
    insert,
    literal_column,
    select,
    text,
    true,
    union_all,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.dml import Insert, Update

from signalement.store import pg_batch
from signalement.store.pg_batch import Statement
from signalement.store.sql import utcnow
from signalement.store.tables import (
    CAMPAIGN_CATEGORIES,
    UTCDateTime,
    campaign_days,
    campaign_keys,
    campaigns,
    report_urls,
    reports,
    urls,
)
from signalement.verdict import campaigns as rule
from signalement.verdict.brands import registry

PUBLIC_PREFIX = "cmp-"
MAX_CANDIDATES = 64  # most shared bands first: a report finds a handful; a hot domain key could find thousands
UNCLASSIFIED = "unclassified"  # the category of a report not (yet) classified
TOP = 20  # networks and URLs in a summary


@dataclass(frozen=True)
class Assignment:
    campaign_id: int
    public_id: str
    joined_by: str | None  # "bands:N" or "domain:<d>"; None when the report founded the campaign

    def as_json(self) -> dict[str, Any]:
        return {"id": self.public_id, "joined_by": self.joined_by}


@dataclass(frozen=True)
class Counted:
    """What a report counts for in its campaign."""

    category: str  # one of CAMPAIGN_CATEGORIES
    brands: frozenset[str]


def counted(category: str | None, brands: frozenset[str]) -> Counted:
    return Counted(category if category in CAMPAIGN_CATEGORIES else UNCLASSIFIED, brands)


@dataclass(frozen=True)
class Prior:
    """A report's campaign and what it counted for there, before this analysis."""

    campaign_id: int | None
    counted: Counted


NO_PRIOR = Prior(None, Counted(UNCLASSIFIED, frozenset()))


def assign_campaign(conn: Connection, report_id: int, facts: Mapping[str, Any], received_at: datetime) -> str | None:
    """Assign the report to a campaign (joined or founded) and set its `campaign_id` and `verdict_category`;
    returns the campaign's public id, None for a report with nothing to cluster on. `facts` is the document that
    save_analysis stores with it (the brands it counted for are read back from there on the next analysis)."""
    assignment = assign(conn, report_id, facts, received_at, set_report=True)
    return assignment.public_id if assignment else None


def assign(
    conn: Connection, report_id: int, facts: Mapping[str, Any], received_at: datetime, *, set_report: bool = False
) -> Assignment | None:
    """The campaign of a report, with every counter moved; `set_report` also sets the report's `campaign_id` and
    `verdict_category` (save_analysis writes them with the rest of the report)."""
    evidence = rule.evidence(facts)
    opening, rows = _lookup(conn, report_id, evidence)
    prior, next_id = _prior(opening)
    decision = rule.decide(evidence, [_candidate(r) for r in rows], prior.campaign_id)
    public_ids = {r.campaign_id: r.public_id for r in rows}
    now = counted(evidence.category, evidence.brands)
    writes = _Writes(conn)
    campaign_id: int | None = None
    if decision.campaign is not None and decision.campaign == prior.campaign_id:
        campaign_id = decision.campaign
        if now != prior.counted:
            _move(writes, campaign_id, 0, prior.counted, now)
    else:
        if prior.campaign_id is not None:
            _move(writes, prior.campaign_id, -1, prior.counted, None)
            writes.add(_LEAVE_DAY, {"leaving": prior.campaign_id, "leaving_day": _day(received_at)})
        if decision.campaign is not None:
            campaign_id = decision.campaign
            _move(writes, campaign_id, 1, None, now, seen=received_at)
        elif decision.found:
            campaign_id, public_ids[next_id] = next_id, _found(writes, next_id, now, received_at)
        if campaign_id is not None:
            writes.add(_day_upsert(conn.dialect.name), {"campaign_id": campaign_id, "day": _day(received_at)})
    if campaign_id is not None:
        shared = {rule.DOMAIN_PREFIX + d for d in decision.shared_domains}
        _store_keys(writes, sorted(set(evidence.stored_keys(decision.exemplar)) - shared), campaign_id)
    if set_report:
        category = facts.get("category")
        report = {"report_id": report_id, "campaign_id": campaign_id}
        writes.add(_SET_REPORT, report | {"category": category if isinstance(category, str) else None})
    writes.send()
    return Assignment(campaign_id, public_ids[campaign_id], decision.joined_by) if campaign_id is not None else None


def leave_campaign(conn: Connection, report_id: int, received_at: datetime) -> None:
    """Take a report out of its campaign's counters and days, before the report itself is deleted."""
    row = conn.execute(_PRIOR, {"report_id": report_id}).first()
    if row is None or row.campaign_id is None:
        return
    writes = _Writes(conn)
    _move(writes, row.campaign_id, -1, counted(row.verdict_category, rule.impersonated_brands(row.brands)), None)
    writes.add(_LEAVE_DAY, {"leaving": row.campaign_id, "leaving_day": _day(received_at)})
    writes.send()


class _Writes:
    """The writes of one assignment. SQLite runs each at once: it is in this process, nothing to wait for.
    PostgreSQL holds them and sends them at the end as one batch (pg_batch): one round trip."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.postgresql = conn.dialect.name == "postgresql"
        self.held: list[tuple[Statement, dict[str, Any]]] = []

    def add(self, statement: Statement, params: dict[str, Any]) -> None:
        if self.postgresql:
            self.held.append((statement, params))
        else:
            self.conn.execute(statement, params)

    def send(self) -> None:
        if self.held:
            pg_batch.run(self.conn, self.held)


def _lookup(conn: Connection, report_id: int, evidence: rule.Evidence) -> tuple[Any, Sequence[Any]]:
    """The report's state before this analysis (`_opening`) and the campaigns its keys find (`_candidates_query`):
    on PostgreSQL one batch, the candidates read after the opening took the key locks."""
    keys = evidence.lookup_keys()
    report = {"report_id": report_id}
    if conn.dialect.name != "postgresql":
        prior = conn.execute(_opening("sqlite"), report).one()
        by_keys = {f"k{i}": k for i, k in enumerate(keys)}
        return prior, conn.execute(_candidates_query("sqlite", len(keys)), by_keys).all() if keys else []
    locks = {"keys": _joined(evidence.bands + evidence.domain_keys)}
    batch: list[tuple[Statement, dict[str, Any]]] = [(_opening("postgresql"), report | locks)]
    if keys:
        batch.append((_candidates_query("postgresql", 0), {"keys": _joined(keys)}))
    opening, *found = pg_batch.run(conn, batch)
    return opening[0], found[0] if found else []


def _keys_param() -> ColumnElement[Any]:
    """PostgreSQL: the space-joined `keys` parameter as an array."""
    return func.string_to_array(bindparam("keys", type_=String), literal_column("' '"))


_PRIOR = select(reports.c.campaign_id, reports.c.verdict_category, reports.c.facts["brands"].label("brands")).where(
    reports.c.id == bindparam("report_id")
)


@cache
def _opening(dialect: str) -> Select[Any]:
    """The report's campaign, category and brands before this analysis (none if it has no row), and the id a new
    campaign would take: from the sequence on PostgreSQL, after the largest on SQLite (whose writer holds the
    database lock).

    On PostgreSQL it also takes a transaction lock on each of the report's keys, held until commit, so that workers
    assigning variants of one message at once see each other's campaign instead of each founding its own: the
    candidates are read by the next statement, whose snapshot comes after the lock. The locks are taken in one order
    (by their number), so two transactions never wait for each other in a cycle. A SQLite writer holds the database
    lock already."""
    prior = _PRIOR.subquery()
    one = select(literal_column("1").label("one")).subquery()
    next_id: ColumnElement[Any]
    if dialect != "postgresql":
        next_id = select(func.coalesce(func.max(campaigns.c.id), 0) + 1).scalar_subquery()
        return select(prior, next_id.label("next_id")).select_from(one.outerjoin(prior, true()))
    numbers = select(func.hashtextextended(func.unnest(_keys_param()), literal_column("0")).label("n")).subquery()
    ordered = select(numbers.c.n).distinct().order_by(numbers.c.n).subquery()
    locked = select(func.count(func.pg_advisory_xact_lock(ordered.c.n))).scalar_subquery()
    next_id = func.nextval(func.pg_get_serial_sequence(literal_column("'campaigns'"), literal_column("'id'")))
    return select(prior, next_id.label("next_id"), locked.label("locked")).select_from(one.outerjoin(prior, true()))


def _prior(row: Any) -> tuple[Prior, int]:
    if row.campaign_id is None:
        return NO_PRIOR, int(row.next_id)
    return Prior(row.campaign_id, counted(row.verdict_category, rule.impersonated_brands(row.brands))), int(row.next_id)


_SET_REPORT = (
    update(reports)
    .where(reports.c.id == bindparam("report_id"))
    .values(campaign_id=bindparam("campaign_id"), verdict_category=bindparam("category"))
)


def _joined(keys: Sequence[str]) -> str:
    """Keys as one parameter: cheaper to send than an array (no key holds a space)."""
    return " ".join(keys)


@cache
def _candidates_query(dialect: str, count: int) -> Select[Any]:
    """One query: the campaigns holding any of the keys, with how many band keys and which domain keys they share,
    most bands first. Band keys ("b...") sort below "c", domain keys ("d:...") above. PostgreSQL takes the keys as
    one parameter; SQLite has one statement per number of keys (at most 40). Constants are literal: an expanding IN
    or a bound separator is rendered again at every call."""
    key = campaign_keys.c.key
    c: ColumnElement[str] = literal_column("'c'")
    harmful = campaigns.c.phishing + campaigns.c.malware + campaigns.c.scam  # rule.HARMFUL
    bands = func.sum(case((key < c, literal_column("1")), else_=literal_column("0"))).label("bands")
    if dialect == "postgresql":
        domains = func.string_agg(case((key > c, key)), literal_column("' '"))
        wanted = key == any_(_keys_param())
    else:
        domains = func.group_concat(case((key > c, key)), literal_column("' '"))
        wanted = key.in_([bindparam(f"k{i}") for i in range(count)])
    return (
        select(
            campaigns.c.id.label("campaign_id"),
            bands,
            domains.label("domains"),
            campaigns.c.public_id,
            harmful.label("harmful"),
            campaigns.c.brands,
        )
        .select_from(campaign_keys.join(campaigns, campaigns.c.id == campaign_keys.c.campaign_id))
        .where(wanted)
        .group_by(campaigns.c.id)  # PostgreSQL: the other columns of `campaigns` depend on its primary key
        .order_by(bands.desc(), campaigns.c.id)
        .limit(MAX_CANDIDATES)
    )


def _store_keys(writes: _Writes, keys: Sequence[str], campaign_id: int) -> None:
    """A campaign's new keys in one statement: one parameter on PostgreSQL, the driver's own executemany on SQLite
    (SQLAlchemy would process the ~33 rows one by one, for two plain values each)."""
    if not keys:
        return
    if writes.postgresql:
        writes.add(_INSERT_KEYS_POSTGRESQL, {"keys": _joined(keys), "campaign_id": campaign_id})
    else:
        writes.conn.exec_driver_sql(_INSERT_KEYS_SQLITE, [(k, campaign_id) for k in keys])


_INSERT_KEYS_POSTGRESQL = text(
    "INSERT INTO campaign_keys (key, campaign_id) SELECT unnest(string_to_array(:keys, ' ')), :campaign_id "
    "ON CONFLICT DO NOTHING"
)
_INSERT_KEYS_SQLITE = "INSERT INTO campaign_keys (key, campaign_id) VALUES (?, ?) ON CONFLICT DO NOTHING"


def _candidate(row: Any) -> rule.Candidate:
    domains = frozenset(k.removeprefix(rule.DOMAIN_PREFIX) for k in (row.domains or "").split())
    brands = row.brands if isinstance(row.brands, dict) else {}
    return rule.Candidate(
        campaign=row.campaign_id,
        bands=int(row.bands or 0),
        domains=domains,
        harmful=row.harmful > 0,
        brands=frozenset(b for b, n in brands.items() if n > 0),
    )


def new_public_id() -> str:
    """A campaign's public id: random, so it reveals nothing of its reports nor how many campaigns exist. Two
    alike (one chance in 2^48 a campaign) break the unique index: the transaction fails, and its job runs again."""
    return PUBLIC_PREFIX + secrets.token_hex(6)


def _found(writes: _Writes, campaign_id: int, now: Counted, seen: datetime) -> str:
    public_id = new_public_id()
    values = {
        "id": campaign_id,
        "public_id": public_id,
        "first_seen": seen,
        "last_seen": seen,
        "reports": 1,
        **dict.fromkeys(CAMPAIGN_CATEGORIES, 0),
        now.category: 1,
        "brands": dict.fromkeys(sorted(now.brands), 1),
        "updated_at": utcnow(),
    }
    writes.add(_FOUND, values)
    return public_id


def _move(
    writes: _Writes,
    campaign_id: int,
    reports_delta: int,
    old: Counted | None,
    new: Counted | None,
    seen: datetime | None = None,
) -> None:
    """Move a campaign's counters in one statement: the report count by `reports_delta`, one report from `old` to
    `new` (either None: only added or only removed), the brands' counts, and widen first and last seen to `seen`."""
    values: dict[str, Any] = {"campaign_id": campaign_id, "reports": reports_delta, "seen": seen, "now": utcnow()}
    values.update(dict.fromkeys(CAMPAIGN_CATEGORIES, 0))
    if old is not None:
        values[old.category] -= 1
    if new is not None:
        values[new.category] += 1
    brands = rule.count_changes(old.brands if old else (), new.brands if new else ())
    if not brands:
        writes.add(_MOVE, values)
    else:
        writes.add(_move_with_brands(writes.conn.dialect.name), values | {"brands": json.dumps(brands)})


def _day(seen: datetime) -> date:
    return seen.astimezone(UTC).date()


# Statements built once: building one costs more than running it.
_THIS = campaigns.c.id == bindparam("campaign_id")
_SEEN = bindparam("seen", type_=UTCDateTime())
_MOVED_COUNTS: dict[str, Any] = {
    "reports": campaigns.c.reports + bindparam("reports"),
    **{c: campaigns.c[c] + bindparam(c) for c in CAMPAIGN_CATEGORIES},
    # a NULL `seen` compares false: the bounds stay
    "first_seen": case((campaigns.c.first_seen > _SEEN, _SEEN), else_=campaigns.c.first_seen),
    "last_seen": case((campaigns.c.last_seen < _SEEN, _SEEN), else_=campaigns.c.last_seen),
    "updated_at": bindparam("now", type_=UTCDateTime()),
}
_MOVE = update(campaigns).where(_THIS).values(**_MOVED_COUNTS)
_FOUND = insert(campaigns)
_LEAVE_DAY = (
    update(campaign_days)
    .where(campaign_days.c.campaign_id == bindparam("leaving"), campaign_days.c.day == bindparam("leaving_day"))
    .values(reports=campaign_days.c.reports - 1)
)


@cache
def _move_with_brands(dialect: str) -> Update:
    """_MOVE, and the brands' counts moved by the `brands` parameter ({brand: +1 or -1}, as JSON) in the same
    statement: the row's lock orders concurrent moves, none is lost. Counts that reach 0 go."""
    each = func.json_each_text if dialect == "postgresql" else func.json_each
    delta: ColumnElement[Any] = bindparam("brands", type_=String)
    if dialect == "postgresql":
        delta = cast(delta, postgresql.JSON)
    counts = [each(c).table_valued("key", "value") for c in (campaigns.c.brands, delta)]
    both = union_all(*(select(t.c.key.label("name"), cast(t.c.value, Integer).label("n")) for t in counts)).subquery()
    total = func.sum(both.c.n)
    moved = select(both.c.name, total.label("n")).group_by(both.c.name).having(total > 0).subquery()
    gather = func.json_object_agg if dialect == "postgresql" else func.json_group_object
    brands = select(func.coalesce(gather(moved.c.name, moved.c.n), literal_column("'{}'"))).scalar_subquery()
    return update(campaigns).where(_THIS).values(**_MOVED_COUNTS, brands=brands)


@cache
def _day_upsert(dialect: str) -> Insert:
    one_more: dict[str, Any] = {
        "campaign_id": bindparam("campaign_id"),
        "day": bindparam("day"),
        "reports": literal_column("1"),
    }
    days = (postgresql if dialect == "postgresql" else sqlite).insert(campaign_days).values(one_more)
    upsert: Insert = days.on_conflict_do_update(
        index_elements=["campaign_id", "day"], set_={"reports": campaign_days.c.reports + days.excluded.reports}
    )
    return upsert


# -- what staff read ---------------------------------------------------------------------------------------------


def campaign_summary(conn: Connection, public_id: str) -> dict[str, Any] | None:
    """A campaign: first and last seen, volume per day, categories, brands, origin networks, top URLs, count."""
    row = conn.execute(select(campaigns).where(campaigns.c.public_id == public_id)).mappings().first()
    if row is None:
        return None
    campaign_id = row["id"]
    days = conn.execute(
        select(campaign_days.c.day, campaign_days.c.reports)
        .where(campaign_days.c.campaign_id == campaign_id, campaign_days.c.reports > 0)
        .order_by(campaign_days.c.day)
    ).all()
    origins = conn.execute(
        select(reports.c.origin_ip, func.count())
        .where(reports.c.campaign_id == campaign_id, reports.c.origin_ip.is_not(None))
        .group_by(reports.c.origin_ip)
    ).all()
    return {
        **campaign_row(row),
        "days": [{"day": d.day.isoformat(), "reports": d.reports} for d in days],
        "networks": networks((ip, n) for ip, n in origins)[:TOP],
        "urls": _top_urls(conn, campaign_id),
    }


def campaign_row(row: RowMapping) -> dict[str, Any]:
    """What a list shows of a campaign."""
    brands = registry().by_id
    return {
        "id": row["public_id"],
        "first_seen": row["first_seen"],
        "last_seen": row["last_seen"],
        "reports": row["reports"],
        "categories": {c: row[c] for c in CAMPAIGN_CATEGORIES if row[c]},
        "brands": [
            {"brand": b, "name": brands[b].name if b in brands else b, "reports": n}
            for b, n in sorted((row["brands"] or {}).items(), key=lambda item: (-item[1], item[0]))
        ],
        "confirmed_at": row["confirmed_at"],
    }


def campaign_id_of(conn: Connection, public_id: str) -> int | None:
    return conn.execute(select(campaigns.c.id).where(campaigns.c.public_id == public_id)).scalar()


def networks(origins: Iterable[tuple[str, int]]) -> list[dict[str, Any]]:
    """Origin IPs gathered into their /24 (IPv4) or /48 (IPv6), most reports first."""
    counts: Counter[str] = Counter()
    for ip, n in origins:
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            continue
        prefix = 24 if address.version == 4 else 48
        counts[str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))] += n
    return [{"network": net, "reports": n} for net, n in sorted(counts.items(), key=lambda item: (-item[1], item[0]))]


def _top_urls(conn: Connection, campaign_id: int) -> list[dict[str, Any]]:
    count = func.count().label("reports")
    rows = conn.execute(
        select(urls.c.canonical, urls.c.registered_domain, count)
        .select_from(reports.join(report_urls, report_urls.c.report_id == reports.c.id).join(urls))
        .where(reports.c.campaign_id == campaign_id)
        .group_by(urls.c.id, urls.c.canonical, urls.c.registered_domain)
        .order_by(count.desc(), urls.c.canonical)
        .limit(TOP)
    ).all()
    return [{"url": r.canonical, "domain": r.registered_domain, "reports": r.reports} for r in rows]


def recent_campaigns(
    conn: Connection, *, after: int | None = None, limit: int = 50, seen_since: datetime | None = None
) -> tuple[list[dict[str, Any]], int | None]:
    """Campaigns, newest first (by creation), with a keyset cursor: the next page's `after`, or None."""
    query = select(campaigns).order_by(campaigns.c.id.desc()).limit(limit + 1)
    if after is not None:
        query = query.where(campaigns.c.id < after)
    if seen_since is not None:
        query = query.where(campaigns.c.last_seen >= seen_since)
    rows = conn.execute(query).mappings().all()
    page = rows[:limit]
    return [campaign_row(r) for r in page], (page[-1]["id"] if len(rows) > limit else None)


def keys_of_campaign(conn: Connection, public_id: str) -> Sequence[str]:
    """The keys stored for a campaign (for tests and debugging)."""
    return list(
        conn.execute(
            select(campaign_keys.c.key)
            .join(campaigns, campaigns.c.id == campaign_keys.c.campaign_id)
            .where(campaigns.c.public_id == public_id)
            .order_by(campaign_keys.c.key)
        ).scalars()
    )
