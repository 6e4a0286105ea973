"""A complaint as its member receives it, and its delivery, at least once.

The payload: the reported message redacted for this subscription (RFC 6590, its own key: the member counts repeat
complainers and learns nobody), as ARF or X-ARF, whole or headers only. The same complaint always gives the same
Message-ID and report id, so a retry is recognizably the same.

Delivery: by SMTP through the platform's relay, or by a webhook signed `t=<time>,v1=<HMAC>`, through the work
queue: a failure is retried with backoff, and after the last attempt the complaint is `dead`, shown to the member
(its subscription's counts) and to staff (the queue's dead letters). A complaint that cannot be made at all (a
message that cannot be redacted safely, a report its format cannot express) is dead at once, with why. A pull
subscription's complaints wait for `GET /api/v1/feedback`.
"""

from __future__ import annotations

import smtplib
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from email.parser import BytesHeaderParser
from email.utils import getaddresses
from typing import Any

import httpx
from sqlalchemy import Connection, select, update

from signalement import outbound
from signalement.analysis.reported import reported_message
from signalement.domain.feedback import WEBHOOK_HEADER, ComplaintState, Content, Delivery, Format, webhook_signature
from signalement.domain.ports import BlobStore
from signalement.domain.reports import VerdictCategory
from signalement.mail.facts import header_block
from signalement.mail.feedback_out import (
    FeedbackError,
    Organization,
    build_arf,
    build_xarf,
    complaint_from_facts,
    complaint_message_id,
    complaint_report_id,
)
from signalement.mail.redact import RedactionError, redact_headers, redact_message
from signalement.settings import Settings
from signalement.store import feedback as store
from signalement.store.sql import utcnow
from signalement.store.tables import complaints, reports, users
from signalement.work.port import JobRequest, Payload, TaskContext, TaskSpec, last_line

DELIVER_TASK = "feedback_deliver"
WEBHOOK_TIMEOUT_SECONDS = 10.0
_RECIPIENT_FIELDS = ("to", "cc", "delivered-to", "x-original-to", "envelope-to")


def deliver_job(complaint_id: int) -> JobRequest:
    return JobRequest(DELIVER_TASK, {"complaint_id": complaint_id}, key=f"{DELIVER_TASK}:{complaint_id}")


@dataclass(frozen=True)
class Built:
    body: bytes
    content_type: str
    message_id: str


@dataclass(frozen=True)
class Recipient:
    """Whom a complaint goes to, and how they asked for it."""

    complaint_ref: tuple[str, str]  # (complaint, recipient): the stable Message-ID and report id derive from it
    key: bytes  # the RFC 6590 redaction key: one per recipient
    format: Format
    content: Content
    address: str | None  # the To of an ARF mail
    recipient_headers: tuple[str, ...] = ()


@dataclass(frozen=True)
class Reported:
    """The reported message and what the complaint about it says."""

    raw: bytes
    facts: dict[str, Any]
    received_at: datetime
    category: VerdictCategory
    created_at: datetime
    reporter_email: str | None
    reporter_name: str | None


def payload(settings: Settings, reported: Reported, recipient: Recipient) -> Built:
    """The complaint as its recipient receives it: redacted with its key (RedactionError rather than a leak), as ARF
    or X-ARF (FeedbackError when the format cannot express it)."""
    addresses = _reporter_addresses(reported.raw, reported.reporter_email)
    headers_only = recipient.content is Content.HEADERS
    redact = redact_headers if headers_only else redact_message
    names = [reported.reporter_name] if reported.reporter_name else []
    redacted = redact(
        reported.raw, addresses, recipient.key, names=names, recipient_id_headers=recipient.recipient_headers
    )
    complaint = complaint_from_facts(
        reported.facts,
        redacted.data,
        category=reported.category,
        report_id=complaint_report_id(*recipient.complaint_ref),
        reported_at=reported.received_at,
        original_is_headers=headers_only,
        reporter_addresses=addresses,
    )
    sender = settings.effective_mail_from
    domain = sender.rpartition("@")[2] or "localhost"
    message_id = complaint_message_id(*recipient.complaint_ref, domain)
    if recipient.format is Format.XARF:
        body = build_xarf(complaint, reporter=Organization("signalement", sender, domain), headers_only=headers_only)
        return Built(body, "application/json", message_id)
    body = build_arf(
        complaint,
        from_addr=sender,
        to_addr=recipient.address or sender,
        subject=f"Complaint {complaint.feedback_type} / Plainte",
        message_id=message_id,
        date=reported.created_at,
        headers_only=headers_only,
    )
    return Built(body, "message/rfc822", message_id)


