"""Statistics over the API, for members' dashboards (docs/statistics.md): the reports about a member's claimed
resources by dimension, in total or per hour, day or month, verified and unverified apart, as JSON or CSV; and the
volumes a member sent, which make complaints a rate."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field, StringConstraints

from signalement.domain.accounts import Role, Scope
from signalement.domain.stats import Dimension, Period, bucket
from signalement.stats.export import to_csv
from signalement.store import audit
from signalement.store import stats as store
from signalement.store.db import read
from signalement.web.auth import require, require_in_organization
from signalement.web.deps import IdPath, PlatformDep, PrincipalDep, client_address
from signalement.web.errors import ApiError

router = APIRouter(prefix="/api/v1", tags=["statistics"])

MAX_RANGE = timedelta(days=3 * 366)
MAX_HOURS = 24 * 93  # an hourly series of three months at most: longer ranges per day or month
DEFAULT_RANGE = timedelta(days=30)
VOLUME_WRITERS = frozenset({Role.MEMBER_ADMIN, Role.MEMBER_ABUSE_MANAGER})


class StatRow(BaseModel):
    bucket: datetime | None = Field(description="The hour, day or month (UTC); null for the total over the range.")
    value: str
    verified: bool = Field(description="Whether the reports' match with the member's claims authenticated.")
    reports: int
    weight: float = Field(description="Reports weighed: a spam trap's hit counts five (docs/statistics.md).")
    sent: int | None = Field(default=None, description="Messages the member said it sent (per day or more).")
    rate: float | None = Field(default=None, description="reports / sent, when the member gave its volumes.")


class StatsOut(BaseModel):
    organization_id: int
    dimension: Dimension
    since: datetime
    until: datetime
    per: Period | None
    rows: list[StatRow]


class VolumeIn(BaseModel):
    day: datetime
    dimension: Dimension
    value: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]
    sent: int = Field(ge=0, le=10**12)


@router.get(
    "/organizations/{organization_id}/stats",
    response_model=StatsOut,
    summary="Reports about the member's resources, by dimension, over time",
    responses={200: {"content": {"text/csv": {}}}},
)
def read_stats(
    organization_id: IdPath,
    platform: PlatformDep,
    principal: PrincipalDep,
    dimension: Dimension = Dimension.ALL,
    since: datetime | None = None,
    until: datetime | None = None,
    per: Annotated[Period | None, Query(description="hour, day or month; none: totals over the range")] = None,
    verified: bool | None = None,
    value: Annotated[list[str] | None, Query(max_length=100)] = None,
    top: Annotated[int | None, Query(ge=1, le=1000)] = None,
    format: Literal["json", "csv"] = "json",
) -> StatsOut | Response:
    """`since` and `until` (ISO 8601; the last 30 days by default) bound the range; `value` picks values, `top`
    the values with the most reports over it (50 when neither is given)."""
    require_in_organization(principal, organization_id, scope=Scope.STATS_READ)
    until = _utc(until) if until else datetime.now(UTC)
    since = _utc(since) if since else until - DEFAULT_RANGE
    if not since < until or until - since > MAX_RANGE:
        raise ApiError(422, "invalid_range", "since must come before until, at most three years apart")
    if per is Period.HOUR and until - since > timedelta(hours=MAX_HOURS):
        raise ApiError(422, "invalid_range", "an hourly series covers three months at most: ask per day")
    values = value or []
    with read(platform.engine) as conn:
        rows = store.counts(conn, organization_id, dimension, since, until, per=per, verified=verified,
                            values=values, top=top or (None if values else 50))  # fmt: skip
        sent = store.volumes(conn, organization_id, dimension, since, until, sorted({r.value for r in rows}))
    out = StatsOut(
        organization_id=organization_id,
        dimension=dimension,
        since=since,
        until=until,
        per=per,
        rows=[_row(r, per, sent) for r in rows],
    )
    return _csv(out) if format == "csv" else out


@router.get(
    "/stats",
    response_model=StatsOut,
    summary="The same, for the caller's own organization (staff name one with organization_id)",
    responses={200: {"content": {"text/csv": {}}}},
)
def read_own_stats(
    platform: PlatformDep,
    principal: PrincipalDep,
    organization_id: Annotated[int | None, Query(ge=1)] = None,
    dimension: Dimension = Dimension.ALL,
    since: datetime | None = None,
    until: datetime | None = None,
    per: Period | None = None,
    verified: bool | None = None,
    value: Annotated[list[str] | None, Query(max_length=100)] = None,
    top: Annotated[int | None, Query(ge=1, le=1000)] = None,
    format: Literal["json", "csv"] = "json",
) -> StatsOut | Response:
    me = require(principal, Scope.STATS_READ)
    chosen = organization_id or me.organization_id
    if chosen is None:
        raise ApiError(422, "organization_required", "say which organization: organization_id")
    return read_stats(chosen, platform, principal, dimension, since, until, per, verified, value, top, format)


def _row(row: store.Row, per: Period | None, sent: dict[tuple[str, datetime], int]) -> StatRow:
    """With the volume of its bucket (a day, a month, or the whole range), when the member gave one."""
    if per is Period.HOUR or not sent:
        volume = None
    else:
        days = [n for (value, day), n in sent.items() if value == row.value and _within(day, row.bucket, per)]
        volume = sum(days) if days else None
    rate = row.reports / volume if volume else None
    return StatRow(bucket=row.bucket, value=row.value, verified=row.verified, reports=row.reports, weight=row.weight,
                   sent=volume, rate=rate)  # fmt: skip


def _within(day: datetime, start: datetime | None, per: Period | None) -> bool:
    return start is None or per is None or bucket(day, per) == start


def _csv(out: StatsOut) -> Response:
    name = f"stats-{out.organization_id}-{out.dimension.value}.csv"
    return Response(to_csv(out.dimension.value, out.rows), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})  # fmt: skip


def _utc(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


@router.put(
    "/organizations/{organization_id}/volumes",
    status_code=204,
    summary="Say what the member sent per day, so that complaints become a rate",
)
def put_volumes(
    organization_id: IdPath,
    body: Annotated[list[VolumeIn], Field(max_length=10_000)],
    request: Request,
    platform: PlatformDep,
    principal: PrincipalDep,
) -> Response:
    """Each (day, dimension, value) replaces what was said for it before."""
    me = require_in_organization(principal, organization_id, VOLUME_WRITERS, Scope.STATS_READ)
    with platform.engine.begin() as conn:
        store.set_volumes(conn, organization_id, [(v.dimension, v.value, _utc(v.day), v.sent) for v in body])
        audit.record(conn, actor=me.email, action="volumes.set", target=f"organization:{organization_id}",
                     client=client_address(request), detail={"rows": len(body)})  # fmt: skip
    return Response(status_code=204)
