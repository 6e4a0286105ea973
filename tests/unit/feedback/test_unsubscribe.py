"""Which reported messages get a one-click unsubscribe (RFC 8058) for a member: both List-Unsubscribe fields under
one passing signature of the member's own domains, an https URI, and the exact one-click Post value."""

from __future__ import annotations

from typing import Any

import pytest

from signalement.feedback.unsubscribe import UNSUBSCRIBE_TASK, one_click_target, unsubscribe_job

URI = "https://news.example.com/u/opaque-token"
BOTH = ["from", "subject", "list-unsubscribe", "list-unsubscribe-post"]


def _facts(
    *,
    http: list[str] | None = None,
    post: str | None = "List-Unsubscribe=One-Click",
    dkim: list[dict[str, Any]] | None = None,
    verified: list[Any] | None = None,
    signatures: list[dict[str, Any]] | None = None,
    trusted: bool = True,
) -> dict[str, Any]:
    return {
        "sender": {
            "unsubscribe_http": [URI] if http is None else http,
            "unsubscribe_mailto": ["mailto:u@news.example.com"],
            "unsubscribe_post": post,
        },
        "authentication": {
            "trusted_by": "registry:gmail" if trusted else None,
            "dkim": [{"result": "pass", "domain": "mail.news.example.com", "headers": BOTH}] if dkim is None else dkim,
            "signatures": signatures or [],
            **({"verified_dkim": verified} if verified is not None else {}),
        },
    }


def test_covered_by_a_members_passing_signature_gives_the_uri() -> None:
    assert one_click_target(_facts(), ["example.com"]) == URI  # d= under the claimed domain
    assert one_click_target(_facts(), ["mail.news.example.com"]) == URI


def test_the_first_https_uri_is_the_target() -> None:
    facts = _facts(http=["http://news.example.com/plain", URI, "https://news.example.com/second"])
    assert one_click_target(facts, ["example.com"]) == URI


def test_a_signature_the_platform_verified_counts_too() -> None:
    verified = [{"domain": "news.example.com", "selector": "s1", "headers": BOTH}]
    assert one_click_target(_facts(dkim=[], trusted=False, verified=verified), ["example.com"]) == URI
    # only the d= known: the fields every signature of that d= covers
    signatures = [{"domain": "news.example.com", "selector": "s1", "headers": BOTH}]
    facts = _facts(dkim=[], trusted=False, verified=["news.example.com"], signatures=signatures)
    assert one_click_target(facts, ["example.com"]) == URI


@pytest.mark.parametrize(
    "dkim",
    [
        [{"result": "pass", "domain": "news.example.com", "headers": ["from", "list-unsubscribe"]}],
        [{"result": "pass", "domain": "news.example.com", "headers": ["from", "list-unsubscribe-post"]}],
        # each field under a different signature: not ONE signature covering both
        [
            {"result": "pass", "domain": "news.example.com", "headers": ["list-unsubscribe"]},
            {"result": "pass", "domain": "news.example.com", "headers": ["list-unsubscribe-post"]},
        ],
        [{"result": "pass", "domain": "esp.example.net", "headers": BOTH}],  # someone else's signature
        [{"result": "pass", "domain": "notexample.com", "headers": BOTH}],  # a suffix, not a name under it
        [{"result": "fail", "domain": "news.example.com", "headers": BOTH}],
        [{"result": "neutral", "domain": "news.example.com", "headers": BOTH}],
    ],
)
def test_not_signed_as_needed_gives_nothing(dkim: list[dict[str, Any]]) -> None:
    assert one_click_target(_facts(dkim=dkim), ["example.com"]) is None


def test_untrusted_results_are_no_passing_signature() -> None:
    assert one_click_target(_facts(trusted=False), ["example.com"]) is None


@pytest.mark.parametrize(
    ("http", "post"),
    [
        (["http://news.example.com/u/opaque-token"], "List-Unsubscribe=One-Click"),  # not https
        ([], "List-Unsubscribe=One-Click"),  # a mailto only
        ([URI], None),  # no List-Unsubscribe-Post
        ([URI], "List-Unsubscribe=Yes"),
        ([URI], "List-Unsubscribe=One-Click&extra=1"),
        ([URI], "list-unsubscribe=one-click-please"),
    ],
)
def test_no_one_click_request_gives_nothing(http: list[str], post: str | None) -> None:
    assert one_click_target(_facts(http=http, post=post), ["example.com"]) is None


def test_malformed_facts_give_nothing() -> None:
    assert one_click_target({}, ["example.com"]) is None
    assert one_click_target({"sender": None, "authentication": []}, ["example.com"]) is None
    assert one_click_target({"sender": {"unsubscribe_http": "https://x", "unsubscribe_post": 1}}, ["x"]) is None
    assert one_click_target(_facts(), []) is None


def test_one_job_per_complaint() -> None:
    job = unsubscribe_job(7)
    assert job.task == UNSUBSCRIBE_TASK and job.payload == {"complaint_id": 7} and job.key == unsubscribe_job(7).key
    assert unsubscribe_job(8).key != job.key
