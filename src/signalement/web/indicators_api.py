"""Indicators of confirmed campaigns over the API (docs/feeds.md): staff list them and judge them (clear a false
positive, list one by hand, set the TLP marking), always with a reason; every change is an event, in the audit log,
and in the next feeds and zones."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from signalement.domain.members import Tlp
from signalement.store import audit
from signalement.store import indicators as store
from signalement.store.db import read
from signalement.verdict.indicators import IndicatorState, Kind, move
from signalement.web.auth import require_staff
from signalement.web.deps import MAX_ID, IdPath, PlatformDep, PrincipalDep, client_address
from signalement.web.errors import ApiError, not_found
from signalement.web.urls_api import Reason, UrlEventOut, judge

router = APIRouter(prefix="/api/v1", tags=["indicators"])


class IndicatorOut(BaseModel):
    id: int
    kind: Kind
    value: str
    state: IndicatorState
    tlp: Tlp
    reports: int
    sources: int = Field(description="Distinct sources in confirmed campaigns; anonymous reporters count as one.")
    campaigns: list[str] = Field(description="Public ids of its confirmed campaigns, the latest first.")
    first_seen: datetime
    last_seen: datetime
    confirmed_at: datetime | None
    changed_at: datetime | None
    seq: int | None = Field(description="Its last change in the feeds' order.")


class IndicatorDetail(IndicatorOut):
    events: list[UrlEventOut]


class IndicatorChangeIn(BaseModel):
    state: IndicatorState | None = None
    tlp: Tlp | None = None
    reason: Reason


def _out(row: store.Row) -> IndicatorOut:
    fields: dict[str, Any] = {k: v for k, v in row.__dict__.items() if k != "campaigns"}
    return IndicatorOut(**fields, campaigns=list(row.campaigns))


@router.get("/indicators", response_model=list[IndicatorOut], summary="Indicators of confirmed campaigns (staff)")
def list_indicators(
    platform: PlatformDep,
    principal: PrincipalDep,
    kind: Kind | None = None,
    state: IndicatorState | None = None,
    value: Annotated[str | None, Query(max_length=255)] = None,
    after: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[IndicatorOut]:
    require_staff(principal)
    with read(platform.engine) as conn:
        found = store.listing(conn, kind=kind, state=state, value=value, after=after, limit=limit)
    return [_out(r) for r in found]


@router.get("/indicators/{indicator_id}", response_model=IndicatorDetail, summary="An indicator and its history")
def get_indicator(indicator_id: IdPath, platform: PlatformDep, principal: PrincipalDep) -> IndicatorDetail:
    require_staff(principal)
    with read(platform.engine) as conn:
        row = store.get(conn, indicator_id)
        if row is None:
            raise not_found("indicator")
        events = [UrlEventOut(at=e.at, actor=e.actor, action=e.action, detail=e.detail, seq=e.seq)
                  for e in store.events(conn, indicator_id)]  # fmt: skip
    return IndicatorDetail(**_out(row).model_dump(), events=events)


@router.post("/indicators/{indicator_id}:change", response_model=IndicatorOut,
             summary="Judge an indicator: state, TLP (staff)")  # fmt: skip
def change_indicator(
    indicator_id: IdPath, body: IndicatorChangeIn, request: Request, platform: PlatformDep, principal: PrincipalDep
) -> IndicatorOut:
    me = judge(principal)
    if body.state is None and body.tlp is None:
        raise ApiError(422, "nothing_to_change", "give a state or a tlp")
    with platform.engine.begin() as conn:
        row = store.get(conn, indicator_id, for_update=True)
        if row is None:
            raise not_found("indicator")
        state = None
        if body.state is not None and body.state is not row.state:
            try:
                state = move(row.state, body.state)
            except ValueError as error:
                raise ApiError(409, "indicator_state", str(error)) from None
        store.change(conn, row, actor=me.email, action="judge", reason=body.reason, state=state, tlp=body.tlp)
        audit.record(conn, actor=me.email, action="indicator.change", target=f"indicator:{indicator_id}",
                     client=client_address(request), detail={"state": body.state, "tlp": body.tlp})  # fmt: skip
        changed = store.get(conn, indicator_id)
        assert changed is not None
        return _out(changed)
