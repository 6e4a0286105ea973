"""The whole understanding of a message: every stage runs, hostile input is analysed as far as it can be, defects
are listed, and nothing ever raises."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from benchmarks.mailgen import messages
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from signalement.mail.understanding import understand

FIXTURES = Path(__file__).parents[2] / "fixtures" / "mail"
REAL = sorted(FIXTURES.glob("*.eml")) if FIXTURES.is_dir() else []
SEEDS = [p.read_bytes() for p in REAL] or list(messages(20, seed=3))
KEYS = {"origin", "sender", "authentication", "urls", "phones", "attachments", "fingerprint", "content", "defects"}


def _no_stage_failed(defects: list[str]) -> None:
    assert not [d for d in defects if d.startswith(("StageError", "TimeBudgetExceeded"))], defects


@pytest.mark.parametrize("path", REAL, ids=lambda p: p.name)
def test_real_messages_are_understood(path: Path) -> None:
    result = understand(path.read_bytes()).as_json()
    assert set(result) >= KEYS
    _no_stage_failed(result["defects"])


def test_generated_phishing_has_its_links_and_sender() -> None:
    result = understand(next(messages(1, seed=5))).as_json()
    assert result["urls"]
    assert result["sender"]["from_domain"]
    assert result["fingerprint"]["bands"]
    _no_stage_failed(result["defects"])


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        ("empty", b""),
        ("binary", bytes(range(256)) * 40),
        ("no-received", b"From: a@example.com\nSubject: hi\n\nhttp://example.com/x\n"),
        ("huge-header-block", b"From: a@example.com\n" + b"X-Junk: " + b"a" * 200_000 + b"\n\nbody\n"),
        (
            "many-received",
            b"".join(
                b"Received: from h%d ([192.0.2.%d]) by h%d; Fri, 27 Nov 2026 05:00:00 +0000\n" % (i, i % 250, i + 1)
                for i in range(5000)
            )
            + b"From: a@example.com\n\nx\n",
        ),
        (
            "nested",
            b"From: a@example.com\n"
            + b"".join(b"Content-Type: multipart/mixed; boundary=b%d\n\n--b%d\n" % (i, i) for i in range(3000))
            + b"\nx\n",
        ),
        (
            "bad-base64",
            b"From: a@example.com\nContent-Type: application/pdf\nContent-Transfer-Encoding: base64\n\n!!!%%%===\n",
        ),
        ("bad-charset-header", b"From: =?x-unknown?B?////?= <a@example.com>\nSubject: =?utf-7?Q?+AGE-?=\n\nx\n"),
        ("8bit-headers", b"From: \xff\xfe <a@\xe9xample.com>\nSubject: \xc3\x28\n\n\xff body\n"),
        ("many-urls", b"From: a@example.com\n\n" + b" ".join(b"http://h%d.example.com/" % i for i in range(20_000))),
    ],
)
def test_hostile_messages_are_analysed_without_raising(name: str, raw: bytes) -> None:
    result = understand(raw).as_json()
    assert set(result) >= KEYS
    _no_stage_failed(result["defects"])


def test_a_spent_budget_skips_the_remaining_stages_and_says_which() -> None:
    result = understand(next(messages(1)), budget_seconds=0.0).as_json()
    assert "TimeBudgetExceeded:urls" in result["defects"]
    assert result["urls"] == []


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=4000))
def test_arbitrary_bytes_never_raise(raw: bytes) -> None:
    _no_stage_failed(understand(raw).as_json()["defects"])


def _mutate(raw: bytes, rng: random.Random) -> bytes:
    data = bytearray(raw)
    for _ in range(rng.randint(1, 20)):
        op = rng.randrange(4)
        at = rng.randrange(len(data) + 1)
        if op == 0:
            data[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 30)))
        elif op == 1:
            del data[at : at + rng.randint(1, 200)]
        elif op == 2:
            data[at:at] = rng.choice(
                [
                    b"\n--",
                    b"\r\n\r\n",
                    b"=?utf-8?b?",
                    b"<a href=",
                    b"Content-Type: multipart/mixed; boundary=",
                    b"http://",
                ]
            )
        else:
            data[at:] = data[at : at + rng.randint(0, 500)]
    return bytes(data)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(min_value=0, max_value=2**32))
def test_mutated_real_messages_never_raise(seed: int) -> None:
    rng = random.Random(seed)
    _no_stage_failed(understand(_mutate(rng.choice(SEEDS), rng)).as_json()["defects"])
