"""Feedback-loop subscriptions, the grants of each source of complaints, and the complaints themselves
(signalement.domain.feedback)."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, func, select, update

from signalement.domain.claims import ClaimState
from signalement.domain.derived_keys import derive
from signalement.domain.feedback import Content, Delivery, Format, GrantState, decide
from signalement.store import versions
from signalement.store.sql import utcnow
from signalement.store.tables import (
    claims,
    complaints,
    feedback_grants,
    feedback_subscription_claims,
    feedback_subscriptions,
    organizations,
)


class SubscriptionError(ValueError):
    """A subscription that cannot be made as asked (a claim not the member's, or not verified)."""


@dataclass(frozen=True)
class Subscription:
    id: int
    organization_id: int
    name: str
    delivery: Delivery
    address: str | None
    webhook_url: str | None
    format: Format
    content: Content
    recipient_headers: tuple[str, ...]
    unsubscribe: bool
    suspended: bool
    claim_ids: tuple[int, ...]
    grants: dict[str, GrantState]  # by source; a source with no row has not decided: pending
    created_at: datetime
    secret_nonce: str


def keys(server_secret: bytes, nonce: str) -> tuple[bytes, bytes]:
    """The subscription's webhook secret and its RFC 6590 redaction key: one per recipient, never stored."""
    return derive(server_secret, "webhook", nonce), derive(server_secret, "redaction", nonce)


def create(
    conn: Connection,
    organization_id: int,
    *,
    name: str,
    claim_ids: Sequence[int],
    delivery: Delivery,
    address: str | None,
    webhook_url: str | None,
    feedback_format: Format,
    content: Content,
    recipient_headers: Sequence[str],
    unsubscribe: bool,
    created_by: int,
) -> int:
    owned = conn.execute(
        select(claims.c.id).where(
            claims.c.id.in_(list(claim_ids)),
            claims.c.organization_id == organization_id,
            claims.c.state == ClaimState.VERIFIED,
        )
    ).scalars()
    missing = sorted(set(claim_ids) - set(owned))
    if missing:
        raise SubscriptionError(f"not verified claims of this organization: {missing}")
    row = {
        "organization_id": organization_id,
        "name": name,
        "delivery": delivery,
        "address": address,
        "webhook_url": webhook_url,
        "secret_nonce": secrets.token_hex(16),
        "format": feedback_format,
        "content": content,
        "recipient_headers": sorted({h.lower() for h in recipient_headers}),
        "unsubscribe": unsubscribe,
        "created_by": created_by,
        "created_at": utcnow(),
    }
    subscription_id = int(
        conn.execute(feedback_subscriptions.insert().returning(feedback_subscriptions.c.id), row).scalar_one()
    )
    conn.execute(
        feedback_subscription_claims.insert(),
        [{"subscription_id": subscription_id, "claim_id": claim_id} for claim_id in sorted(set(claim_ids))],
    )
    return subscription_id


def listed(
    conn: Connection, *, organization_id: int | None = None, subscription_id: int | None = None
) -> list[Subscription]:
    query = select(feedback_subscriptions).order_by(feedback_subscriptions.c.id)
    if organization_id is not None:
        query = query.where(feedback_subscriptions.c.organization_id == organization_id)
    if subscription_id is not None:
        query = query.where(feedback_subscriptions.c.id == subscription_id)
    rows = conn.execute(query).all()
    ids = [r.id for r in rows]
    claimed: dict[int, list[int]] = {i: [] for i in ids}
    granted: dict[int, dict[str, GrantState]] = {i: {} for i in ids}
    if ids:
        links = select(feedback_subscription_claims).where(feedback_subscription_claims.c.subscription_id.in_(ids))
        for link in conn.execute(links):
            claimed[link.subscription_id].append(link.claim_id)
        grants = select(feedback_grants).where(feedback_grants.c.subscription_id.in_(ids))
        for grant in conn.execute(grants):
            granted[grant.subscription_id][grant.source] = GrantState(grant.state)
    return [_subscription(r, claimed[r.id], granted[r.id]) for r in rows]


def get(conn: Connection, subscription_id: int) -> Subscription | None:
    found = listed(conn, subscription_id=subscription_id)
    return found[0] if found else None


def _subscription(row: Any, claim_ids: list[int], grants: dict[str, GrantState]) -> Subscription:
    return Subscription(
        row.id,
        row.organization_id,
        row.name,
        Delivery(row.delivery),
        row.address,
        row.webhook_url,
        Format(row.format),
        Content(row.content),
        tuple(row.recipient_headers),
        row.unsubscribe,
        row.suspended_at is not None,
        tuple(sorted(claim_ids)),
        grants,
        row.created_at,
        row.secret_nonce,
    )


def set_suspended(conn: Connection, subscription_id: int, suspended: bool) -> None:
    query = update(feedback_subscriptions).where(feedback_subscriptions.c.id == subscription_id)
    conn.execute(query.values(suspended_at=utcnow() if suspended else None))
    versions.bump(conn)


def decide_grant(
    conn: Connection, subscription_id: int, source: str, decision: str, *, by: int, reason: str | None
) -> GrantState:
    """Apply a source's decision (approve, refuse, suspend, resume); ValueError when it does not apply."""
    row = conn.execute(
        select(feedback_grants.c.id, feedback_grants.c.state)
        .where(feedback_grants.c.subscription_id == subscription_id, feedback_grants.c.source == source)
        .with_for_update()
    ).first()
    state = decide(GrantState(row.state) if row else GrantState.PENDING, decision)
    values = {"state": state, "reason": reason, "decided_by": by, "decided_at": utcnow()}
    if row is None:
        conn.execute(
            feedback_grants.insert().values(
                subscription_id=subscription_id, source=source, created_at=utcnow(), **values
            )
        )
    else:
        conn.execute(update(feedback_grants).where(feedback_grants.c.id == row.id).values(**values))
    versions.bump(conn)
    return state


@dataclass(frozen=True)
class Live:
    """A verified claim of an active subscription that a source approved: what a report of that source matches."""

    subscription_id: int
    claim_id: int
    kind: str
    value: str


def live_claims(conn: Connection, source: str) -> list[Live]:
    """The claims a report from this source may yield complaints for: verified (revocation counts at once), of an
    organization that is not disabled, in a subscription that is not suspended and that this source approved."""
    query = (
        select(feedback_subscriptions.c.id, claims.c.id.label("claim_id"), claims.c.kind, claims.c.value)
        .join(
            feedback_subscription_claims, feedback_subscription_claims.c.subscription_id == feedback_subscriptions.c.id
        )
        .join(claims, claims.c.id == feedback_subscription_claims.c.claim_id)
        .join(organizations, organizations.c.id == feedback_subscriptions.c.organization_id)
        .join(
            feedback_grants,
            and_(
                feedback_grants.c.subscription_id == feedback_subscriptions.c.id,
                feedback_grants.c.source == source,
                feedback_grants.c.state == GrantState.APPROVED,
            ),
        )
        .where(
            claims.c.state == ClaimState.VERIFIED,
            organizations.c.disabled_at.is_(None),
            feedback_subscriptions.c.suspended_at.is_(None),
        )
    )
    return [Live(r.id, r.claim_id, r.kind, r.value) for r in conn.execute(query)]


def complaint_counts(
    conn: Connection, subscription_ids: Sequence[int], by: Any = complaints.c.state
) -> dict[int, dict[str, int]]:
    """Complaints per state for each subscription: what was delivered, what waits, what died, what was unverified
    (or per another column of theirs: `complaints.c.unsubscribe_state`, the one-click unsubscribes)."""
    counts: dict[int, dict[str, int]] = {i: {} for i in subscription_ids}
    if subscription_ids:
        query = (
            select(complaints.c.subscription_id, by, func.count())
            .where(complaints.c.subscription_id.in_(list(subscription_ids)), by.is_not(None))
            .group_by(complaints.c.subscription_id, by)
        )
        for subscription_id, state, count in conn.execute(query):
            counts[subscription_id][state] = count
    return counts
