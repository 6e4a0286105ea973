"""URLs in reports become suspected, then confirmed when a reliable reporter reports them (alone), never by a crowd
of new reporters; a confirmation is an event with a sequence number, and judges the reporters."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from sqlalchemy import select

from signalement.domain.reports import ReportedCategory
from signalement.domain.url_reputation import UrlState
from signalement.ingest.intake import Submission, Submitter
from signalement.platform import Platform
from signalement.store import urls as store
from signalement.store.sql import utcnow
from signalement.store.tables import url_judgements, urls
from tests.conftest import Users, run_jobs_until_idle

KIT = "https://www.bakery-example.fr/wp-content/kit/login.php"


def _mail(url: str, n: int) -> bytes:
    return (f"From: Service <service@bakery-example.fr>\r\nTo: someone@example.org\r\nSubject: Your account {n}\r\n"
            f"Message-ID: <m{n}@bakery-example.fr>\r\n\r\nPlease sign in at {url} today.\r\n").encode()  # fmt: skip


def _report(platform: Platform, user_id: int, url: str, n: int) -> int:
    submission = Submission(raw=_mail(url, n), reported_category=ReportedCategory.PHISHING)
    return platform.intake.accept(Submitter.user(user_id), submission).report_id


def _url(platform: Platform, canonical: str) -> store.Url:
    with platform.engine.connect() as conn:
        url_id = conn.execute(select(urls.c.id).where(urls.c.canonical == canonical)).scalar_one()
        found = store.get(conn, url_id)
    assert found is not None
    return found


def _record(platform: Platform, user_id: int, confirmed: int, early: int) -> None:
    """A reporter whose `confirmed` past reports of other URLs were all confirmed, `early` of them early."""
    now = utcnow()
    with platform.engine.begin() as conn:
        for n in range(confirmed):
            canonical = f"https://old-{user_id}-{n}.example/"
            url_id = conn.execute(urls.insert().returning(urls.c.id), {
                "sha256": hashlib.sha256(canonical.encode()).digest(), "canonical": canonical,
                "host": f"old-{user_id}-{n}.example", "first_seen": now - timedelta(days=30), "last_seen": now,
            }).scalar_one()  # fmt: skip
            conn.execute(url_judgements.insert().values(url_id=url_id, reporter=f"user:{user_id}",
                                                        outcome="confirmed", early=n < early))  # fmt: skip


def test_a_reliable_quick_reporter_confirms_alone(platform: Platform, users: Users) -> None:
    reliable, _ = users.create()
    _record(platform, reliable, confirmed=20, early=15)
    _report(platform, reliable, KIT, 1)
    run_jobs_until_idle(platform)
    url = _url(platform, KIT)
    assert (url.state, url.confirmed_by, url.reporters) == (UrlState.CONFIRMED, "reporters", 1)
    assert (url.level, url.listed) == ("url", KIT) and url.seq is not None
    with platform.engine.connect() as conn:
        (event,) = store.events(conn, url.id)
        judged = conn.execute(select(url_judgements).where(url_judgements.c.url_id == url.id)).all()
    assert (event.actor, event.action, event.seq) == ("reporters", "confirm", url.seq)
    assert [(j.reporter, j.outcome, j.early) for j in judged] == [(f"user:{reliable}", "confirmed", True)]


def test_a_crowd_of_new_reporters_cannot_list_a_url(platform: Platform, users: Users) -> None:
    for n in range(12):
        reporter, _ = users.create()
        _report(platform, reporter, KIT, n)
    run_jobs_until_idle(platform)
    url = _url(platform, KIT)
    assert (url.state, url.reports, url.reporters, url.seq) == (UrlState.SUSPECTED, 12, 12, None)


def test_reports_of_a_confirmed_url_are_counted(platform: Platform, users: Users) -> None:
    reliable, _ = users.create()
    _record(platform, reliable, confirmed=20, early=15)
    _report(platform, reliable, KIT, 1)
    run_jobs_until_idle(platform)
    others = [users.create()[0] for _ in range(2)]
    for n, reporter in enumerate(others):
        _report(platform, reporter, KIT, 10 + n)
    _report(platform, others[0], KIT, 20)  # a second report of one of them: one more report, no new source
    run_jobs_until_idle(platform)
    url = _url(platform, KIT)
    assert (url.state, url.reports, url.reporters) == (UrlState.CONFIRMED, 4, 3)
