"""The case state machine: every move from every state, for every role, allowed or refused with the right error."""

from __future__ import annotations

import itertools

import pytest

from signalement.domain.accounts import Role
from signalement.domain.cases import (
    WITHDRAWN,
    CaseForbiddenError,
    CaseInputError,
    CaseState,
    CaseStateError,
    after_comment,
    may_assign,
    may_comment,
    may_open,
    move,
    moves_for,
)

OPEN, TAKEN, ASKED, CLOSED = CaseState.OPEN, CaseState.IN_PROGRESS, CaseState.WAITING_MEMBER, CaseState.CLOSED
STAFF = (Role.ANALYST, Role.ABUSE_MANAGER, Role.ADMIN)
OPENERS = (Role.MEMBER_ADMIN, Role.MEMBER_ABUSE_MANAGER)
READERS = (Role.MEMBER_ANALYST, Role.REPORTER)  # a member analyst comments only; a reporter has no case at all

# Written out by hand, not read from the module: the rules as docs/cases.md states them.
STAFF_ALLOWED = {
    (OPEN, TAKEN), (OPEN, CLOSED), (TAKEN, ASKED), (TAKEN, CLOSED), (ASKED, TAKEN), (ASKED, CLOSED), (CLOSED, TAKEN),
}  # fmt: skip
MEMBER_ALLOWED = {(OPEN, CLOSED), (TAKEN, CLOSED), (ASKED, TAKEN), (ASKED, CLOSED)}
ALL_MOVES = list(itertools.product(CaseState, CaseState))


def _resolution(role: Role, after: CaseState) -> str | None:
    return "customer suspended" if after is CLOSED and role.is_staff else None


@pytest.mark.parametrize("role", STAFF)
@pytest.mark.parametrize(("before", "after"), ALL_MOVES)
def test_staff_moves(role: Role, before: CaseState, after: CaseState) -> None:
    if (before, after) in STAFF_ALLOWED:
        made = move(before, after, role, _resolution(role, after))
        assert (made.before, made.after, made.withdrawn) == (before, after, False)
        assert made.resolution == ("customer suspended" if after is CLOSED else None)
    else:
        with pytest.raises(CaseStateError):
            move(before, after, role, _resolution(role, after))


@pytest.mark.parametrize("role", OPENERS)
@pytest.mark.parametrize(("before", "after"), ALL_MOVES)
def test_member_moves(role: Role, before: CaseState, after: CaseState) -> None:
    if (before, after) in MEMBER_ALLOWED:
        made = move(before, after, role)
        assert (made.before, made.after) == (before, after)
        assert made.withdrawn is (after is CLOSED)
    elif (before, after) in STAFF_ALLOWED:  # the move exists, for staff only (taking it, asking, reopening)
        with pytest.raises(CaseForbiddenError):
            move(before, after, role)
    else:
        with pytest.raises(CaseStateError):
            move(before, after, role)


@pytest.mark.parametrize("role", READERS)
@pytest.mark.parametrize(("before", "after"), ALL_MOVES)
def test_readers_move_nothing(role: Role, before: CaseState, after: CaseState) -> None:
    with pytest.raises(CaseForbiddenError):
        move(before, after, role)
    assert moves_for(before, role) == frozenset()


@pytest.mark.parametrize("state", CaseState)
def test_moves_for_lists_exactly_the_allowed_moves(state: CaseState) -> None:
    for role in STAFF:
        assert moves_for(state, role) == {b for a, b in STAFF_ALLOWED if a is state}
    for role in OPENERS:
        assert moves_for(state, role) == {b for a, b in MEMBER_ALLOWED if a is state}


@pytest.mark.parametrize("role", STAFF)
@pytest.mark.parametrize("before", [OPEN, TAKEN, ASKED])
def test_staff_close_with_a_resolution(role: Role, before: CaseState) -> None:
    for missing in (None, "", "   "):
        with pytest.raises(CaseInputError):
            move(before, CLOSED, role, missing)
    assert move(before, CLOSED, role, "  the customer was suspended  ").resolution == "the customer was suspended"


@pytest.mark.parametrize("role", [*STAFF, *OPENERS])
def test_a_resolution_goes_only_with_closing(role: Role) -> None:
    with pytest.raises(CaseInputError):
        move(ASKED, TAKEN, role, "done")


@pytest.mark.parametrize("role", OPENERS)
def test_a_member_withdraws_with_or_without_a_reason(role: Role) -> None:
    assert move(OPEN, CLOSED, role).resolution == WITHDRAWN
    assert move(TAKEN, CLOSED, role, "solved on our side").resolution == f"{WITHDRAWN}: solved on our side"


def test_who_opens_assigns_and_comments() -> None:
    assert [r for r in Role if may_open(r)] == list(OPENERS)
    assert [r for r in Role if may_assign(r)] == list(STAFF)
    for state in CaseState:
        for role in (*STAFF, *OPENERS, Role.MEMBER_ANALYST):
            if state is CLOSED and not role.is_staff:
                with pytest.raises(CaseStateError):
                    may_comment(state, role)
            else:
                may_comment(state, role)  # a note after the end, by staff
        with pytest.raises(CaseForbiddenError):
            may_comment(state, Role.REPORTER)


def test_a_members_comment_answers_a_question() -> None:
    for role in (*OPENERS, Role.MEMBER_ANALYST):
        assert after_comment(ASKED, role) is TAKEN
        assert all(after_comment(s, role) is None for s in (OPEN, TAKEN, CLOSED))
    assert all(after_comment(s, r) is None for s in CaseState for r in STAFF)
