"""A real SMTP server of the platform on a loopback port, over a real SQLite or PostgreSQL (the `settings` fixture),
and what a test needs to talk to it and read what it stored."""

from __future__ import annotations

import smtplib
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from signalement.platform import Platform
from signalement.settings import FeedSource, Settings
from signalement.smtp.server import SmtpServer
from signalement.store.migrate import upgrade
from signalement.store.tables import reports
from tests.pg import free_port

DOMAIN = "reports.example"
FEED = FeedSource(name="example-mbp", secret="fblsecret0123456789", addresses=["fbl@mbp.example"])


@dataclass
class MailServer:
    platform: Platform
    port: int

    def client(self) -> smtplib.SMTP:
        return smtplib.SMTP("127.0.0.1", self.port, timeout=20)

    def send(self, raw: bytes, to: str = f"report@{DOMAIN}", sender: str = "someone@example.net") -> Any:
        with self.client() as client:
            return client.sendmail(sender, [to], raw)

    def reports(self) -> list[Any]:
        with self.platform.engine.connect() as conn:
            return list(conn.execute(select(reports).order_by(reports.c.id)))

    def blob(self, sha256: str) -> bytes:
        return self.platform.blobs.get(sha256)


def start(settings: Settings, **changes: Any) -> tuple[Platform, SmtpServer, int]:
    port = free_port()
    changed = settings.model_copy(
        update={"smtp_port": port, "smtp_domains": [DOMAIN], "feeds": [FEED], "smtp_hostname": "mx.test"} | changes
    )
    platform = Platform(changed)
    upgrade(platform.engine)
    server = SmtpServer(platform)
    server.start()
    return platform, server, port


@pytest.fixture
def mail_server(settings: Settings) -> Iterator[MailServer]:
    platform, server, port = start(settings)
    yield MailServer(platform, port)
    server.stop()
    platform.close()


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, made by the openssl command."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


def phishing(n: int = 1, *, subject: str = "Votre colis est en attente") -> bytes:
    """A made-up phishing message (reserved names, documentation addresses), different for each n."""
    message = EmailMessage(policy=SMTP_POLICY)
    message["From"] = "La Poste <service@colis-suivi.example>"
    message["To"] = "victim@example.net"
    message["Subject"] = f"{subject} ({n})"
    message["Date"] = "Thu, 26 Nov 2026 10:00:00 +0100"
    message["Message-ID"] = f"<phish-{n}@colis-suivi.example>"
    message.set_content(
        f"Bonjour,\n\nVotre colis n° {n} ne peut pas être livré : des frais de 1,99 EUR restent à payer.\n"
        "Réglez-les ici : https://colis-suivi.example/pay\n"
    )
    return message.as_bytes()


def forward_as_attachments(*originals: bytes, sender: str = "reporter@example.org") -> bytes:
    """A forward as a mail client writes it: a short note and each original as a message/rfc822 part."""
    boundary = "==fwd-boundary=="
    head = (
        f"From: {sender}\r\nTo: report@{DOMAIN}\r\nSubject: Fwd: spam\r\n"
        f"Message-ID: <fwd-{len(originals)}@example.org>\r\nMIME-Version: 1.0\r\n"
        f'Content-Type: multipart/mixed; boundary="{boundary}"\r\n\r\n'
        f"--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHere is the spam I got.\r\n"
    )
    attached = (
        f"--{boundary}\r\nContent-Type: message/rfc822\r\nContent-Disposition: attachment; filename=spam.eml\r\n\r\n"
    ).encode()
    return head.encode() + b"".join(attached + o + b"\r\n" for o in originals) + f"--{boundary}--\r\n".encode()
