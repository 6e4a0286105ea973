"""Campaigns in the database: finding a report's candidates by its keys, founding, joining and leaving a
campaign, and what staff read about one. The decision itself is signalement.verdict.campaigns (pure).

A report counts once in one campaign. Analysing it again reads what it counted for before (its campaign, its
verdict category and the brands of its stored document) and moves only the difference: it keeps its campaign while
that still qualifies, and a report that moves is taken out of the old campaign's counters first. First and last
seen only widen. Counters are columns moved by `SET n = n + :delta`, which concurrent workers cannot lose; only the
brands (a JSON object) are read and written back, under the campaign row's lock (FOR UPDATE on PostgreSQL; a SQLite
writer holds the database lock), and only when a report impersonates a brand.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    JSON,
    ColumnElement,
    Connection,
    Row,
    RowMapping,
    Select,
    String,
    any_,
    bindparam,
    case,
    func,
    literal_column,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.dml import Insert

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
    assignment = assign(conn, report_id, facts, received_at, prior_of(conn, report_id))
    category = facts.get("category")
    conn.execute(
        _SET_REPORT,
        {
            "report_id": report_id,
            "campaign_id": assignment.campaign_id if assignment else None,
            "category": category if isinstance(category, str) else None,
        },
    )
    return assignment.public_id if assignment else None


def prior_of(conn: Connection, report_id: int) -> Prior:
    row = conn.execute(_PRIOR, {"report_id": report_id}).first()
    if row is None or row.campaign_id is None:
        return NO_PRIOR
    facts = row.facts if isinstance(row.facts, dict) else {}
    return Prior(row.campaign_id, counted(row.verdict_category, rule.impersonated_brands(facts.get("brands"))))


def assign(
    conn: Connection, report_id: int, facts: Mapping[str, Any], received_at: datetime, prior: Prior
) -> Assignment | None:
    """The campaign of a report, with every counter moved; does not write the report's row."""
    evidence = rule.evidence(facts)
    now = counted(evidence.category, evidence.brands)
    if conn.dialect.name == "postgresql":
        _lock_keys(conn, evidence.bands + evidence.domain_keys)
    rows = _find_candidates(conn, evidence.lookup_keys())
    decision = rule.decide(evidence, [_candidate(r) for r in rows], prior.campaign_id)
    public_ids = {r.campaign_id: r.public_id for r in rows}
    if decision.campaign is not None and decision.campaign == prior.campaign_id:
        campaign_id = decision.campaign
        if now != prior.counted:
            _move(conn, campaign_id, 0, prior.counted, now)
    else:
        if prior.campaign_id is not None:
            _move(conn, prior.campaign_id, -1, prior.counted, None)
            conn.execute(_LEAVE_DAY, {"leaving": prior.campaign_id, "leaving_day": _day(received_at)})
        if decision.campaign is not None:
            campaign_id = decision.campaign
            _move(conn, campaign_id, 1, None, now, seen=received_at)
        elif decision.found:
            campaign_id, public_id = _found(conn, report_id, str(facts.get("sha256") or ""), now, received_at)
            public_ids[campaign_id] = public_id
        else:
            return None
        conn.execute(_insert(conn, "day"), {"campaign_id": campaign_id, "day": _day(received_at), "reports": 1})
    stored = set(evidence.stored_keys(decision.exemplar)) - {rule.DOMAIN_PREFIX + d for d in decision.shared_domains}
    _store_keys(conn, sorted(stored), campaign_id)
    return Assignment(campaign_id, public_ids[campaign_id], decision.joined_by)


_PRIOR = select(reports.c.campaign_id, reports.c.verdict_category, reports.c.facts).where(
    reports.c.id == bindparam("report_id")
)
_SET_REPORT = (
    update(reports)
    .where(reports.c.id == bindparam("report_id"))
    .values(campaign_id=bindparam("campaign_id"), verdict_category=bindparam("category"))
)


def _lock_keys(conn: Connection, keys: Sequence[str]) -> None:
    """PostgreSQL: hold a transaction lock on each key until commit, so that workers assigning variants of one
    message at once see each other's campaign instead of each founding its own (they share most band keys). Taken
    in one statement, in sorted order: two transactions never wait for each other's locks in a cycle. On SQLite
    the writer holds the database lock already."""
    if keys:
        ids = sorted(
            {int.from_bytes(hashlib.blake2b(k.encode(), digest_size=8).digest(), "big", signed=True) for k in keys}
        )
        conn.execute(_LOCK_KEYS, {"ids": ids})


_LOCK_KEYS = text(
    "SELECT count(pg_advisory_xact_lock(id)) FROM (SELECT unnest(CAST(:ids AS bigint[])) AS id ORDER BY 1) AS ordered"
)


def _find_candidates(conn: Connection, keys: Sequence[str]) -> Sequence[Row[Any]]:
    if not keys:
        return []
    if conn.dialect.name == "postgresql":
        return conn.execute(_candidates_query("postgresql", 0), {"keys": list(keys)}).all()
    return conn.execute(_candidates_query("sqlite", len(keys)), {f"k{i}": k for i, k in enumerate(keys)}).all()


