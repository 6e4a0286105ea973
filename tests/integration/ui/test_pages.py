"""The reporter's pages over real HTTP (the app on a real SQLite and PostgreSQL): signing in with the form's CSRF
value, reporting a message and an SMS, the timeline after the real analysis, the language, and what a reporter may
not see or do."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from signalement.domain.accounts import Role
from signalement.platform import Platform
from signalement.store.accounts import create_user
from signalement.ui.i18n import catalog
from signalement.verdict.rules import RULES
from signalement.web.app import create_app
from tests.conftest import run_jobs_until_idle
from tests.integration.smtp.conftest import phishing

PASSWORD = "correct horse battery staple"
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def person(platform: Platform, email: str) -> int:
    with platform.engine.begin() as conn:
        return create_user(conn, email, Role.REPORTER, password=PASSWORD)


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "no CSRF field in the page"
    return found.group(1)


def signed_in(platform: Platform, email: str) -> TestClient:
    client = TestClient(create_app(platform), client=("127.0.0.1", 50000), follow_redirects=False)
    form = client.get("/signin")
    reply = client.post("/signin", data={"email": email, "password": PASSWORD, "csrf": csrf_of(form.text)})
    assert reply.status_code == 303 and reply.headers["location"] == "/reports"
    cookie = reply.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie
    return client


def test_signing_in_needs_the_forms_token_and_the_right_password(platform: Platform) -> None:
    person(platform, "ana@example.org")
    client = TestClient(create_app(platform), client=("127.0.0.1", 50000), follow_redirects=False)
    assert client.get("/reports").headers["location"] == "/signin"
    token = csrf_of(client.get("/signin").text)
    refused = client.post("/signin", data={"email": "ana@example.org", "password": PASSWORD})
    assert refused.status_code == 403  # no CSRF value
    wrong = client.post("/signin", data={"email": "ana@example.org", "password": "nope", "csrf": token})
    assert wrong.status_code == 401 and "do not match" in wrong.text
    assert (
        client.post("/signin", data={"email": "ana@example.org", "password": PASSWORD, "csrf": token}).status_code
        == 303
    )
    assert client.get("/reports").status_code == 200


def test_a_reporter_reports_a_message_and_an_sms_and_sees_what_became_of_them(platform: Platform) -> None:
    person(platform, "ben@example.org")
    client = signed_in(platform, "ben@example.org")
    token = csrf_of(client.get("/report").text)
    sent = client.post("/report", data={"csrf": token}, files={"file": ("spam.eml", phishing(1), "message/rfc822")})
    assert sent.status_code == 303
    report_page = sent.headers["location"]
    pasted = client.post("/report", data={"csrf": token, "source": phishing(2).decode()})
    assert pasted.status_code == 303
    sms = client.post(
        "/report/sms",
        data={"csrf": token, "sender": "+33612345678", "text": "Colis en attente: https://colis-suivi.example/p"},
    )
    assert sms.status_code == 303
    assert "Waiting for its analysis" in client.get(report_page).text
    polled = client.get(f"{report_page}/timeline").text
    assert 'hx-get="' in polled and "<html" not in polled  # the fragment the page polls while it waits
    run_jobs_until_idle(platform)
    assert 'hx-get="' not in client.get(f"{report_page}/timeline").text  # analysed: the polling stops
    page = client.get(report_page).text
    assert "Received and stored" in page and "Analysed as" in page
    french = client.get(report_page, headers={"Accept-Language": "fr"}).text
    assert "Pourquoi" in french and not any(rule.description in french for rule in RULES.values())  # said in French
    listing = client.get("/reports").text
    assert listing.count('href="/reports/') == 3 and "3 report(s) sent" in listing


def test_pages_follow_the_browsers_language_and_the_persons_choice(platform: Platform) -> None:
    person(platform, "chloe@example.org")
    client = signed_in(platform, "chloe@example.org")
    assert 'lang="fr"' in client.get("/reports", headers={"Accept-Language": "fr-FR,fr;q=0.9,en;q=0.8"}).text
    assert 'lang="en"' in client.get("/reports", headers={"Accept-Language": "de-DE"}).text
    switched = client.get("/language/fr", params={"next": "/reports"})
    assert switched.headers["location"] == "/reports"
    assert catalog("fr")["nav.reports"] in client.get("/reports", headers={"Accept-Language": "en"}).text
    assert client.get("/language/en", params={"next": "https://evil.example/"}).headers["location"] == "/"


def test_a_reporter_cannot_open_anothers_report(platform: Platform) -> None:
    person(platform, "dan@example.org")
    person(platform, "eve@example.org")
    dan = signed_in(platform, "dan@example.org")
    token = csrf_of(dan.get("/report").text)
    location = dan.post("/report", data={"csrf": token, "source": phishing(3).decode()}).headers["location"]
    eve = signed_in(platform, "eve@example.org")
    assert eve.get(location).status_code == 404
    assert 'href="/reports/' not in eve.get("/reports").text


def test_forms_without_the_sessions_token_are_refused(platform: Platform) -> None:
    person(platform, "fay@example.org")
    client = signed_in(platform, "fay@example.org")
    assert client.post("/report", data={"source": phishing(4).decode()}).status_code == 403
    assert client.post("/report", data={"source": phishing(4).decode(), "csrf": "forged"}).status_code == 403
    assert client.post("/signout", data={}).status_code == 403
    token = csrf_of(client.get("/report").text)
    assert client.post("/signout", data={"csrf": token}).status_code == 303
    assert client.get("/reports").headers["location"] == "/signin"  # the session is gone on the server


def test_the_catalogs_have_the_same_keys() -> None:
    assert set(catalog("en")) == set(catalog("fr"))
