"""One-click unsubscribe (RFC 8058) on the reporter's behalf, against a real HTTPS server on loopback (a trustme
CA the platform trusts through `outbound_ca_file`): a message DKIM-signed for real by the member's domain (its key
served by a loopback DNS server), with trusted Authentication-Results (Gmail's chain) saying it passed, reported as
spam; the report goes through the work queue like any other."""

from __future__ import annotations

import base64
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import dkim
import pytest
import trustme
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import select

from signalement.dns import txt_lookup
from signalement.domain.accounts import Role
from signalement.domain.reports import ReportedCategory
from signalement.feedback.unsubscribe import queue_unsubscribes
from signalement.ingest.intake import Submission, Submitter
from signalement.mail.dkim import passing_domains
from signalement.platform import Platform
from signalement.settings import Settings
from signalement.store.accounts import create_user
from signalement.store.migrate import upgrade
from signalement.store.tables import complaints, reports
from tests.conftest import run_jobs_until_idle
from tests.dnsserver import LoopbackDNS
from tests.feedback_loops import approved_loop
from tests.pg import free_port

DOMAIN = "news.example.com"
SELECTOR = "sel1"
ALL_SIGNED = ("from", "to", "subject", "date", "message-id", "list-unsubscribe", "list-unsubscribe-post")
TOKEN = "/u/3f9c2a-reporter-token"
ONE_CLICK = b"List-Unsubscribe=One-Click"


@dataclass
class Endpoint:
    """What the HTTPS server answers, in turn (the last one again), and what it received."""

    url: str
    statuses: list[int] = field(default_factory=lambda: [200])
    received: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)


