"""Feedback loops for the tests: a member organization with a verified domain claim and a loop on it, approved by
the sources named (the association by default)."""

from __future__ import annotations

from collections.abc import Sequence

from signalement.domain.claims import ClaimKind, Proof
from signalement.domain.feedback import ASSOCIATION, Content, Delivery, Format
from signalement.domain.members import OrgKind
from signalement.platform import Platform
from signalement.store import claims, feedback, organizations


def approved_loop(
    platform: Platform,
    domain: str,
    *,
    staff: int,
    name: str = "Sender",
    delivery: Delivery = Delivery.PULL,
    address: str | None = None,
    webhook_url: str | None = None,
    feedback_format: Format = Format.ARF,
    unsubscribe: bool = False,
    sources: Sequence[str] = (ASSOCIATION,),
) -> int:
    """The loop's id; `staff` (a staff abuse manager's user id) asks and decides."""
    with platform.engine.begin() as conn:
        organization_id = organizations.create(conn, name, OrgKind.SENDER)
        claim = claims.create(conn, organization_id, ClaimKind.DOMAIN, domain, created_by=None)
        claims.mark_verified(conn, claim, Proof.DNS_TXT, by=None)
        subscription_id = feedback.create(
            conn,
            organization_id,
            name="loop",
            claim_ids=[claim.id],
            delivery=delivery,
            address=address,
            webhook_url=webhook_url,
            feedback_format=feedback_format,
            content=Content.FULL,
            recipient_headers=(),
            unsubscribe=unsubscribe,
            created_by=staff,
        )
        for source in sources:
            feedback.decide_grant(conn, subscription_id, source, "approve", by=staff, reason=None)
    return subscription_id