@cache
def _candidates_query(dialect: str, count: int) -> Select[Any]:
    """One query: the campaigns holding any of the keys, with how many band keys and which domain keys they share,
    most bands first. Band keys ("b...") sort below "c", domain keys ("d:...") above. PostgreSQL takes the keys as
    one array; SQLite has one statement per number of keys (at most 40). Constants are literal: an expanding IN or
    a bound separator is rendered again at every call."""
    key = campaign_keys.c.key
    c: ColumnElement[str] = literal_column("'c'")
    harmful = campaigns.c.phishing + campaigns.c.malware + campaigns.c.scam  # rule.HARMFUL
    bands = func.sum(case((key < c, literal_column("1")), else_=literal_column("0"))).label("bands")
    if dialect == "postgresql":
        domains = func.string_agg(case((key > c, key)), literal_column("' '"))
        wanted = key == any_(bindparam("keys", type_=postgresql.ARRAY(String)))
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


def _store_keys(conn: Connection, keys: Sequence[str], campaign_id: int) -> None:
    """A campaign's new keys in one statement: an array on PostgreSQL, the driver's own executemany on SQLite
    (SQLAlchemy would process the ~33 rows one by one, for two plain values each)."""
    if not keys:
        return
    if conn.dialect.name == "postgresql":
        conn.execute(_INSERT_KEYS_ARRAY, {"keys": list(keys), "campaign_id": campaign_id})
    else:
        conn.exec_driver_sql(_INSERT_KEYS_SQLITE, [(k, campaign_id) for k in keys])


_INSERT_KEYS_ARRAY = text(
    "INSERT INTO campaign_keys (key, campaign_id) SELECT unnest(CAST(:keys AS varchar[])), :campaign_id "
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


def public_id_for(sha256: str, report_id: int, attempt: int = 0) -> str:
    """A campaign's public id, from its first report: stable, and reveals nothing of the report."""
    seed = f"{sha256}:{report_id}" + (f":{attempt}" if attempt else "")
    return PUBLIC_PREFIX + hashlib.sha256(seed.encode()).hexdigest()[:12]


def _found(conn: Connection, report_id: int, sha256: str, now: Counted, seen: datetime) -> tuple[int, str]:
    values = {
        "first_seen": seen,
        "last_seen": seen,
        "reports": 1,
        **dict.fromkeys(CAMPAIGN_CATEGORIES, 0),
        now.category: 1,
        "brands": dict.fromkeys(sorted(now.brands), 1),
        "updated_at": utcnow(),
    }
    for attempt in range(100):  # 48 bits: a collision is rare, two in a row rarer still
        public_id = public_id_for(sha256, report_id, attempt)
        new_id = conn.execute(_insert(conn, "campaign"), {**values, "public_id": public_id}).scalar()
        if new_id is not None:
            return int(new_id), public_id
    raise RuntimeError("no free campaign public id")  # pragma: no cover


def _move(
    conn: Connection,
    campaign_id: int,
    reports_delta: int,
    old: Counted | None,
    new: Counted | None,
    seen: datetime | None = None,
) -> None:
    """Move a campaign's counters: the report count by `reports_delta`, one report from `old` to `new` (either
    None: only added or only removed), and widen first and last seen to `seen`."""
    values: dict[str, Any] = {"campaign_id": campaign_id, "reports": reports_delta, "seen": seen, "now": utcnow()}
    values.update(dict.fromkeys(CAMPAIGN_CATEGORIES, 0))
    if old is not None:
        values[old.category] -= 1
    if new is not None:
        values[new.category] += 1
    old_brands = old.brands if old is not None else frozenset()
    new_brands = new.brands if new is not None else frozenset()
    if old_brands == new_brands:
        conn.execute(_MOVE, values)
        return
    brands = conn.execute(_LOCK_BRANDS, {"campaign_id": campaign_id}).scalar_one() or {}
    conn.execute(_MOVE_WITH_BRANDS, {**values, "brands": _moved(dict(brands), old_brands, new_brands)})


def _moved(counts: dict[str, int], old: Iterable[str], new: Iterable[str]) -> dict[str, int]:
    moved = dict(counts)
    for key, delta in rule.count_changes(old, new).items():
        moved[key] = moved.get(key, 0) + delta
    return {k: v for k, v in sorted(moved.items()) if v > 0}


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
_MOVE_WITH_BRANDS = update(campaigns).where(_THIS).values(**_MOVED_COUNTS, brands=bindparam("brands", type_=JSON))
_LOCK_BRANDS = select(campaigns.c.brands).where(_THIS).with_for_update()
_LEAVE_DAY = (
    update(campaign_days)
    .where(campaign_days.c.campaign_id == bindparam("leaving"), campaign_days.c.day == bindparam("leaving_day"))
    .values(reports=campaign_days.c.reports - 1)
)


@cache
def _statement(dialect_name: str, which: str) -> Insert:
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    built: Insert
    if which == "campaign":
        built = dialect.insert(campaigns).on_conflict_do_nothing(index_elements=["public_id"]).returning(campaigns.c.id)
    else:
        days = dialect.insert(campaign_days)
        built = days.on_conflict_do_update(
            index_elements=["campaign_id", "day"], set_={"reports": campaign_days.c.reports + days.excluded.reports}
        )
    return built


def _insert(conn: Connection, which: str) -> Insert:
    return _statement(conn.dialect.name, which)


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
    }


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
