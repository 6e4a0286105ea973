"""/api/signaler as the Signal Spam add-ons and scripts speak it: Basic credentials, CORS from extension origins,
a form whose `message` is the base64 of the raw message."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import quote

import httpx
import pytest
import requests
from benchmarks.mailgen import messages
from fastapi.testclient import TestClient
from sqlalchemy import update

from signalement.domain.accounts import Role
from signalement.platform import Platform
from signalement.settings import Settings
from signalement.store import tables
from signalement.store.accounts import Principal, hash_password
from signalement.store.credentials import BasicCache
from signalement.web.auth import Authenticator
from tests.conftest import Users
from tests.integration.web.helpers import (
    app_client,
    assert_problem,
    assert_unauthorized,
    basic,
    bearer,
    custom_platform,
    email_of,
    sha256,
)

PASSWORD = "tr0ub4dor&3"
URL = "http://testserver/api/signaler"
EXTENSION_ORIGINS = (
    "moz-extension://0b7c6f3e-9d2a-4c51-8f0e-3a1d2c4b5e6f",
    "chrome-extension://abcdefghijklmnopabcdefghijklmnop",
    "safari-web-extension://8C5D7E2A-1B3F-4A6C-9D8E-7F6A5B4C3D2E",
)
FOREIGN_ORIGINS = ("https://evil.example", "null", "http://moz-extension.evil.example", "https://signal-spam.fr")


@dataclass
class Account:
    user_id: int
    email: str
    password: str
    token: str


@pytest.fixture
def account(users: Users, platform: Platform) -> Account:
    user_id, token = users.create(Role.REPORTER, password=PASSWORD)
    return Account(user_id, email_of(platform, user_id), PASSWORD, token)


def raw_message(seed: int = 11) -> bytes:
    """A realistic message whose base64 has many '+' and '/': 8-bit text and every byte value in the body."""
    raw = next(messages(1, seed=seed)) + "Ça coûte 10 € — répondez vite !\r\n".encode() * 8 + bytes(range(256)) * 3
    encoded = base64.b64encode(raw)
    assert encoded.count(b"+") >= 5
    assert encoded.count(b"/") >= 5
    return raw


def script_request(email: str, password: str, raw: bytes) -> requests.PreparedRequest:
    """What the Signal Spam Python script sends: requests.post(url, auth=(user, pw), data={...})."""
    data = {"dossier": 0, "message": base64.b64encode(raw)}
    return requests.Request("POST", URL, auth=(email, password), data=data).prepare()


def post_prepared(client: TestClient, prepared: requests.PreparedRequest) -> httpx.Response:
    body = prepared.body.encode() if isinstance(prepared.body, str) else prepared.body
    response: httpx.Response = client.post("/api/signaler", content=body, headers=dict(prepared.headers))
    return response


def assert_stored(client: TestClient, platform: Platform, response_json: dict[str, object], raw: bytes) -> None:
    assert response_json["sha256"] == sha256(raw)
    assert platform.blobs.get(sha256(raw)) == raw


# -- "test my account": OPTIONS with Basic credentials --------------------------------------------------------


def test_options_with_email_and_password(client: TestClient, account: Account) -> None:
    response = client.options("/api/signaler", headers=basic(account.email, account.password))
    assert response.status_code == 200, response.text
    assert response.json() == {"ok": True, "email": account.email, "role": "reporter"}
    # E-mail addresses are compared without case, as people type them.
    assert client.options("/api/signaler", headers=basic(account.email.upper(), account.password)).status_code == 200


def test_options_with_wrong_credentials(client: TestClient, account: Account, users: Users, platform: Platform) -> None:
    token_only_id, _ = users.create(Role.REPORTER)  # a user without a password
    for user, password in (
        (account.email, "wrong password"),
        (account.email, ""),
        (account.email, account.password.upper()),
        ("nobody@example.org", account.password),
        ("", account.password),
        ("", ""),
    ):
        assert_unauthorized(client.options("/api/signaler", headers=basic(user, password)))
    # A user that only has tokens cannot log in with any password, not even the empty one.
    no_password = email_of(platform, token_only_id)
    assert_unauthorized(client.options("/api/signaler", headers=basic(no_password, "")))
    assert_unauthorized(client.options("/api/signaler", headers=basic(no_password, "anything")))


def test_options_without_credentials(client: TestClient) -> None:
    assert_unauthorized(client.options("/api/signaler"))


@pytest.mark.parametrize("user", ["", "token", "whoever@example.org"])
def test_options_with_a_token_as_the_basic_password(client: TestClient, account: Account, user: str) -> None:
    response = client.options("/api/signaler", headers=basic(user, account.token))
    assert response.status_code == 200, response.text
    assert response.json()["email"] == account.email
    assert_unauthorized(client.options("/api/signaler", headers=basic(user, account.token[:-2])))


def test_a_non_ascii_password_sent_as_utf_8(client: TestClient, users: Users, platform: Platform) -> None:
    user_id, _ = users.create(Role.REPORTER, password="mot de passe très sûr")
    email = email_of(platform, user_id)
    assert client.options("/api/signaler", headers=basic(email, "mot de passe très sûr")).status_code == 200


def test_a_non_ascii_password_sent_by_the_python_script(client: TestClient, users: Users, platform: Platform) -> None:
    user_id, _ = users.create(Role.REPORTER, password="mot de passe très sûr")
    email = email_of(platform, user_id)
    prepared = script_request(email, "mot de passe très sûr", raw_message())
    assert post_prepared(client, prepared).status_code == 202


# -- CORS ------------------------------------------------------------------------------------------------------


def _allowed_headers(value: str) -> set[str]:
    return {h.strip().lower() for h in value.split(",")}


@pytest.mark.parametrize("origin", EXTENSION_ORIGINS)
def test_cors_preflight_from_an_extension(client: TestClient, origin: str) -> None:
    preflight = {
        "Origin": origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type",
    }
    response = client.options("/api/signaler", headers=preflight)
    assert 200 <= response.status_code < 300, response.text
    assert response.headers["access-control-allow-origin"] == origin
    assert {"authorization", "content-type"} <= _allowed_headers(response.headers["access-control-allow-headers"])
    assert "POST" in response.headers["access-control-allow-methods"]
    assert "origin" in response.headers["vary"].lower()


@pytest.mark.parametrize("origin", EXTENSION_ORIGINS)
def test_cors_headers_on_credentialed_answers_and_errors(client: TestClient, account: Account, origin: str) -> None:
    check = client.options("/api/signaler", headers={"Origin": origin} | basic(account.email, account.password))
    posted = client.post(
        "/api/signaler",
        data={"dossier": "0", "message": base64.b64encode(raw_message()).decode()},
        headers={"Origin": origin} | bearer(account.token),
    )
    unauthorized = client.post("/api/signaler", data={"message": "QUJD"}, headers={"Origin": origin})
    missing = client.post("/api/signaler", data={"dossier": "1"}, headers={"Origin": origin} | bearer(account.token))
    assert (check.status_code, posted.status_code) == (200, 202)
    assert_unauthorized(unauthorized)
    assert_problem(missing, 422, "missing_message")
    for response in (check, posted, unauthorized, missing):  # the add-on must be able to read errors too
        assert response.headers["access-control-allow-origin"] == origin


@pytest.mark.parametrize("origin", FOREIGN_ORIGINS)
def test_other_origins_get_no_cors_headers(client: TestClient, account: Account, origin: str) -> None:
    preflight = client.options("/api/signaler", headers={"Origin": origin, "Access-Control-Request-Method": "POST"})
    check = client.options("/api/signaler", headers={"Origin": origin} | basic(account.email, account.password))
    posted = client.post(
        "/api/signaler",
        data={"message": base64.b64encode(raw_message()).decode()},
        headers={"Origin": origin} | bearer(account.token),
    )
    for response in (preflight, check, posted):
        assert not any(name.lower().startswith("access-control-") for name in response.headers), response.headers


# -- POST, as the script and the add-ons send it ------------------------------------------------------------------


def test_post_as_the_python_script_does(client: TestClient, platform: Platform, account: Account) -> None:
    raw = raw_message()
    prepared = script_request(account.email, account.password, raw)
    body = prepared.body
    assert isinstance(body, str)
    assert body.startswith("dossier=0&message=")
    assert "%2B" in body  # requests percent-encodes '+' (and '/' and '=') ...
    assert "+" not in body  # ... so no '+' is left to read as a space

    first = post_prepared(client, prepared)
    assert first.status_code == 202, first.text
    assert_stored(client, platform, first.json(), raw)
    again = post_prepared(client, script_request(account.email, account.password, raw))
    assert again.status_code == 200, again.text
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["created"] is False

    report = client.get(f"/api/v1/reports/{first.json()['id']}", headers=bearer(account.token)).json()
    assert (report["channel"], report["kind"], report["client"]) == ("signal_spam", "message", "signal-spam dossier=0")
    assert report["size"] == len(raw)


def test_post_with_the_plus_signs_left_unescaped(client: TestClient, platform: Platform, account: Account) -> None:
    raw = raw_message(seed=12)
    encoded = base64.b64encode(raw).decode()
    body = f"dossier=0&message={encoded}"  # as a hand-written client sends it: '+' would read as a space
    assert "+" in body
    headers = basic(account.email, account.password) | {"Content-Type": "application/x-www-form-urlencoded"}
    first = client.post("/api/signaler", content=body.encode(), headers=headers)
    assert first.status_code == 202, first.text
    assert_stored(client, platform, first.json(), raw)
    # The same bytes sent the proper way are the same report.
    again = post_prepared(client, script_request(account.email, account.password, raw))
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]


def test_post_with_base64_in_mime_lines(client: TestClient, platform: Platform, account: Account) -> None:
    """base64.encodebytes wraps every 76 characters, as some scripts send it."""
    raw = raw_message(seed=13)
    body = "dossier=2&message=" + quote(base64.encodebytes(raw).decode(), safe="")
    headers = bearer(account.token) | {"Content-Type": "application/x-www-form-urlencoded"}
    response = client.post("/api/signaler", content=body.encode(), headers=headers)
    assert response.status_code == 202, response.text
    assert_stored(client, platform, response.json(), raw)


def test_post_multipart(client: TestClient, platform: Platform, account: Account) -> None:
    raw, other = raw_message(seed=14), raw_message(seed=15)
    as_field = client.post(
        "/api/signaler",
        files={"dossier": (None, "3"), "message": (None, base64.b64encode(raw))},
        headers=basic(account.email, account.password),
    )
    as_file = client.post(
        "/api/signaler",
        files={"dossier": (None, "4"), "message": ("message.b64", base64.b64encode(other), "text/plain")},
        headers=basic(account.email, account.password),
    )
    assert (as_field.status_code, as_file.status_code) == (202, 202), (as_field.text, as_file.text)
    assert_stored(client, platform, as_field.json(), raw)
    assert_stored(client, platform, as_file.json(), other)
    report = client.get(f"/api/v1/reports/{as_file.json()['id']}", headers=bearer(account.token)).json()
    assert report["client"] == "signal-spam dossier=4"


def test_post_multipart_of_a_larger_message(client: TestClient, platform: Platform, account: Account) -> None:
    raw = next(m for m in messages(100, seed=1) if 60_000 < len(m) < 200_000)
    response = client.post(
        "/api/signaler",
        files={"dossier": (None, "0"), "message": (None, base64.b64encode(raw))},
        headers=bearer(account.token),
    )
    assert response.status_code == 202, response.text
    assert_stored(client, platform, response.json(), raw)


def test_post_errors(client: TestClient, account: Account) -> None:
    auth = bearer(account.token)
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    assert_problem(client.post("/api/signaler", data={"dossier": "0"}, headers=auth), 422, "missing_message")
    assert_problem(client.post("/api/signaler", data={"message": ""}, headers=auth), 422, "missing_message")
    sentence = base64.b64encode(b"Bonjour, ceci est un spam.").decode()
    assert_problem(client.post("/api/signaler", data={"message": sentence}, headers=auth), 422, "not_a_message")
    assert_problem(client.post("/api/signaler", content="message=é".encode(), headers=auth | form), 400)
    text = {"Content-Type": "text/plain"}
    assert_problem(client.post("/api/signaler", content=b"message=QUJD", headers=auth | text), 415)
    assert_problem(client.post("/api/signaler", json={"message": "QUJD"}, headers=auth), 415)
    encoded = base64.b64encode(raw_message()).decode()
    assert_unauthorized(client.post("/api/signaler", data={"message": encoded}))
    wrong = basic(account.email, "wrong")
    assert_unauthorized(client.post("/api/signaler", data={"message": encoded}, headers=wrong))


# -- the Basic check is cached -------------------------------------------------------------------------------------


def _cache(client: TestClient) -> BasicCache:
    authenticator: Authenticator = client.app.state.authenticator  # type: ignore[attr-defined]
    return authenticator.basic_cache


def test_basic_check_is_cached(client: TestClient, account: Account) -> None:
    cache = _cache(client)
    key = BasicCache.key(account.email, account.password)
    assert cache.get(key) is None
    assert account.password.encode() not in key  # keyed by a hash, never the password

    assert client.options("/api/signaler", headers=basic(account.email, account.password)).status_code == 200
    cached = cache.get(key)
    assert isinstance(cached, Principal)
    assert (cached.user_id, cached.email) == (account.user_id, account.email)

    # The second request is answered from the cache: a new password check would have put a new Principal.
    raw = raw_message()
    posted = client.post(
        "/api/signaler",
        data={"dossier": "0", "message": base64.b64encode(raw).decode()},
        headers=basic(account.email, account.password),
    )
    assert posted.status_code == 202
    assert cache.get(key) is cached

    # Failures are not cached; tokens sent as the Basic password are checked every time, never cached.
    assert_unauthorized(client.options("/api/signaler", headers=basic(account.email, "wrong")))
    assert cache.get(BasicCache.key(account.email, "wrong")) is None
    assert client.options("/api/signaler", headers=basic(account.email, account.token)).status_code == 200
    assert cache.get(BasicCache.key(account.email, account.token)) is None


def test_a_new_password_works_at_once(client: TestClient, platform: Platform, account: Account) -> None:
    assert client.options("/api/signaler", headers=basic(account.email, account.password)).status_code == 200
    with platform.engine.begin() as conn:
        conn.execute(
            update(tables.users)
            .where(tables.users.c.id == account.user_id)
            .values(password_hash=hash_password("a brand new one"))
        )
    assert client.options("/api/signaler", headers=basic(account.email, "a brand new one")).status_code == 200
    assert _cache(client).get(BasicCache.key(account.email, "a brand new one")) is not None


@pytest.fixture
def uncached_client(settings: Settings) -> Iterator[tuple[TestClient, Platform]]:
    with custom_platform(settings, basic_auth_cache_seconds=0) as platform, app_client(platform) as client:
        yield client, platform


def test_without_the_cache_every_check_is_fresh(uncached_client: tuple[TestClient, Platform]) -> None:
    client, platform = uncached_client
    user_id, _ = Users(platform).create(Role.REPORTER, password=PASSWORD)
    email = email_of(platform, user_id)
    assert client.options("/api/signaler", headers=basic(email, PASSWORD)).status_code == 200
    assert _cache(client).get(BasicCache.key(email, PASSWORD)) is None
    with platform.engine.begin() as conn:
        conn.execute(update(tables.users).where(tables.users.c.id == user_id).values(disabled=True))
    assert_unauthorized(client.options("/api/signaler", headers=basic(email, PASSWORD)))


def test_a_refused_post_from_an_extension_still_carries_cors_headers(client: TestClient) -> None:
    origin = "moz-extension://0d6b1d3c-signal-spam"
    response = client.post(
        "/api/signaler",
        data={"dossier": "0", "message": "QUJD"},
        headers={"Origin": origin, "Authorization": "Basic " + base64.b64encode(b"nobody@example.org:x").decode()},
    )
    assert response.status_code == 401
    assert response.headers["access-control-allow-origin"] == origin
