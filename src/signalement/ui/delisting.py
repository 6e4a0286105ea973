"""The public page where a site owner asks for a URL, an origin IP or a sender domain to be delisted (the same as
POST /api/v1/delisting-requests; the DNSBL zones' TXT records link here with `?value=`): an analyst decides, and
answers at the address given."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from signalement.store import urls as store
from signalement.ui.pages import check_public_form, page, platform_of, public_form
from signalement.web.urls_api import delisting_target

router = APIRouter(include_in_schema=False)
_EMAIL_AT = "@"


@router.get("/delisting")
def delisting_form(request: Request, url: str = "", value: str = "") -> Response:
    return public_form(request, "delisting.html", url=(url or value)[:2000])


@router.post("/delisting")
def ask_delisting(
    request: Request,
    url: Annotated[str, Form(max_length=2000)] = "",
    contact: Annotated[str, Form(max_length=320)] = "",
    reason: Annotated[str, Form(max_length=2000)] = "",
    csrf: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    check_public_form(request, csrf)
    target = delisting_target(url)
    local, at, domain = contact.strip().rpartition(_EMAIL_AT)
    problem = "url" if target is None else "contact" if not (at and local and "." in domain) else None
    problem = problem or ("reason" if not reason.strip() else None)
    if problem or target is None:
        context = {"url": url, "contact": contact, "reason": reason, "problem": problem}
        return public_form(request, "delisting.html", status=422, **context)
    with platform_of(request).engine.begin() as conn:
        made = store.request_delisting(conn, target, contact.strip(), reason.strip())
    return page(request, "delisting_sent.html", None, request_id=made["id"])
