"""Cases: a member asks the association to intervene about one of its customers (issue 10, docs/cases.md).

A case moves open -> in_progress -> waiting_member -> in_progress ... -> closed. Staff (analysts, abuse managers,
admins) take it, ask the member, close it with a resolution, and alone reopen a closed one. The member's admins
and abuse managers open it and may withdraw it (close it) at any time; their answer to a question
(waiting_member) puts it back in progress. Every member of the organization and staff comment.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from signalement.domain.accounts import Role
from signalement.domain.stats import Dimension

MAX_TEXT = 10_000  # characters of a statement, a comment or a resolution
WITHDRAWN = "withdrawn by the member"

# A customer is one of these keys of the member's statistics: the others (all, category, campaign, source) are
# not someone a router can be asked about.
CUSTOMER_DIMENSIONS = frozenset(
    {Dimension.IP, Dimension.NETWORK, Dimension.DKIM, Dimension.SENDER_DOMAIN, Dimension.FEEDBACK_ID, Dimension.LIST_ID}
)

# The member roles that open a case and may withdraw it; a member analyst reads and comments.
OPENERS = frozenset({Role.MEMBER_ADMIN, Role.MEMBER_ABUSE_MANAGER})


class CaseState(StrEnum):
    OPEN = "open"
    IN_PROGRESS = "in_progress"
    WAITING_MEMBER = "waiting_member"
    CLOSED = "closed"


class EventKind(StrEnum):
    COMMENT = "comment"
    STATE = "state"
    ASSIGN = "assign"


_S = CaseState
STAFF_MOVES: Mapping[CaseState, frozenset[CaseState]] = {
    _S.OPEN: frozenset({_S.IN_PROGRESS, _S.CLOSED}),
    _S.IN_PROGRESS: frozenset({_S.WAITING_MEMBER, _S.CLOSED}),
    _S.WAITING_MEMBER: frozenset({_S.IN_PROGRESS, _S.CLOSED}),
    _S.CLOSED: frozenset({_S.IN_PROGRESS}),  # reopened: staff take it up again
}
MEMBER_MOVES: Mapping[CaseState, frozenset[CaseState]] = {
    _S.OPEN: frozenset({_S.CLOSED}),
    _S.IN_PROGRESS: frozenset({_S.CLOSED}),
    _S.WAITING_MEMBER: frozenset({_S.IN_PROGRESS, _S.CLOSED}),  # answered, or withdrawn
    _S.CLOSED: frozenset(),
}


class CaseError(Exception):
    """A refused act; the API answers it with `status` and `code`."""

    status = 409
    code = "case_state"


class CaseStateError(CaseError):
    """The case is not in a state this applies to (no role may make this move)."""


class CaseForbiddenError(CaseError):
    """The move exists, but not for this role (e.g. a member reopening a closed case)."""

    status = 403
    code = "forbidden"


class CaseInputError(CaseError):
    """A resolution missing where one is needed, or given where none belongs."""

    status = 422
    code = "invalid_resolution"


@dataclass(frozen=True)
class Move:
    before: CaseState
    after: CaseState
    resolution: str | None  # when closed: the staff's resolution, or the member's withdrawal
    withdrawn: bool = False


def may_open(role: Role) -> bool:
    return role in OPENERS


def may_assign(role: Role) -> bool:
    return role.is_staff


def may_comment(state: CaseState, role: Role) -> None:
    """Members comment until the case is closed; staff may still add a note after it."""
    if not (role.is_staff or role.is_member):
        raise CaseForbiddenError("only the organization's members and staff comment on a case")
    if state is CaseState.CLOSED and not role.is_staff:
        raise CaseStateError("the case is closed: ask the association to reopen it")


def after_comment(state: CaseState, role: Role) -> CaseState | None:
    """A member's comment on a case waiting for it is its answer: the case goes back in progress."""
    if state is CaseState.WAITING_MEMBER and role.is_member:
        return CaseState.IN_PROGRESS
    return None


def move(before: CaseState, after: CaseState, role: Role, resolution: str | None = None) -> Move:
    """The move `role` asks for, checked: CaseForbiddenError when the role may never make it, CaseStateError when
    nobody may from this state, CaseInputError for a resolution missing (staff closing) or misplaced."""
    if not (role.is_staff or role in OPENERS):
        raise CaseForbiddenError("your role may not move a case: comment instead")
    allowed = (STAFF_MOVES if role.is_staff else MEMBER_MOVES)[before]
    if after not in allowed:
        if after in STAFF_MOVES[before]:
            raise CaseForbiddenError(f"only the association's staff move a {before} case to {after}")
        raise CaseStateError(f"a {before} case cannot become {after}")
    text = (resolution or "").strip() or None
    if after is not CaseState.CLOSED:
        if text is not None:
            raise CaseInputError("a resolution is given only when closing a case")
        return Move(before, after, None)
    if role.is_staff:
        if text is None:
            raise CaseInputError("closing a case needs a resolution: what was done, or why nothing was")
        return Move(before, after, text)
    return Move(before, after, f"{WITHDRAWN}: {text}" if text else WITHDRAWN, withdrawn=True)


def moves_for(state: CaseState, role: Role) -> frozenset[CaseState]:
    """What this role may move a case in `state` to (shown to clients, so that they offer only these)."""
    if role.is_staff:
        return STAFF_MOVES[state]
    return MEMBER_MOVES[state] if role in OPENERS else frozenset()
