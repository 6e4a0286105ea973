"""/api/v1/reports: submit raw messages (one or a batch), read them back."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from sqlalchemy import Connection, Select, or_, select
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from signalement.domain.accounts import Scope
from signalement.domain.reports import Channel, ReportedCategory, ReportKind, ReportStatus, VerdictCategory
from signalement.ingest.intake import Submission, analyze_job
from signalement.mail.xarf import XarfError, parse_xarf
from signalement.platform import Platform
from signalement.store import audit, clicks
from signalement.store.accounts import Principal
from signalement.store.db import read
from signalement.store.tables import campaigns, organizations, reports, users
from signalement.web import schemas
from signalement.web.auth import require, require_staff
from signalement.web.body import FORM_OVERHEAD, form_bytes, form_text, media_type, parse_multipart, read_body
from signalement.web.deps import MAX_ID, IdPath, IdQuery, LimiterDep, PlatformDep, PrincipalDep, client_address
from signalement.web.errors import ApiError, not_found, validation_problems
from signalement.web.submit import accept, accept_many, message_submission, parse_category, submitter_for

router = APIRouter(prefix="/api/v1", tags=["reports"])

RAW_TYPES = ("message/rfc822", "application/octet-stream")
_BINARY = {"schema": {"type": "string", "format": "binary"}}
_REPORT_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "message/rfc822": _BINARY,
            "application/octet-stream": _BINARY,
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "reported_category": {"type": "string", "enum": [c.value for c in ReportedCategory]},
                        "comment": {"type": "string"},
                        "client": {"type": "string"},
                    },
                }
            },
        },
    }
}
_ACK_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"model": schemas.ReportAck, "description": "Already stored for this reporter."},
    202: {"model": schemas.ReportAck, "description": "Stored durably; analysis follows."},
}


@router.post(
    "/reports",
    status_code=202,
    response_model=schemas.ReportAck,
    responses=_ACK_RESPONSES,
    openapi_extra=_REPORT_BODY,
    summary="Report one message",
)
async def submit_report(
    request: Request,
    platform: PlatformDep,
    principal: PrincipalDep,
    limiter: LimiterDep,
    reported_category: Annotated[ReportedCategory | None, Query()] = None,
    comment: Annotated[str | None, Query(max_length=10_000)] = None,
    client: Annotated[str | None, Query(max_length=200)] = None,
) -> JSONResponse:
    """The raw message as the body, or the `file` field of a multipart form (whose fields then win over the
    query). 202 once the bytes and the report are durably stored; 200 with the existing report when the
    same reporter sends the same bytes again."""
    submitter = submitter_for(request, platform, principal, limiter)
    limit = platform.settings.max_message_bytes
    kind = media_type(request)
    if kind in RAW_TYPES:
        raw = await read_body(request, limit)
        category, text, client_name = reported_category, comment, client
    elif kind == "multipart/form-data":
        form = await parse_multipart(request, await read_body(request, limit + FORM_OVERHEAD))
        uploaded = await form_bytes(form.get("file"))
        if uploaded is None:
            raise ApiError(422, "missing_file", "the form has no `file` field")
        raw = uploaded
        category = parse_category(form_text(form, "reported_category")) or reported_category
        text = form_text(form, "comment") or comment
        client_name = form_text(form, "client") or client
    else:
        raise ApiError(415, "unsupported_media_type", f"send {', '.join(RAW_TYPES)} or multipart/form-data")
    submission = message_submission(
        raw, limit, channel=Channel.API, category=category, comment=text, client=client_name
    )
    ack = await accept(request, submitter, submission)
    return JSONResponse(ack.as_json(), status_code=202 if ack.accepted.created else 200)


@router.post(
    "/xarf",
    status_code=202,
    response_model=schemas.ReportAck,
    responses=_ACK_RESPONSES,
    summary="Report in X-ARF v4 (JSON)",
)
async def submit_xarf(
    request: Request, platform: PlatformDep, principal: PrincipalDep, limiter: LimiterDep
) -> JSONResponse:
    """An X-ARF v4 report as the JSON body, validated against the xarf-spec project's JSON Schemas: 422 lists
    what is wrong, each by its JSON path. 202 once stored; 200 with the existing report for the same bytes."""
    submitter = submitter_for(request, platform, principal, limiter)
    if media_type(request) != "application/json":
        raise ApiError(415, "unsupported_media_type", "send the report as application/json")
    raw = await read_body(request, platform.settings.max_message_bytes)
    try:
        await run_in_threadpool(parse_xarf, raw)
    except XarfError as error:
        raise ApiError(422, "invalid_xarf", "this is not a valid X-ARF v4 report", errors=error.errors) from None
    ack = await accept(request, submitter, Submission(raw=raw, kind=ReportKind.XARF, channel=Channel.API))
    return JSONResponse(ack.as_json(), status_code=202 if ack.accepted.created else 200)


@router.post(
    "/reports:batch",
    response_model=schemas.BatchResponse,
    summary="Report many messages at once",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/BatchRequest"}},
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {"file": {"type": "array", "items": {"type": "string", "format": "binary"}}},
                    }
                },
            },
        }
    },
)
async def submit_batch(
    request: Request, platform: PlatformDep, principal: PrincipalDep, limiter: LimiterDep
) -> schemas.BatchResponse:
    """Many messages in one request: JSON `{"reports": [{"message": base64, ...}]}` or a multipart form with
    one `file` field per message. Each is acknowledged or refused on its own; all stored ones commit together."""
    submitter = submitter_for(request, platform, principal, limiter)
    settings = platform.settings
    body = await read_body(request, settings.max_batch_bytes)
    items = await _batch_items(request, body, settings.max_batch_items)
    results: list[schemas.BatchResult | None] = []
    valid: list[tuple[int, Submission]] = []
    for index, item in enumerate(items):
        if isinstance(item, ApiError):
            results.append(schemas.BatchResult(index=index, status=item.status, error=item.detail, code=item.code))
            continue
        try:
            valid.append(
                (
                    index,
                    message_submission(
                        item[0],
                        settings.max_message_bytes,
                        channel=Channel.BATCH,
                        category=item[1],
                        comment=item[2],
                        client=item[3],
                    ),
                )
            )
            results.append(None)
        except ApiError as exc:
            results.append(schemas.BatchResult(index=index, status=exc.status, error=exc.detail, code=exc.code))
    acks = await accept_many(platform, submitter, [s for _, s in valid]) if valid else []
    for (index, _), ack in zip(valid, acks, strict=True):
        a = ack.accepted
        results[index] = schemas.BatchResult(
            index=index, status=202 if a.created else 200, id=a.report_id, sha256=a.sha256
        )
    final = [r for r in results if r is not None]
    return schemas.BatchResponse(
        accepted=sum(r.status == 202 for r in final),
        duplicates=sum(r.status == 200 for r in final),
        rejected=sum(r.status >= 400 for r in final),
        results=final,
    )


_Item = tuple[bytes, ReportedCategory | None, str | None, str | None] | ApiError


async def _batch_items(request: Request, body: bytes, max_items: int) -> list[_Item]:
    kind = media_type(request)
    if kind == "application/json":
        try:
            envelope = json.loads(body)
        except ValueError:
            raise ApiError(422, "invalid_json", "the body is not JSON") from None
        items = envelope.get("reports") if isinstance(envelope, dict) else None
        if not isinstance(items, list):
            raise ApiError(422, "invalid_request", 'expected {"reports": [...]}')
        _check_count(len(items), max_items)
        return [_decode_item(item) for item in items]  # each item is refused on its own
    if kind == "multipart/form-data":
        form = await parse_multipart(request, body, max_files=max_items + 1)  # more: 413 below, not 400
        files = [f for f in form.getlist("file") if isinstance(f, UploadFile)]
        _check_count(len(files), max_items)
        category = parse_category(form_text(form, "reported_category"))
        comment, client = form_text(form, "comment"), form_text(form, "client")
        return [(await f.read(), category, comment, client) for f in files]
    raise ApiError(415, "unsupported_media_type", "send application/json or multipart/form-data")


def _check_count(count: int, max_items: int) -> None:
    if count == 0:
        raise ApiError(422, "empty_batch", "the batch holds no message")
    if count > max_items:
        raise ApiError(413, "too_many_items", f"a batch holds at most {max_items} messages", limit=max_items)


def _decode_item(value: object) -> _Item:
    try:
        item = schemas.BatchItem.model_validate(value)
    except ValidationError as exc:
        return ApiError(422, "invalid_item", validation_problems(exc))
    try:
        raw = base64.b64decode(item.message, validate=True)
    except (binascii.Error, ValueError):
        return ApiError(422, "invalid_base64", "`message` is not valid base64")
    return raw, item.reported_category, item.comment, item.client


@router.get("/reports/{report_id}", response_model=schemas.Report, summary="One report and its analysis")
def get_report(report_id: IdPath, platform: PlatformDep, principal: PrincipalDep) -> dict[str, Any]:
    """A reporter reads only their own reports; staff read all. Someone else's report is a 404."""
    principal = require(principal, Scope.REPORTS_READ)
    query = select(reports).where(reports.c.id == report_id)
    with read(platform.engine) as conn:
        row = conn.execute(_scoped(conn, platform, query, principal)).mappings().first()
        protected = clicks.of_report(conn, report_id) if row is not None else 0
    if row is None:
        raise not_found("report")
    return dict(row) | {"protected_clicks": protected}


