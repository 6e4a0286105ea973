"""What every HTTP way in shares: who submits, checking the bytes, and handing them to the intake."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from signalement.domain.accounts import Scope
from signalement.domain.reports import Channel, ReportedCategory, ReportKind
from signalement.ingest.group_commit import GroupCommitter
from signalement.ingest.intake import Accepted, Submission, Submitter
from signalement.ingest.ratelimit import RateLimiter
from signalement.mail.arf import read_feedback
from signalement.mail.facts import is_feedback_report, not_a_message_reason
from signalement.platform import Platform
from signalement.store.accounts import Principal
from signalement.web.auth import UNAUTHORIZED_HEADERS, require
from signalement.web.deps import client_address
from signalement.web.errors import ApiError


@dataclass(frozen=True)
class Ack:
    accepted: Accepted
    status_url: str | None

    def as_json(self) -> dict[str, object]:
        return {
            "id": self.accepted.report_id,
            "status": self.accepted.status,
            "created": self.accepted.created,
            "sha256": self.accepted.sha256,
            "status_url": self.status_url,
        }


def submitter_for(request: Request, platform: Platform, principal: Principal | None, limiter: RateLimiter) -> Submitter:
    if principal is not None:
        require(principal, Scope.REPORTS_WRITE)
        return Submitter.user(principal.user_id)
    if not platform.settings.anonymous_reports:
        raise ApiError(401, "unauthorized", "credentials are required", UNAUTHORIZED_HEADERS)
    address = client_address(request)
    if not limiter.allow(address):
        raise ApiError(
            429,
            "rate_limited",
            "too many anonymous reports from this address",
            {"Retry-After": str(limiter.retry_after())},
        )
    # A keyed hash: resubmissions from one address de-duplicate, and the address itself is not stored.
    digest = hmac.new(platform.secret, address.encode(), hashlib.sha256).hexdigest()
    return Submitter(f"anon:{digest[:32]}")


def parse_category(value: str | None) -> ReportedCategory | None:
    if value is None or value == "":
        return None
    try:
        return ReportedCategory(value.strip().lower())
    except ValueError:
        allowed = ", ".join(c.value for c in ReportedCategory)
        raise ApiError(422, "invalid_category", f"reported_category must be one of: {allowed}") from None


def message_submission(
    raw: bytes,
    limit: int,
    *,
    channel: Channel,
    category: ReportedCategory | None = None,
    comment: str | None = None,
    client: str | None = None,
) -> Submission:
    """Check the bytes are a plausible message within the limit; recognize ARF feedback reports."""
    if len(raw) > limit:
        raise ApiError(413, "too_large", f"the message is over the limit of {limit} bytes", limit=limit)
    reason = not_a_message_reason(raw)
    if reason is not None:
        raise ApiError(422, "not_a_message", reason)
    feedback = read_feedback(raw) if is_feedback_report(raw) else []
    return Submission(
        raw=raw,
        kind=ReportKind.ARF if feedback else ReportKind.MESSAGE,
        feedback=feedback[0].kind if feedback else None,
        channel=channel,
        reported_category=category,
        comment=clean_text(comment, 10_000),
        client=clean_text(client, 200),
    )


def clean_text(value: str | None, size: int) -> str | None:
    """A reporter's free text as stored: no NUL (PostgreSQL text cannot hold it), trimmed, bounded, None if empty."""
    if value is None:
        return None
    value = value.replace("\x00", "").strip()
    return value[:size] or None


def status_url(platform: Platform, submitter: Submitter, report_id: int) -> str | None:
    if submitter.user_id is None:
        return None  # an anonymous reporter has no identity to read it with
    return f"{platform.settings.base_url}/api/v1/reports/{report_id}"


async def accept(request: Request, submitter: Submitter, submission: Submission) -> Ack:
    """One report, committed with whatever other single reports arrive meanwhile (group commit)."""
    committer: GroupCommitter = request.app.state.group_committer
    accepted = await committer.submit(submitter, submission)
    return Ack(accepted, status_url(request.app.state.platform, submitter, accepted.report_id))


async def accept_many(platform: Platform, submitter: Submitter, submissions: list[Submission]) -> list[Ack]:
    accepted = await run_in_threadpool(platform.intake.accept_many, submitter, submissions)
    return [Ack(a, status_url(platform, submitter, a.report_id)) for a in accepted]
