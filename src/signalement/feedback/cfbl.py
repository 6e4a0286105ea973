"""Complaints to senders that are not members but ask for them in an RFC 9477 `CFBL-Address`, when the association
enables it (`SIGNALEMENT_CFBL`, off by default).

The field is the sender's word, so it is used only when RFC 9477's checks on the received message hold
(`cfbl_target`, pure):

- it is covered (`h=`) by a signature known to pass (trusted Authentication-Results, or verified by the platform:
  `signalement.domain.matching.passing_signatures`);
- alignment, on organizational (registrable) domains: when the address is in the From domain's organization
  (strict: the same domain; relaxed: a parent, child or sibling), a covering signature's d= must be in that
  organization too; when it is in a third party's (an ESP's), two covering signatures are needed, one of the
  From's organization and one of the address's, so both domain owners agree where the complaints go. RFC 9477
  also lets an ESP add the field under its own signature alone when its customer pre-signed without it; that is
  not accepted here: the From domain's owner would not have agreed, and a replayed message could be given
  anyone's address that way;
- no `report=` parameter, or `report=arf` (RFC 9477's only format);
- exactly one CFBL-Address field in the message (checked on the message at delivery: a signature covers the
  last instance of a field, so a field added above a signed one would otherwise be read first).

The CFBL-Feedback-ID is kept only when the same signature covers it. Anything forged (a signature that did not
pass, does not cover the field, or is not aligned) yields no complaint.

What goes out: one ARF report per report and address, its third part the message's header block only, redacted
(RFC 6590) with a key of this address's own, derived from the server's secret: the sender counts repeat
complainers and learns nobody, and two senders cannot correlate their complainers. Delivered at least once
through the work queue like the members' complaints (signalement.feedback.delivery).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from typing import Any

from sqlalchemy import Connection, select, update

from signalement.domain.derived_keys import derive
from signalement.domain.feedback import ComplaintState, Content, Format
from signalement.domain.matching import passing_signatures
from signalement.domain.ports import BlobStore
from signalement.feedback import delivery
from signalement.mail.domains import normalize_host, registered_domain
from signalement.mail.facts import header_block
from signalement.mail.feedback_out import FeedbackError
from signalement.mail.redact import RedactionError
from signalement.settings import Settings
from signalement.store.sql import insert_ignore_many, utcnow
from signalement.store.tables import cfbl_complaints
from signalement.work.port import JobQueue, JobRequest, Payload, TaskContext, TaskSpec, last_line

CFBL_DELIVER_TASK = "cfbl_deliver"
ADDRESS_FIELD = "cfbl-address"
FEEDBACK_ID_FIELD = "cfbl-feedback-id"
# RFC 9477's privacy section lets the Mailbox Provider omit the body and redact the rest (RFC 6590): a sender that
# is no member, with no agreement with the association, gets the least that lets it act, the header block (its
# Message-ID and CFBL-Feedback-ID, which RFC 9477 requires in the third part), redacted.
CONTENT = Content.HEADERS
_LOCAL_PART = re.compile(r"[^\s@<>()\[\]\\,;:\"]{1,64}")
_DOMAIN = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+")

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Target:
    """Where a complaint about a message goes, per its signed CFBL-Address."""

    address: str  # local part as written, domain normalized
    signer: str  # the d= of the passing signature that covers the field (the address's organization's)
    feedback_id: str | None  # the CFBL-Feedback-ID, when that same signature covers it


def cfbl_target(facts: Mapping[str, Any]) -> Target | None:
    """The CFBL-Address of the analyzed message when RFC 9477's checks hold (see the module), else None."""
    sender = facts.get("sender")
    if not isinstance(sender, dict):
        return None
    parsed = parse_address(sender.get("cfbl_address"))
    from_org = _org(sender.get("from_domain"))
    if parsed is None or from_org is None:
        return None
    address, domain = parsed
    address_org = _org(domain)
    covering = [(d, covered) for d, covered in passing_signatures(facts) if ADDRESS_FIELD in covered]
    if address_org is None or not any(_org(d) == from_org for d, _ in covering):
        return None
    # Same organization: the From-aligned signature is the address's too. A third party: its own signature as well.
    signers = [(d, covered) for d, covered in covering if _org(d) == address_org]
    if not signers:
        return None
    feedback_id = _feedback_id(sender.get("cfbl_feedback_id"))
    signed = [(d, covered) for d, covered in signers if FEEDBACK_ID_FIELD in covered]
    if feedback_id is not None and signed:
        return Target(address, signed[0][0], feedback_id)
    return Target(address, signers[0][0], None)


def parse_address(value: Any) -> tuple[str, str] | None:
    """(address, its normalized domain) of a CFBL-Address value, `addr-spec [";" "report=arf"]`; None when it is
    not that (another report format, other parameters, a display name, an address without a registrable
    domain)."""
    if not isinstance(value, str):
        return None
    spec, *parameters = (part.strip() for part in value.split(";"))
    if parameters and [p.replace(" ", "").lower() for p in parameters] != ["report=arf"]:
        return None
    local, at, domain = spec.rpartition("@")
    host = normalize_host(domain)
    if not at or not _LOCAL_PART.fullmatch(local) or not _DOMAIN.fullmatch(host) or len(host) > 253:
        return None
    return f"{local}@{host}", host


