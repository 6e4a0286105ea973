"""The reporter's pages: sign in and out, report a message or an SMS, and every report with what became of it.

Sessions are server-side (store/web_sessions.py): the cookie holds a random token, HttpOnly, SameSite=Lax, Secure
behind HTTPS. Every form carries a CSRF token: the session's own once signed in; before that (the sign-in form) a
random value in a SameSite=Strict cookie that the form must repeat. A page is in the person's language (a cookie
they set from the language links, else their browser's).
"""

from __future__ import annotations

import hmac
import re
import secrets
from datetime import datetime
from importlib.resources import files
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError
from sqlalchemy import select, update
from starlette.concurrency import run_in_threadpool

from signalement.domain.accounts import Role
from signalement.domain.reports import Channel, ReportKind
from signalement.ingest.intake import Submission, Submitter
from signalement.ingest.ratelimit import RateLimiter
from signalement.mail.facts import not_a_message_reason
from signalement.platform import Platform
from signalement.store.accounts import create_user, hash_password
from signalement.store.db import read
from signalement.store.links import Purpose, user_of
from signalement.store.second_factor import check, enable, has_second_factor, new_secret, provisioning_uri, qr_svg
from signalement.store.sql import utcnow
from signalement.store.tables import campaigns, reports, users
from signalement.store.web_sessions import (
    WebSession,
    close_session,
    close_sessions,
    open_session,
    renew,
    session_for,
)
from signalement.ui import i18n
from signalement.ui.account_mail import ACCOUNT_MAIL_TASK
from signalement.ui.timeline import impact, timeline
from signalement.web import schemas
from signalement.web.deps import client_address
from signalement.web.sms_api import sms_blob
from signalement.web.submit import message_submission
from signalement.work.port import JobRequest

SESSION_COOKIE = "signalement_session"
FORM_COOKIE = "signalement_form"  # the sign-in form's CSRF value, before there is a session
PAGE_SIZE = 50
FORMS_PER_MINUTE = 20  # sign-in, sign-up and password forms per client address

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(files("signalement.ui").joinpath("templates")))


class CsrfError(Exception):
    """A form without its CSRF token: refused with 403."""


class TooManyError(Exception):
    """Too many account forms from one client address: refused with 429."""


async def csrf_refused(request: Request, error: Exception) -> Response:
    return page(request, "forbidden.html", None, status=403)


async def too_many(request: Request, error: Exception) -> Response:
    return page(request, "too_many.html", None, status=429)


async def sign_in_first(request: Request, error: Exception) -> Response:
    return redirect("/signin")


def platform_of(request: Request) -> Platform:
    platform: Platform = request.app.state.platform
    return platform


def any_session(request: Request) -> WebSession | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    platform = platform_of(request)
    with read(platform.engine) as conn:
        session = session_for(conn, token)
    if session is not None and session.renew_due:
        with platform.engine.begin() as conn:
            renew(conn, token)
    return session


def current_session(request: Request) -> WebSession | None:
    """A complete session: one still waiting for its second factor opens no page."""
    session = any_session(request)
    return session if session is not None and session.pending is None else None


SessionDep = Annotated[WebSession | None, Depends(current_session)]
PendingDep = Annotated[WebSession | None, Depends(any_session)]


class SignInRequiredError(Exception):
    """A page for the signed-in only, asked without a session: sent to the sign-in page."""


def signed_in_session(session: SessionDep) -> WebSession:
    if session is None:
        raise SignInRequiredError
    return session


MeDep = Annotated[WebSession, Depends(signed_in_session)]


def signed_form(session: MeDep, csrf: Annotated[str, Form(max_length=100)] = "") -> WebSession:
    """A signed-in person's form: their session, once the form's CSRF token is checked against it."""
    check_csrf(csrf, session.csrf_token)
    return session


FormDep = Annotated[WebSession, Depends(signed_form)]


def page(request: Request, name: str, session: WebSession | None, status: int = 200, **context: Any) -> HTMLResponse:
    lang = _lang(request)
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


def check_csrf(given: str, expected: str) -> None:
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


def public_form(request: Request, name: str, status: int = 200, **context: Any) -> Response:
    """A form shown before signing in: its CSRF value is repeated in a SameSite=Strict cookie it must match."""
    value = request.cookies.get(FORM_COOKIE) or secrets.token_urlsafe(32)
    response = page(request, name, None, status=status, form_token=value, **context)
    response.set_cookie(FORM_COOKIE, value, httponly=True, samesite="strict", secure=_secure(request))
    return response


def check_public_form(request: Request, csrf: str) -> None:
    check_csrf(csrf, request.cookies.get(FORM_COOKIE, ""))
    _limit(request)


def _limit(request: Request) -> None:
    limiter: RateLimiter = request.app.state.form_limiter
    if not limiter.allow(client_address(request)):
        raise TooManyError


@router.get("/signin")
def signin_form(request: Request, session: SessionDep) -> Response:
    return redirect("/reports") if session is not None else public_form(request, "signin.html")


