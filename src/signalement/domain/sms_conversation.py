"""Reporting an SMS by SMS, as France's 33700 short number does it: the reporter sends the sender's number and
the spam's text as two messages, in either order, and is answered at each step.

The order is free because people do both: the 33700 asks for the text first, then the number, while a phone's
"forward" puts the text first by habit, and some type the number before pasting. A message that is only a number,
a short code or an alphanumeric sender id is the sender; anything else is a text. A text never waits forever: a
second text, or an hour without a sender, reports it with its sender unknown (nothing is lost).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

WINDOW = timedelta(hours=1)

# A phone number or a short code (3 to 15 digits, as written: +33 6 12 34 56 78, 38000), or an alphanumeric sender
# id as the GSM allows (at most 11 characters) with at least one letter and no spaces.
_NUMBER = re.compile(r"\+?[0-9][0-9 .-]{1,20}[0-9]")
_SENDER_ID = re.compile(r"(?=.*[A-Za-z])[A-Za-z0-9][A-Za-z0-9._&-]{1,10}")


class Reply(StrEnum):
    """What the reporter is told next."""

    ASK_TEXT = "ask_text"  # got the sender: now the text
    ASK_SENDER = "ask_sender"  # got the text: now the sender
    THANKS = "thanks"  # reported


@dataclass(frozen=True)
class Pending:
    """Half a report: the sender or the text, waiting for the other."""

    started_at: datetime
    sender: str | None = None
    text: str | None = None
    text_received_at: datetime | None = None


@dataclass(frozen=True)
class SmsToReport:
    sender: str  # empty: unknown
    text: str
    received_at: datetime


@dataclass(frozen=True)
class Step:
    reply: Reply
    pending: Pending | None
    reports: list[SmsToReport] = field(default_factory=list)


def as_sender(message: str) -> str | None:
    """The sender a message names, when it is nothing else: digits only for a number, as sent for an id."""
    value = message.strip()
    if _NUMBER.fullmatch(value):
        digits = re.sub(r"[ .-]", "", value)
        return digits if 3 <= len(digits.lstrip("+")) <= 15 else None
    return value if _SENDER_ID.fullmatch(value) else None


def expired(pending: Pending, now: datetime) -> list[SmsToReport]:
    """What a conversation left without an answer still reports: its text, with the sender unknown."""
    if pending.text is None or now - pending.started_at < WINDOW:
        return []
    return [SmsToReport("", pending.text, pending.text_received_at or pending.started_at)]


def step(pending: Pending | None, message: str, now: datetime) -> Step:
    """The conversation after one more message from the reporter."""
    flushed: list[SmsToReport] = []
    if pending is not None and now - pending.started_at >= WINDOW:
        flushed, pending = expired(pending, now), None
    sender = as_sender(message)
    if sender is not None:
        if pending is not None and pending.text is not None:
            done = SmsToReport(sender, pending.text, pending.text_received_at or pending.started_at)
            return Step(Reply.THANKS, None, [*flushed, done])
        return Step(Reply.ASK_TEXT, Pending(now, sender=sender), flushed)
    if pending is not None and pending.sender is not None:
        return Step(Reply.THANKS, None, [*flushed, SmsToReport(pending.sender, message, now)])
    if pending is not None and pending.text is not None:  # a second text: the first goes with its sender unknown
        flushed.append(SmsToReport("", pending.text, pending.text_received_at or pending.started_at))
    return Step(Reply.ASK_SENDER, Pending(now, text=message, text_received_at=now), flushed)