def _handler(endpoint: Endpoint) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            endpoint.received.append((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
            status = endpoint.statuses.pop(0) if len(endpoint.statuses) > 1 else endpoint.statuses[0]
            self.send_response(status)
            if 300 <= status < 400:
                self.send_header("Location", "/followed")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    return Handler


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def endpoint(ca: trustme.CA) -> Iterator[Endpoint]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost", "127.0.0.1").configure_cert(context)
    port = free_port()
    endpoint = Endpoint(f"https://localhost:{port}{TOKEN}")
    server = ThreadingHTTPServer(("127.0.0.1", port), _handler(endpoint))
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield endpoint
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def key() -> tuple[bytes, str]:
    """A DKIM key: the private key (PEM) and its TXT record."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    )
    public = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return pem, f"v=DKIM1; k=rsa; p={base64.b64encode(public).decode()}"


@pytest.fixture
def dns(key: tuple[bytes, str]) -> Iterator[LoopbackDNS]:
    with LoopbackDNS({f"{SELECTOR}._domainkey.{DOMAIN}": key[1]}) as server:
        yield server


@pytest.fixture
def platform(settings: Settings, ca: trustme.CA, dns: LoopbackDNS, tmp_path: Path) -> Iterator[Platform]:
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    changes = {"outbound_ca_file": ca_file, "outbound_private": True, "dns_resolver": dns.address}
    platform = Platform(settings.model_copy(update=changes))
    upgrade(platform.engine)
    yield platform
    platform.close()


def _message(url: str, pem: bytes, signed: tuple[str, ...] = ALL_SIGNED, *, results: bool = True) -> bytes:
    """A newsletter signed by DOMAIN, as Gmail received it, with Gmail's Authentication-Results (trusted) or
    without (the platform then verifies the signature itself)."""
    inner = (
        f"From: News <news@{DOMAIN}>\r\nTo: user1@example.com\r\nSubject: This week's offers\r\n"
        f"Date: Sat, 05 Jan 2013 19:59:07 +0000\r\nMessage-ID: <1.2013@{DOMAIN}>\r\n"
        f"List-Unsubscribe: <mailto:unsubscribe@{DOMAIN}>, <{url}>\r\n"
        "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nBuy now.\r\n"
    ).encode()
    signature: bytes = dkim.sign(
        inner, SELECTOR.encode(), DOMAIN.encode(), pem, include_headers=[h.encode() for h in signed]
    )
    gmail = (
        "Delivered-To: user1@example.com\r\n"
        "Received: by 10.76.18.165 with SMTP id x5csp6205oad;\r\n        Sat, 5 Jan 2013 17:59:14 -0800 (PST)\r\n"
        f"Return-Path: <bounce@{DOMAIN}>\r\n"
        f"Received: from mail.{DOMAIN} (mail.{DOMAIN}. [123.123.123.123])\r\n"
        "        by mx.google.com with ESMTP id u7si55229097paw.156.2013.01.05.17.59.12;\r\n"
        "        Sat, 05 Jan 2013 17:59:14 -0800 (PST)\r\n"
    ).encode()
    if results:
        gmail += (
            f"Authentication-Results: mx.google.com; spf=pass smtp.mailfrom=bounce@{DOMAIN};"
            f" dkim=pass header.i=@{DOMAIN} header.s={SELECTOR}\r\n"
        ).encode()
    return gmail + signature + inner


def _member(platform: Platform, *, opted_in: bool = True) -> None:
    """A sender with a verified claim on DOMAIN and a pull loop, approved by the association."""
    with platform.engine.begin() as conn:
        staff = create_user(conn, "abuse@association.example", Role.ABUSE_MANAGER)
    approved_loop(platform, DOMAIN, staff=staff, name="News sender", unsubscribe=opted_in)


def _report(platform: Platform, raw: bytes) -> None:
    with platform.engine.begin() as conn:
        reporter = create_user(conn, "jean.dupont@example.org", Role.REPORTER)
    platform.intake.accept(Submitter.user(reporter), Submission(raw=raw, reported_category=ReportedCategory.SPAM))
    run_jobs_until_idle(platform, timeout=60)


def _complaint(platform: Platform) -> Any:
    with platform.engine.connect() as conn:
        (row,) = conn.execute(select(complaints)).all()  # the complaint itself is made in every case
        assert row.authenticated and row.state == "queued"
        return row


def test_the_reporter_is_unsubscribed_with_one_post(
    platform: Platform, endpoint: Endpoint, key: tuple[bytes, str], dns: LoopbackDNS
) -> None:
    raw = _message(endpoint.url, key[0])
    assert passing_domains(raw, txt_lookup(dns.address)) == [DOMAIN]  # signed for real
    _member(platform)
    _report(platform, raw)
    ((path, headers, body),) = endpoint.received
    assert path == TOKEN and body == ONE_CLICK
    assert headers["content-type"] == "application/x-www-form-urlencoded"
    assert headers["user-agent"].startswith("signalement/")
    assert headers["host"] == endpoint.url.split("/")[2]  # the checked address was called, for the URL's host
    complaint = _complaint(platform)
    assert complaint.unsubscribe_state == "done" and complaint.unsubscribed_at is not None
    assert complaint.unsubscribe_error is None


def test_the_platforms_own_dkim_check_counts_too(
    platform: Platform, endpoint: Endpoint, key: tuple[bytes, str]
) -> None:
    _member(platform)
    _report(platform, _message(endpoint.url, key[0], results=False))  # the key from the loopback DNS server
    assert [body for _, _, body in endpoint.received] == [ONE_CLICK]
    assert _complaint(platform).unsubscribe_state == "done"


def test_queueing_again_posts_nothing_more(platform: Platform, endpoint: Endpoint, key: tuple[bytes, str]) -> None:
    _member(platform)
    _report(platform, _message(endpoint.url, key[0]))
    complaint = _complaint(platform)
    with platform.engine.begin() as conn:  # as a re-run of the match job would
        facts = conn.execute(select(reports.c.facts).where(reports.c.id == complaint.report_id)).scalar_one()
        queue_unsubscribes(conn, platform.queue, complaint.report_id, facts, {complaint.subscription_id: [DOMAIN]})
    run_jobs_until_idle(platform, timeout=60)
    assert len(endpoint.received) == 1 and _complaint(platform).unsubscribe_state == "done"


def test_a_redirect_is_not_followed(platform: Platform, endpoint: Endpoint, key: tuple[bytes, str]) -> None:
    endpoint.statuses = [302]
    _member(platform)
    _report(platform, _message(endpoint.url, key[0]))
    assert [path for path, _, _ in endpoint.received] == [TOKEN]  # never /followed, never again
    complaint = _complaint(platform)
    assert complaint.unsubscribe_state == "failed" and complaint.unsubscribe_error.startswith("HTTP 302")
    assert TOKEN not in complaint.unsubscribe_error


def test_a_server_error_is_retried(platform: Platform, endpoint: Endpoint, key: tuple[bytes, str]) -> None:
    endpoint.statuses = [503, 200]
    _member(platform)
    _report(platform, _message(endpoint.url, key[0]))
    assert [body for _, _, body in endpoint.received] == [ONE_CLICK, ONE_CLICK]
    assert _complaint(platform).unsubscribe_state == "done"


def test_a_server_that_keeps_failing_ends_failed_without_the_url(
    platform: Platform, endpoint: Endpoint, key: tuple[bytes, str]
) -> None:
    endpoint.statuses = [503]
    _member(platform)
    _report(platform, _message(endpoint.url, key[0]))
    assert len(endpoint.received) == platform.settings.job_max_attempts
    complaint = _complaint(platform)
    assert complaint.unsubscribe_state == "failed"
    assert complaint.unsubscribe_error == "HTTP 503 from localhost"


def test_no_post_without_the_members_opt_in(platform: Platform, endpoint: Endpoint, key: tuple[bytes, str]) -> None:
    _member(platform, opted_in=False)
    _report(platform, _message(endpoint.url, key[0]))
    assert endpoint.received == []
    assert _complaint(platform).unsubscribe_state is None


def test_no_post_when_the_members_signature_leaves_list_unsubscribe_out(
    platform: Platform, endpoint: Endpoint, key: tuple[bytes, str]
) -> None:
    signed = tuple(h for h in ALL_SIGNED if h != "list-unsubscribe")
    _member(platform)
    _report(platform, _message(endpoint.url, key[0], signed))
    assert endpoint.received == []
    assert _complaint(platform).unsubscribe_state is None


def test_no_post_when_an_unsigned_list_unsubscribe_was_added(
    platform: Platform, endpoint: Endpoint, key: tuple[bytes, str]
) -> None:
    signed = _message(endpoint.url, key[0])
    forged = endpoint.url.replace(TOKEN, "/someone-else")
    head, _, rest = signed.partition(b"DKIM-Signature:")  # a field added above the signed one, read first
    _member(platform)
    _report(platform, head + f"List-Unsubscribe: <{forged}>\r\n".encode() + b"DKIM-Signature:" + rest)
    assert endpoint.received == []
    complaint = _complaint(platform)
    assert complaint.unsubscribe_state == "failed" and "not exactly one" in complaint.unsubscribe_error