@router.get("/reports", response_model=schemas.ReportPage, summary="List reports, newest first")
def list_reports(
    platform: PlatformDep,
    principal: PrincipalDep,
    status: ReportStatus | None = None,
    kind: ReportKind | None = None,
    channel: Channel | None = None,
    reported_category: ReportedCategory | None = None,
    reporter_id: IdQuery = None,
    origin_ip: Annotated[str | None, Query(max_length=45)] = None,
    from_domain: Annotated[str | None, Query(max_length=255)] = None,
    verdict_category: VerdictCategory | None = None,
    campaign_id: Annotated[str | None, Query(max_length=16, description="A campaign's public id.")] = None,
    source: Annotated[str | None, Query(max_length=64, description="A configured source's name.")] = None,
    trap: Annotated[bool | None, Query(description="Only spam traps' hits (true) or only people's reports.")] = None,
    after: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="Cursor: `next_cursor` of the previous page.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> schemas.ReportPage:
    """Staff see every report, a reporter only their own. Keyset pagination: stable under concurrent inserts."""
    principal = require(principal, Scope.REPORTS_READ)
    query = select(reports).order_by(reports.c.id.desc()).limit(limit + 1)
    for column, value in (
        (reports.c.status, status),
        (reports.c.kind, kind),
        (reports.c.channel, channel),
        (reports.c.reported_category, reported_category),
        (reports.c.reporter_id, reporter_id),
        (reports.c.origin_ip, origin_ip),
        (reports.c.from_domain, from_domain and from_domain.lower()),
        (reports.c.verdict_category, verdict_category),
        (reports.c.source, source),
        (reports.c.trap, trap),
    ):
        if value is not None:
            query = query.where(column == value)
    if campaign_id is not None:
        campaign = select(campaigns.c.id).where(campaigns.c.public_id == campaign_id).scalar_subquery()
        query = query.where(reports.c.campaign_id == campaign)
    if after is not None:
        query = query.where(reports.c.id < after)
    with read(platform.engine) as conn:
        rows = conn.execute(_scoped(conn, platform, query, principal)).mappings().all()
    items = [schemas.Report.model_validate(dict(r)) for r in rows[:limit]]
    return schemas.ReportPage(items=items, next_cursor=items[-1].id if len(rows) > limit else None)


def _scoped(conn: Connection, platform: Platform, query: Select[Any], principal: Principal) -> Select[Any]:
    """Staff read every report; a member organization's people and tokens the reports of any of its people (a
    mailbox provider's pushes, whoever made the token) and of the feedback loops and spam traps configured as its
    own; a reporter their own."""
    if principal.is_staff:
        return query
    if principal.organization_id is None:
        return query.where(reports.c.reporter_id == principal.user_id)
    people = select(users.c.id).where(users.c.organization_id == principal.organization_id)
    name = conn.execute(select(organizations.c.name).where(organizations.c.id == principal.organization_id)).scalar()
    sources = platform.settings.sources_of(name) if name is not None else []
    return query.where(or_(reports.c.reporter_id.in_(people), reports.c.source.in_(sources)))


@router.post("/reports/{report_id}:reanalyze", status_code=202, summary="Run a report's analysis again (staff)")
async def reanalyze(
    report_id: IdPath, request: Request, platform: PlatformDep, principal: PrincipalDep
) -> dict[str, Any]:
    staff = require_staff(principal, Scope.REPORTS_WRITE)
    return await run_in_threadpool(_reanalyze, platform, staff, report_id, client_address(request))


def _reanalyze(platform: Platform, staff: Principal, report_id: int, client: str) -> dict[str, Any]:
    with platform.engine.begin() as conn:
        status = conn.execute(select(reports.c.status).where(reports.c.id == report_id)).scalar()
        if status is None:
            raise not_found("report")
        entry = audit.record(
            conn,
            actor=staff.email,
            action="report.reanalyze",
            target=f"report:{report_id}",
            client=client,
            detail={"previous_status": status},
        )
        platform.queue.enqueue(conn, analyze_job(report_id, rerun=entry.seq))
    return {"id": report_id, "status": status, "requeued": True}
