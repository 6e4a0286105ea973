"""Whether a URL is still served: what one check means (gone, live, unknown), how consecutive gone checks make a
run, and when a run moves a URL down or back. No network: the only checks made here are refused before any
connection, and DNS is stubbed."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from signalement import outbound
from signalement.domain.url_reputation import Level, UrlState
from signalement.feeds import liveness
from signalement.feeds.liveness import Failure, Outcome, Run, Seen, after, classify, failure_of, next_state
from signalement.settings import Settings

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize("status", [404, 410])
def test_not_found_and_gone_are_gone(status: int) -> None:
    assert classify(Seen(status=status)) is Outcome.GONE


@pytest.mark.parametrize("level", [Level.HOST, Level.DOMAIN])
def test_a_whole_host_or_domain_listed_is_gone_only_with_its_host(level: Level) -> None:
    assert classify(Seen(status=404), level) is Outcome.UNKNOWN  # another path may serve the next kit
    assert classify(Seen(status=404), Level.PREFIX) is classify(Seen(status=410), Level.URL) is Outcome.GONE
    assert classify(Seen(failure=Failure.NO_SUCH_HOST), level) is Outcome.GONE
    assert classify(Seen(failure=Failure.PRIVATE), level) is Outcome.GONE
    assert classify(Seen(status=200), level) is Outcome.LIVE


@pytest.mark.parametrize("status", [200, 204, 301, 302, 307, 308, 400, 401, 403, 405, 418, 429, 451])
def test_any_other_answer_under_500_is_live(status: int) -> None:
    assert classify(Seen(status=status)) is Outcome.LIVE  # a redirect too: it is not followed, the URL answers


@pytest.mark.parametrize("status", [500, 502, 503, 504, 599, 600, 199])
def test_server_errors_and_odd_statuses_are_unknown(status: int) -> None:
    assert classify(Seen(status=status)) is Outcome.UNKNOWN


def test_a_host_that_does_not_exist_or_only_points_at_private_addresses_is_gone() -> None:
    assert classify(Seen(failure=Failure.NO_SUCH_HOST)) is Outcome.GONE
    assert classify(Seen(failure=Failure.PRIVATE)) is Outcome.GONE


@pytest.mark.parametrize(
    "failure", [Failure.DNS, Failure.REFUSED, Failure.TIMEOUT, Failure.CONNECTION, Failure.ERROR, None]
)
def test_no_answer_is_unknown(failure: Failure | None) -> None:
    assert classify(Seen(failure=failure)) is Outcome.UNKNOWN


def test_what_an_exception_stands_for() -> None:
    assert failure_of(httpx.ConnectTimeout("slow")) is Failure.TIMEOUT
    assert failure_of(httpx.ReadTimeout("slow")) is Failure.TIMEOUT
    assert failure_of(httpx.ConnectError("refused, or a TLS error")) is Failure.CONNECTION
    assert failure_of(ConnectionResetError()) is Failure.CONNECTION
    assert failure_of(httpx.RemoteProtocolError("garbage")) is Failure.ERROR
    assert failure_of(httpx.ReadError("reset while reading")) is Failure.ERROR


def test_what_a_check_says_in_a_reason() -> None:
    assert str(Seen(status=404)) == "HTTP 404"
    assert str(Seen(failure=Failure.NO_SUCH_HOST)) == "no such host"


def test_gone_checks_make_a_run_live_ends_it_unknown_leaves_it() -> None:
    first = after(Run(), Outcome.GONE, NOW, None)
    assert first == Run(NOW, 1)
    second = after(first, Outcome.GONE, NOW + timedelta(hours=6), None)
    assert second == Run(NOW, 2)
    assert after(second, Outcome.UNKNOWN, NOW + timedelta(hours=12), None) == second
    assert after(second, Outcome.LIVE, NOW + timedelta(hours=12), None) == Run()


def test_a_run_from_before_the_latest_confirmation_starts_again() -> None:
    stale = Run(NOW - timedelta(days=30), 2)  # then cleared, later confirmed again: not consecutive checks
    assert after(stale, Outcome.GONE, NOW, NOW - timedelta(days=1)) == Run(NOW, 1)
    assert after(stale, Outcome.GONE, NOW, NOW - timedelta(days=40)) == Run(stale.since, 3)


def test_down_after_three_gone_checks_over_a_day() -> None:
    state = UrlState.CONFIRMED
    spanning = Run(NOW - timedelta(hours=24), 3)
    assert next_state(state, Outcome.GONE, spanning, NOW, down_by_checker=False) is UrlState.DOWN
    quick = Run(NOW - timedelta(hours=23, minutes=59), 5)  # many checks, less than a day
    assert next_state(state, Outcome.GONE, quick, NOW, down_by_checker=False) is state
    few = Run(NOW - timedelta(days=3), 2)  # a long time, two checks only
    assert next_state(state, Outcome.GONE, few, NOW, down_by_checker=False) is state
    assert next_state(state, Outcome.UNKNOWN, spanning, NOW, down_by_checker=False) is state


def test_back_up_only_when_the_checker_put_it_down() -> None:
    down = UrlState.DOWN
    assert next_state(down, Outcome.LIVE, Run(), NOW, down_by_checker=True) is UrlState.CONFIRMED
    assert next_state(down, Outcome.LIVE, Run(), NOW, down_by_checker=False) is down  # an analyst's: it stays
    assert next_state(down, Outcome.UNKNOWN, Run(), NOW, down_by_checker=True) is down
    assert next_state(down, Outcome.GONE, Run(NOW - timedelta(days=9), 30), NOW, down_by_checker=True) is down


@pytest.mark.parametrize("state", [UrlState.SUSPECTED, UrlState.CLEARED])
def test_never_moves_suspected_or_cleared(state: UrlState) -> None:
    spanning = Run(NOW - timedelta(days=2), 9)
    for outcome in Outcome:
        assert next_state(state, outcome, spanning, NOW, down_by_checker=True) is state


@pytest.fixture
def production(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Settings:
    monkeypatch.chdir(tmp_path)  # no signalement.toml of the working copy
    return Settings(data_dir=tmp_path)  # outbound_private false: loopback and private addresses refused


def _never(request: httpx.Request) -> httpx.Response:
    raise AssertionError(f"no request expected, got one to {request.url.host}")


def test_a_host_moved_to_loopback_is_gone_without_a_request(production: Settings) -> None:
    with httpx.Client(transport=httpx.MockTransport(_never)) as http:
        seen = liveness.observe(http, "http://127.0.0.1:9/kit/login.php", production)
    assert seen == Seen(failure=Failure.PRIVATE) and classify(seen) is Outcome.GONE


def test_a_private_address_beside_a_public_one_is_unknown(
    production: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(outbound, "resolve", lambda host, port: ("192.0.2.80", "8.8.8.8", "10.0.0.1"))
    with httpx.Client(transport=httpx.MockTransport(_never)) as http:
        seen = liveness.observe(http, "https://kit.example/login", production)
    assert seen == Seen(failure=Failure.REFUSED) and classify(seen) is Outcome.UNKNOWN


@pytest.mark.parametrize(
    ("errno", "failure"),
    [(socket.EAI_NONAME, Failure.NO_SUCH_HOST), (socket.EAI_AGAIN, Failure.DNS), (socket.EAI_FAIL, Failure.DNS)],
)
def test_only_a_dns_answer_that_the_host_does_not_exist_makes_it_gone(
    production: Settings, monkeypatch: pytest.MonkeyPatch, errno: int, failure: Failure
) -> None:
    def getaddrinfo(*args: object, **kwargs: object) -> list[object]:
        raise socket.gaierror(errno, "stubbed")

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    with httpx.Client(transport=httpx.MockTransport(_never)) as http:
        assert liveness.observe(http, "https://kit.example/login", production) == Seen(failure=failure)
