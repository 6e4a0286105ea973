"""Real SMTP conversations (smtplib, and a raw socket for pipelining) with the platform's server: what is stored,
and what an MTA would answer."""

from __future__ import annotations

import logging
import smtplib
import socket
import ssl
from pathlib import Path

import pytest
from sqlalchemy import select, update

from signalement.settings import Settings
from signalement.store.report_addresses import issue_address, revoke_address
from signalement.store.tables import users as user_table
from tests.conftest import Users, run_jobs_until_idle
from tests.dkimkeys import DkimKey, make_key
from tests.dnsserver import LoopbackDNS
from tests.integration.smtp.conftest import DOMAIN, FEED, MailServer, forward_as_attachments, phishing, start
from tests.relay import Relay


def test_a_forward_with_attached_messages_becomes_one_report_each(mail_server: MailServer) -> None:
    originals = [phishing(1), phishing(2), phishing(3)]
    with mail_server.client() as client:
        client.ehlo("client.test")
        code, reply = client.docmd("MAIL FROM:<reporter@example.org>")
        assert code == 250
        client.docmd(f"RCPT TO:<report@{DOMAIN}>")
        code, reply = client.data(forward_as_attachments(*originals))
    assert code == 250 and reply.startswith(b"2.0.0 Stored: 3 report(s)")
    stored = mail_server.reports()
    assert [r.forwarded for r in stored] == ["attached"] * 3
    assert [mail_server.blob(r.sha256) for r in stored] == originals  # the bytes as they were attached
    assert {r.channel for r in stored} == {"smtp"} and {r.reporter_id for r in stored} == {None}


def test_a_plain_message_is_itself_the_report(mail_server: MailServer) -> None:
    mail_server.send(phishing(7), to=f"phishing@{DOMAIN}")
    (report,) = mail_server.reports()
    assert report.forwarded is None and report.reported_category == "phishing"
    assert mail_server.blob(report.sha256) == phishing(7)


def test_an_unknown_recipient_is_refused_at_rcpt(mail_server: MailServer) -> None:
    for address in (f"postmaster@{DOMAIN}", "report@elsewhere.example", f"report+nosuchsecret99@{DOMAIN}"):
        with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
            mail_server.send(phishing(), to=address)
        code, reply = refused.value.recipients[address]
        assert (code, reply[:5]) == (550, b"5.1.1")
    assert mail_server.reports() == []


def test_size_is_advertised_and_an_oversize_mail_refused(settings: Settings) -> None:
    platform, server, port = start(settings, smtp_max_message_bytes=4096)
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=20) as client:
            client.ehlo("client.test")
            assert client.esmtp_features["size"] == "4096"
            code, reply = client.docmd("MAIL FROM:<a@example.net> SIZE=5000")
            assert (code, reply[:5]) == (552, b"5.3.4")
            client.docmd("RSET")
            assert client.docmd("MAIL FROM:<a@example.net>")[0] == 250
            assert client.docmd(f"RCPT TO:<report@{DOMAIN}>")[0] == 250
            code, reply = client.data(phishing() + b"x" * 5000)
            assert (code, reply[:5]) == (552, b"5.3.4")
    finally:
        server.stop()
        platform.close()


def test_a_client_sending_too_much_is_told_to_wait(settings: Settings) -> None:
    platform, server, port = start(settings, smtp_rate_per_minute=3)
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=20) as client:
            client.ehlo("client.test")
            codes = []
            for _ in range(5):
                client.rset()
                code, reply = client.docmd("MAIL FROM:<a@example.net>")
                codes.append((code, reply[:5]))
            assert codes[:3] == [(250, b"2.1.0")] * 3
            assert codes[3:] == [(451, b"4.7.1")] * 2
    finally:
        server.stop()
        platform.close()


def test_the_configured_relays_are_not_rate_limited_and_keep_reporters_apart(settings: Settings) -> None:
    platform, server, port = start(settings, smtp_rate_per_minute=3, smtp_relays=["127.0.0.0/8"])
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=20) as client:
            client.ehlo("mx.example.org")
            for _ in range(5):
                client.rset()
                assert client.docmd("MAIL FROM:<a@example.net>")[0] == 250
        mail = MailServer(platform, port)
        for sender in ("one@example.net", "two@example.net", "one@example.net"):
            mail.send(phishing(1), sender=sender)  # two people forwarding the same spam through the MX
        assert len(mail.reports()) == 2
    finally:
        server.stop()
        platform.close()


