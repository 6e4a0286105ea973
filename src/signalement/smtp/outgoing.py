"""The mail the platform sends (acknowledgements of reports by mail), and the mark that lets its intake recognize
that mail if it ever comes back (a reporter forwarding an acknowledgement, an auto-reply bouncing it), so that
nothing loops.

The mark is a header holding a keyed hash of the mail's own Message-ID under the server secret: a sender cannot
forge it to have their mail dropped, and it survives relays, which keep both fields. Every mail the platform sends
is also `Auto-Submitted: auto-replied` (RFC 3834), which well-behaved responders never answer.
"""

from __future__ import annotations

import hashlib
import hmac
import smtplib
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from email.policy import SMTP
from email.utils import format_datetime, make_msgid

from signalement.mail.facts import header_block
from signalement.store.sql import utcnow

LOOP_HEADER = "X-Signalement-Loop"
SEND_TIMEOUT_SECONDS = 30.0


def loop_mark(secret: bytes, message_id: str) -> str:
    return hmac.new(secret, f"loop:{message_id.strip()}".encode(), hashlib.sha256).hexdigest()[:32]


def is_own_mail(secret: bytes, raw: bytes) -> bool:
    """Whether the outer message is one the platform sent (its mark matches its Message-ID)."""
    head = header_block(raw)
    if LOOP_HEADER.lower().encode() not in head.lower():
        return False
    headers = BytesHeaderParser().parsebytes(head)
    mark, message_id = headers.get(LOOP_HEADER), headers.get("Message-ID")
    if not mark or not message_id:
        return False
    return hmac.compare_digest(str(mark).strip(), loop_mark(secret, str(message_id)))


def is_auto_submitted(raw: bytes) -> bool:
    """RFC 3834: anything but `Auto-Submitted: no` was sent by a program and must not be answered."""
    head = header_block(raw)
    if b"auto-submitted" not in head.lower():
        return False
    value = BytesHeaderParser().parsebytes(head).get("Auto-Submitted")
    return value is not None and str(value).split(";")[0].strip().lower() not in ("", "no")


def platform_mail(secret: bytes, *, sender: str, to: str, subject: str, text: str, auto: str) -> EmailMessage:
    """A mail the platform sends, marked so that its intake drops it if it comes back; `auto` is its RFC 3834
    Auto-Submitted value (auto-replied, auto-generated)."""
    domain = sender.rpartition("@")[2] or "localhost"
    message = EmailMessage(policy=SMTP)
    message_id = make_msgid(domain=domain)
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(utcnow())
    message["Message-ID"] = message_id
    message["Auto-Submitted"] = auto
    message[LOOP_HEADER] = loop_mark(secret, message_id)
    message.set_content(text)
    return message


def acknowledgement(secret: bytes, *, sender: str, to: str, report_id: int, status_url: str) -> EmailMessage:
    return platform_mail(
        secret,
        sender=sender,
        to=to,
        subject=f"Report {report_id} received / Signalement {report_id} reçu",
        text=(
            f"Thank you: your report {report_id} is stored and will be analysed.\n"
            f"Follow what happens to it: {status_url}\n\n"
            f"Merci : votre signalement {report_id} est enregistré et va être analysé.\n"
            f"Suivez ce qu'il devient : {status_url}\n"
        ),
        auto="auto-replied",
    )


def send(relay: str, message: EmailMessage) -> None:
    """Hand the message to the configured relay (`host:port`)."""
    host, _, port = relay.rpartition(":")
    with smtplib.SMTP(host or relay, int(port) if port.isdigit() else 25, timeout=SEND_TIMEOUT_SECONDS) as client:
        client.send_message(message)
