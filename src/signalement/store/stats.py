"""The statistics' rollups (signalement.domain.stats): what each report added, kept so that it can be taken back,
and the counts per member, dimension, value, verified and hour, day and month, read over any range from as few
buckets as cover it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Connection, Subquery, Table, delete, func, literal, select, union_all
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.dml import Insert

from signalement.domain.stats import Contribution, Dimension, Period, bucket, cover
from signalement.store.tables import stat_contributions, stat_counts, stat_volumes

_PERIODS = (Period.HOUR, Period.DAY, Period.MONTH)
_KEY = ("organization_id", "period", "dimension", "value", "bucket", "verified")  # the primary key's order


def record(conn: Connection, report_id: int, made: Sequence[Contribution]) -> None:
    """What the report adds now, in place of what it added before (a re-analysis, a changed claim): the old keys
    are taken back and the new ones added, in the caller's transaction."""
    before = conn.execute(select(stat_contributions).where(stat_contributions.c.report_id == report_id)).all()
    old = [
        Contribution(r.organization_id, r.verified, r.at, r.weight, tuple((Dimension(d), v) for d, v in r.keys))
        for r in before
    ]
    if old == list(made):
        return  # the usual re-run: nothing changed
    if before:
        conn.execute(delete(stat_contributions).where(stat_contributions.c.report_id == report_id))
    if made:
        conn.execute(
            stat_contributions.insert(),
            [
                {"report_id": report_id, "organization_id": c.organization_id, "verified": c.verified, "at": c.at,
                 "weight": c.weight, "keys": [list(k) for k in c.keys]}
                for c in made
            ],
        )  # fmt: skip
    add(conn, [*((c, -1) for c in old), *((c, 1) for c in made)])


def add(conn: Connection, changes: Iterable[tuple[Contribution, int]]) -> None:
    """Add (sign 1) or take back (sign -1) contributions, to their hour, day and month, in one statement. Rows are
    written in key order, so concurrent transactions lock them in the same order (no deadlock)."""
    changed = totals(changes)
    if changed:
        conn.execute(_upsert(conn.dialect.name, stat_counts), changed)


def totals(changes: Iterable[tuple[Contribution, int]]) -> list[dict[str, Any]]:
    """The stat_counts rows the changes add up to (reports and weight to add to each), in key order."""
    rows: dict[tuple[Any, ...], list[float]] = {}
    for contribution, sign in changes:
        org, verified, weight = contribution.organization_id, contribution.verified, contribution.weight
        for period in _PERIODS:
            start = bucket(contribution.at, period)
            for dimension, value in contribution.keys:
                total = rows.setdefault((org, period.value, dimension.value, value, start, verified), [0, 0.0])
                total[0] += sign
                total[1] += sign * weight
    return [
        dict(zip(_KEY, slot, strict=True)) | {"reports": int(n), "weight": w}
        for slot, (n, w) in sorted(rows.items())
        if n or w
    ]


@cache
def _upsert(dialect_name: str, table: Table) -> Insert:
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    statement = dialect.insert(table)
    upsert: Insert = statement.on_conflict_do_update(
        index_elements=list(_KEY),
        set_={
            "reports": table.c.reports + statement.excluded.reports,
            "weight": table.c.weight + statement.excluded.weight,
        },
    )
    return upsert


@dataclass(frozen=True)
class Row:
    bucket: datetime | None  # None: the total over the range
    dimension: str
    value: str
    verified: bool
    reports: int
    weight: float


def counts(
    conn: Connection,
    organization_id: int,
    dimension: Dimension,
    since: datetime,
    until: datetime,
    *,
    per: Period | None = None,
    verified: bool | None = None,
    values: Sequence[str] = (),
    top: int | None = None,
) -> list[Row]:
    """The counts of one dimension over [since, until): per hour, day or month (`per`), or in total (None); of
    the `values` given, or of the `top` values by reports over the range (all when neither)."""
    if top is not None and not values:
        values = _top(conn, organization_id, dimension, since, until, verified, top)
        if not values:
            return []
    every = _parts(organization_id, dimension, since, until, per, verified, values)
    if every is None:
        return []
    when = [every.c.bucket] if per is not None else []
    query = select(
        (every.c.bucket if per is not None else literal(None)).label("at"),
        every.c.value,
        every.c.verified,
        func.sum(every.c.reports).label("reports"),
        func.sum(every.c.weight).label("weight"),
    ).group_by(*when, every.c.value, every.c.verified)
    found = [
        Row(r.at, dimension.value, r.value, bool(r.verified), int(r.reports), float(r.weight))
        for r in conn.execute(query)
        if r.reports
    ]
    if per is None:
        return sorted(found, key=lambda r: (-r.reports, r.value, not r.verified))
    return sorted(found, key=lambda r: (r.bucket or since, -r.reports, r.value, not r.verified))


