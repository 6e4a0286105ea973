"""Complaints to a non-member sender's RFC 9477 CFBL-Address, through a real SMTP relay on loopback: one ARF report
per report when Gmail's trusted Authentication-Results say the signature covering the field passed (headers only,
no reporter's address, the CFBL-Feedback-ID kept), at least once; nothing when the association has not enabled
it, nor for a forged field.

The message is Gmail's fixture (ham-gmail-secureserver-authres-srs.eml: `dkim=pass header.i=@yahoo.com` from
mx.google.com, trusted for Gmail's chain) with a CFBL-Address and a CFBL-Feedback-ID added in the test, and the
two names added to its DKIM-Signature's h= list. That signature no longer verifies cryptographically, but the
analysis does not verify it: it trusts Gmail's results and reads what the signature covers from its h=, which is
what is tested here.
"""

from __future__ import annotations

import base64
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from signalement.domain.accounts import Role
from signalement.domain.reports import ReportedCategory
from signalement.feedback.cfbl import queue_cfbl
from signalement.ingest.intake import Submission, Submitter
from signalement.mail.arf import read_feedback
from signalement.mail.feedback_out import FEEDBACK_TYPES, complaint_category
from signalement.platform import Platform
from signalement.settings import Settings
from signalement.store.accounts import create_user
from signalement.store.migrate import upgrade
from signalement.store.tables import cfbl_complaints, reports
from tests.conftest import run_jobs_until_idle
from tests.relay import FlakyRelay, Relay

GMAIL = (Path(__file__).parents[2] / "fixtures" / "mail" / "ham-gmail-secureserver-authres-srs.eml").read_bytes()
REPORTER = "jean.dupont@example.org"
HIDDEN = (REPORTER, "user3@example.com", "user1@example.com")  # the account, and the message's own recipients
FEEDBACK_ID = "3789e1ae1938aa2f0dfdfa48b20d8f8b"
SIGNED_H = b":X-Mailer:CFBL-Address:CFBL-Feedback-ID; b="


def with_cfbl(*addresses: str, signed: bool = True) -> bytes:
    """Gmail's fixture with these CFBL-Address fields (the last one where a sender puts it, any others above the
    signature: added in transit) and a CFBL-Feedback-ID, both in the DKIM-Signature's h= when `signed`."""
    raw = GMAIL
    if signed:
        assert raw.count(b":X-Mailer; b=") == 1
        raw = raw.replace(b":X-Mailer; b=", SIGNED_H)
    *added, own = addresses
    fields = f"CFBL-Address: {own}\nCFBL-Feedback-ID: {FEEDBACK_ID}\n".encode()
    assert raw.count(b"\nMIME-Version: 1.0\n") == 1
    raw = raw.replace(b"\nMIME-Version: 1.0\n", b"\n" + fields + b"MIME-Version: 1.0\n")
    return b"".join(f"CFBL-Address: {a}\n".encode() for a in added) + raw


def _platform(settings: Settings, **changes: Any) -> Platform:
    platform = Platform(settings.model_copy(update={"mail_from": "feedback@association.example.org"} | changes))
    upgrade(platform.engine)
    return platform


def _report(platform: Platform, raw: bytes) -> int:
    """A reporter's spam report of `raw`: analyzed, matched (its CFBL complaint queued), delivered."""
    with platform.engine.begin() as conn:
        reporter = create_user(conn, REPORTER, Role.REPORTER, display_name="Jean Dupont")
    submission = Submission(raw=raw, reported_category=ReportedCategory.SPAM)
    report_id = platform.intake.accept(Submitter.user(reporter), submission).report_id
    run_jobs_until_idle(platform, timeout=60)
    return report_id


def _queue(platform: Platform, report_id: int) -> None:
    with platform.engine.begin() as conn:
        row = conn.execute(
            select(reports.c.facts, reports.c.verdict_category, reports.c.reported_category, reports.c.feedback).where(
                reports.c.id == report_id
            )
        ).one()
        category = complaint_category(row.verdict_category, row.reported_category, report_kind=row.feedback)
        assert category is not None
        feedback_type = FEEDBACK_TYPES[category]
        assert feedback_type is not None
        queue_cfbl(conn, platform.queue, report_id, row.facts, category, feedback_type)


