"""The reporter's pages: sign in and out, report a message or an SMS, and every report with what became of it.

Sessions are server-side (store/web_sessions.py): the cookie holds a random token, HttpOnly, SameSite=Lax, Secure
behind HTTPS. Every form carries a CSRF token: the session's own once signed in; before that (the sign-in form) a
random value in a SameSite=Strict cookie that the form must repeat. A page is in the person's language (a cookie
they set from the language links, else their browser's).
"""

from __future__ import annotations

import hmac
import secrets
from datetime import datetime
from importlib.resources import files
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from signalement.domain.reports import Channel, ReportKind
from signalement.ingest.intake import Submission, Submitter
from signalement.mail.facts import not_a_message_reason
from signalement.platform import Platform
from signalement.store.db import read
from signalement.store.tables import campaigns, reports
from signalement.store.web_sessions import WebSession, close_session, open_session, session_for
from signalement.ui import i18n
from signalement.ui.timeline import impact, timeline
from signalement.web import schemas
from signalement.web.sms_api import sms_blob
from signalement.web.submit import message_submission

SESSION_COOKIE = "signalement_session"
FORM_COOKIE = "signalement_form"  # the sign-in form's CSRF value, before there is a session
PAGE_SIZE = 50

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(files("signalement.ui").joinpath("templates")))


class CsrfError(Exception):
    """A form without its CSRF token: refused with 403."""


async def csrf_refused(request: Request, error: Exception) -> Response:
    return page(request, "forbidden.html", None, status=403)


def platform_of(request: Request) -> Platform:
    platform: Platform = request.app.state.platform
    return platform


def current_session(request: Request) -> WebSession | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    platform = platform_of(request)
    with platform.engine.begin() as conn:  # a write only when the session is renewed
        return session_for(conn, token)


SessionDep = Annotated[WebSession | None, Depends(current_session)]


def page(request: Request, name: str, session: WebSession | None, status: int = 200, **context: Any) -> HTMLResponse:
    lang = i18n.negotiate(request.cookies.get(i18n.COOKIE), request.headers.get("accept-language"))
    common = {
        "t": i18n.translator(lang),
        "lang": lang,
        "user": session.principal if session else None,
        "csrf": session.csrf_token if session else "",
        "path": request.url.path,
    }
    response = templates.TemplateResponse(request, name, common | context, status_code=status)
    response.headers["Cache-Control"] = "no-store"
    return response


def redirect(to: str) -> RedirectResponse:
    return RedirectResponse(to, status_code=303)


def _secure(request: Request) -> bool:
    return request.url.scheme == "https" or platform_of(request).settings.public_url.startswith("https:")


def _check_csrf(given: str, expected: str) -> None:
    if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        raise CsrfError


def _local(target: str) -> str:
    """Only a path on this site: never an open redirect."""
    parts = urlsplit(target)
    return target if target.startswith("/") and not target.startswith("//") and not parts.netloc else "/"


# -- signing in and out -------------------------------------------------------------------------------------------


@router.get("/")
def home(session: SessionDep) -> RedirectResponse:
    return redirect("/reports" if session else "/signin")


@router.get("/signin")
def signin_form(request: Request, session: SessionDep) -> Response:
    if session is not None:
        return redirect("/reports")
    value = request.cookies.get(FORM_COOKIE) or secrets.token_urlsafe(32)
    response = page(request, "signin.html", None, form_token=value)
    response.set_cookie(FORM_COOKIE, value, httponly=True, samesite="strict", secure=_secure(request), path="/signin")
    return response


