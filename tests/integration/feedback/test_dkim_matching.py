"""When no trusted Authentication-Results say whether a signature passed, the platform verifies the signatures of
members' claimed domains itself (dkimpy, through the configured resolver, here a real DNS server on loopback): a
good one makes the complaint authenticated; a forged d= or Return-Path yields no delivery; the signature of a
domain nobody claimed is not verified at all, so its DNS never learns the message was reported."""

from __future__ import annotations

from collections.abc import Iterator
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from signalement.analysis.requeue import requeue_analysis
from signalement.domain.accounts import Role
from signalement.domain.reports import ReportedCategory
from signalement.ingest.intake import Submission, Submitter
from signalement.mail.arf import read_feedback
from signalement.platform import Platform
from signalement.settings import Settings
from signalement.store.accounts import create_user
from signalement.store.migrate import upgrade
from signalement.store.tables import complaints, reports
from tests.conftest import run_jobs_until_idle
from tests.dkimkeys import DkimKey, make_key
from tests.dnsserver import LoopbackDNS
from tests.feedback_loops import approved_loop
from tests.relay import Relay

# A real ham (a Yahoo user's mail through GoDaddy to Gmail) without the receiving side's headers: the hops above
# Yahoo's own, Gmail's Authentication-Results and Yahoo's signature are cut off, so no trusted party vouches for
# anything and the platform must check for itself. It is signed again below, by the test's key.
FIXTURE = Path(__file__).parents[2] / "fixtures" / "mail" / "ham-gmail-secureserver-authres-srs.eml"
_RAW = FIXTURE.read_bytes()
UNSIGNED = _RAW[_RAW.index(b"\nX-Yahoo-Newman-Id:") + 1 :] if b"\nX-Yahoo-Newman-Id:" in _RAW else b""


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory) -> DkimKey:
    return make_key(tmp_path_factory.mktemp("dkim"))


@pytest.fixture
def dns(key: DkimKey) -> Iterator[LoopbackDNS]:
    with LoopbackDNS({"test._domainkey.yahoo.com": key.record}) as server:
        yield server


def _platform(settings: Settings, dns: LoopbackDNS, **changes: Any) -> Platform:
    platform = Platform(settings.model_copy(update={"dns_resolver": dns.address, **changes}))
    upgrade(platform.engine)
    return platform


def _loop(platform: Platform) -> tuple[int, int]:
    """A sender claiming yahoo.com with a pull loop approved by the association; and a reporter."""
    with platform.engine.begin() as conn:
        staff = create_user(conn, "abuse@association.example", Role.ABUSE_MANAGER)
        reporter = create_user(conn, "jean.dupont@example.org", Role.REPORTER)
    return approved_loop(platform, "yahoo.com", staff=staff), reporter


def _report(platform: Platform, reporter: int, raw: bytes) -> int:
    submission = Submission(raw=raw, reported_category=ReportedCategory.SPAM)
    return platform.intake.accept(Submitter.user(reporter), submission).report_id


def _complaints(platform: Platform) -> list[tuple[int, str, bool, str]]:
    query = select(complaints.c.report_id, complaints.c.match_kind, complaints.c.authenticated, complaints.c.state)
    with platform.engine.connect() as conn:
        return [(r[0], r[1], r[2], r[3]) for r in conn.execute(query.order_by(complaints.c.report_id))]


def _verified(platform: Platform, report_id: int) -> Any:
    with platform.engine.connect() as conn:
        facts = conn.execute(select(reports.c.facts).where(reports.c.id == report_id)).scalar_one()
    return facts["authentication"].get("verified_dkim")


def test_the_fixture_is_cut_as_described() -> None:
    assert UNSIGNED.startswith(b"X-Yahoo-Newman-Id:") and b"DKIM-Signature" not in UNSIGNED
    assert b"Authentication-Results" not in UNSIGNED


def test_a_signature_the_platform_verifies_makes_an_authenticated_complaint(
    settings: Settings, dns: LoopbackDNS, key: DkimKey
) -> None:
    platform = _platform(settings, dns)
    try:
        _, reporter = _loop(platform)
        report = _report(platform, reporter, key.sign(UNSIGNED, "yahoo.com"))
        run_jobs_until_idle(platform)
        assert _complaints(platform) == [(report, "domain", True, "queued")]
        (passing,) = _verified(platform, report)
        assert passing["domain"] == "yahoo.com" and passing["selector"] == "test"
        assert {"from", "to", "subject", "date"} <= set(passing["headers"])
        assert dns.asked == ["test._domainkey.yahoo.com"]
    finally:
        platform.close()


