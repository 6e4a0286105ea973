"""Grants move only as their decisions allow; webhook signatures verify within their replay window only."""

from __future__ import annotations

import pytest

from signalement.domain.feedback import GrantState, decide, webhook_signature, webhook_verified

SECRET = b"member-webhook-secret"
BODY = b'{"complaint": 1}'


@pytest.mark.parametrize(
    ("current", "decision", "after"),
    [
        (GrantState.PENDING, "approve", GrantState.APPROVED),
        (GrantState.PENDING, "refuse", GrantState.REFUSED),
        (GrantState.APPROVED, "suspend", GrantState.SUSPENDED),
        (GrantState.SUSPENDED, "resume", GrantState.APPROVED),
        (GrantState.REFUSED, "approve", GrantState.APPROVED),  # a provider may change its mind
        (GrantState.APPROVED, "refuse", GrantState.REFUSED),
    ],
)
def test_decisions(current: GrantState, decision: str, after: GrantState) -> None:
    assert decide(current, decision) is after


@pytest.mark.parametrize(
    ("current", "decision"),
    [(GrantState.PENDING, "suspend"), (GrantState.PENDING, "resume"), (GrantState.APPROVED, "approve")],
)
def test_decisions_that_do_not_apply(current: GrantState, decision: str) -> None:
    with pytest.raises(ValueError, match=f"cannot {decision}"):
        decide(current, decision)


def test_a_webhook_signature_verifies_within_five_minutes_only() -> None:
    header = webhook_signature(SECRET, 1_800_000_000, BODY)
    assert header.startswith("t=1800000000,v1=") and len(header.split("v1=")[1]) == 64
    assert webhook_verified(SECRET, header, BODY, now=1_800_000_000 + 300)
    assert not webhook_verified(SECRET, header, BODY, now=1_800_000_000 + 301)  # replayed later
    assert not webhook_verified(SECRET, header, BODY + b" ", now=1_800_000_000)  # another body
    assert not webhook_verified(b"another secret", header, BODY, now=1_800_000_000)
    assert not webhook_verified(SECRET, "v1=" + header.split("v1=")[1], BODY, now=1_800_000_000)  # no time