def reported(conn: Connection, blobs: BlobStore, report_id: int, category: str, created_at: datetime) -> Reported:
    """What a complaint about this report needs from it: for a feedback report, the original it carries."""
    row = conn.execute(
        select(reports.c.kind, reports.c.sha256, reports.c.facts, reports.c.received_at, users.c.email,
               users.c.display_name)
        .outerjoin(users, users.c.id == reports.c.reporter_id)
        .where(reports.c.id == report_id)
    ).one()  # fmt: skip
    message = reported_message(row.kind, blobs.get(row.sha256))
    if message is None:
        raise FeedbackError("the report carries no message to complain about")
    return Reported(
        message, row.facts, row.received_at, VerdictCategory(category), created_at, row.email, row.display_name
    )


def build(
    conn: Connection, settings: Settings, blobs: BlobStore, complaint_id: int
) -> tuple[Built, store.Subscription]:
    """The complaint's payload for its subscription."""
    row = conn.execute(select(complaints).where(complaints.c.id == complaint_id)).one()
    subscription = store.get(conn, row.subscription_id)
    assert subscription is not None
    _, key = store.keys(settings.server_secret(), subscription.secret_nonce)
    recipient = Recipient(
        (str(complaint_id), str(subscription.id)), key, subscription.format, subscription.content,
        subscription.address, tuple(subscription.recipient_headers),
    )  # fmt: skip
    about = reported(conn, blobs, row.report_id, row.category, row.created_at)
    return payload(settings, about, recipient), subscription


def _reporter_addresses(raw: bytes, account: str | None) -> list[str]:
    """Whom to hide: the reporter's account, and every recipient the message names (a spam's To holds the reporter,
    often among others)."""
    head = BytesHeaderParser().parsebytes(header_block(raw))
    values = [str(v) for field in _RECIPIENT_FIELDS for v in head.get_all(field) or []]
    found = {address.lower() for _, address in getaddresses(values) if "@" in address}
    return sorted(found | ({account.lower()} if account else set()))


def deliver(ctx: TaskContext, payload: Payload) -> None:
    complaint_id = int(payload["complaint_id"])
    failure: str | None = None
    with ctx.engine.connect() as conn:
        state = conn.execute(select(complaints.c.state).where(complaints.c.id == complaint_id)).scalar()
        if state != ComplaintState.QUEUED:
            return
        try:
            built, subscription = build(conn, ctx.settings, ctx.blobs, complaint_id)
        except (FeedbackError, RedactionError) as error:  # the same on every attempt: dead at once, not retried
            failure = f"{type(error).__name__}: {error}"
    if failure is not None:
        with ctx.engine.begin() as conn:
            mark_dead(ctx, conn, payload, failure)
        return
    with ctx.engine.begin() as conn:
        conn.execute(
            update(complaints).where(complaints.c.id == complaint_id).values(attempts=complaints.c.attempts + 1)
        )
    try:
        if subscription.delivery is Delivery.SMTP:
            send_mail(ctx.settings, subscription.address, built)
        elif subscription.delivery is Delivery.WEBHOOK:
            _post(ctx.settings, subscription, built)
    except FeedbackError as error:  # a URL that may not be called, a redirect: retrying cannot help
        with ctx.engine.begin() as conn:
            mark_dead(ctx, conn, payload, f"FeedbackError: {error}")
        return
    with ctx.engine.begin() as conn:
        conn.execute(
            update(complaints)
            .where(complaints.c.id == complaint_id)
            .values(state=ComplaintState.DELIVERED, delivered_at=utcnow(), last_error=None)
        )


