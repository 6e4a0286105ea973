"""The guard for URLs a sender or a member chose: only the allowed schemes, no address of the platform's own
network (unless allowed, for tests), and a client that follows no redirect."""

from __future__ import annotations

from pathlib import Path

import pytest

from signalement import outbound
from signalement.settings import Settings


@pytest.fixture
def settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Settings:
    monkeypatch.chdir(tmp_path)  # no signalement.toml of the working copy
    return Settings(data_dir=tmp_path)


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "[::1]",
        "localhost",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",  # a cloud's metadata service
        "[fe80::1]",
        "224.0.0.1",
        "[ff02::1]",
        "0.0.0.0",
        "[::]",
        "240.0.0.1",  # reserved
        "100.64.0.1",  # carrier-grade NAT: not private, not global either
        "[::ffff:127.0.0.1]",  # IPv4-mapped loopback
        "[fc00::1]",
    ],
)
def test_private_and_reserved_addresses_are_refused_unless_allowed(settings: Settings, host: str) -> None:
    with pytest.raises(outbound.RefusedError) as refused:
        outbound.check(f"https://{host}/u/secret-token", settings)
    assert "secret-token" not in str(refused.value)
    allowed = settings.model_copy(update={"outbound_private": True})
    target = outbound.check(f"https://{host}/u/secret-token", allowed)
    assert target.addresses and target.url.path == "/u/secret-token"


def test_a_public_address_passes(settings: Settings) -> None:
    target = outbound.check("https://8.8.8.8:8443/u?x=1", settings)  # an IP literal: no DNS lookup
    assert target.host == "8.8.8.8" and target.addresses == ("8.8.8.8",)


@pytest.mark.parametrize(
    "url", ["http://8.8.8.8/u", "ftp://8.8.8.8/u", "javascript:alert(1)", "mailto:u@example.com", "//8.8.8.8/u"]
)
def test_only_the_schemes_the_caller_allows(settings: Settings, url: str) -> None:
    with pytest.raises(outbound.RefusedError):
        outbound.check(url, settings, schemes=("https",))


def test_http_may_be_allowed_by_the_caller(settings: Settings) -> None:
    assert outbound.check("http://8.8.8.8/hook", settings, schemes=("https", "http")).host == "8.8.8.8"


def test_garbage_is_refused(settings: Settings) -> None:
    for url in ("https://", "https:///path", "https://exa mple.com/", "https://a..b/", "https://-a.b/", "x" * 3000):
        with pytest.raises(outbound.RefusedError):
            outbound.check(url, settings)


def test_the_client_follows_no_redirect_and_says_who_calls(settings: Settings, tmp_path: Path) -> None:
    with outbound.client(settings, 5.0) as http:
        assert http.follow_redirects is False
        assert http.headers["User-Agent"].startswith("signalement/")
        assert http.timeout.connect == 5.0
