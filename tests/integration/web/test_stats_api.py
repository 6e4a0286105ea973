"""Statistics over the API: a member's counts by dimension in total and over time, verified apart, as JSON and as
CSV; its volumes make a rate; ranges are bounded."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import update

from signalement.domain.accounts import Role
from signalement.domain.claims import ClaimKind, Proof
from signalement.domain.members import OrgKind
from signalement.domain.reports import ReportedCategory
from signalement.ingest.intake import Submission, Submitter
from signalement.platform import Platform
from signalement.store import claims, organizations
from signalement.store.tables import reports, users
from tests.conftest import Users, run_jobs_until_idle
from tests.integration.web.helpers import assert_problem, bearer

SIGNED = (Path(__file__).parents[2] / "fixtures" / "mail" / "ham-gmail-secureserver-authres-srs.eml").read_bytes()
DAY = datetime(2026, 11, 2, tzinfo=UTC)
RANGE = {"since": "2026-11-01T00:00:00Z", "until": "2026-11-05T00:00:00Z"}


def _member_with_reports(platform: Platform, users_: Users) -> tuple[int, dict[str, str]]:
    """A sender claiming yahoo.com, its admin's headers, and three reports of its mail over two days."""
    admin, token = users_.create(Role.MEMBER_ADMIN)
    reporter, _ = users_.create()
    with platform.engine.begin() as conn:
        organization_id = organizations.create(conn, "Yahoo-like", OrgKind.SENDER)
        conn.execute(update(users).where(users.c.id == admin).values(organization_id=organization_id))
        claim = claims.create(conn, organization_id, ClaimKind.DOMAIN, "yahoo.com", created_by=None)
        claims.mark_verified(conn, claim, Proof.DNS_TXT, by=None)
    for n, at in enumerate((DAY + timedelta(hours=9), DAY + timedelta(hours=10), DAY + timedelta(days=1, hours=3))):
        raw = SIGNED.replace(b"Subject:", f"X-N: {n}\r\nSubject:".encode(), 1)
        submission = Submission(raw=raw, reported_category=ReportedCategory.SPAM)
        report_id = platform.intake.accept(Submitter.user(reporter), submission).report_id
        with platform.engine.begin() as conn:
            conn.execute(update(reports).where(reports.c.id == report_id).values(received_at=at))
    run_jobs_until_idle(platform)
    return organization_id, bearer(token)


def test_a_member_reads_its_counts_per_day_and_as_csv(client: TestClient, platform: Platform, users: Users) -> None:
    organization_id, headers = _member_with_reports(platform, users)
    url = f"/api/v1/organizations/{organization_id}/stats"
    total = client.get(url, params=RANGE, headers=headers).json()
    assert [(r["value"], r["verified"], r["reports"], r["bucket"]) for r in total["rows"]] == [("", True, 3, None)]
    daily = client.get(url, params=RANGE | {"per": "day", "dimension": "dkim"}, headers=headers).json()
    assert [(r["bucket"][:10], r["value"], r["reports"]) for r in daily["rows"]] == [
        ("2026-11-02", "yahoo.com", 2),
        ("2026-11-03", "yahoo.com", 1),
    ]
    own = client.get("/api/v1/stats", params=RANGE | {"per": "day", "dimension": "dkim"}, headers=headers).json()
    assert own == daily  # the caller's own organization
    exported = client.get(url, params=RANGE | {"per": "hour", "format": "csv"}, headers=headers)
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [(r["bucket"], r["reports"], r["verified"]) for r in rows] == [
        ("2026-11-02T09:00:00+00:00", "1", "True"),
        ("2026-11-02T10:00:00+00:00", "1", "True"),
        ("2026-11-03T03:00:00+00:00", "1", "True"),
    ]
    assert client.get(url, params=RANGE | {"verified": "false"}, headers=headers).json()["rows"] == []


def test_volumes_make_a_rate(client: TestClient, platform: Platform, users: Users) -> None:
    organization_id, headers = _member_with_reports(platform, users)
    volumes = [{"day": "2026-11-02", "dimension": "dkim", "value": "yahoo.com", "sent": 1000},
               {"day": "2026-11-03", "dimension": "dkim", "value": "yahoo.com", "sent": 500}]  # fmt: skip
    put = client.put(f"/api/v1/organizations/{organization_id}/volumes", json=volumes, headers=headers)
    assert put.status_code == 204
    url = f"/api/v1/organizations/{organization_id}/stats"
    daily = client.get(url, params=RANGE | {"per": "day", "dimension": "dkim"}, headers=headers).json()["rows"]
    assert [(r["sent"], r["rate"]) for r in daily] == [(1000, 0.002), (500, 0.002)]
    (total,) = client.get(url, params=RANGE | {"dimension": "dkim"}, headers=headers).json()["rows"]
    assert (total["reports"], total["sent"], total["rate"]) == (3, 1500, 0.002)


def test_ranges_are_bounded(client: TestClient, platform: Platform, users: Users) -> None:
    organization_id, headers = _member_with_reports(platform, users)
    url = f"/api/v1/organizations/{organization_id}/stats"
    backwards = {"since": "2026-11-05T00:00:00Z", "until": "2026-11-01T00:00:00Z"}
    assert_problem(client.get(url, params=backwards, headers=headers), 422, "invalid_range")
    year = {"since": "2025-11-01T00:00:00Z", "until": "2026-11-01T00:00:00Z", "per": "hour"}
    assert_problem(client.get(url, params=year, headers=headers), 422, "invalid_range")
    assert client.get(url, params={**year, "per": "month"}, headers=headers).status_code == 200
