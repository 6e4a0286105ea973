"""A conversation with the short number, as the platform keeps it: each message from a reporter's phone moves it on
(signalement.domain.sms_conversation); a complete SMS is stored by the intake before the conversation forgets it,
and a text left waiting is reported with its sender unknown by a job due when the conversation's hour is over."""

from __future__ import annotations

from dataclasses import dataclass

from signalement.domain.reports import Channel, ReportKind
from signalement.domain.sms_conversation import WINDOW, Pending, Reply, SmsToReport, expired, step
from signalement.ingest.intake import Accepted, Intake, Submission, Submitter
from signalement.mail.sms import sms_document
from signalement.store import sms_conversations
from signalement.store.sql import utcnow
from signalement.work.port import JobRequest, Payload, TaskContext, TaskSpec

EXPIRE_TASK = "sms_conversation_expire"
CLIENT = "sms-conversation"


@dataclass(frozen=True)
class Outcome:
    reply: Reply
    accepted: list[Accepted]


def converse(intake: Intake, secret: bytes, gateway_id: int, number: str, message: str) -> Outcome:
    """One message from a reporter's phone; reports are committed before the conversation moves on, so a crash
    in between reports again what intake's de-duplication then recognizes."""
    key = sms_conversations.number_hash(secret, gateway_id, number)
    with intake.engine.connect() as conn:
        pending = sms_conversations.load(conn, key)
    now = utcnow()
    moved = step(pending, message, now)
    accepted = _report(intake, key, gateway_id, moved.reports)
    with intake.engine.begin() as conn:
        sms_conversations.save(conn, key, gateway_id, moved.pending)
        if moved.pending is not None and moved.pending.text is not None:
            intake.queue.enqueue(conn, _expiry(key, moved.pending))
    return Outcome(moved.reply, accepted)


def _expiry(key: str, pending: Pending) -> JobRequest:
    started = pending.started_at
    return JobRequest(
        EXPIRE_TASK, {"key": key}, key=f"{EXPIRE_TASK}:{key}:{started.timestamp()}", run_at=started + WINDOW
    )


def _report(intake: Intake, key: str, gateway_id: int, found: list[SmsToReport]) -> list[Accepted]:
    if not found:
        return []
    submitter = Submitter(f"sms:{key[:40]}", gateway_id)
    return intake.accept_many(submitter, [_submission(sms) for sms in found])


def _submission(sms: SmsToReport) -> Submission:
    raw = sms_document(sms.sender, sms.text, sms.received_at)
    return Submission(raw=raw, kind=ReportKind.SMS, channel=Channel.SMS_CONVERSATION, client=CLIENT)


def expire(ctx: TaskContext, payload: Payload) -> None:
    """Report a text still waiting for its sender once its hour is over (a later message may have done it)."""
    key = str(payload["key"])
    intake = Intake(ctx.engine, ctx.blobs, ctx.queue)
    with ctx.engine.connect() as conn:
        pending = sms_conversations.load(conn, key)
        gateway_id = sms_conversations.gateway_of(conn, key)
    if pending is None or gateway_id is None or not (found := expired(pending, utcnow())):
        return
    _report(intake, key, gateway_id, found)
    with ctx.engine.begin() as conn:
        sms_conversations.forget(conn, key, pending.started_at)


EXPIRE = TaskSpec(EXPIRE_TASK, expire)