def test_no_address_reaches_the_logs(mail_server: MailServer, users: Users, caplog: pytest.LogCaptureFixture) -> None:
    user_id, _ = users.create()
    with mail_server.platform.engine.begin() as conn:
        secret = issue_address(conn, mail_server.platform.secret, user_id).secret
    caplog.set_level(logging.DEBUG)
    mail_server.send(phishing(1), to=f"report+{secret}@{DOMAIN}", sender="reporter@example.org")
    assert len(mail_server.reports()) == 1
    assert secret not in caplog.text and "reporter@example.org" not in caplog.text


def test_a_secret_address_credits_its_reporter_until_revoked(mail_server: MailServer, users: Users) -> None:
    user_id, _ = users.create()
    with mail_server.platform.engine.begin() as conn:
        address = issue_address(conn, mail_server.platform.secret, user_id)
    mail_server.send(phishing(1), to=f"report+{address.secret}@{DOMAIN}")
    assert [r.reporter_id for r in mail_server.reports()] == [user_id]
    with mail_server.platform.engine.begin() as conn:
        assert revoke_address(conn, user_id, address.id)
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        mail_server.send(phishing(2), to=f"report+{address.secret}@{DOMAIN}")


def test_auth_is_offered_only_inside_tls_and_credits_the_reporter(
    settings: Settings, users: Users, certificate: tuple[Path, Path]
) -> None:
    cert, key = certificate
    platform, server, port = start(settings, smtp_tls_cert=cert, smtp_tls_key=key)
    try:
        user_id, token = users.create()
        with smtplib.SMTP("127.0.0.1", port, timeout=20) as client:
            client.ehlo("client.test")
            assert "starttls" in client.esmtp_features and "auth" not in client.esmtp_features
            client.starttls(context=ssl.create_default_context(cafile=str(cert)))
            client.ehlo("client.test")
            assert "PLAIN" in client.esmtp_features["auth"]
            with pytest.raises(smtplib.SMTPAuthenticationError):
                client.login("someone", "wrong")
            client.login("anyone", token)
            client.sendmail("reporter@example.org", [f"report@{DOMAIN}"], phishing(3))
        assert [r.reporter_id for r in MailServer(platform, port).reports()] == [user_id]
    finally:
        server.stop()
        platform.close()


def test_a_connection_dropped_during_data_stores_nothing(mail_server: MailServer) -> None:
    with socket.create_connection(("127.0.0.1", mail_server.port), timeout=20) as sock:
        stream = sock.makefile("rwb")
        stream.readline()
        for command in (
            b"EHLO client.test",
            b"MAIL FROM:<a@example.net>",
            f"RCPT TO:<report@{DOMAIN}>".encode(),
            b"DATA",
        ):
            stream.write(command + b"\r\n")
            stream.flush()
            while stream.readline()[3:4] == b"-":
                pass
        stream.write(phishing()[:200])  # half the message, no final dot
        stream.flush()
    mail_server.send(phishing(9))  # the server still works, and stored only this one
    assert len(mail_server.reports()) == 1


def test_pipelined_commands_get_their_answers_in_order(mail_server: MailServer) -> None:
    with socket.create_connection(("127.0.0.1", mail_server.port), timeout=20) as sock:
        stream = sock.makefile("rwb")
        stream.readline()
        stream.write(b"EHLO client.test\r\n")
        stream.flush()
        features = []
        while (line := stream.readline())[3:4] == b"-":
            features.append(line[4:].strip())
        assert b"PIPELINING" in features
        stream.write(
            b"MAIL FROM:<a@example.net>\r\n"
            + f"RCPT TO:<nobody@{DOMAIN}>\r\nRCPT TO:<report@{DOMAIN}>\r\n".encode()
            + b"DATA\r\n"
        )
        stream.flush()
        answers = [stream.readline()[:3] for _ in range(4)]
        assert answers == [b"250", b"550", b"250", b"354"]
        stream.write(phishing(4) + b".\r\n")
        stream.flush()
        assert stream.readline().startswith(b"250 2.0.0 Stored: 1 report(s)")
        stream.write(b"QUIT\r\n")
        stream.flush()
    assert len(mail_server.reports()) == 1


