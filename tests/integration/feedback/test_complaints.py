"""Reports become complaints for the subscriptions their source approved, on authenticated identities only: a
forged From or a failing signature is counted as unverified and never queued for delivery."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select, update

from signalement.domain.accounts import Role
from signalement.domain.feedback import ASSOCIATION, organization_source
from signalement.domain.members import OrgKind
from signalement.domain.reports import ReportedCategory
from signalement.ingest.intake import Submission, Submitter
from signalement.platform import Platform
from signalement.store import claims, feedback, organizations
from signalement.store.tables import complaints
from signalement.store.tables import users as people
from tests.conftest import Users, run_jobs_until_idle
from tests.feedback_loops import approved_loop

MAIL = Path(__file__).parents[2] / "fixtures" / "mail"
SIGNED = (MAIL / "ham-gmail-secureserver-authres-srs.eml").read_bytes()  # Gmail's results: yahoo.com passes DKIM
SPOOF = (MAIL / "phishing-bbva-mx-spoof-replyto-authres.eml").read_bytes()  # From bbva.mx, forged results


def _loop(platform: Platform, name: str, domain: str, staff: int, *sources: str) -> int:
    return approved_loop(platform, domain, staff=staff, name=name, sources=sources)


def _complaints(platform: Platform) -> list[Any]:
    with platform.engine.connect() as conn:
        return list(conn.execute(select(complaints).order_by(complaints.c.report_id)))


def _report(platform: Platform, user_id: int, raw: bytes, category: ReportedCategory | None) -> int:
    return platform.intake.accept(Submitter.user(user_id), Submission(raw=raw, reported_category=category)).report_id


def test_authenticated_matches_are_complaints_and_forgeries_only_counted(platform: Platform, users: Users) -> None:
    staff, _ = users.create(Role.ABUSE_MANAGER)
    reporter, _ = users.create()
    yahoo = _loop(platform, "Yahoo-like", "yahoo.com", staff, ASSOCIATION)
    bbva = _loop(platform, "Bank", "bbva.mx", staff, ASSOCIATION)
    signed = _report(platform, reporter, SIGNED, ReportedCategory.SPAM)
    spoof = _report(platform, reporter, SPOOF, ReportedCategory.SPAM)
    _report(platform, reporter, SIGNED.replace(b"Subject:", b"X-Test: 2\r\nSubject:", 1), None)  # no complaint
    run_jobs_until_idle(platform)
    found = [(c.report_id, c.subscription_id, c.match_kind, c.authenticated, c.state) for c in _complaints(platform)]
    assert found == [
        (signed, yahoo, "domain", True, "queued"),
        (spoof, bbva, "domain", False, "unverified"),  # the From is forged: counted, never delivered
    ]


def test_only_the_sources_that_approved_count(platform: Platform, users: Users) -> None:
    staff, _ = users.create(Role.ABUSE_MANAGER)
    with platform.engine.begin() as conn:
        provider = organizations.create(conn, "Mailbox Co", OrgKind.MAILBOX_PROVIDER)
    pusher, _ = users.create(Role.MEMBER_ANALYST)
    with platform.engine.begin() as conn:
        conn.execute(update(people).where(people.c.id == pusher).values(organization_id=provider))
    yahoo = _loop(platform, "Yahoo-like", "yahoo.com", staff, ASSOCIATION)
    _report(platform, pusher, SIGNED, ReportedCategory.SPAM)  # the provider's user: the provider did not approve
    run_jobs_until_idle(platform)
    assert _complaints(platform) == []
    with platform.engine.begin() as conn:
        feedback.decide_grant(conn, yahoo, organization_source(provider), "approve", by=staff, reason=None)
    again = _report(platform, pusher, SIGNED.replace(b"Subject:", b"X-Again: 1\r\nSubject:", 1), ReportedCategory.SPAM)
    run_jobs_until_idle(platform)
    assert [(c.report_id, c.state) for c in _complaints(platform)] == [(again, "queued")]


def test_the_workers_index_follows_revocations_and_suspensions_at_once(platform: Platform, users: Users) -> None:
    staff, _ = users.create(Role.ABUSE_MANAGER)
    reporter, _ = users.create()
    yahoo = _loop(platform, "Yahoo-like", "yahoo.com", staff, ASSOCIATION)
    _loop(platform, "Bank", "bbva.mx", staff, ASSOCIATION)  # another approved loop: reports are still matched
    first = _report(platform, reporter, SIGNED, ReportedCategory.SPAM)
    run_jobs_until_idle(platform)  # the index is built and cached
    with platform.engine.begin() as conn:
        feedback.decide_grant(conn, yahoo, ASSOCIATION, "suspend", by=staff, reason="checking")
    _report(platform, reporter, SIGNED.replace(b"Subject:", b"X-N: 1\r\nSubject:", 1), ReportedCategory.SPAM)
    run_jobs_until_idle(platform)
    with platform.engine.begin() as conn:
        feedback.decide_grant(conn, yahoo, ASSOCIATION, "resume", by=staff, reason=None)
    third = _report(platform, reporter, SIGNED.replace(b"Subject:", b"X-N: 2\r\nSubject:", 1), ReportedCategory.SPAM)
    run_jobs_until_idle(platform)
    with platform.engine.begin() as conn:
        (claim,) = claims.of_organization(conn, feedback.get(conn, yahoo).organization_id)  # type: ignore[union-attr]
        claims.revoke(conn, claim, by=staff, reason="domain sold")
    _report(platform, reporter, SIGNED.replace(b"Subject:", b"X-N: 3\r\nSubject:", 1), ReportedCategory.SPAM)
    run_jobs_until_idle(platform)
    assert [c.report_id for c in _complaints(platform)] == [first, third]
