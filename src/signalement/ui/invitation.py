"""The page an invitation's mailed link opens: the invited person chooses a password and joins the organization
(the link proves their address), then signs in, where a second factor is set up first."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from signalement.store import organizations as orgs
from signalement.ui.pages import MIN_PASSWORD, check_public_form, page, platform_of, public_form, redirect
from signalement.web.deps import client_address

router = APIRouter(include_in_schema=False)


@router.get("/invitation")
def invitation_form(request: Request, token: str = "") -> Response:
    return public_form(request, "invitation.html", token=token[:300])


@router.post("/invitation")
def join(
    request: Request,
    token: Annotated[str, Form(max_length=300)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    display_name: Annotated[str, Form(max_length=200)] = "",
    csrf: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    check_public_form(request, csrf)
    if len(password) < MIN_PASSWORD:
        context = {"token": token, "display_name": display_name, "problem": "password"}
        return public_form(request, "invitation.html", status=422, **context)
    with platform_of(request).engine.begin() as conn:
        try:
            orgs.accept(conn, token, password, display_name.strip(), client_address(request))
        except orgs.InvitationError:
            return page(request, "link_invalid.html", None, status=400)
    return redirect("/signin")
