"""/api/signaler: the protocol of the Signal Spam add-ons and scripts, so they work unchanged.

OPTIONS with HTTP Basic credentials answers 200 when they are valid (the add-ons' "test my account");
POST takes a form (urlencoded or multipart) whose `message` field is the base64 of the raw message, with an
optional `dossier` (the add-on's folder number, kept as the client detail). Browser add-ons call from their
own origins, hence CORS.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from starlette.datastructures import UploadFile

from signalement.domain.reports import Channel
from signalement.store.accounts import Principal
from signalement.web.auth import UNAUTHORIZED_HEADERS
from signalement.web.body import form_bytes, media_type, parse_multipart, read_body
from signalement.web.deps import LimiterDep, PlatformDep, PrincipalDep, get_principal
from signalement.web.errors import ApiError
from signalement.web.submit import accept, message_submission, submitter_for

router = APIRouter(tags=["signal spam compatibility"])

_ALLOWED_ORIGIN_SCHEMES = ("moz-extension://", "chrome-extension://", "safari-web-extension://")
_FORM = {
    "type": "object",
    "required": ["message"],
    "properties": {
        "message": {"type": "string", "description": "base64 of the raw message"},
        "dossier": {"type": "string"},
    },
}


def cors_headers(request: Request) -> dict[str, str]:
    origin = request.headers.get("origin", "")
    if not origin.startswith(_ALLOWED_ORIGIN_SCHEMES):
        return {}
    return {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Allow-Methods": "POST, OPTIONS",
        "Access-Control-Allow-Headers": "Authorization, Content-Type",
        "Access-Control-Max-Age": "600",
        "Vary": "Origin",
    }


@router.options("/api/signaler", summary="Check Signal Spam credentials (or a CORS preflight)")
def check_credentials(request: Request, principal: PrincipalDep) -> Response:
    headers = cors_headers(request)
    if principal is None:
        if request.headers.get("access-control-request-method"):
            return Response(status_code=204, headers=headers)  # preflights carry no credentials
        raise ApiError(401, "unauthorized", "credentials are required", {**UNAUTHORIZED_HEADERS, **headers})
    return JSONResponse(_identity(principal), headers=headers)


def _identity(principal: Principal) -> dict[str, Any]:
    return {"ok": True, "email": principal.email, "role": principal.role}


@router.post(
    "/api/signaler",
    status_code=202,
    summary="Report a message as the Signal Spam add-ons do",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/x-www-form-urlencoded": {"schema": _FORM},
                "multipart/form-data": {"schema": _FORM},
            },
        }
    },
)
async def signaler(request: Request, platform: PlatformDep, limiter: LimiterDep) -> Response:
    headers = cors_headers(request)
    try:  # credentials checked here, not as a dependency, so that a 401 carries the CORS headers too
        principal = await get_principal(request)
        submitter = submitter_for(request, platform, principal, limiter)
        limit = platform.settings.max_message_bytes
        # base64 (4/3) then percent-encoding of + / = (about 6% more): the message itself is checked below
        fields = await _form(request, limit * 3 // 2 + 64 * 1024)
        encoded = fields.get("message")
        if not encoded:
            raise ApiError(422, "missing_message", "the form has no `message` field")
        try:
            raw = base64.b64decode(encoded, validate=False)
        except (binascii.Error, ValueError):
            raise ApiError(422, "invalid_base64", "`message` is not valid base64") from None
        dossier = (fields.get("dossier") or b"").decode("utf-8", "replace")[:50]
        submission = message_submission(
            raw,
            limit,
            channel=Channel.SIGNAL_SPAM,
            client=f"signal-spam dossier={dossier}" if dossier else None,
        )
        ack = await accept(request, submitter, submission)
    except ApiError as exc:
        exc.headers = {**(exc.headers or {}), **headers}
        raise
    return JSONResponse(ack.as_json(), status_code=202 if ack.accepted.created else 200, headers=headers)


async def _form(request: Request, limit: int) -> dict[str, bytes]:
    body = await read_body(request, limit)
    kind = media_type(request)
    if kind == "application/x-www-form-urlencoded":
        try:
            parsed = parse_qs(body.decode("ascii"), keep_blank_values=True, max_num_fields=20)
        except (UnicodeDecodeError, ValueError):
            raise ApiError(400, "malformed_form", "the form is not valid urlencoded ASCII") from None
        # A '+' sent unescaped arrives as a space; base64 has no spaces, so put it back.
        return {k: v[0].replace(" ", "+" if k == "message" else " ").encode() for k, v in parsed.items()}
    if kind == "multipart/form-data":
        form = await parse_multipart(request, body)
        out: dict[str, bytes] = {}
        for name in ("message", "dossier"):
            value = form.get(name)
            data = await form_bytes(value) if isinstance(value, str | UploadFile) else None
            if data is not None:
                out[name] = data
        return out
    raise ApiError(415, "unsupported_media_type", "send application/x-www-form-urlencoded or multipart/form-data")
