"""A reporter's account page: tokens for add-ons, secret report addresses and acknowledgements by mail, all their
data as one download, and erasing the account with its reports. Every form carries the session's CSRF token;
every change goes to the audit log (under the account's number, never its address)."""

from __future__ import annotations

import base64
import json
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from sqlalchemy import select, update
from starlette.concurrency import run_in_threadpool

from signalement.platform import Platform
from signalement.smtp.addresses import reporter_address
from signalement.store import audit
from signalement.store.accounts import hash_password, issue_token, revoke_token, tokens_of
from signalement.store.db import read
from signalement.store.erasure import erase_account
from signalement.store.report_addresses import TooManyAddressesError, addresses_of, issue_address, revoke_address
from signalement.store.second_factor import enable, has_second_factor, new_secret
from signalement.store.tables import reports, users
from signalement.store.web_sessions import WebSession, close_sessions, set_enrolling
from signalement.ui.pages import (
    MIN_PASSWORD,
    SESSION_COOKIE,
    FormDep,
    MeDep,
    enroll_page,
    page,
    platform_of,
    redirect,
)
from signalement.web.deps import client_address

router = APIRouter(include_in_schema=False)
MAX_TOKENS = 10


def _record(conn: Any, request: Request, session: WebSession, action: str, **detail: Any) -> None:
    user = f"user:{session.principal.user_id}"
    audit.record(conn, actor=user, action=action, target=user, client=client_address(request), detail=detail)


def _account(request: Request, session: WebSession, status: int = 200, **extra: Any) -> Response:
    platform = platform_of(request)
    me = session.principal.user_id
    with read(platform.engine) as conn:
        tokens = tokens_of(conn, me)
        addresses = addresses_of(conn, platform.secret, me)
        ack = bool(conn.execute(select(users.c.ack_by_mail).where(users.c.id == me)).scalar())
        second = has_second_factor(conn, me)
    shown = [(a.id, reporter_address(a.secret, platform.settings.smtp_domains)) for a in addresses]
    return page(
        request, "account.html", session, status, tokens=tokens, addresses=shown, ack=ack, second=second, **extra
    )


@router.get("/account")
def account(request: Request, session: MeDep) -> Response:
    return _account(request, session)


