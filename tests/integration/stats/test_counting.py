"""Reports in the statistics of the members they concern: verified and unverified apart, trap hits weighed, every
hour, day and month; a re-analysis replaces what a report added; and the counts always equal those recomputed from
the reports."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select, update

from signalement.analysis.requeue import requeue_analysis
from signalement.domain.accounts import Role
from signalement.domain.claims import ClaimKind, Proof
from signalement.domain.members import OrgKind
from signalement.domain.reports import TRAP_WEIGHT, ReportedCategory
from signalement.domain.stats import Dimension, Period
from signalement.ingest.intake import Submission, Submitter
from signalement.platform import Platform
from signalement.store import claims, organizations
from signalement.store import stats as store
from signalement.store.erasure import erase_account
from signalement.store.tables import reports, stat_contributions, stat_counts
from tests.conftest import Users, run_jobs_until_idle

MAIL = Path(__file__).parents[2] / "fixtures" / "mail"
SIGNED = (MAIL / "ham-gmail-secureserver-authres-srs.eml").read_bytes()  # Gmail's results: yahoo.com passes DKIM
SPOOF = (MAIL / "phishing-bbva-mx-spoof-replyto-authres.eml").read_bytes()  # From bbva.mx, forged results
T0 = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
YEAR = (datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))


def _member(platform: Platform, name: str, domain: str) -> int:
    with platform.engine.begin() as conn:
        organization_id = organizations.create(conn, name, OrgKind.SENDER)
        claim = claims.create(conn, organization_id, ClaimKind.DOMAIN, domain, created_by=None)
        claims.mark_verified(conn, claim, Proof.DNS_TXT, by=None)
    return organization_id


def _report(platform: Platform, reporter: int, raw: bytes, at: datetime, n: int, **where: Any) -> int:
    raw = raw.replace(b"Subject:", f"X-N: {n}\r\nSubject:".encode(), 1)
    submission = Submission(raw=raw, reported_category=ReportedCategory.SPAM)
    report_id = platform.intake.accept(Submitter.user(reporter), submission).report_id
    with platform.engine.begin() as conn:
        conn.execute(update(reports).where(reports.c.id == report_id).values(received_at=at, **where))
    return report_id


def _snapshot(platform: Platform) -> set[tuple[Any, ...]]:
    with platform.engine.connect() as conn:
        rows = conn.execute(select(stat_counts).where(stat_counts.c.reports != 0))
        return {(*r[:6], r.reports, round(r.weight, 6)) for r in rows}


def test_reports_count_for_the_members_they_concern(platform: Platform, users: Users) -> None:
    reporter, _ = users.create()
    yahoo = _member(platform, "Yahoo-like", "yahoo.com")
    bank = _member(platform, "Bank", "bbva.mx")
    for n in range(3):
        _report(platform, reporter, SIGNED, T0 + timedelta(minutes=10 * n), n)
    _report(platform, reporter, SIGNED, T0 + timedelta(hours=1), 3)
    _report(platform, reporter, SIGNED, T0 + timedelta(days=1), 4, trap=True, source="trap-1")
    _report(platform, reporter, SPOOF, T0, 5)
    run_jobs_until_idle(platform)
    with platform.engine.connect() as conn:
        hourly = store.counts(conn, yahoo, Dimension.ALL, T0 - timedelta(hours=1), T0 + timedelta(days=2),
                              per=Period.HOUR)  # fmt: skip
        assert [(r.bucket, r.reports, r.weight, r.verified) for r in hourly] == [
            (datetime(2026, 11, 2, 9, tzinfo=UTC), 3, 3.0, True),
            (datetime(2026, 11, 2, 10, tzinfo=UTC), 1, 1.0, True),
            (datetime(2026, 11, 3, 9, tzinfo=UTC), 1, TRAP_WEIGHT, True),
        ]
        (total,) = store.counts(conn, yahoo, Dimension.ALL, *YEAR)
        assert (total.reports, total.weight) == (5, 4 + TRAP_WEIGHT)
        sources = store.counts(conn, yahoo, Dimension.SOURCE, *YEAR)
        assert [(r.value, r.reports) for r in sources] == [("association", 4), ("trap-1", 1)]
        (dkim,) = store.counts(conn, yahoo, Dimension.DKIM, *YEAR)
        assert (dkim.value, dkim.reports, dkim.verified) == ("yahoo.com", 5, True)
        (forged,) = store.counts(conn, bank, Dimension.ALL, *YEAR)
        assert (forged.reports, forged.verified) == (1, False)  # the From says bbva.mx: counted apart, unverified
        assert store.counts(conn, bank, Dimension.ALL, *YEAR, verified=True) == []


def test_a_reanalysis_replaces_and_the_counts_equal_the_recount(platform: Platform, users: Users) -> None:
    reporter, _ = users.create()
    yahoo = _member(platform, "Yahoo-like", "yahoo.com")
    _member(platform, "Bank", "bbva.mx")
    made = [_report(platform, reporter, SIGNED, T0 + timedelta(hours=5 * n), n) for n in range(6)]
    made.append(_report(platform, reporter, SPOOF, T0, 6))
    run_jobs_until_idle(platform)
    before = _snapshot(platform)
    assert requeue_analysis(platform, "test", report_ids=tuple(made)) == len(made)
    run_jobs_until_idle(platform)
    assert _snapshot(platform) == before  # the same reports again: nothing counted twice
    with platform.engine.begin() as conn:  # a report now says another time: it moves, whole
        conn.execute(update(reports).where(reports.c.id == made[0]).values(received_at=T0 + timedelta(days=40)))
    requeue_analysis(platform, "test", report_ids=(made[0],))
    run_jobs_until_idle(platform)
    moved = _snapshot(platform)
    with platform.engine.connect() as conn:
        months = store.counts(conn, yahoo, Dimension.ALL, *YEAR, per=Period.MONTH)
    assert [(r.bucket, r.reports) for r in months] == [
        (datetime(2026, 11, 1, tzinfo=UTC), 5),
        (datetime(2026, 12, 1, tzinfo=UTC), 1),
    ]
    with platform.engine.begin() as conn:
        assert store.rebuild(conn) == len(made)
    assert _snapshot(platform) == moved  # the rollups are what the reports' contributions add up to


def test_the_top_values_and_a_member_s_view_only(platform: Platform, users: Users) -> None:
    reporter, _ = users.create(Role.REPORTER)
    yahoo = _member(platform, "Yahoo-like", "yahoo.com")
    other = _member(platform, "Other", "example.net")
    for n in range(3):
        _report(platform, reporter, SIGNED, T0 + timedelta(minutes=n), n)
    run_jobs_until_idle(platform)
    with platform.engine.connect() as conn:
        top = store.counts(conn, yahoo, Dimension.SENDER_DOMAIN, *YEAR, top=1)
        assert [(r.value, r.reports) for r in top] == [("yahoo.com", 3)]
        assert store.counts(conn, other, Dimension.ALL, *YEAR) == []


def test_the_counts_are_recomputed_from_the_reports_themselves(platform: Platform, users: Users) -> None:
    reporter, _ = users.create()
    _member(platform, "Yahoo-like", "yahoo.com")
    _member(platform, "Bank", "bbva.mx")
    made = [_report(platform, reporter, SIGNED, T0 + timedelta(hours=7 * n), n) for n in range(5)]
    made.append(_report(platform, reporter, SPOOF, T0, 5, trap=True, source="trap-1"))
    run_jobs_until_idle(platform)
    counted = _snapshot(platform)
    with platform.engine.begin() as conn:  # everything the rollups and the ledger hold, gone
        conn.execute(delete(stat_counts))
        conn.execute(delete(stat_contributions))
    assert _snapshot(platform) == set()
    assert requeue_analysis(platform, "test") == len(made)  # `signalement reanalyze`: each report again
    run_jobs_until_idle(platform)
    assert _snapshot(platform) == counted


def test_an_erased_reporter_s_reports_leave_the_statistics(platform: Platform, users: Users) -> None:
    reporter, _ = users.create()
    other, _ = users.create()
    yahoo = _member(platform, "Yahoo-like", "yahoo.com")
    _report(platform, reporter, SIGNED, T0, 1)
    _report(platform, other, SIGNED, T0, 2)
    run_jobs_until_idle(platform)
    with platform.engine.begin() as conn:
        erase_account(conn, reporter)
    with platform.engine.connect() as conn:
        (left,) = store.counts(conn, yahoo, Dimension.ALL, *YEAR)
    assert left.reports == 1  # the other reporter's
