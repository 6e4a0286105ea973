"""A mailbox provider's verified claims feed the analysis: its authserv-id's Authentication-Results are trusted in
the reports of its people and of its feedback loop, and no longer once the claim is revoked."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from signalement.analysis.requeue import requeue_analysis
from signalement.domain.accounts import Role
from signalement.domain.claims import ClaimKind
from signalement.domain.members import OrgKind
from signalement.ingest.intake import Submission, Submitter
from signalement.platform import Platform
from signalement.store import claims, organizations
from signalement.store.accounts import create_user
from signalement.store.tables import reports, users
from tests.conftest import run_jobs_until_idle

MESSAGE = (
    b"Authentication-Results: mx.mailbox.example; dkim=pass header.d=bank.example;\n"
    b"\tspf=pass smtp.mailfrom=bank.example; dmarc=pass header.from=bank.example\n"
    b"Received: from out.bank.example (out.bank.example [198.51.100.7])\n"
    b"\tby mx.mailbox.example (Postfix) with ESMTPS id 1; Fri, 27 Nov 2026 05:00:01 +0000\n"
    b"From: Bank <news@bank.example>\nTo: someone@mailbox.example\nSubject: Offers\nMessage-ID: <1@bank.example>\n\n"
    b"Our offers this week.\n"
)


def _authentication(platform: Platform, report_id: int) -> dict[str, Any]:
    with platform.engine.connect() as conn:
        facts = conn.execute(select(reports.c.facts).where(reports.c.id == report_id)).scalar_one()
    found: dict[str, Any] = facts["authentication"]
    return found


def test_a_verified_authserv_id_is_trusted_until_revoked(platform: Platform) -> None:
    with platform.engine.begin() as conn:
        organization_id = organizations.create(conn, "Mailbox Co", OrgKind.MAILBOX_PROVIDER)
        member = create_user(conn, "abuse@mailbox.example", Role.MEMBER_ABUSE_MANAGER)
        conn.execute(update(users).where(users.c.id == member).values(organization_id=organization_id))
        staff = create_user(conn, "staff@association.example", Role.ABUSE_MANAGER)
        outsider = create_user(conn, "reporter@example.org", Role.REPORTER)
        claim = claims.create(conn, organization_id, ClaimKind.AUTHSERV_ID, "MX.Mailbox.Example", created_by=member)
    mine = platform.intake.accept(Submitter.user(member), Submission(raw=MESSAGE)).report_id
    theirs = platform.intake.accept(Submitter.user(outsider), Submission(raw=MESSAGE)).report_id
    run_jobs_until_idle(platform)
    assert _authentication(platform, mine)["trusted_by"] is None  # pending: not trusted yet

    with platform.engine.begin() as conn:
        claims.approve(conn, claim, by=staff)
    requeue_analysis(platform, "test", report_ids=(mine, theirs))
    run_jobs_until_idle(platform)
    trusted = _authentication(platform, mine)
    assert trusted["trusted_by"] == "member" and trusted["dmarc"]["result"] == "pass"
    assert _authentication(platform, theirs)["trusted_by"] is None  # someone else's report: not the member's word

    with platform.engine.begin() as conn:
        current = claims.get(conn, claim.id)
        assert current is not None
        claims.revoke(conn, current, by=member, reason="moved to another provider")
    requeue_analysis(platform, "test", report_ids=(mine,))
    run_jobs_until_idle(platform)
    assert _authentication(platform, mine)["trusted_by"] is None
