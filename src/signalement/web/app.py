"""The FastAPI application: the API routers around one Platform."""

from __future__ import annotations

from importlib.resources import files

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from signalement import __version__
from signalement.ingest.group_commit import GroupCommitter
from signalement.ingest.ratelimit import RateLimiter
from signalement.lookup.service import LookupService
from signalement.platform import Platform
from signalement.ui import account, delisting, invitation, pages, warning
from signalement.web import (
    admin_api,
    alerts_api,
    campaigns_api,
    cases_api,
    claims_api,
    feedback_api,
    feeds_api,
    health,
    indicators_api,
    links_api,
    lookup_api,
    me_api,
    organizations_api,
    reports_api,
    schemas,
    shares_api,
    signal_spam,
    sms_api,
    stats_api,
    urls_api,
)
from signalement.web.auth import Authenticator
from signalement.web.errors import ERROR_RESPONSES, document_schemas, install_error_handlers

DESCRIPTION = """signalement collects reports of spam, phishing and smishing, analyzes them and shares what it
learns. Authenticate with `Authorization: Bearer <token>` (from `signalement user create`) or HTTP Basic.
Errors are RFC 9457 problem details."""


def create_app(platform: Platform) -> FastAPI:
    app = FastAPI(title="signalement", version=__version__, description=DESCRIPTION)
    settings = platform.settings
    app.state.platform = platform
    app.state.authenticator = Authenticator(platform.credentials)
    app.state.anonymous_limiter = RateLimiter(settings.anonymous_rate_per_minute)
    app.state.lookup_limiter = RateLimiter(settings.lookup_rate_per_minute)
    app.state.lookup = LookupService(platform.engine)
    app.state.link_ceilings = {}  # organization id -> (when read, its TLP ceiling): signed links to /go
    app.state.group_committer = GroupCommitter(platform.intake.accept_all)
    install_error_handlers(app)
    # First what must answer fast and often (routes are matched in order, ~20 µs each): the link target /go and the
    # warning page, the static files every page asks for, the health checks.
    app.include_router(warning.router)
    app.mount("/static", StaticFiles(directory=str(files("signalement.ui").joinpath("static"))), name="static")
    routers = (health, reports_api, sms_api, signal_spam, me_api, organizations_api, feedback_api, stats_api,
               alerts_api, shares_api, cases_api, urls_api, indicators_api, feeds_api, lookup_api, admin_api,
               campaigns_api, links_api)  # fmt: skip
    for module in routers:
        app.include_router(module.router, responses=ERROR_RESPONSES)
    app.include_router(claims_api.router, responses=ERROR_RESPONSES)  # the API and the postmaster's page
    app.include_router(pages.router)
    app.include_router(account.router)
    app.include_router(invitation.router)
    app.include_router(delisting.router)
    app.add_exception_handler(pages.CsrfError, pages.csrf_refused)
    app.add_exception_handler(pages.TooManyError, pages.too_many)
    app.add_exception_handler(pages.SignInRequiredError, pages.sign_in_first)
    app.state.form_limiter = RateLimiter(pages.FORMS_PER_MINUTE)
    document_schemas(app, schemas.BatchRequest, schemas.SmsBatchRequest)
    app.state.metrics = health.Metrics(platform)
    app.add_middleware(health.RequestMetrics, metrics=app.state.metrics)
    return app
