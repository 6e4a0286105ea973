"""Spam traps by SMTP: hits forwarded to a trap feed's secret address, or sent straight to a trap domain whose MX is
this server. Every hit is stored with the trap flag and the source's name, and none is ever answered."""

from __future__ import annotations

import smtplib
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from signalement.ingest.intake import Submission
from signalement.settings import Settings, TrapSource
from signalement.store.tables import reports
from tests.integration.smtp.conftest import DOMAIN, MailServer, forward_as_attachments, phishing, start

TRAP = TrapSource(name="example-traps", secret="trapsecret0123456789", domains=["traps.example"])


@pytest.fixture
def trap_server(settings: Settings) -> Iterator[MailServer]:
    platform, server, port = start(settings, traps=[TRAP])
    yield MailServer(platform, port)
    server.stop()
    platform.close()


def test_a_hit_at_a_trap_domain_is_the_mail_itself(trap_server: MailServer) -> None:
    carried = forward_as_attachments(phishing(1))  # a spam that carries a message is still one hit
    trap_server.send(carried, to="jean.dupont@traps.example", sender="bulk@spammer.example")
    (report,) = trap_server.reports()
    assert (report.trap, report.source, report.submitter) == (True, TRAP.name, f"trap:{TRAP.name}")
    assert report.reporter_id is None and trap_server.blob(report.sha256) == carried


def test_hits_forwarded_to_the_feed_address_are_each_a_report(trap_server: MailServer) -> None:
    reply = trap_server.send(forward_as_attachments(phishing(2), phishing(3)), to=f"trap+{TRAP.secret}@{DOMAIN}")
    assert reply == {}
    stored = trap_server.reports()
    assert [(r.trap, r.source, r.forwarded) for r in stored] == [(True, TRAP.name, None)] * 2
    assert [trap_server.blob(r.sha256) for r in stored] == [phishing(2), phishing(3)]


def test_a_trap_hit_is_never_answered(trap_server: MailServer) -> None:
    trap_server.send(phishing(4), to="someone@traps.example", sender="reporter@example.org")
    with trap_server.platform.engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(reports).where(reports.c.trap)) == 1
    with pytest.raises(ValueError, match="never answered"):
        Submission(raw=phishing(4), trap=True, acknowledge=True)


def test_only_configured_traps_take_mail(trap_server: MailServer) -> None:
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        trap_server.send(phishing(5), to=f"trap+notthetrapsecret0000@{DOMAIN}")
    trap_server.send(phishing(6))  # the public report address is a person's report, not a trap's
    (report,) = trap_server.reports()
    assert (report.trap, report.source) == (False, None)