@router.post("/account/tokens")
def new_token(
    request: Request,
    session: FormDep,
    name: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    with platform_of(request).engine.begin() as conn:
        if len(tokens_of(conn, session.principal.user_id)) >= MAX_TOKENS:
            return _account(request, session, 409, problem="too_many_tokens")
        token = issue_token(conn, session.principal.user_id, name=name.strip()[:100] or "add-on")
        _record(conn, request, session, "user.token.issue")
    return _account(request, session, new_token=token)  # shown once, on this page only


@router.post("/account/tokens/{token_id}/revoke")
def drop_token(request: Request, session: FormDep, token_id: int) -> Response:
    platform = platform_of(request)
    with platform.engine.begin() as conn:
        if revoke_token(conn, session.principal.user_id, token_id):
            _record(conn, request, session, "user.token.revoke", token_id=token_id)
    platform.credentials.forget()  # the revoked token stops at its next request
    return redirect("/account")


@router.post("/account/addresses")
def new_address(request: Request, session: FormDep) -> Response:
    platform = platform_of(request)
    with platform.engine.begin() as conn:
        try:
            found = issue_address(conn, platform.secret, session.principal.user_id)
        except TooManyAddressesError:
            return _account(request, session, 409, problem="too_many_addresses")
        _record(conn, request, session, "user.report_address.issue", address_id=found.id)
    return redirect("/account")


@router.post("/account/addresses/{address_id}/revoke")
def drop_address(request: Request, session: FormDep, address_id: int) -> Response:
    with platform_of(request).engine.begin() as conn:
        if revoke_address(conn, session.principal.user_id, address_id):
            _record(conn, request, session, "user.report_address.revoke", address_id=address_id)
    return redirect("/account")


@router.post("/account/ack")
def set_ack(
    request: Request,
    session: FormDep,
    ack: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    with platform_of(request).engine.begin() as conn:
        conn.execute(update(users).where(users.c.id == session.principal.user_id).values(ack_by_mail=ack == "on"))
    return redirect("/account")


@router.post("/account/password")
async def change_password(
    request: Request,
    session: FormDep,
    current: Annotated[str, Form(max_length=1024)] = "",
    new: Annotated[str, Form(max_length=1024)] = "",
) -> Response:
    """A new password, once the current one is given; every other session of the account ends."""
    platform = platform_of(request)
    confirmed = await run_in_threadpool(platform.credentials.password, session.principal.email, current)
    if confirmed is None or confirmed.user_id != session.principal.user_id:
        return _account(request, session, 401, problem="password")
    if len(new) < MIN_PASSWORD:
        return _account(request, session, 422, problem="new_password")
    with platform.engine.begin() as conn:
        conn.execute(
            update(users).where(users.c.id == session.principal.user_id).values(password_hash=hash_password(new))
        )
        close_sessions(conn, session.principal.user_id, keep=request.cookies.get(SESSION_COOKIE, ""))
        _record(conn, request, session, "user.password")
    return _account(request, session, changed=True)


@router.post("/account/second-factor/start")
def second_factor_start(request: Request, session: FormDep) -> Response:
    with platform_of(request).engine.begin() as conn:
        set_enrolling(conn, request.cookies.get(SESSION_COOKIE, ""), new_secret())
    return redirect("/account/second-factor")


@router.get("/account/second-factor")
def second_factor_form(request: Request, session: MeDep) -> Response:
    if not session.enrolling_secret:
        return redirect("/account")
    return enroll_page(request, session, session, action="/account/second-factor")


@router.post("/account/second-factor")
def second_factor(request: Request, session: FormDep, code: Annotated[str, Form(max_length=20)] = "") -> Response:
    """Turn the second factor on with the key being set up, once its first code proves the app has it."""
    if not session.enrolling_secret:
        return redirect("/account")
    with platform_of(request).engine.begin() as conn:
        if not enable(conn, session.principal.user_id, session.enrolling_secret, code):
            return enroll_page(request, session, session, 401, action="/account/second-factor", failed=True)
        set_enrolling(conn, request.cookies.get(SESSION_COOKIE, ""), None)
        _record(conn, request, session, "user.second_factor")
    return redirect("/account")


@router.get("/account/data")
async def download(request: Request, session: MeDep) -> Response:
    """Everything the platform keeps about the person: the account, its tokens (not their values), report
    addresses, and every report with its analysis and the exact bytes reported (base64)."""
    document = await run_in_threadpool(_export, platform_of(request), session.principal.user_id)
    body = json.dumps(document, default=str, ensure_ascii=False, indent=1)
    disposition = f'attachment; filename="signalement-{session.principal.user_id}.json"'
    return Response(body, media_type="application/json", headers={"Content-Disposition": disposition})


_ACCOUNT_FIELDS = (
    users.c.email,
    users.c.role,
    users.c.created_at,
    users.c.email_verified_at,
    users.c.ack_by_mail,
    users.c.mail_hosts,
)


def _export(platform: Platform, user_id: int) -> dict[str, Any]:
    with read(platform.engine) as conn:
        person = conn.execute(select(*_ACCOUNT_FIELDS).where(users.c.id == user_id)).one()
        rows = conn.execute(select(reports).where(reports.c.reporter_id == user_id).order_by(reports.c.id)).mappings()
        kept = [dict(r) for r in rows]
        tokens = [t.__dict__ for t in tokens_of(conn, user_id)]
        addresses = [a.id for a in addresses_of(conn, platform.secret, user_id)]
    for report in kept:
        report["message_base64"] = base64.b64encode(platform.blobs.get(report["sha256"])).decode()
    return {"account": dict(person._mapping), "tokens": tokens, "report_addresses": addresses, "reports": kept}


@router.post("/account/delete")
async def delete_account(
    request: Request,
    session: FormDep,
    password: Annotated[str, Form(max_length=1024)] = "",
) -> Response:
    """Erase the account and its reports, once the password is given again."""
    platform = platform_of(request)
    confirmed = await run_in_threadpool(platform.credentials.password, session.principal.email, password)
    if confirmed is None or confirmed.user_id != session.principal.user_id:
        return _account(request, session, 401, problem="password")
    with platform.engine.begin() as conn:
        unreferenced = erase_account(conn, session.principal.user_id)
        _record(conn, request, session, "user.erase", reports_blobs_deleted=len(unreferenced))
    for sha256 in unreferenced:  # only once no row refers to them
        platform.blobs.delete(sha256)
    response = page(request, "erased.html", None)
    response.delete_cookie(SESSION_COOKIE)
    return response