def _rows(platform: Platform) -> list[Any]:
    with platform.engine.connect() as conn:
        return list(conn.execute(select(cfbl_complaints).order_by(cfbl_complaints.c.id)))


def _assert_hidden(payload: bytes) -> None:
    lowered = payload.lower()
    for address in HIDDEN:
        assert address.encode() not in lowered
        assert base64.b64encode(address.encode()) not in payload


def test_a_signed_cfbl_address_gets_one_arf_report_at_least_once(settings: Settings) -> None:
    relay = FlakyRelay(failures=2)
    with relay:
        platform = _platform(settings, mail_relay=relay.address, cfbl=True)
        try:
            report_id = _report(platform, with_cfbl("fbl@yahoo.com; report=arf"))
            (row,) = _rows(platform)
            assert (row.state, row.attempts, row.address, row.signer) == ("delivered", 3, "fbl@yahoo.com", "yahoo.com")
            assert (row.feedback_id, row.feedback_type, row.last_error) == (FEEDBACK_ID, "abuse", None)
            (mail,) = relay.mails  # once, though attempted three times
            assert relay.refused == 2
            assert BytesParser().parsebytes(mail)["To"] == "fbl@yahoo.com"
            (feedback,) = read_feedback(mail)
            assert feedback.is_complaint and feedback.feedback_type == "abuse"
            assert feedback.headers_only and feedback.original is not None  # RFC 9477's privacy: headers only
            head = BytesParser().parsebytes(feedback.original)
            assert head["CFBL-Feedback-ID"] == FEEDBACK_ID  # what RFC 9477 asks for, with the Message-ID
            assert head["Message-ID"] == "<388586.81550.bm@smtp120-mob.biz.mail.ne1.yahoo.com>"
            assert b"funny UTF16 characters" not in mail  # no body
            _assert_hidden(mail)
            _queue(platform, report_id)  # again, as a re-run of the match job would: nothing new
            run_jobs_until_idle(platform, timeout=60)
            assert len(_rows(platform)) == 1 and len(relay.mails) == 1
        finally:
            platform.close()


def test_nothing_when_the_association_has_not_enabled_it(settings: Settings) -> None:
    with Relay() as relay:
        platform = _platform(settings, mail_relay=relay.address)  # cfbl off: the default
        try:
            report_id = _report(platform, with_cfbl("fbl@yahoo.com"))
            assert _rows(platform) == [] and relay.mails == []
            _queue(platform, report_id)  # queued anyway (or before the setting was turned off): never sent
            run_jobs_until_idle(platform, timeout=60)
            (row,) = _rows(platform)
            assert (row.state, row.attempts) == ("dead", 0) and "SIGNALEMENT_CFBL" in row.last_error
            assert relay.mails == []
        finally:
            platform.close()


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(with_cfbl("fbl@yahoo.com", signed=False), id="not-covered-by-the-signature"),
        pytest.param(with_cfbl("fbl@example.org"), id="another-organization-without-its-signature"),
        pytest.param(with_cfbl("fbl@yahoo.com; report=xarf"), id="another-report-format"),
    ],
)
def test_a_forged_cfbl_address_gets_nothing(settings: Settings, raw: bytes) -> None:
    with Relay() as relay:
        platform = _platform(settings, mail_relay=relay.address, cfbl=True)
        try:
            _report(platform, raw)
            assert _rows(platform) == [] and relay.mails == []
        finally:
            platform.close()


def test_a_field_added_above_the_signed_one_gets_nothing(settings: Settings) -> None:
    """The signature covers the last CFBL-Address; the analysis reads the first: with two, none is used."""
    with Relay() as relay:
        platform = _platform(settings, mail_relay=relay.address, cfbl=True)
        try:
            _report(platform, with_cfbl("someone-else@yahoo.com", "fbl@yahoo.com"))
            (row,) = _rows(platform)
            assert (row.state, row.attempts) == ("dead", 0)
            assert row.last_error == "FeedbackError: 2 CFBL-Address fields in the message: no complaint"
            assert relay.mails == []
        finally:
            platform.close()
