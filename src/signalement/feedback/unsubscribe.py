"""One-click unsubscribe (RFC 8058) on the reporter's behalf, beside a complaint to a member that opted in.

Only when the sender asked for it in a way the member vouches for: the reported message carries an https
List-Unsubscribe and `List-Unsubscribe-Post: List-Unsubscribe=One-Click`, and both fields are covered by ONE passing
DKIM signature whose d= is one of the subscription's own claimed domains (or a name under one). Anyone else's
signature, or an unsigned field, could point the platform at any URL. Never for a spam trap's hit (nobody to
unsubscribe), never for an unverified complaint.

The POST goes through signalement.outbound (https only, no private addresses, no redirect followed: RFC 8058 says
the POST must not be redirected). A 2xx is `done`; a redirect or a 4xx is a final `failed`; a network error or a
5xx is retried by the queue, and `failed` once the attempts are spent. The URL identifies the reporter: it is never
logged nor stored; `unsubscribe_error` holds a status, or an exception's type and the host.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from email.parser import BytesHeaderParser
from typing import Any

from sqlalchemy import Connection, select, update

from signalement import outbound
from signalement.analysis.reported import reported_message
from signalement.domain.claims import ClaimKind, ClaimState
from signalement.domain.feedback import ComplaintState
from signalement.domain.matching import passing_signatures
from signalement.mail.domains import is_subdomain
from signalement.mail.facts import header_block
from signalement.store.sql import utcnow
from signalement.store.tables import claims, complaints, feedback_subscription_claims, feedback_subscriptions, reports
from signalement.work.port import JobQueue, JobRequest, Payload, TaskContext, TaskSpec, last_line

UNSUBSCRIBE_TASK = "feedback_unsubscribe"
ONE_CLICK = "List-Unsubscribe=One-Click"
SIGNED_FIELDS = frozenset({"list-unsubscribe", "list-unsubscribe-post"})
TIMEOUT_SECONDS = 10.0
QUEUED, DONE, FAILED = "queued", "done", "failed"
_AUTHENTICATED = (ComplaintState.QUEUED, ComplaintState.DELIVERED)

log = logging.getLogger(__name__)


class RetryLaterError(Exception):
    """A failure worth another attempt; the message is what `unsubscribe_error` may hold (no URL)."""


def unsubscribe_job(complaint_id: int) -> JobRequest:
    return JobRequest(UNSUBSCRIBE_TASK, {"complaint_id": complaint_id}, key=f"{UNSUBSCRIBE_TASK}:{complaint_id}")


def one_click_target(facts: Mapping[str, Any], own_domains: Sequence[str]) -> str | None:
    """The https URI to POST to, when the message asks for one-click unsubscribe and one passing signature of one
    of `own_domains` (or a name under one) covers both List-Unsubscribe fields; else None."""
    sender = facts.get("sender")
    if not isinstance(sender, dict) or sender.get("unsubscribe_post") != ONE_CLICK:
        return None
    uris = sender.get("unsubscribe_http")
    https = [u for u in uris if isinstance(u, str) and u[:8].lower() == "https://"] if isinstance(uris, list) else []
    if not https:
        return None
    for domain, covered in passing_signatures(facts):
        if covered >= SIGNED_FIELDS and any(is_subdomain(domain, own) for own in own_domains):
            return https[0]  # RFC 8058: the first https URI is the one the POST goes to
    return None


def queue_unsubscribes(
    conn: Connection,
    queue: JobQueue,
    report_id: int,
    facts: Mapping[str, Any],
    own_domains: Mapping[int, Sequence[str]],
) -> None:
    """Queue the one-click unsubscribe of the report's authenticated complaints whose subscription opted in, in the
    caller's transaction (the match job's, once the complaints are inserted). Idempotent."""
    trap = conn.execute(select(reports.c.trap).where(reports.c.id == report_id)).scalar()
    if trap is None or trap:
        return
    rows = conn.execute(
        select(complaints.c.id, complaints.c.subscription_id)
        .join(feedback_subscriptions, feedback_subscriptions.c.id == complaints.c.subscription_id)
        .where(
            complaints.c.report_id == report_id,
            complaints.c.authenticated.is_(True),
            complaints.c.state.in_(_AUTHENTICATED),
            complaints.c.unsubscribe_state.is_(None),
            feedback_subscriptions.c.unsubscribe.is_(True),
        )
        .order_by(complaints.c.id)
    ).all()
    chosen = [r.id for r in rows if one_click_target(facts, own_domains.get(r.subscription_id, ())) is not None]
    if not chosen:
        return
    conn.execute(
        update(complaints)
        .where(complaints.c.id.in_(chosen), complaints.c.unsubscribe_state.is_(None))
        .values(unsubscribe_state=QUEUED)
    )
    queue.enqueue_many(conn, [unsubscribe_job(i) for i in chosen])


def unsubscribe(ctx: TaskContext, payload: Payload) -> None:
    complaint_id = int(payload["complaint_id"])
    with ctx.engine.connect() as conn:
        row = conn.execute(
            select(complaints.c.subscription_id, complaints.c.authenticated, complaints.c.unsubscribe_state,
                   reports.c.facts, reports.c.kind, reports.c.sha256, reports.c.trap,
                   feedback_subscriptions.c.unsubscribe)
            .join(reports, reports.c.id == complaints.c.report_id)
            .join(feedback_subscriptions, feedback_subscriptions.c.id == complaints.c.subscription_id)
            .where(complaints.c.id == complaint_id)
        ).first()  # fmt: skip
        if row is None or row.unsubscribe_state != QUEUED:
            return
        domains = _own_domains(conn, row.subscription_id)
    state, error = _attempt(ctx, row, domains)
    if state == DONE:
        log.info("complaint %s: reporter unsubscribed", complaint_id)
    else:
        log.info("complaint %s: one-click unsubscribe failed: %s", complaint_id, error)
    with ctx.engine.begin() as conn:
        _mark(conn, complaint_id, state, error)


def _attempt(ctx: TaskContext, row: Any, domains: list[str]) -> tuple[str, str | None]:
    """(done or failed, why) as checked again now; RetryLaterError when another attempt may do better."""
    if not row.unsubscribe:
        return FAILED, "the member withdrew its opt-in"
    target = one_click_target(row.facts or {}, domains) if row.authenticated and not row.trap else None
    if target is None:
        return FAILED, "no longer signed by the member's domains"
    message = reported_message(row.kind, ctx.blobs.get(row.sha256))
    if message is None or not _single_fields(message):
        return FAILED, "not exactly one of each List-Unsubscribe field: which one was signed is unsure"
    try:
        checked = outbound.check(target, ctx.settings, schemes=("https",))
    except outbound.UnresolvedError as refusal:
        raise RetryLaterError(str(refusal)) from None
    except outbound.RefusedError as refusal:
        return FAILED, f"refused: {refusal}"
    status = _post(ctx, checked)
    if 200 <= status < 300:
        return DONE, None
    if 300 <= status < 400:
        return FAILED, f"HTTP {status}: redirect not followed"
    if status >= 500:
        raise RetryLaterError(f"HTTP {status} from {checked.host}")
    return FAILED, f"HTTP {status}"


def _post(ctx: TaskContext, target: outbound.Target) -> int:
    """The response's status; any failure to get one is worth a retry (its type and the host only: an httpx
    message may quote the URL)."""
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    try:
        with outbound.client(ctx.settings, TIMEOUT_SECONDS) as http:
            return outbound.post(http, target, ONE_CLICK.encode("ascii"), headers).status_code
    except Exception as error:  # reduced to what may be stored, then retried
        raise RetryLaterError(f"{type(error).__name__} from {target.host}") from None


def _single_fields(raw: bytes) -> bool:
    """Exactly one of each field: with two, the facts read the first and a signature may cover the other one."""
    head = BytesHeaderParser().parsebytes(header_block(raw))
    return all(len(head.get_all(name) or []) == 1 for name in SIGNED_FIELDS)


def _own_domains(conn: Connection, subscription_id: int) -> list[str]:
    """The subscription's verified domain claims, as they stand now."""
    query = (
        select(claims.c.value)
        .join(feedback_subscription_claims, feedback_subscription_claims.c.claim_id == claims.c.id)
        .where(
            feedback_subscription_claims.c.subscription_id == subscription_id,
            claims.c.kind == ClaimKind.DOMAIN,
            claims.c.state == ClaimState.VERIFIED,
        )
    )
    return list(conn.execute(query).scalars())


def _mark(conn: Connection, complaint_id: int, state: str, error: str | None) -> None:
    values: dict[str, Any] = {"unsubscribe_state": state, "unsubscribe_error": error}
    if state == DONE:
        values["unsubscribed_at"] = utcnow()
    conn.execute(
        update(complaints)
        .where(complaints.c.id == complaint_id, complaints.c.unsubscribe_state == QUEUED)
        .values(**values)
    )


def mark_failed(ctx: TaskContext, conn: Connection, payload: Payload, error: str) -> None:
    """The attempts are spent: RetryLaterError's message (which holds no URL), or only the type of anything else."""
    last = last_line(error, limit=len(error)) or "failed"
    kind, _, message = last.partition(": ")
    reason = (
        message if kind == f"{RetryLaterError.__module__}.{RetryLaterError.__qualname__}" else kind.rpartition(".")[2]
    )
    _mark(conn, int(payload["complaint_id"]), FAILED, reason[:500])


UNSUBSCRIBE = TaskSpec(UNSUBSCRIBE_TASK, unsubscribe, on_dead=mark_failed)