def test_known_reporters_who_asked_get_an_acknowledgement_and_it_never_loops(settings: Settings, users: Users) -> None:
    relay = Relay().start()
    platform, server, port = start(settings, mail_relay=relay.address)
    try:
        mail = MailServer(platform, port)
        user_id, _ = users.create()
        with platform.engine.begin() as conn:
            secret = issue_address(conn, platform.secret, user_id).secret
            conn.execute(update(user_table).where(user_table.c.id == user_id).values(ack_by_mail=True))
        to = f"report+{secret}@{DOMAIN}"
        mail.send(phishing(1), to=to)  # known and asked: acknowledged
        mail.send(phishing(2))  # anonymous: never answered
        mail.send(phishing(3).replace(b"Subject:", b"Auto-Submitted: auto-replied\r\nSubject:", 1), to=to)
        mail.send(phishing(4), to=to, sender="")  # a null sender: a bounce
        run_jobs_until_idle(platform)
        (ack,) = relay.mails
        first = mail.reports()[0]
        assert f"/api/v1/reports/{first.id}".encode() in ack and b"Auto-Submitted: auto-replied" in ack
        with platform.engine.connect() as conn:
            email = conn.execute(select(user_table.c.email).where(user_table.c.id == user_id)).scalar_one()
        assert f"To: {email}".encode() in ack  # the account's address, not the envelope sender
        reply = mail.send(ack, to=to)  # a reporter forwarding it back, or a responder bouncing it
        assert reply == {} and len(mail.reports()) == 4
    finally:
        server.stop()
        relay.stop()
        platform.close()


def test_mail_to_a_feedback_loop_address_is_the_sources_report(mail_server: MailServer) -> None:
    mail_server.send(phishing(5), to=f"fbl+{FEED.secret}@{DOMAIN}", sender="fbl@mbp.example")
    (report,) = mail_server.reports()
    assert report.submitter == f"feed:{FEED.name}" and report.reporter_id is None
    assert (report.source, report.trap) == (FEED.name, False)
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        mail_server.send(phishing(6), to=f"fbl+notthesecret000000@{DOMAIN}")


FIXTURES = Path(__file__).parents[2] / "fixtures"


def fixture(path: str) -> bytes:
    return (FIXTURES / path).read_bytes()


@pytest.mark.parametrize(
    ("name", "feedback"),
    [
        ("rfc5965-b2-optional-fields.eml", "complaint"),
        ("microsoft-jmrp.eml", "complaint"),
        ("yahoo-cfl.eml", "complaint"),
        ("rfc6430-not-spam.eml", "not-spam"),
        ("rfc6591-auth-failure-dkim.eml", "auth-failure"),
        ("rfc7489-dmarc-failure.eml", "dmarc-failure"),
    ],
)
def test_a_feedback_loops_report_is_kept_with_its_kind(mail_server: MailServer, name: str, feedback: str) -> None:
    mail_server.send(fixture(f"arf/{name}"), to=f"fbl+{FEED.secret}@{DOMAIN}", sender="fbl@mbp.example")
    (report,) = mail_server.reports()
    assert (report.kind, report.feedback, report.submitter) == ("arf", feedback, f"feed:{FEED.name}")


def test_a_digest_of_feedback_reports_becomes_one_report_each(mail_server: MailServer) -> None:
    reply = mail_server.send(fixture("arf/digest-of-reports.eml"), to=f"fbl+{FEED.secret}@{DOMAIN}")
    assert reply == {}
    stored = mail_server.reports()
    assert len(stored) >= 2 and {r.kind for r in stored} == {"arf"}