def test_forged_signatures_and_return_paths_make_no_delivery(
    settings: Settings, dns: LoopbackDNS, key: DkimKey, tmp_path: Path
) -> None:
    other = make_key(tmp_path)  # the forger's key: not the one yahoo.com publishes
    platform = _platform(settings, dns)
    try:
        _, reporter = _loop(platform)
        forged_key = _report(
            platform, reporter, other.sign(UNSIGNED.replace(b"Subject:", b"X-N: 1\nSubject:"), "yahoo.com")
        )
        tampered = key.sign(UNSIGNED.replace(b"Subject:", b"X-N: 2\nSubject:"), "yahoo.com").replace(b"funny", b"FUNNY")
        altered = _report(platform, reporter, tampered)
        own = UNSIGNED.replace(b"Subject:", b"Return-Path: <bounce@yahoo.com>\nX-N: 3\nSubject:")
        signed_elsewhere = _report(platform, reporter, other.sign(own, "attacker.example.net"))
        run_jobs_until_idle(platform)
        assert _complaints(platform) == [
            (forged_key, "domain", False, "unverified"),
            (altered, "domain", False, "unverified"),
            (signed_elsewhere, "domain", False, "unverified"),  # From and Return-Path say yahoo.com: unproven
        ]
        assert _verified(platform, forged_key) == [] and _verified(platform, altered) == []
        assert "attacker.example.net" not in " ".join(dns.asked)  # nobody claims it: never asked about
    finally:
        platform.close()


def test_without_the_check_nothing_is_asked_and_nothing_delivered(
    settings: Settings, dns: LoopbackDNS, key: DkimKey
) -> None:
    platform = _platform(settings, dns, dkim_verify=False)
    try:
        _, reporter = _loop(platform)
        report = _report(platform, reporter, key.sign(UNSIGNED, "yahoo.com"))
        run_jobs_until_idle(platform)
        assert _complaints(platform) == [(report, "domain", False, "unverified")]
        assert dns.asked == []
    finally:
        platform.close()


def test_a_reanalysis_makes_no_second_complaint(settings: Settings, dns: LoopbackDNS, key: DkimKey) -> None:
    platform = _platform(settings, dns)
    try:
        _, reporter = _loop(platform)
        report = _report(platform, reporter, key.sign(UNSIGNED, "yahoo.com"))
        run_jobs_until_idle(platform)
        assert requeue_analysis(platform, "test", report_ids=(report,)) == 1
        run_jobs_until_idle(platform)
        assert _complaints(platform) == [(report, "domain", True, "queued")]
    finally:
        platform.close()


def test_a_cfbl_address_under_a_signature_the_platform_verifies_gets_the_complaint(
    settings: Settings, dns: LoopbackDNS, key: DkimKey
) -> None:
    raw = UNSIGNED.replace(b"Subject:", b"CFBL-Address: fbl@yahoo.com; report=arf\nSubject:", 1)
    signed = key.sign(raw, "yahoo.com", headers=[b"from", b"to", b"subject", b"date", b"cfbl-address"])
    with Relay() as relay:
        sender = {"mail_relay": relay.address, "mail_from": "feedback@association.example.org"}
        platform = _platform(settings, dns, cfbl=True, **sender)  # no member, no loop: only the CFBL-Address
        try:
            with platform.engine.begin() as conn:
                reporter = create_user(conn, "jean.dupont@example.org", Role.REPORTER)
            _report(platform, reporter, signed)
            _report(platform, reporter, raw.replace(b"Subject:", b"X-N: 1\nSubject:", 1))  # unsigned: nothing
            run_jobs_until_idle(platform, timeout=60)
            (mail,) = relay.mails
            assert read_feedback(mail)[0].kind == "complaint"
            assert BytesParser().parsebytes(mail)["To"] == "fbl@yahoo.com"
            assert dns.asked == ["test._domainkey.yahoo.com"]
        finally:
            platform.close()