def send_mail(settings: Settings, address: str | None, built: Built) -> None:
    """Through the platform's relay, on a session this process keeps open with it (a volume of complaints costs a
    few connections, not one each); an error raises, for the queue to retry."""
    relay = settings.mail_relay
    if not relay or not address:
        raise RuntimeError("no mail relay configured (SIGNALEMENT_MAIL_RELAY): the complaint waits")
    for last_try in (False, True):
        client = _checkout(relay)
        try:
            options = ["BODY=8BITMIME"] if client.has_extn("8bitmime") else []
            client.sendmail(settings.effective_mail_from, [address], built.body, mail_options=options)
        except (smtplib.SMTPServerDisconnected, ConnectionError):  # closed while idle: once more on a new session
            client.close()
            if last_try:
                raise
            continue
        except (smtplib.SMTPResponseException, smtplib.SMTPRecipientsRefused):
            _checkin(relay, client)  # an answer: the session stays usable (smtplib reset it)
            raise
        except BaseException:
            client.close()
            raise
        _checkin(relay, client)
        return


# This process's idle SMTP sessions per relay, with when each was last used: jobs running at once (the PostgreSQL
# queue runs several in threads) each take one of their own.
_IDLE: dict[str, list[tuple[smtplib.SMTP, float]]] = {}
_IDLE_LOCK = threading.Lock()
SESSION_IDLE_SECONDS = 30.0  # longer idle than this and a session is checked (NOOP) before it is used again
SMTP_TIMEOUT_SECONDS = 30.0


def _checkout(relay: str) -> smtplib.SMTP:
    while True:
        with _IDLE_LOCK:
            idle = _IDLE.get(relay)
            kept = idle.pop() if idle else None
        if kept is None:
            break
        client, used = kept
        if time.monotonic() - used < SESSION_IDLE_SECONDS or _alive(client):
            return client
        client.close()
    host, _, port = relay.rpartition(":")
    client = smtplib.SMTP(host or relay, int(port) if port.isdigit() else 25, timeout=SMTP_TIMEOUT_SECONDS)
    try:
        client.ehlo()
    except BaseException:
        client.close()
        raise
    return client


def _checkin(relay: str, client: smtplib.SMTP) -> None:
    with _IDLE_LOCK:
        _IDLE.setdefault(relay, []).append((client, time.monotonic()))


def _alive(client: smtplib.SMTP) -> bool:
    try:
        return client.noop()[0] == 250
    except (smtplib.SMTPException, OSError):
        return False


def _post(settings: Settings, subscription: store.Subscription, built: Built) -> None:
    assert subscription.webhook_url is not None
    secret, _ = store.keys(settings.server_secret(), subscription.secret_nonce)
    post_signed(settings, subscription.webhook_url, secret, built)


def post_signed(settings: Settings, url: str, secret: bytes, built: Built) -> None:
    """To a member's URL, signed with its secret, through signalement.outbound (no private address, no redirect
    followed), on a client this process keeps (its connections stay open between calls). FeedbackError when the
    URL may not be called or redirects (retrying cannot help); any other error is worth a retry."""
    try:
        target = outbound.check(url, settings, schemes=("https", "http"))
    except outbound.UnresolvedError:
        raise  # perhaps a passing DNS failure: retried
    except outbound.RefusedError as refusal:
        raise FeedbackError(f"webhook refused: {refusal}") from None
    headers = {
        "Content-Type": built.content_type,
        WEBHOOK_HEADER: webhook_signature(secret, int(time.time()), built.body),
        "Idempotency-Key": built.message_id,
    }
    response = outbound.post(_webhook_client(settings), target, built.body, headers)
    if response.is_redirect:
        raise FeedbackError(f"webhook answered HTTP {response.status_code}: redirects are not followed")
    response.raise_for_status()


_CLIENTS: dict[tuple[str, bool], httpx.Client] = {}  # per CA file and private-address setting; httpx is thread-safe


def _webhook_client(settings: Settings) -> httpx.Client:
    key = (str(settings.outbound_ca_file or ""), settings.outbound_private)
    with _IDLE_LOCK:
        if key not in _CLIENTS:
            _CLIENTS[key] = outbound.client(settings, WEBHOOK_TIMEOUT_SECONDS)
        return _CLIENTS[key]


def mark_dead(ctx: TaskContext, conn: Connection, payload: Payload, error: str) -> None:
    conn.execute(
        update(complaints)
        .where(complaints.c.id == int(payload["complaint_id"]))
        .values(state=ComplaintState.DEAD, last_error=last_line(error))
    )


DELIVER = TaskSpec(DELIVER_TASK, deliver, on_dead=mark_dead)
