"""The conversation with the short number: the sender and the text in either order, nothing left waiting forever."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from signalement.domain.sms_conversation import WINDOW, Pending, Reply, SmsToReport, as_sender, expired, step

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
SPAM = "Votre colis est bloqué, réglez 1,99 EUR : https://colis-suivi.example/p"


@pytest.mark.parametrize(
    ("message", "sender"),
    [
        ("+33 6 12 34 56 78", "+33612345678"),
        ("06.12.34.56.78", "0612345678"),
        ("38000", "38000"),
        (" LaPoste ", "LaPoste"),
        ("AMELI-INFO", "AMELI-INFO"),
        ("12", None),  # too short for a number
        ("Bonjour, voici le SMS", None),  # a text
        ("TwelveLetter", None),  # longer than a GSM sender id
        (SPAM, None),
    ],
)
def test_what_names_a_sender(message: str, sender: str | None) -> None:
    assert as_sender(message) == sender


def test_the_sender_then_the_text() -> None:
    first = step(None, "+33 6 12 34 56 78", T0)
    assert (first.reply, first.reports) == (Reply.ASK_TEXT, [])
    second = step(first.pending, SPAM, T0 + timedelta(minutes=2))
    assert second.reply is Reply.THANKS and second.pending is None
    assert second.reports == [SmsToReport("+33612345678", SPAM, T0 + timedelta(minutes=2))]


def test_the_text_then_the_sender_keeps_the_time_the_text_came() -> None:
    first = step(None, SPAM, T0)
    assert first.reply is Reply.ASK_SENDER and first.reports == []
    second = step(first.pending, "LaPoste", T0 + timedelta(minutes=5))
    assert second.reports == [SmsToReport("LaPoste", SPAM, T0)] and second.pending is None


def test_a_second_text_reports_the_first_without_a_sender() -> None:
    first = step(None, SPAM, T0)
    second = step(first.pending, "Un autre SMS reçu ce matin", T0 + timedelta(minutes=1))
    assert second.reply is Reply.ASK_SENDER
    assert second.reports == [SmsToReport("", SPAM, T0)]
    assert second.pending is not None and second.pending.text == "Un autre SMS reçu ce matin"


def test_a_new_sender_replaces_a_waiting_one() -> None:
    first = step(None, "38000", T0)
    second = step(first.pending, "LaPoste", T0 + timedelta(minutes=1))
    assert second.reports == [] and second.pending == Pending(T0 + timedelta(minutes=1), sender="LaPoste")


def test_an_hour_later_a_conversation_starts_over_and_its_text_is_reported() -> None:
    waiting = step(None, SPAM, T0).pending
    assert waiting is not None
    assert expired(waiting, T0 + WINDOW - timedelta(seconds=1)) == []
    assert expired(waiting, T0 + WINDOW) == [SmsToReport("", SPAM, T0)]
    later = step(waiting, "38000", T0 + WINDOW)
    assert later.reports == [SmsToReport("", SPAM, T0)] and later.reply is Reply.ASK_TEXT
    stale_sender = step(None, "38000", T0).pending
    assert step(stale_sender, SPAM, T0 + WINDOW).reply is Reply.ASK_SENDER  # that sender was for another SMS
