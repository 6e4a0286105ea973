"""/api/v1/campaigns: the campaigns reports were grouped into, for staff (docs/analysis.md, "Campaigns")."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from pydantic import AwareDatetime, BaseModel

from signalement.feeds.indicators import confirm_campaigns
from signalement.store import audit
from signalement.store.campaigns import campaign_id_of, campaign_summary, recent_campaigns
from signalement.store.db import read
from signalement.web import schemas
from signalement.web.auth import require_staff
from signalement.web.deps import MAX_ID, PlatformDep, PrincipalDep, client_address
from signalement.web.errors import not_found
from signalement.web.urls_api import Reason, judge

router = APIRouter(prefix="/api/v1", tags=["campaigns"])

PublicId = Annotated[str, Path(pattern=r"^cmp-[0-9a-f]{12}$", description="A campaign's public id.")]


@router.get("/campaigns", response_model=schemas.CampaignPage, summary="List campaigns, newest first (staff)")
def list_campaigns(
    platform: PlatformDep,
    principal: PrincipalDep,
    seen_since: Annotated[
        AwareDatetime | None, Query(description="Only campaigns with a report received at or after this time.")
    ] = None,
    after: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="Cursor: `next_cursor` of the previous page.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> schemas.CampaignPage:
    """Campaigns in the order they were founded, newest first, each with its first and last seen, report count,
    categories and impersonated brands. Keyset pagination: stable while new campaigns are founded. Staff only:
    a reporter gets 403."""
    require_staff(principal)
    with read(platform.engine) as conn:
        items, cursor = recent_campaigns(conn, after=after, limit=limit, seen_since=seen_since)
    return schemas.CampaignPage(items=[schemas.Campaign.model_validate(i) for i in items], next_cursor=cursor)


@router.get("/campaigns/{public_id}", response_model=schemas.CampaignSummary, summary="One campaign (staff)")
def get_campaign(public_id: PublicId, platform: PlatformDep, principal: PrincipalDep) -> dict[str, Any]:
    """A campaign: first and last seen, reports per day, per verdict category, the brands it impersonates, its
    origin networks (/24 or /48) and its most reported URLs. Staff only: a reporter gets 403."""
    require_staff(principal)
    with read(platform.engine) as conn:
        found = campaign_summary(conn, public_id)
    if found is None:
        raise not_found("campaign")
    return found


class ConfirmIn(BaseModel):
    reason: Reason


@router.post("/campaigns/{public_id}:confirm", response_model=schemas.CampaignSummary,
             summary="Confirm a campaign: its origin IPs and sender domains become indicators (staff)")  # fmt: skip
def confirm_campaign(
    public_id: PublicId, body: ConfirmIn, request: Request, platform: PlatformDep, principal: PrincipalDep
) -> dict[str, Any]:
    """For a campaign with no confirmed URL (a scam without links, an attachment): a job then weighs the origin IPs
    and sender domains its reports show (docs/feeds.md). Confirming a confirmed campaign changes nothing."""
    me = judge(principal)
    with platform.engine.begin() as conn:
        campaign_id = campaign_id_of(conn, public_id)
        if campaign_id is None:
            raise not_found("campaign")
        confirm_campaigns(conn, platform.queue, [campaign_id])
        audit.record(conn, actor=me.email, action="campaign.confirm", target=f"campaign:{public_id}",
                     client=client_address(request), detail={"reason": body.reason})  # fmt: skip
        found = campaign_summary(conn, public_id)
    assert found is not None
    return found
