"""Peak alerts end to end: six weeks of a member's hourly counts, then a burst; the hourly check raises one alert
with its evidence and mails it (a real SMTP relay on loopback), never twice for the same hour, muted within the
cooldown, kept unsent for a member that said nowhere; an ordinary hour raises nothing."""

from __future__ import annotations

import json
import random
import time
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default

from sqlalchemy import select

from signalement.domain.feedback import WEBHOOK_HEADER, webhook_verified
from signalement.domain.members import OrgKind
from signalement.domain.stats import Contribution, Dimension
from signalement.ingest.intake import Submission, Submitter
from signalement.platform import Platform
from signalement.settings import Settings
from signalement.stats.alerts import check_hour
from signalement.store import alerts, organizations
from signalement.store import stats as store
from signalement.store.migrate import upgrade
from signalement.store.tables import stat_alerts
from tests.conftest import run_jobs_until_idle
from tests.relay import Relay
from tests.webhooks import Endpoint

PEAK = datetime(2026, 11, 16, 14, tzinfo=UTC)  # a Monday afternoon
WEEKS = 6


def _history(platform: Platform, member: int, until: datetime, seed: int = 7) -> None:
    """An office-hours rhythm: about 20 reports an hour on weekdays from 8 to 18, 3 otherwise."""
    draw = random.Random(seed)
    changes = []
    for n in range(WEEKS * 168 + 2, 0, -1):
        at = until - timedelta(hours=n)
        busy = at.weekday() < 5 and 8 <= at.hour < 18
        count = draw.randint(15, 25) if busy else draw.randint(1, 5)
        changes.append((Contribution(member, True, at, 1.0, ((Dimension.ALL, ""),)), count))
    with platform.engine.begin() as conn:
        store.add(conn, changes)


def _burst(platform: Platform, member: int, at: datetime, count: int) -> None:
    """Real reports behind the peak, most from one customer's domain."""
    for n in range(count):
        raw = f"Message-ID: <burst-{member}-{at:%H}-{n}@customer.example>\r\nSubject: offer\r\n\r\nbuy\r\n".encode()
        made = platform.intake.accept(Submitter("alerts-test"), Submission(raw=raw))
        keys = ((Dimension.ALL, ""), (Dimension.DKIM, "customer.example" if n % 10 else "other.example"))
        with platform.engine.begin() as conn:
            store.record(conn, made.report_id, [Contribution(member, True, at + timedelta(minutes=n % 60), 1.0, keys)])


def _alerts(platform: Platform) -> list[tuple[int, str, str, datetime, str]]:
    query = select(stat_alerts.c.organization_id, stat_alerts.c.dimension, stat_alerts.c.value, stat_alerts.c.at,
                   stat_alerts.c.state)  # fmt: skip
    with platform.engine.connect() as conn:
        return sorted((r.organization_id, r.dimension, r.value, r.at, r.state) for r in conn.execute(query))


def test_a_burst_raises_one_alert_with_its_evidence(settings: Settings) -> None:
    with Relay() as relay:
        platform = Platform(settings.model_copy(update={"mail_relay": relay.address,
                                                         "mail_from": "alerts@association.example.org"}))  # fmt: skip
        upgrade(platform.engine)
        try:
            with platform.engine.begin() as conn:
                router = organizations.create(conn, "Router Co", OrgKind.ROUTER)
                silent = organizations.create(conn, "Quiet Co", OrgKind.ROUTER)
                alerts.save_settings(conn, router, delivery="smtp", address="noc@router.example.com",
                                     webhook_url=None, cooldown_hours=24, dimensions=(Dimension.ALL,))  # fmt: skip
            for member in (router, silent):
                _history(platform, member, PEAK)
                _burst(platform, member, PEAK, 150)
            context = platform.task_context()
            assert check_hour(context, PEAK - timedelta(hours=1)) == 0  # an ordinary Monday hour
            assert check_hour(context, PEAK) == 4
            run_jobs_until_idle(platform)
            assert check_hour(context, PEAK) == 4  # checked again: the same alerts, nothing sent twice
            run_jobs_until_idle(platform)
            assert _alerts(platform) == [
                (router, "all", "", PEAK, "sent"),  # it watches its whole series only
                (silent, "all", "", PEAK, "muted"),  # it said nowhere: kept, shown, not sent
                (silent, "dkim", "customer.example", PEAK, "muted"),  # new series, many reports at once: news
                (silent, "dkim", "other.example", PEAK, "muted"),
            ]
            (mail,) = relay.mails
            message: EmailMessage = message_from_bytes(mail, policy=default)
            assert message["To"] == "noc@router.example.com" and "all your resources" in message["Subject"]
            (attached,) = [p for p in message.iter_attachments() if p.get_content_type() == "application/json"]
            document = json.loads(attached.get_content())
            assert document["reports"] == 150 and document["expected"] < 30 < document["upper"] < 150
            assert document["evidence"]["shared"]["dkim"][0] == {"value": "customer.example", "reports": 135}
            assert document["evidence"]["series"][-1] == {"at": PEAK.isoformat(), "reports": 150}
            assert len(document["evidence"]["messages"]) == 5

            later = PEAK + timedelta(hours=3)
            _burst(platform, router, later, 150)
            check_hour(context, later)
            run_jobs_until_idle(platform)
            assert (router, "all", "", later, "muted") in _alerts(platform)  # within the cooldown: not sent
            assert len(relay.mails) == 1
        finally:
            platform.close()


def test_an_alert_by_webhook_is_signed_and_retried(settings: Settings) -> None:
    with Endpoint(failures=1) as hook:
        platform = Platform(settings.model_copy(update={"outbound_private": True}))  # the endpoint is on loopback
        upgrade(platform.engine)
        try:
            with platform.engine.begin() as conn:
                router = organizations.create(conn, "Router Co", OrgKind.ROUTER)
                saved = alerts.save_settings(conn, router, delivery="webhook", address=None, webhook_url=hook.url,
                                             cooldown_hours=24, dimensions=(Dimension.ALL,))  # fmt: skip
            _history(platform, router, PEAK)
            _burst(platform, router, PEAK, 150)
            check_hour(platform.task_context(), PEAK)
            run_jobs_until_idle(platform)
            assert _alerts(platform) == [(router, "all", "", PEAK, "sent")]
            (_, first), (headers, body) = hook.received  # the first answered 500: retried
            assert first == body
            secret = alerts.webhook_secret(platform.secret, saved.secret_nonce)
            assert webhook_verified(secret, headers[WEBHOOK_HEADER], body, now=int(time.time()))
            document = json.loads(body)
            assert document["type"] == "signalement.peak" and document["organization"] == "Router Co"
        finally:
            platform.close()