@router.post("/signin")
async def signin(
    request: Request,
    email: Annotated[str, Form(max_length=320)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    csrf: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    _check_csrf(csrf, request.cookies.get(FORM_COOKIE, ""))
    platform = platform_of(request)
    principal = await run_in_threadpool(platform.credentials.password, email, password)
    if principal is None:  # one message for a wrong address and a wrong password
        return page(request, "signin.html", None, status=401, form_token=csrf, failed=True, email=email)
    with platform.engine.begin() as conn:
        token = open_session(conn, principal.user_id)
    response = redirect("/reports")
    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="lax", secure=_secure(request))
    response.delete_cookie(FORM_COOKIE, path="/signin")
    return response


@router.post("/signout")
def signout(request: Request, session: SessionDep, csrf: Annotated[str, Form(max_length=100)] = "") -> Response:
    if session is not None:
        _check_csrf(csrf, session.csrf_token)
        with platform_of(request).engine.begin() as conn:
            close_session(conn, request.cookies.get(SESSION_COOKIE, ""))
    response = redirect("/signin")
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.get("/language/{lang}")
def language(request: Request, lang: str, next: str = "/") -> RedirectResponse:
    response = redirect(_local(next))
    if lang in i18n.LANGUAGES:
        response.set_cookie(i18n.COOKIE, lang, max_age=365 * 86400, samesite="lax", secure=_secure(request))
    return response


# -- reports ------------------------------------------------------------------------------------------------------


@router.get("/reports")
def my_reports(request: Request, session: SessionDep, after: int | None = None) -> Response:
    if session is None:
        return redirect("/signin")
    me = session.principal.user_id
    query = (
        select(*_LISTED, reports.c.facts["subject"].label("subject"))
        .where(reports.c.reporter_id == me)
        .order_by(reports.c.id.desc())
        .limit(PAGE_SIZE + 1)
    )
    if after is not None:
        query = query.where(reports.c.id < after)
    with read(platform_of(request).engine) as conn:
        rows = conn.execute(query).all()
        totals = impact(conn, me)
    more = rows[PAGE_SIZE - 1].id if len(rows) > PAGE_SIZE else None
    return page(request, "reports.html", session, rows=rows[:PAGE_SIZE], more=more, totals=totals)


_LISTED = (reports.c.id, reports.c.kind, reports.c.status, reports.c.received_at, reports.c.verdict_category)


@router.get("/reports/{report_id}")
def my_report(request: Request, session: SessionDep, report_id: int) -> Response:
    if session is None:
        return redirect("/signin")
    with read(platform_of(request).engine) as conn:
        row = conn.execute(
            select(reports, campaigns.c.reports.label("campaign_reports"))
            .outerjoin(campaigns, campaigns.c.id == reports.c.campaign_id)
            .where(reports.c.id == report_id, reports.c.reporter_id == session.principal.user_id)
        ).first()
    if row is None:  # another's report is as absent as one that does not exist
        return page(request, "not_found.html", session, status=404)
    lang = i18n.negotiate(request.cookies.get(i18n.COOKIE), request.headers.get("accept-language"))
    return page(request, "report.html", session, report=row, events=timeline(row, i18n.translator(lang)))


@router.get("/report")
def report_form(request: Request, session: SessionDep) -> Response:
    if session is None:
        return redirect("/signin")
    return page(request, "report_new.html", session)


@router.post("/report")
async def report_message(
    request: Request,
    session: SessionDep,
    csrf: Annotated[str, Form(max_length=100)] = "",
    file: UploadFile | None = None,
    source: Annotated[str, Form(max_length=20_000_000)] = "",
) -> Response:
    if session is None:
        return redirect("/signin")
    _check_csrf(csrf, session.csrf_token)
    platform = platform_of(request)
    limit = platform.settings.max_message_bytes
    raw = (await file.read(limit + 1)) if file is not None and file.filename else source.encode("utf-8")
    if len(raw) > limit or not_a_message_reason(raw) is not None:
        problem = "too_large" if len(raw) > limit else "not_a_message"
        return page(request, "report_new.html", session, status=422, problem=problem)
    submission = message_submission(raw, limit, channel=Channel.WEB)
    return await _store(platform, session, submission)


@router.post("/report/sms")
async def report_sms(
    request: Request,
    session: SessionDep,
    sender: Annotated[str, Form(max_length=100)] = "",
    text: Annotated[str, Form(max_length=5000)] = "",
    received_at: Annotated[str, Form(max_length=40)] = "",
    csrf: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    if session is None:
        return redirect("/signin")
    _check_csrf(csrf, session.csrf_token)
    try:
        sms = schemas.SmsReportIn(sender=sender, text=text, received_at=received_at or datetime.now().astimezone())
    except ValidationError:
        return page(request, "report_new.html", session, status=422, problem="invalid_sms", tab="sms")
    submission = Submission(raw=sms_blob(sms), kind=ReportKind.SMS, channel=Channel.WEB)
    return await _store(platform_of(request), session, submission)


async def _store(platform: Platform, session: WebSession, submission: Submission) -> Response:
    accepted = await run_in_threadpool(platform.intake.accept, Submitter.user(session.principal.user_id), submission)
    return redirect(f"/reports/{accepted.report_id}")