def _org(domain: Any) -> str | None:
    return registered_domain(domain) if isinstance(domain, str) and domain else None


def _feedback_id(value: Any) -> str | None:
    # RFC 9477: whitespace in the value is folding only, ignored when the id is reassembled.
    text = "".join(value.split()) if isinstance(value, str) else ""
    return text[:255] or None


def redaction_key(server_secret: bytes, address: str) -> bytes:
    """The RFC 6590 key of one CFBL-Address: stable (the sender counts repeat complainers), its own (no two
    senders can correlate theirs), never stored."""
    return derive(server_secret, "cfbl-redaction", address.lower())


def cfbl_job(cfbl_id: int) -> JobRequest:
    return JobRequest(CFBL_DELIVER_TASK, {"cfbl_id": cfbl_id}, key=f"{CFBL_DELIVER_TASK}:{cfbl_id}")


def queue_cfbl(
    conn: Connection, queue: JobQueue, report_id: int, facts: Mapping[str, Any], category: str, feedback_type: str
) -> None:
    """In the caller's transaction (the match job's, when CFBL is on and the report is a complaint): one complaint
    to the message's signed CFBL-Address, if it has one, and its delivery job. Idempotent."""
    target = cfbl_target(facts)
    if target is None:
        return
    row = {
        "report_id": report_id,
        "address": target.address,
        "signer": target.signer,
        "feedback_id": target.feedback_id,
        "category": category,
        "feedback_type": feedback_type,
        "state": ComplaintState.QUEUED,
        "attempts": 0,
        "created_at": utcnow(),
    }
    insert_ignore_many(conn, cfbl_complaints, [row])
    made = conn.execute(
        select(cfbl_complaints.c.id, cfbl_complaints.c.state).where(
            cfbl_complaints.c.report_id == report_id, cfbl_complaints.c.address == target.address
        )
    ).one()
    if made.state == ComplaintState.QUEUED:
        queue.enqueue(conn, cfbl_job(made.id))


def build(conn: Connection, settings: Settings, blobs: BlobStore, row: Any) -> delivery.Built:
    """The ARF report for this CFBL complaint; FeedbackError or RedactionError when it cannot be made at all."""
    if not settings.cfbl:
        raise FeedbackError("complaints to CFBL-Address senders are off (SIGNALEMENT_CFBL)")
    if row.address.rpartition("@")[2] in {normalize_host(d) for d in settings.smtp_domains}:
        raise FeedbackError("the CFBL-Address is the platform's own: no complaint to itself")
    about = delivery.reported(conn, blobs, row.report_id, row.category, row.created_at)
    count = len(BytesHeaderParser().parsebytes(header_block(about.raw)).get_all(ADDRESS_FIELD) or [])
    if count != 1:  # RFC 9477: exactly one; with several, which one the signature covers is unknown
        raise FeedbackError(f"{count} CFBL-Address fields in the message: no complaint")
    key = redaction_key(settings.server_secret(), row.address)
    recipient = delivery.Recipient((f"cfbl:{row.id}", "cfbl"), key, Format.ARF, CONTENT, row.address)
    return delivery.payload(settings, about, recipient)


def deliver(ctx: TaskContext, payload: Payload) -> None:
    cfbl_id = int(payload["cfbl_id"])
    failure: str | None = None
    with ctx.engine.connect() as conn:
        row = conn.execute(select(cfbl_complaints).where(cfbl_complaints.c.id == cfbl_id)).first()
        if row is None or row.state != ComplaintState.QUEUED:
            return
        try:
            built = build(conn, ctx.settings, ctx.blobs, row)
        except (FeedbackError, RedactionError) as error:  # the same on every attempt: dead at once, not retried
            failure = f"{type(error).__name__}: {error}"
    with ctx.engine.begin() as conn:
        if failure is not None:
            mark_dead(ctx, conn, payload, failure)
            log.info("cfbl complaint %s not sent: %s", cfbl_id, failure)
            return
        conn.execute(
            update(cfbl_complaints)
            .where(cfbl_complaints.c.id == cfbl_id)
            .values(attempts=cfbl_complaints.c.attempts + 1)
        )
    delivery.send_mail(ctx.settings, row.address, built)  # raises for the queue to retry
    with ctx.engine.begin() as conn:
        conn.execute(
            update(cfbl_complaints)
            .where(cfbl_complaints.c.id == cfbl_id)
            .values(state=ComplaintState.DELIVERED, delivered_at=utcnow(), last_error=None)
        )
    log.info("cfbl complaint %s delivered", cfbl_id)  # ids only: never an address


def mark_dead(ctx: TaskContext, conn: Connection, payload: Payload, error: str) -> None:
    conn.execute(
        update(cfbl_complaints)
        .where(cfbl_complaints.c.id == int(payload["cfbl_id"]))
        .values(state=ComplaintState.DEAD, last_error=last_line(error))
    )


CFBL_DELIVER = TaskSpec(CFBL_DELIVER_TASK, deliver, on_dead=mark_dead)
