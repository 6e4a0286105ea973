"""The SMS ways in: one SMS report (`/sms-reports`), a partner platform's bulk push (`/sms-reports:batch`), and a
conversation with the short number relayed by an SMS gateway (`/sms/inbound`). An SMS is kept as a canonical JSON
blob, so durability, de-duplication and evidence work as for mail."""

from __future__ import annotations

import hashlib
import hmac
import json

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from signalement.domain.accounts import Scope
from signalement.domain.reports import Channel, ReportKind
from signalement.domain.sms_conversation import Reply
from signalement.ingest.intake import Submission, Submitter
from signalement.ingest.sms_conversation import converse
from signalement.mail.sms import sms_document
from signalement.platform import Platform
from signalement.store.accounts import Principal
from signalement.web import schemas
from signalement.web.auth import require
from signalement.web.body import media_type, read_body
from signalement.web.deps import LimiterDep, PlatformDep, PrincipalDep
from signalement.web.errors import ApiError, validation_problems
from signalement.web.submit import accept, clean_text, submitter_for

router = APIRouter(prefix="/api/v1", tags=["reports"])


def sms_blob(sms: schemas.SmsReportIn) -> bytes:
    """The same SMS always gives the same bytes; the reporter's comment is not part of them."""
    return sms_document(sms.sender, sms.text, sms.received_at, sms.recipient_number)


def sms_submission(sms: schemas.SmsReportIn, channel: Channel) -> Submission:
    return Submission(
        raw=sms_blob(sms),
        kind=ReportKind.SMS,
        channel=channel,
        reported_category=sms.reported_category,
        comment=clean_text(sms.comment, 10_000),
        client=clean_text(sms.client, 200),
    )


@router.post(
    "/sms-reports",
    status_code=202,
    response_model=schemas.ReportAck,
    responses={200: {"model": schemas.ReportAck, "description": "Already stored for this reporter."}},
    summary="Report an SMS",
)
async def submit_sms(
    sms: schemas.SmsReportIn, request: Request, platform: PlatformDep, principal: PrincipalDep, limiter: LimiterDep
) -> JSONResponse:
    submitter = submitter_for(request, platform, principal, limiter)
    ack = await accept(request, submitter, sms_submission(sms, Channel.SMS_API))
    return JSONResponse(ack.as_json(), status_code=202 if ack.accepted.created else 200)


@router.post(
    "/sms-reports:batch",
    response_model=schemas.BatchResponse,
    summary="Report many SMS at once (a partner platform's push)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/SmsBatchRequest"}}},
        }
    },
)
async def submit_sms_batch(request: Request, platform: PlatformDep, principal: PrincipalDep) -> schemas.BatchResponse:
    """`{"reports": [SmsBatchItem, ...]}`, up to the batch limit: each item is stored or refused on its own, and
    those stored commit together. Each `reporter_ref` is a reporter of the partner's: the same SMS from two of them
    is two reports."""
    principal = require(principal, Scope.REPORTS_WRITE)
    settings = platform.settings
    if media_type(request) != "application/json":
        raise ApiError(415, "unsupported_media_type", "send the reports as application/json")
    items = _batch_items(await read_body(request, settings.max_batch_bytes), settings.max_batch_items)
    results: list[schemas.BatchResult] = []
    valid: list[tuple[int, Submitter, Submission]] = []
    for index, item in enumerate(items):
        try:
            sms = schemas.SmsBatchItem.model_validate(item)
        except ValidationError as exc:
            problems = validation_problems(exc)
            results.append(schemas.BatchResult(index=index, status=422, error=problems, code="invalid_item"))
            continue
        reporter = _partner_reporter(platform, principal, sms.reporter_ref)
        valid.append((index, reporter, sms_submission(sms, Channel.BATCH)))
    accepted = await run_in_threadpool(platform.intake.accept_all, [(u, s) for _, u, s in valid]) if valid else []
    for (index, _, _), a in zip(valid, accepted, strict=True):
        results.append(
            schemas.BatchResult(index=index, status=202 if a.created else 200, id=a.report_id, sha256=a.sha256)
        )
    results.sort(key=lambda r: r.index)
    return schemas.BatchResponse(
        accepted=sum(r.status == 202 for r in results),
        duplicates=sum(r.status == 200 for r in results),
        rejected=sum(r.status >= 400 for r in results),
        results=results,
    )


def _batch_items(body: bytes, max_items: int) -> list[object]:
    try:
        envelope = json.loads(body)
    except ValueError:
        raise ApiError(422, "invalid_json", "the body is not JSON") from None
    items = envelope.get("reports") if isinstance(envelope, dict) else None
    if not isinstance(items, list) or not items:
        raise ApiError(422, "invalid_request", 'expected {"reports": [...]} with at least one SMS')
    if len(items) > max_items:
        raise ApiError(413, "too_many_items", f"a batch holds at most {max_items} SMS", limit=max_items)
    return items


def _partner_reporter(platform: Platform, principal: Principal, reporter_ref: str | None) -> Submitter:
    if not reporter_ref:
        return Submitter.user(principal.user_id)
    digest = hmac.new(platform.secret, f"{principal.user_id}:{reporter_ref}".encode(), hashlib.sha256).hexdigest()
    return Submitter(f"user:{principal.user_id}:{digest[:32]}", principal.user_id)


_REPLIES = {
    "fr": {
        Reply.ASK_TEXT: "Merci. Envoyez maintenant le texte du SMS indésirable.",
        Reply.ASK_SENDER: "Merci. Envoyez maintenant le numéro ou le nom de l'expéditeur du SMS.",
        Reply.THANKS: "Merci, votre signalement est enregistré.",
    },
    "en": {
        Reply.ASK_TEXT: "Thank you. Now send the text of the unwanted SMS.",
        Reply.ASK_SENDER: "Thank you. Now send the number or name of the SMS's sender.",
        Reply.THANKS: "Thank you, your report is stored.",
    },
}
_STATES = {Reply.ASK_TEXT: "waiting_for_text", Reply.ASK_SENDER: "waiting_for_sender", Reply.THANKS: "reported"}


@router.post("/sms/inbound", response_model=schemas.SmsInboundReply, summary="An SMS sent to the short number")
async def sms_inbound(
    message: schemas.SmsInbound, platform: PlatformDep, principal: PrincipalDep
) -> schemas.SmsInboundReply:
    """For the SMS gateway of a short number (like France's 33700): each SMS a person sends to it. The person
    sends the spam's sender and its text, in either order; the answer says what to send them back. Everything
    received is stored before the answer: a complete SMS as a report, half of one in its conversation (a text
    whose sender never comes is reported without one after an hour)."""
    principal = require(principal, Scope.REPORTS_WRITE)
    outcome = await run_in_threadpool(
        converse, platform.intake, platform.secret, principal.user_id, message.from_number, message.text
    )
    return schemas.SmsInboundReply(
        reply=_REPLIES[message.language][outcome.reply],
        state=_STATES[outcome.reply],
        report_ids=[a.report_id for a in outcome.accepted],
    )