@router.post("/signin")
async def signin(
    request: Request,
    email: Annotated[str, Form(max_length=320)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    csrf: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    check_public_form(request, csrf)
    platform = platform_of(request)
    principal = await run_in_threadpool(platform.credentials.password, email, password)
    if principal is None:  # one message for a wrong address, a wrong password and an unconfirmed address
        return public_form(request, "signin.html", status=401, failed=True, email=email)
    with platform.engine.begin() as conn:
        if has_second_factor(conn, principal.user_id):
            return _session_cookie(request, open_session(conn, principal.user_id, pending="totp"), "/signin/code")
        if principal.role.needs_second_factor:  # staff and members set one up before anything opens
            token = open_session(conn, principal.user_id, pending="enroll", enrolling_secret=new_secret())
            return _session_cookie(request, token, "/signin/enroll")
    return _signed_in(request, principal.user_id)


def _signed_in(request: Request, user_id: int) -> Response:
    with platform_of(request).engine.begin() as conn:
        token = open_session(conn, user_id)
    return _session_cookie(request, token, "/reports")


def _session_cookie(request: Request, token: str, to: str) -> Response:
    response = redirect(to)
    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="lax", secure=_secure(request))
    return response


# -- the second factor ------------------------------------------------------------------------------------------


@router.get("/signin/code")
def code_form(request: Request, pending: PendingDep) -> Response:
    if pending is None or pending.pending != "totp":
        return redirect("/signin")
    return page(request, "code.html", None, form_token=pending.csrf_token)


@router.post("/signin/code")
def code(
    request: Request,
    pending: PendingDep,
    code: Annotated[str, Form(max_length=20)] = "",
    csrf: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    if pending is None or pending.pending != "totp":
        return redirect("/signin")
    check_csrf(csrf, pending.csrf_token)
    _limit(request)
    with platform_of(request).engine.begin() as conn:
        good = check(conn, pending.principal.user_id, code)
    if not good:
        return page(request, "code.html", None, status=401, form_token=pending.csrf_token, failed=True)
    return _second_factor_done(request, pending)


@router.get("/signin/enroll")
def enroll_form(request: Request, pending: PendingDep) -> Response:
    if pending is None or pending.pending != "enroll" or not pending.enrolling_secret:
        return redirect("/signin")
    return enroll_page(request, pending, None)


def enroll_page(
    request: Request, with_key: WebSession, shown_as: WebSession | None, status: int = 200, **extra: Any
) -> Response:
    """The key being set up (its QR code and its text) and the form that confirms it with a first code."""
    secret = with_key.enrolling_secret or ""
    uri = provisioning_uri(secret, with_key.principal.email)
    spaced = " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
    context = {"form_token": with_key.csrf_token, "secret": spaced, "qr": qr_svg(uri)}
    return page(request, "enroll.html", shown_as, status, **context, **extra)


@router.post("/signin/enroll")
def enroll(
    request: Request,
    pending: PendingDep,
    code: Annotated[str, Form(max_length=20)] = "",
    csrf: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    if pending is None or pending.pending != "enroll" or not pending.enrolling_secret:
        return redirect("/signin")
    check_csrf(csrf, pending.csrf_token)
    _limit(request)
    with platform_of(request).engine.begin() as conn:
        good = enable(conn, pending.principal.user_id, pending.enrolling_secret, code)
    if not good:
        return enroll_page(request, pending, None, 401, failed=True)
    return _second_factor_done(request, pending)


def _second_factor_done(request: Request, pending: WebSession) -> Response:
    """The pending session ends and a new one opens: a token seen before the second factor never opens pages."""
    with platform_of(request).engine.begin() as conn:
        close_session(conn, request.cookies.get(SESSION_COOKIE, ""))
    return _signed_in(request, pending.principal.user_id)


# -- signing up, confirming the address, a new password ---------------------------------------------------------

MIN_PASSWORD = 12
_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]+\.[^@\s]+")


@router.get("/signup")
def signup_form(request: Request, session: SessionDep) -> Response:
    return redirect("/reports") if session is not None else public_form(request, "signup.html")


@router.post("/signup")
async def signup(
    request: Request,
    email: Annotated[str, Form(max_length=320)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    csrf: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """The same answer whether the address already has an account or not: the page tells no one who is here."""
    check_public_form(request, csrf)
    email = email.strip().lower()
    if not _EMAIL.fullmatch(email) or len(password) < MIN_PASSWORD:
        problem = "email" if not _EMAIL.fullmatch(email) else "password"
        return public_form(request, "signup.html", status=422, problem=problem, email=email)
    await run_in_threadpool(_sign_up, platform_of(request), email, password, _lang(request))
    return page(request, "check_mail.html", None)


def _sign_up(platform: Platform, email: str, password: str, lang: str) -> None:
    with platform.engine.begin() as conn:
        if conn.execute(select(users.c.id).where(users.c.email == email)).first() is not None:
            return
        user_id = create_user(conn, email, Role.REPORTER, password=password, verified=False)
        platform.queue.enqueue(conn, _mail_job(Purpose.VERIFY, user_id, lang))


def _mail_job(purpose: Purpose, user_id: int, lang: str) -> JobRequest:
    return JobRequest(ACCOUNT_MAIL_TASK, {"purpose": purpose.value, "user_id": user_id, "lang": lang})


@router.get("/verify")
def verify(request: Request, token: str = "") -> Response:
    platform = platform_of(request)
    with platform.engine.begin() as conn:
        user_id = user_of(conn, platform.secret, Purpose.VERIFY, token)
        if user_id is not None:
            conn.execute(update(users).where(users.c.id == user_id).values(email_verified_at=utcnow()))
    if user_id is None:
        return page(request, "link_invalid.html", None, status=400)
    return _signed_in(request, user_id)


@router.get("/forgot")
def forgot_form(request: Request) -> Response:
    return public_form(request, "forgot.html")


@router.post("/forgot")
async def forgot(
    request: Request,
    email: Annotated[str, Form(max_length=320)] = "",
    csrf: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    check_public_form(request, csrf)
    await run_in_threadpool(_forgot, platform_of(request), email.strip().lower(), _lang(request))
    return page(request, "check_mail.html", None)


def _forgot(platform: Platform, email: str, lang: str) -> None:
    with platform.engine.begin() as conn:
        user_id = conn.execute(
            select(users.c.id).where(
                users.c.email == email, users.c.disabled.is_(False), users.c.email_verified_at.is_not(None)
            )
        ).scalar()
        if user_id is not None:
            platform.queue.enqueue(conn, _mail_job(Purpose.RESET, int(user_id), lang))


@router.get("/reset")
def reset_form(request: Request, token: str = "") -> Response:
    return public_form(request, "reset.html", token=token)


@router.post("/reset")
async def reset(
    request: Request,
    token: Annotated[str, Form(max_length=300)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    csrf: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    check_public_form(request, csrf)
    if len(password) < MIN_PASSWORD:
        return public_form(request, "reset.html", status=422, token=token, problem="password")
    platform = platform_of(request)
    with platform.engine.begin() as conn:
        user_id = user_of(conn, platform.secret, Purpose.RESET, token)
        if user_id is not None:
            conn.execute(update(users).where(users.c.id == user_id).values(password_hash=hash_password(password)))
            close_sessions(conn, user_id)  # signed out everywhere
    if user_id is None:
        return page(request, "link_invalid.html", None, status=400)
    return redirect("/signin")


def _lang(request: Request) -> str:
    return i18n.negotiate(request.cookies.get(i18n.COOKIE), request.headers.get("accept-language"))


@router.post("/signout")
def signout(request: Request, session: SessionDep, csrf: Annotated[str, Form(max_length=100)] = "") -> Response:
    if session is not None:
        check_csrf(csrf, session.csrf_token)
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
def my_reports(request: Request, session: MeDep, after: int | None = None) -> Response:
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
def my_report(request: Request, session: MeDep, report_id: int) -> Response:
    return _report_page(request, session, report_id, "report.html")


@router.get("/reports/{report_id}/timeline")
def my_report_timeline(request: Request, session: MeDep, report_id: int) -> Response:
    """The timeline alone, which the report's page polls (htmx) while the analysis runs."""
    return _report_page(request, session, report_id, "_timeline.html")


def _report_page(request: Request, session: WebSession, report_id: int, template: str) -> Response:
    with read(platform_of(request).engine) as conn:
        row = conn.execute(
            select(reports, campaigns.c.reports.label("campaign_reports"))
            .outerjoin(campaigns, campaigns.c.id == reports.c.campaign_id)
            .where(reports.c.id == report_id, reports.c.reporter_id == session.principal.user_id)
        ).first()
    if row is None:  # another's report is as absent as one that does not exist
        return page(request, "not_found.html", session, status=404)
    return page(request, template, session, report=row, events=timeline(row, i18n.translator(_lang(request))))


@router.get("/report")
def report_form(request: Request, session: MeDep) -> Response:
    return page(request, "report_new.html", session)


@router.post("/report")
async def report_message(
    request: Request,
    session: FormDep,
    file: UploadFile | None = None,
    source: Annotated[str, Form(max_length=20_000_000)] = "",
) -> Response:
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
    session: FormDep,
    sender: Annotated[str, Form(max_length=100)] = "",
    text: Annotated[str, Form(max_length=5000)] = "",
    received_at: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    try:
        sms = schemas.SmsReportIn(sender=sender, text=text, received_at=received_at or datetime.now().astimezone())
    except ValidationError:
        return page(request, "report_new.html", session, status=422, problem="invalid_sms", tab="sms")
    submission = Submission(raw=sms_blob(sms), kind=ReportKind.SMS, channel=Channel.WEB)
    return await _store(platform_of(request), session, submission)


async def _store(platform: Platform, session: WebSession, submission: Submission) -> Response:
    accepted = await run_in_threadpool(platform.intake.accept, Submitter.user(session.principal.user_id), submission)
    return redirect(f"/reports/{accepted.report_id}")
