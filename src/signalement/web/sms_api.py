"""/api/v1/sms-reports: an SMS is kept as a canonical JSON blob, so durability, de-duplication and evidence
work as for mail."""

from __future__ import annotations

import json
from datetime import UTC

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from signalement.domain.reports import Channel, ReportKind
from signalement.ingest.intake import Submission
from signalement.web import schemas
from signalement.web.deps import LimiterDep, PlatformDep, PrincipalDep
from signalement.web.submit import accept, clean_text, submitter_for

router = APIRouter(prefix="/api/v1", tags=["reports"])


def sms_blob(sms: schemas.SmsReportIn) -> bytes:
    """The same SMS always gives the same bytes: sorted keys, UTC time, no reporter's comment."""
    document = {
        "type": "sms",
        "sender": sms.sender,
        "text": sms.text,
        "received_at": sms.received_at.astimezone(UTC).isoformat(),
        "recipient_number": sms.recipient_number,
    }
    return json.dumps(document, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


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
    submission = Submission(
        raw=sms_blob(sms),
        kind=ReportKind.SMS,
        channel=Channel.SMS_API,
        reported_category=sms.reported_category,
        comment=clean_text(sms.comment, 10_000),
        client=clean_text(sms.client, 200),
    )
    ack = await accept(request, submitter, submission)
    return JSONResponse(ack.as_json(), status_code=202 if ack.accepted.created else 200)