def test_x_arf_by_mail_is_validated(mail_server: MailServer) -> None:
    def carrying(document: bytes) -> bytes:
        return (
            (
                f"From: fbl@mbp.example\r\nTo: fbl+{FEED.secret}@{DOMAIN}\r\nSubject: X-ARF report\r\n"
                "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
                "--b\r\nContent-Type: text/plain\r\n\r\nAn abuse report.\r\n"
                "--b\r\nContent-Type: application/json\r\nContent-Disposition: attachment; filename=report.json\r\n\r\n"
            ).encode()
            + document
            + b"\r\n--b--\r\n"
        )

    mail_server.send(carrying(fixture("xarf/content-phishing.json")), to=f"fbl+{FEED.secret}@{DOMAIN}")
    (report,) = mail_server.reports()
    assert report.kind == "xarf"
    with pytest.raises(smtplib.SMTPDataError) as refused:
        mail_server.send(carrying(fixture("xarf/invalid-schema.json")), to=f"fbl+{FEED.secret}@{DOMAIN}")
    reply: bytes = refused.value.smtp_error  # type: ignore[assignment]  # typeshed says str; smtplib gives bytes
    assert refused.value.smtp_code == 554 and reply.startswith(b"5.6.0 invalid X-ARF")


def test_a_message_forwarded_inline_is_recovered_and_marked(mail_server: MailServer) -> None:
    mail_server.send(fixture("forwarded/inline-outlook-fr.eml"))
    (report,) = mail_server.reports()
    assert report.forwarded == "inline"
    recovered = mail_server.blob(report.sha256)
    assert b"From:" in recovered and b"Subject:" in recovered


def test_an_arf_report_sent_to_a_report_address_is_not_credited_to_a_feed(mail_server: MailServer) -> None:
    mail_server.send(fixture("arf/yahoo-cfl.eml"), sender="fbl@mbp.example")
    (report,) = mail_server.reports()
    assert report.kind == "arf" and report.submitter.startswith("anon:")


@pytest.fixture(scope="module")
def dkim_key(tmp_path_factory: pytest.TempPathFactory) -> DkimKey:
    return make_key(tmp_path_factory.mktemp("dkim"))


def test_a_feedback_report_from_the_loops_network_signed_by_its_domain_is_credited_to_it(
    settings: Settings, dkim_key: DkimKey
) -> None:
    feed = FEED.model_copy(update={"ips": ["127.0.0.0/8"], "dkim_domain": "mbp.example"})
    report = fixture("arf/rfc5965-b2-optional-fields.eml")

    def signed(domain: str, raw: bytes = report) -> bytes:
        return dkim_key.sign(raw, domain, selector="fbl", headers=[b"from", b"subject", b"date"])

    records = {"fbl._domainkey.mail.mbp.example": dkim_key.record, "fbl._domainkey.other.example": dkim_key.record}
    with LoopbackDNS(records) as resolver:
        platform, server, port = start(settings, feeds=[feed], dns_resolver=resolver.address)
        try:
            mail = MailServer(platform, port)
            mail.send(signed("mail.mbp.example"))  # a subdomain of the loop's: aligned
            mail.send(signed("other.example", report.replace(b"Earn money", b"Earn more")))  # another domain
            mail.send(report.replace(b"Earn money", b"Earn less"))  # unsigned
            tampered = signed("mbp.example", report.replace(b"Earn money", b"Earn lots")).replace(b"spam", b"SPAM")
            mail.send(tampered)  # the signature no longer verifies
            submitters = [r.submitter for r in mail.reports()]
        finally:
            server.stop()
            platform.close()
    assert submitters[0] == f"feed:{feed.name}"
    assert all(s.startswith("anon:") for s in submitters[1:]) and len(submitters) == 4


def test_a_storage_failure_is_a_temporary_error_and_nothing_is_lost(mail_server: MailServer) -> None:
    blobs = mail_server.platform.settings.effective_blob_dir
    mail_server.send(phishing(1))
    aside = blobs.with_name("blobs-aside")
    blobs.rename(aside)
    blobs.write_bytes(b"not a folder")  # every write into the blob store fails
    try:
        with pytest.raises(smtplib.SMTPDataError) as refused:
            mail_server.send(phishing(2))
        assert (refused.value.smtp_code, refused.value.smtp_error[:5]) == (451, b"4.3.0")
    finally:
        blobs.unlink()
        aside.rename(blobs)
    mail_server.send(phishing(2))  # the client's retry
    assert [mail_server.blob(r.sha256) for r in mail_server.reports()] == [phishing(1), phishing(2)]