def _top(
    conn: Connection,
    organization_id: int,
    dimension: Dimension,
    since: datetime,
    until: datetime,
    verified: bool | None,
    top: int,
) -> list[str]:
    """The values with the most reports over the range, chosen by the database (not every value sent back)."""
    every = _parts(organization_id, dimension, since, until, None, verified, ())
    if every is None:
        return []
    total = func.sum(every.c.reports)
    query = select(every.c.value).group_by(every.c.value).having(total > 0).order_by(total.desc(), every.c.value)
    return list(conn.execute(query.limit(top)).scalars())


def _parts(
    organization_id: int,
    dimension: Dimension,
    since: datetime,
    until: datetime,
    per: Period | None,
    verified: bool | None,
    values: Sequence[str],
) -> Subquery | None:
    """The rows of every bucket covering the range, as one subquery: one range of the (member, period, dimension,
    bucket) index per part (an OR of the parts in one WHERE would read every bucket of the member's dimension)."""
    parts = cover(since, until) if per is None else [(per, bucket(since, per), until)]
    selects = []
    for period, first, end in parts:
        where = [
            stat_counts.c.organization_id == organization_id,
            stat_counts.c.period == period,
            stat_counts.c.dimension == dimension,
            stat_counts.c.bucket >= first,
            stat_counts.c.bucket < end,
        ]
        if verified is not None:
            where.append(stat_counts.c.verified == verified)
        if values:
            where.append(stat_counts.c.value.in_(list(values)))
        columns = [stat_counts.c.value, stat_counts.c.verified, stat_counts.c.reports, stat_counts.c.weight]
        selects.append(select(*([stat_counts.c.bucket] if per is not None else []), *columns).where(*where))
    return union_all(*selects).subquery() if selects else None


def contributions(conn: Connection, organization_id: int | None = None) -> list[Contribution]:
    """Every report's contribution (of one member): what the counts must add up to."""
    query = select(stat_contributions)
    if organization_id is not None:
        query = query.where(stat_contributions.c.organization_id == organization_id)
    return [
        Contribution(r.organization_id, r.verified, r.at, r.weight, tuple((Dimension(d), v) for d, v in r.keys))
        for r in conn.execute(query)
    ]


def rebuild(conn: Connection, organization_id: int | None = None) -> int:
    """The counts recomputed from the reports' contributions (after a restore, or to check them); how many."""
    query = delete(stat_counts)
    if organization_id is not None:
        query = query.where(stat_counts.c.organization_id == organization_id)
    conn.execute(query)
    made = contributions(conn, organization_id)
    for start in range(0, len(made), 1000):
        add(conn, ((c, 1) for c in made[start : start + 1000]))
    return len(made)


def set_volumes(conn: Connection, organization_id: int, rows: Sequence[tuple[Dimension, str, datetime, int]]) -> None:
    """What the member says it sent: (dimension, value, day, messages), each replacing what was said before."""
    if not rows:
        return
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(stat_volumes)
    upsert = statement.on_conflict_do_update(
        index_elements=["organization_id", "dimension", "value", "day"], set_={"sent": statement.excluded.sent}
    )
    conn.execute(
        upsert,
        [
            {"organization_id": organization_id, "dimension": d, "value": v, "day": bucket(day, Period.DAY), "sent": n}
            for d, v, day, n in sorted(rows)
        ],
    )


def volumes(
    conn: Connection,
    organization_id: int,
    dimension: Dimension,
    since: datetime,
    until: datetime,
    values: Sequence[str],
) -> dict[tuple[str, datetime], int]:
    """(value, day) -> messages sent, for the days of [since, until)."""
    query = select(stat_volumes.c.value, stat_volumes.c.day, stat_volumes.c.sent).where(
        stat_volumes.c.organization_id == organization_id,
        stat_volumes.c.dimension == dimension,
        stat_volumes.c.day >= bucket(since, Period.DAY),
        stat_volumes.c.day < until,
    )
    if values:
        query = query.where(stat_volumes.c.value.in_(list(values)))
    return {(r.value, r.day): int(r.sent) for r in conn.execute(query)}
