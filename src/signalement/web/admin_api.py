"""Staff endpoints: the audit log and its verification (admins), the dead-letter jobs (staff)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from signalement.domain.accounts import Role, Scope
from signalement.platform import Platform
from signalement.store import audit
from signalement.store.accounts import Principal
from signalement.store.db import read
from signalement.web.auth import require_staff
from signalement.web.deps import MAX_ID, IdPath, PlatformDep, PrincipalDep, client_address
from signalement.web.errors import ApiError, not_found

router = APIRouter(prefix="/api/v1", tags=["administration"])


class AuditEntryOut(BaseModel):
    seq: int
    at: str
    actor: str
    action: str
    target: str
    client: str
    detail: dict[str, Any]
    prev_hash: str
    hash: str


class AuditVerification(BaseModel):
    intact: bool
    first_broken_seq: int | None
    head_seq: int = Field(description="The newest entry: keep it outside to detect a rewritten log later.")
    head_hash: str


class DeadJobOut(BaseModel):
    id: int
    task: str
    payload: dict[str, Any]
    attempts: int
    last_error: str | None
    failed_at: datetime | None


def _admin(principal: Principal | None) -> Principal:
    staff = require_staff(principal, Scope.ADMIN)
    if staff.role is not Role.ADMIN:
        raise ApiError(403, "forbidden", "administrators only")
    return staff


@router.get("/audit", response_model=list[AuditEntryOut], summary="The audit log, oldest first (admins)")
def read_audit(
    platform: PlatformDep,
    principal: PrincipalDep,
    after: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[dict[str, Any]]:
    _admin(principal)
    with read(platform.engine) as conn:
        return [e.__dict__ for e in audit.entries(conn, after=after, limit=limit)]


@router.get("/audit/verify", response_model=AuditVerification, summary="Check the audit log's hash chain (admins)")
def verify_audit(platform: PlatformDep, principal: PrincipalDep) -> AuditVerification:
    _admin(principal)
    with read(platform.engine) as conn:
        broken = audit.first_broken(conn)
        head_seq, head_hash = audit.head(conn)
    return AuditVerification(intact=broken is None, first_broken_seq=broken, head_seq=head_seq, head_hash=head_hash)


@router.get("/jobs/dead", response_model=list[DeadJobOut], summary="Jobs that failed every attempt (staff)")
def dead_jobs(
    platform: PlatformDep, principal: PrincipalDep, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> list[dict[str, Any]]:
    require_staff(principal)
    with read(platform.engine) as conn:
        return [j.__dict__ for j in platform.queue.dead_jobs(conn, limit)]


@router.post("/jobs/{job_id}:retry", status_code=202, summary="Run a dead job again (staff)")
async def retry_job(job_id: IdPath, request: Request, platform: PlatformDep, principal: PrincipalDep) -> dict[str, Any]:
    staff = require_staff(principal, Scope.REPORTS_WRITE)
    return await run_in_threadpool(_retry, platform, staff, job_id, client_address(request))


def _retry(platform: Platform, staff: Principal, job_id: int, client: str) -> dict[str, Any]:
    with platform.engine.begin() as conn:
        if not platform.queue.requeue(conn, job_id):
            raise not_found("dead job")
        audit.record(conn, actor=staff.email, action="job.retry", target=f"job:{job_id}", client=client)
    return {"id": job_id, "requeued": True}
