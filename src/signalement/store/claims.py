"""Claims in the database: made pending with a random token, then verified (by their owner's proof or a staff
decision), rejected or revoked. Only `verified()` is what the rest of the platform may act on."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Select, select, update

from signalement.domain import claims as domain
from signalement.domain.claims import ClaimKind, ClaimRef, ClaimState, Proof
from signalement.domain.members import OrgKind
from signalement.mail.domains import normalize_host
from signalement.store import versions
from signalement.store.sql import utcnow
from signalement.store.tables import claims, organizations

NETWORKS = (ClaimKind.IP_RANGE, ClaimKind.RELAY_NETWORK)  # one family: a relay network overlaps an IP range
LIVE = (ClaimState.PENDING, ClaimState.VERIFIED)


class ClaimNotAllowedError(ValueError):
    """This organization may not make this claim (its kind, or it already holds the same one)."""


class ClaimStateError(ValueError):
    """The claim is not in a state this act applies to."""


@dataclass(frozen=True)
class Claim:
    id: int
    organization_id: int
    kind: ClaimKind
    value: str
    state: ClaimState
    token: str
    proof: Proof | None
    statement: str | None
    evidence: dict[str, Any] | None
    created_by: int | None
    created_at: datetime
    decided_by: int | None
    decided_at: datetime | None
    reason: str | None

    @property
    def ref(self) -> ClaimRef:
        return ClaimRef(self.id, self.organization_id, self.kind, self.value, self.state)


def _claim(row: Any) -> Claim:
    return Claim(
        id=row.id,
        organization_id=row.organization_id,
        kind=ClaimKind(row.kind),
        value=row.value,
        state=ClaimState(row.state),
        token=row.token,
        proof=Proof(row.proof) if row.proof else None,
        statement=row.statement,
        evidence=row.evidence,
        created_by=row.created_by,
        created_at=row.created_at,
        decided_by=row.decided_by,
        decided_at=row.decided_at,
        reason=row.reason,
    )


def organization_kind(conn: Connection, organization_id: int) -> OrgKind | None:
    kind = conn.execute(select(organizations.c.kind).where(organizations.c.id == organization_id)).scalar()
    return OrgKind(kind) if kind is not None else None


def create(
    conn: Connection,
    organization_id: int,
    kind: ClaimKind,
    value: str,
    *,
    created_by: int | None,
    statement: str | None = None,
    evidence: dict[str, Any] | None = None,
) -> Claim:
    """A pending claim of a normalized value (InvalidClaimError if it cannot be claimed; ClaimNotAllowedError if
    this organization may not claim it). The organization must exist."""
    value = domain.normalize(kind, value)
    if (
        kind in domain.MAILBOX_PROVIDER_ONLY
        and organization_kind(conn, organization_id) is not OrgKind.MAILBOX_PROVIDER
    ):
        raise ClaimNotAllowedError(f"only a mailbox provider claims a {kind}")
    held = conn.execute(
        select(claims.c.id).where(
            claims.c.organization_id == organization_id,
            claims.c.kind == kind,
            claims.c.value == value,
            claims.c.state.in_(LIVE),
        )
    ).first()
    if held is not None:
        raise ClaimNotAllowedError(f"this organization already claims it (claim {held.id})")
    claim_id = conn.execute(
        claims.insert()
        .values(
            organization_id=organization_id,
            kind=kind,
            value=value,
            state=ClaimState.PENDING,
            token=secrets.token_urlsafe(24),  # what the TXT record holds: unguessable, so only the owner publishes it
            statement=statement,
            evidence=evidence,
            created_by=created_by,
            created_at=utcnow(),
        )
        .returning(claims.c.id)
    ).scalar_one()
    found = get(conn, int(claim_id))
    assert found is not None
    return found


def get(conn: Connection, claim_id: int, *, for_update: bool = False) -> Claim | None:
    query = select(claims).where(claims.c.id == claim_id)
    row = conn.execute(query.with_for_update() if for_update else query).first()
    return _claim(row) if row is not None else None


def of_organization(conn: Connection, organization_id: int) -> list[Claim]:
    query = select(claims).where(claims.c.organization_id == organization_id).order_by(claims.c.id)
    return [_claim(r) for r in conn.execute(query)]


def listing(
    conn: Connection,
    *,
    state: ClaimState | None = None,
    kind: ClaimKind | None = None,
    after: int | None = None,
    limit: int = 500,
) -> list[Claim]:
    """The staff's queue: claims of every organization, oldest first (the first waiting is the first decided);
    keyset pages from after the claim `after`."""
    query = select(claims).order_by(claims.c.id).limit(limit)
    if after is not None:
        query = query.where(claims.c.id > after)
    if state is not None:
        query = query.where(claims.c.state == state)
    if kind is not None:
        query = query.where(claims.c.kind == kind)
    return [_claim(r) for r in conn.execute(query)]


def _decide(conn: Connection, claim: Claim, state: ClaimState, **values: Any) -> Claim:
    """Move a claim on from where it was read, unless someone else moved it first (then ClaimStateError)."""
    result = conn.execute(
        update(claims)
        .where(claims.c.id == claim.id, claims.c.state == claim.state)
        .values(state=state, decided_at=utcnow(), **values)
    )
    if result.rowcount != 1:
        raise ClaimStateError("the claim changed meanwhile")
    versions.bump(conn)
    found = get(conn, claim.id)
    assert found is not None
    return found


def _pending(claim: Claim) -> None:
    if claim.state is not ClaimState.PENDING:
        raise ClaimStateError(f"the claim is {claim.state}, not pending")


def mark_verified(conn: Connection, claim: Claim, proof: Proof, *, by: int | None) -> Claim:
    """Verified by its owner's proof (a TXT record, the postmaster's link)."""
    _pending(claim)
    if proof not in domain.proofs(claim.kind):
        raise ClaimStateError(f"a {claim.kind} is not proven by {proof}")
    return _decide(conn, claim, ClaimState.VERIFIED, proof=proof, decided_by=by)


def approve(conn: Connection, claim: Claim, *, by: int, reason: str | None = None) -> Claim:
    _staff_decision(claim)
    return _decide(conn, claim, ClaimState.VERIFIED, proof=Proof.STAFF_APPROVAL, decided_by=by, reason=reason)


def reject(conn: Connection, claim: Claim, *, by: int, reason: str) -> Claim:
    _staff_decision(claim)
    return _decide(conn, claim, ClaimState.REJECTED, decided_by=by, reason=reason)


def _staff_decision(claim: Claim) -> None:
    if Proof.STAFF_APPROVAL not in domain.proofs(claim.kind):
        raise ClaimStateError(f"a {claim.kind} is proven by its owner, not approved by staff")
    _pending(claim)


def revoke(conn: Connection, claim: Claim, *, by: int, reason: str) -> Claim:
    """Withdrawn at once: `verified()` stops returning it in the next transaction."""
    if claim.state not in LIVE:
        raise ClaimStateError(f"the claim is already {claim.state}")
    return _decide(conn, claim, ClaimState.REVOKED, decided_by=by, reason=reason)


def set_evidence(conn: Connection, claim_id: int, evidence: dict[str, Any]) -> None:
    conn.execute(update(claims).where(claims.c.id == claim_id).values(evidence=evidence))


def conflicts(conn: Connection, claim: Claim) -> list[Claim]:
    """Live claims of other organizations that overlap this one (domain.claims.conflicts), by id."""
    query = _candidates(claim).where(
        claims.c.organization_id != claim.organization_id, claims.c.state.in_(LIVE), claims.c.id != claim.id
    )
    candidates = {r.id: _claim(r) for r in conn.execute(query)}
    found = domain.conflicts(claim.ref, [c.ref for c in candidates.values()])
    return sorted((candidates[ref.id] for ref in found), key=lambda c: c.id)


def _candidates(claim: Claim) -> Select[Any]:
    """The claims that may overlap: the same kind family, narrowed in SQL where that is exact."""
    if claim.kind in NETWORKS:
        return select(claims).where(claims.c.kind.in_(NETWORKS))  # compared in Python: thousands at most
    query = select(claims).where(claims.c.kind == claim.kind)
    if claim.kind is not ClaimKind.DOMAIN:
        return query.where(claims.c.value == claim.value)
    # A domain overlaps its parents and the names under it.
    below = claims.c.value.endswith("." + claim.value, autoescape=True)
    return query.where(claims.c.value.in_(_parents(claim.value)) | below)


def _parents(name: str) -> list[str]:
    labels = normalize_host(name).split(".")
    return [".".join(labels[i:]) for i in range(len(labels))]


@dataclass(frozen=True)
class VerifiedClaim:
    id: int
    organization_id: int
    kind: ClaimKind
    value: str


def verified(conn: Connection, kinds: Iterable[ClaimKind], organization_id: int | None = None) -> list[VerifiedClaim]:
    """The live verified claims of these kinds (of one organization, when given): not revoked, and of an
    organization that is not disabled. Read it in each transaction that acts on it (no cache), so a revocation
    counts from the next request on."""
    query = (
        select(claims.c.id, claims.c.organization_id, claims.c.kind, claims.c.value)
        .join(organizations, organizations.c.id == claims.c.organization_id)
        .where(
            claims.c.state == ClaimState.VERIFIED,
            claims.c.kind.in_(list(kinds)),
            organizations.c.disabled_at.is_(None),
        )
        .order_by(claims.c.id)
    )
    if organization_id is not None:
        query = query.where(claims.c.organization_id == organization_id)
    return [VerifiedClaim(r.id, r.organization_id, ClaimKind(r.kind), r.value) for r in conn.execute(query)]


def organization_names(conn: Connection, ids: Iterable[int]) -> dict[int, str]:
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    rows = conn.execute(select(organizations.c.id, organizations.c.name).where(organizations.c.id.in_(wanted)))
    return {r.id: r.name for r in rows}
