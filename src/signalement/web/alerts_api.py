"""A member's peak alerts over the API: where they go and which series are watched, and the alerts raised with
their evidence (docs/statistics.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field, HttpUrl, StringConstraints

from signalement.domain.accounts import Role, Scope
from signalement.domain.stats import Dimension
from signalement.store import alerts as store
from signalement.store import audit
from signalement.store.db import read
from signalement.web.auth import require_in_organization
from signalement.web.deps import MAX_ID, IdPath, PlatformDep, PrincipalDep, client_address
from signalement.web.errors import ApiError

router = APIRouter(prefix="/api/v1", tags=["statistics"])
SETTERS = frozenset({Role.MEMBER_ADMIN, Role.MEMBER_ABUSE_MANAGER})


class AlertSettingsIn(BaseModel):
    delivery: Literal["smtp", "webhook", "none"]
    address: Annotated[str, StringConstraints(max_length=320, pattern=r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")] | None = None
    webhook_url: HttpUrl | None = None
    cooldown_hours: int = Field(default=store.DEFAULT_COOLDOWN_HOURS, ge=1, le=24 * 14)
    dimensions: list[Dimension] = Field(default_factory=lambda: list(store.DEFAULT_DIMENSIONS), min_length=1)


class AlertSettingsOut(BaseModel):
    delivery: str
    address: str | None
    webhook_url: str | None
    cooldown_hours: int
    dimensions: list[Dimension]


class AlertOut(BaseModel):
    id: int
    dimension: Dimension
    value: str
    verified: bool
    at: datetime = Field(description="The hour of the peak (UTC).")
    reports: int
    expected: float = Field(description="The series' usual count for that hour (its baseline's median).")
    upper: float = Field(description="The most that would still have been no peak.")
    score: float
    state: str = Field(description="queued, sent, dead, or muted (within the cooldown, or not sent anywhere).")
    evidence: dict[str, Any]
    created_at: datetime
    sent_at: datetime | None


def _out(settings: store.AlertSettings) -> AlertSettingsOut:
    return AlertSettingsOut(delivery=settings.delivery, address=settings.address, webhook_url=settings.webhook_url,
                            cooldown_hours=settings.cooldown_hours, dimensions=list(settings.dimensions))  # fmt: skip


@router.get("/organizations/{organization_id}/alert-settings", response_model=AlertSettingsOut,
            summary="Where its peak alerts go")  # fmt: skip
def get_alert_settings(organization_id: IdPath, platform: PlatformDep, principal: PrincipalDep) -> AlertSettingsOut:
    require_in_organization(principal, organization_id, scope=Scope.STATS_READ)
    with read(platform.engine) as conn:
        return _out(store.settings_of(conn, organization_id))


@router.put("/organizations/{organization_id}/alert-settings", response_model=AlertSettingsOut,
            summary="Say where its peak alerts go, and which series to watch")  # fmt: skip
def put_alert_settings(
    organization_id: IdPath, body: AlertSettingsIn, request: Request, platform: PlatformDep, principal: PrincipalDep
) -> AlertSettingsOut:
    me = require_in_organization(principal, organization_id, SETTERS, Scope.STATS_READ)
    if body.delivery == "smtp" and not body.address:
        raise ApiError(422, "address_required", "alerts by mail need an address")
    if body.delivery == "webhook" and not body.webhook_url:
        raise ApiError(422, "webhook_url_required", "alerts by webhook need a URL")
    with platform.engine.begin() as conn:
        saved = store.save_settings(
            conn,
            organization_id,
            delivery=body.delivery,
            address=body.address,
            webhook_url=str(body.webhook_url) if body.webhook_url else None,
            cooldown_hours=body.cooldown_hours,
            dimensions=tuple(dict.fromkeys(body.dimensions)),
        )
        audit.record(conn, actor=me.email, action="alerts.settings", target=f"organization:{organization_id}",
                     client=client_address(request), detail={"delivery": body.delivery})  # fmt: skip
        return _out(saved)


@router.get("/organizations/{organization_id}/alerts", response_model=list[AlertOut],
            summary="Its peak alerts, oldest first from a cursor, with their evidence")  # fmt: skip
def list_alerts(
    organization_id: IdPath,
    platform: PlatformDep,
    principal: PrincipalDep,
    after: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[AlertOut]:
    require_in_organization(principal, organization_id, scope=Scope.STATS_READ)
    with read(platform.engine) as conn:
        return [AlertOut.model_validate(r._asdict()) for r in store.listed(conn, organization_id, after, limit)]
