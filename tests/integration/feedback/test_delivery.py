"""Complaints delivered at least once: by SMTP through a real relay that fails before it accepts (one mail, the
same Message-ID on every attempt, no reporter's address in it), to a dead letter when it never accepts, and by a
signed webhook to a real HTTP server on loopback."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from signalement.domain.accounts import Role
from signalement.domain.feedback import WEBHOOK_HEADER, Delivery, Format, webhook_verified
from signalement.domain.reports import ReportedCategory
from signalement.ingest.intake import Submission, Submitter
from signalement.mail.arf import read_feedback
from signalement.mail.facts import is_feedback_report
from signalement.platform import Platform
from signalement.settings import Settings
from signalement.store import feedback
from signalement.store.accounts import create_user, issue_token
from signalement.store.migrate import upgrade
from signalement.store.tables import complaints
from signalement.store.tables import users as people
from signalement.web.app import create_app
from tests.conftest import run_jobs_until_idle
from tests.feedback_loops import approved_loop
from tests.relay import CountingRelay, FlakyRelay
from tests.webhooks import Endpoint

SIGNED = (Path(__file__).parents[2] / "fixtures" / "mail" / "ham-gmail-secureserver-authres-srs.eml").read_bytes()
REPORTER = "jean.dupont@example.org"
HIDDEN = (REPORTER, "user3@example.com", "user1@example.com")  # the account, and the message's own recipients


def _platform(settings: Settings, **changes: Any) -> Platform:
    sender = {"mail_from": "feedback@association.example.org"}  # X-ARF wants a contact with a real domain
    loopback = {"outbound_private": True}  # the webhook's endpoint is on 127.0.0.1
    platform = Platform(settings.model_copy(update=sender | loopback | changes))
    upgrade(platform.engine)
    return platform


def _complaint_for(platform: Platform, delivery: Delivery, **where: Any) -> int:
    """A sender whose domain passed DKIM, its loop approved by the association, and one report of its mail."""
    with platform.engine.begin() as conn:
        staff = create_user(conn, "abuse@association.example", Role.ABUSE_MANAGER)
        reporter = create_user(conn, REPORTER, Role.REPORTER, display_name="Jean Dupont")
    approved_loop(platform, "yahoo.com", staff=staff, name="Yahoo-like", delivery=delivery, **where)
    submission = Submission(raw=SIGNED, reported_category=ReportedCategory.SPAM)
    platform.intake.accept(Submitter.user(reporter), submission)
    return reporter


def _states(platform: Platform) -> list[tuple[str, int]]:
    with platform.engine.connect() as conn:
        return [(r.state, r.attempts) for r in conn.execute(select(complaints.c.state, complaints.c.attempts))]


def _assert_hidden(payload: bytes) -> None:
    lowered = payload.lower()
    for address in HIDDEN:
        assert address.encode() not in lowered
        assert base64.b64encode(address.encode()) not in payload


def test_smtp_delivery_survives_a_relay_that_fails_then_accepts(settings: Settings) -> None:
    relay = FlakyRelay(failures=2)
    with relay:
        platform = _platform(settings, mail_relay=relay.address)
        try:
            _complaint_for(platform, Delivery.SMTP, address="fbl@yahoo-like.example.com")
            run_jobs_until_idle(platform, timeout=60)
            assert _states(platform) == [("delivered", 3)]
            (mail,) = relay.mails  # once, though attempted three times
            assert relay.refused == 2
            assert is_feedback_report(mail) and read_feedback(mail)[0].kind == "complaint"
            _assert_hidden(mail)
            assert BytesParser().parsebytes(mail)["To"] == "fbl@yahoo-like.example.com"
        finally:
            platform.close()


def test_many_complaints_go_through_one_smtp_session(settings: Settings) -> None:
    relay = CountingRelay()
    with relay:
        platform = _platform(settings, mail_relay=relay.address)
        try:
            reporter = _complaint_for(platform, Delivery.SMTP, address="fbl@yahoo-like.example.com")
            for n in range(9):
                raw = SIGNED.replace(b"Subject:", f"X-N: {n}\r\nSubject:".encode(), 1)
                submission = Submission(raw=raw, reported_category=ReportedCategory.SPAM)
                platform.intake.accept(Submitter.user(reporter), submission)
            run_jobs_until_idle(platform, timeout=60)
            assert _states(platform) == [("delivered", 1)] * 10
            assert len(relay.mails) == 10 and relay.sessions <= 4  # one per job running at once (4 on PostgreSQL)
        finally:
            platform.close()


def test_a_relay_that_never_accepts_makes_a_dead_letter(settings: Settings) -> None:
    relay = FlakyRelay(failures=1000)
    with relay:
        platform = _platform(settings, mail_relay=relay.address, job_max_attempts=3)
        try:
            _complaint_for(platform, Delivery.SMTP, address="fbl@yahoo-like.example.com")
            run_jobs_until_idle(platform, timeout=60)
            assert _states(platform) == [("dead", 3)]
            assert relay.mails == []
            with platform.engine.connect() as conn:
                (dead,) = platform.queue.dead_jobs(conn)
                (subscription,) = feedback.listed(conn)
                assert feedback.complaint_counts(conn, [subscription.id]) == {subscription.id: {"dead": 1}}
            assert dead.task == "feedback_deliver"  # staff see it among the queue's dead letters, the member in its
            # subscription's counts (GET /api/v1/organizations/{id}/subscriptions)
        finally:
            platform.close()


@pytest.fixture
def hook() -> Iterator[Endpoint]:
    with Endpoint(failures=1) as endpoint:
        yield endpoint


def test_a_webhook_gets_the_complaint_signed_and_retried(settings: Settings, hook: Endpoint) -> None:
    platform = _platform(settings)
    try:
        _complaint_for(platform, Delivery.WEBHOOK, webhook_url=hook.url, feedback_format=Format.XARF)
        run_jobs_until_idle(platform, timeout=60)
        assert _states(platform) == [("delivered", 2)]
        (first_headers, first), (headers, body) = hook.received
        assert first == body and first_headers["Idempotency-Key"] == headers["Idempotency-Key"]
        with platform.engine.connect() as conn:
            (subscription,) = feedback.listed(conn)
        secret, _ = feedback.keys(platform.secret, subscription.secret_nonce)
        assert webhook_verified(secret, headers[WEBHOOK_HEADER], body, now=int(time.time()))
        assert not webhook_verified(secret, headers[WEBHOOK_HEADER], body + b" ", now=int(time.time()))
        assert headers["Content-Type"] == "application/json" and b'"xarf_version"' in body
        _assert_hidden(body)
    finally:
        platform.close()


def test_a_pull_loop_serves_its_complaints_from_a_cursor(settings: Settings) -> None:
    platform = _platform(settings)
    try:
        _complaint_for(platform, Delivery.PULL)
        run_jobs_until_idle(platform, timeout=60)
        with platform.engine.begin() as conn:
            (subscription,) = feedback.listed(conn)
            member = create_user(conn, "fbl@yahoo-like.example.com", Role.MEMBER_ANALYST)
            conn.execute(
                update(people).where(people.c.id == member).values(organization_id=subscription.organization_id)
            )
            token = issue_token(conn, member, name="pull")
        client = TestClient(create_app(platform), client=("127.0.0.1", 50000))
        first = client.get("/api/v1/feedback", headers={"Authorization": f"Bearer {token}"}).json()
        (item,) = first["items"]
        arf = base64.b64decode(item["payload"])
        assert item["feedback_type"] == "abuse" and read_feedback(arf)[0].kind == "complaint"
        _assert_hidden(arf)
        again = client.get("/api/v1/feedback?cursor=0", headers={"Authorization": f"Bearer {token}"}).json()
        assert again["items"][0]["message_id"] == item["message_id"]  # at least once: the same complaint again
        after = client.get(f"/api/v1/feedback?cursor={item['id']}", headers={"Authorization": f"Bearer {token}"})
        assert after.json() == {"items": [], "next_cursor": None}
    finally:
        platform.close()


def test_a_complaint_that_cannot_be_made_is_dead_at_once(settings: Settings, hook: Endpoint) -> None:
    platform = _platform(settings, mail_from="noreply@localhost")  # X-ARF needs a contact at a real domain
    try:
        _complaint_for(platform, Delivery.WEBHOOK, webhook_url=hook.url, feedback_format=Format.XARF)
        run_jobs_until_idle(platform, timeout=60)
        assert _states(platform) == [("dead", 0)]  # never attempted: retrying could not help
        assert hook.received == []
        with platform.engine.connect() as conn:
            error = conn.execute(select(complaints.c.last_error)).scalar_one()
        assert error.startswith("FeedbackError: the X-ARF")
    finally:
        platform.close()


def test_a_webhook_on_a_private_address_is_refused_at_once(settings: Settings, hook: Endpoint) -> None:
    platform = _platform(settings, outbound_private=False)
    try:
        _complaint_for(platform, Delivery.WEBHOOK, webhook_url=hook.url)
        run_jobs_until_idle(platform, timeout=60)
        assert _states(platform) == [("dead", 1)] and hook.received == []
        with platform.engine.connect() as conn:
            error = conn.execute(select(complaints.c.last_error)).scalar_one()
        assert error == "FeedbackError: webhook refused: 127.0.0.1 resolves to a private or reserved address"
    finally:
        platform.close()
