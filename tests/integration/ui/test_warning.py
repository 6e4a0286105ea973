"""The warning page and /go: a listed URL is explained (what it impersonates, how often it was reported, since
when) in the visitor's language, with a way back and a discouraged way on; a link signed with a member's key
redirects at once unless it is listed at the member's TLP ceiling; anything else gets a neutral page, never a
redirect; only http and https. Each warning shown counts one protected click, per URL and day; nothing logs the URL
or the client's address. Also the member admin's link key (GET /api/v1/organizations/{id}/link-key)."""

from __future__ import annotations

import hashlib
import hmac
import logging
import random
import re
import signal
import string
import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import insert, select, update

from signalement.domain.accounts import Role
from signalement.domain.members import Entitlements, OrgKind, Tlp
from signalement.domain.url_reputation import Level, UrlState
from signalement.lookup.service import LookupService
from signalement.mail.canonical import canonicalize, split
from signalement.platform import Platform
from signalement.store import clicks, organizations
from signalement.store import urls as store
from signalement.store.accounts import create_user, issue_token
from signalement.store.sql import utcnow
from signalement.store.tables import audit_log, campaigns, report_urls, reports, url_clicks, urls, users
from signalement.ui import warning
from signalement.web import server as server_module
from signalement.web.app import create_app
from signalement.web.links_api import link_key, signature
from tests.conftest import Users
from tests.integration.store.test_campaigns import new_report
from tests.integration.web.helpers import assert_problem, assert_unauthorized, bearer
from tests.pg import free_port

KIT = "https://secure-banque-exemple.com/connexion/login.php?session=42"
CLEAN = "https://www.bakery-example.fr/menu"
VISITOR = ("203.0.113.9", 41000)  # a documentation address: it must reach no log


@pytest.fixture
def web(platform: Platform) -> Iterator[TestClient]:
    """The app, its lookup index refreshed at every request (not every 2 s), seen from the visitor's address."""
    app = create_app(platform)
    with TestClient(app, client=VISITOR, follow_redirects=False) as client:
        app.state.lookup = LookupService(platform.engine, refresh=0)
        yield client


def confirmed(platform: Platform, url: str, *, tlp: Tlp = Tlp.GREEN, brand: str | None = "Banque Exemple",
              reports_count: int = 3, first_seen: datetime = datetime(2026, 11, 3, 8, 0, tzinfo=UTC),
              level: Level = Level.URL, listed: str | None = None) -> int:  # fmt: skip
    """A URL confirmed by an analyst, through the same change as the API's (so that the index's log sees it)."""
    canonical = canonicalize(url)
    assert canonical is not None
    with platform.engine.begin() as conn:
        url_id = int(conn.execute(insert(urls).returning(urls.c.id), {
            "sha256": hashlib.sha256(canonical.encode()).digest(), "canonical": canonical,
            "host": split(canonical)[1], "first_seen": first_seen, "last_seen": first_seen, "reports": reports_count,
            "reporters": reports_count,
        }).scalar_one())  # fmt: skip
        found = store.get(conn, url_id)
        assert found is not None
        store.change(conn, found, actor="analyst@example.org", action="confirm", state=UrlState.CONFIRMED, tlp=tlp,
                     listing=(level, listed or canonical), brand=brand)  # fmt: skip
    return url_id


def cleared(platform: Platform, url_id: int) -> None:
    with platform.engine.begin() as conn:
        found = store.get(conn, url_id)
        assert found is not None
        store.change(conn, found, actor="analyst@example.org", action="clear", state=UrlState.CLEARED)


def member(platform: Platform, max_tlp: Tlp = Tlp.GREEN, name: str = "Webmail Co") -> int:
    with platform.engine.begin() as conn:
        return organizations.create(conn, name, OrgKind.MAILBOX_PROVIDER, Entitlements(max_tlp=max_tlp))


def signed_go(platform: Platform, url: str, organization_id: int) -> dict[str, str]:
    return {"url": url, "org": str(organization_id), "sig": signature(link_key(platform.secret, organization_id), url)}


def protected(platform: Platform, url_id: int) -> int:
    with platform.engine.connect() as conn:
        return clicks.protected(conn, [url_id]).get(url_id, 0)


def is_warning(response: httpx.Response) -> bool:
    return response.status_code == 200 and 'class="alert"' in response.text


def is_neutral(response: httpx.Response, host: str) -> bool:
    return response.status_code == 200 and f"You are leaving signalement for {host}" in response.text


def assert_private_page(response: httpx.Response) -> None:
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-frame-options"] == "DENY"
    policy = response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy and "default-src 'none'" in policy
    if "<script nonce=" in response.text:  # the one inline script runs under the response's own nonce
        (nonce,) = re.findall(r"<script nonce=\"([^\"]+)\"", response.text)
        assert f"'nonce-{nonce}'" in policy


# -- the warning page ---------------------------------------------------------------------------------------------


def test_a_listed_url_is_explained_in_english_and_in_french(web: TestClient, platform: Platform) -> None:
    url_id = confirmed(platform, KIT)
    english = web.get("/warning", params={"url": KIT}, headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert is_warning(english)
    assert_private_page(english)
    text = english.text
    assert '<html lang="en">' in text
    assert "Warning: dangerous page" in text and "<h1" in text and '<main id="main">' in text
    assert "on secure-banque-exemple.com, is a phishing page" in text
    assert "It pretends to be Banque Exemple." in text
    assert "People reported it 3 time(s)." in text
    assert "It has been known since 3 November 2026." in text
    # The way back is a plain link (home without JavaScript); the way on is inside a closed <details>.
    assert re.search(r'<a id="back" class="go-back" href="/">Go back</a>', text)
    details = text[text.index("<details") : text.index("</details>")]
    assert "<details open" not in text
    assert "I understand the risk" in details
    assert f'<a href="{KIT.replace("&", "&amp;")}" rel="noreferrer noopener nofollow">' in details
    assert "Open the page on secure-banque-exemple.com anyway" in details

    french = web.get("/warning", params={"url": KIT}, headers={"Accept-Language": "fr-FR,fr;q=0.9,en;q=0.5"})
    assert is_warning(french)
    assert '<html lang="fr">' in french.text
    assert "Attention : page dangereuse" in french.text
    assert "Elle se fait passer pour Banque Exemple." in french.text
    assert "Elle a été signalée 3 fois." in french.text
    assert "connue depuis le 3 novembre 2026." in french.text
    assert "Revenir en arrière" in french.text and "Je comprends le risque" in french.text
    assert protected(platform, url_id) == 2  # each warning shown counts


def test_the_first_of_the_month_and_a_whole_listed_site(web: TestClient, platform: Platform) -> None:
    confirmed(platform, "http://colis-suivi-relivraison.com/", first_seen=datetime(2026, 11, 1, tzinfo=UTC),
              level=Level.DOMAIN, listed="colis-suivi-relivraison.com", brand=None)  # fmt: skip
    page = web.get("/warning", params={"url": "http://www.colis-suivi-relivraison.com/p/7?id=1"},
                   headers={"Accept-Language": "fr"})  # fmt: skip
    assert is_warning(page)
    assert "depuis le 1er novembre 2026" in page.text
    assert "Toutes les pages de colis-suivi-relivraison.com sont listées" in page.text
    assert "se fait passer pour" not in page.text  # no brand known: none named


def test_an_unlisted_or_delisted_url_is_said_so_with_its_link(web: TestClient, platform: Platform) -> None:
    page = web.get("/warning", params={"url": CLEAN})
    assert page.status_code == 200 and not is_warning(page)
    assert_private_page(page)
    assert "www.bakery-example.fr is not on our list" in page.text
    assert "not (or no longer) listed" in page.text
    assert f'<a href="{CLEAN}" rel="noreferrer noopener nofollow">' in page.text

    url_id = confirmed(platform, KIT)
    assert is_warning(web.get("/warning", params={"url": KIT}))
    cleared(platform, url_id)
    again = web.get("/warning", params={"url": KIT})
    assert "is not on our list" in again.text and not is_warning(again)
    assert protected(platform, url_id) == 1  # only the warning counts


def test_only_what_anyone_may_see_is_shown_as_listed(web: TestClient, platform: Platform) -> None:
    amber = confirmed(platform, KIT, tlp=Tlp.AMBER)
    page = web.get("/warning", params={"url": KIT})
    assert "is not on our list" in page.text and not is_warning(page)
    unsigned = web.get("/go", params={"url": KIT})
    assert is_neutral(unsigned, "secure-banque-exemple.com")
    assert protected(platform, amber) == 0
    # A member entitled to AMBER protects its users from it, without the details that stay within AMBER.
    entitled = member(platform, Tlp.AMBER)
    warned = web.get("/go", params=signed_go(platform, KIT, entitled))
    assert is_warning(warned)
    assert "on the list of dangerous pages that protects your e-mail" in warned.text
    assert "Banque Exemple" not in warned.text and "reported it" not in warned.text
    assert "delisted" not in warned.text
    assert protected(platform, amber) == 1
    # A member entitled to GREEN only: the link is not listed for it, it redirects.
    green = member(platform, Tlp.GREEN, "Green Mail")
    assert web.get("/go", params=signed_go(platform, KIT, green)).status_code == 303


@pytest.mark.parametrize(
    "url",
    [
        "",
        "javascript:alert(document.domain)",
        "JavaScript://example.com/%0Aalert(1)",
        "data:text/html,<script>alert(1)</script>",
        "ftp://files.example.com/kit.zip",
        "mailto:someone@example.com",
        "//evil.example/path",
        "https:\\\\evil.example/",
        "https://good.example\\@evil.example/",
        "http://exa mple.com/",
        "https://example.com/\r\nSet-Cookie: x=1",
        "https:///no-host",
        "http://[2001:db8::1/",
        "https://" + "a" * 9000 + ".example/",
    ],
)
def test_anything_but_an_http_or_https_link_is_refused(web: TestClient, platform: Platform, url: str) -> None:
    organization_id = member(platform)
    signed = signed_go(platform, url, organization_id)
    for path, params in (("/warning", {"url": url}), ("/go", {"url": url}), ("/go", signed)):
        refused = web.get(path, params=params)
        assert refused.status_code == 400, (path, url)
        assert "This link cannot be opened here" in refused.text
        assert "location" not in refused.headers
        assert_private_page(refused)
        if url:
            assert url not in refused.text


def test_odd_links_get_a_page_never_an_error(web: TestClient, platform: Platform) -> None:
    """Made-up links of every odd character (a fixed seed): each gets one of the pages or the redirect."""
    organization_id = member(platform)
    rng = random.Random(12)
    alphabet = string.printable + "éß[]%@:/\\?#\u0000\u2028\u202e"
    for _ in range(150):
        scheme = rng.choice(["http://", "https://", "HTTPS://", ""])
        link = scheme + "".join(rng.choices(alphabet, k=rng.randint(0, 40)))
        for params in ({"url": link}, signed_go(platform, link, organization_id)):
            answer = web.get("/go", params=params)
            assert answer.status_code in (200, 303, 400), (link, answer.status_code)
            assert answer.status_code != 303 or "sig" in params
        assert web.get("/warning", params={"url": link}).status_code in (200, 400)


# -- /go ----------------------------------------------------------------------------------------------------------


def test_a_signed_unlisted_link_redirects_at_once(web: TestClient, platform: Platform) -> None:
    organization_id = member(platform)
    for url in (CLEAN, "https://www.bakery-example.fr/menu?day=mardi&lang=fr#desserts", "HTTP://WWW.Example.COM"):
        answer = web.get("/go", params=signed_go(platform, url, organization_id))
        assert answer.status_code == 303, answer.text
        assert answer.headers["location"] == url  # exactly what was signed, fragment and case included
        assert answer.headers["referrer-policy"] == "no-referrer"
        assert answer.headers["cache-control"] == "no-store"
    # Non-ASCII is percent-encoded in the header, as a browser would send it.
    accented = "https://www.bakery-example.fr/pâtisseries?goût=café"
    answer = web.get("/go", params=signed_go(platform, accented, organization_id))
    assert answer.headers["location"] == "https://www.bakery-example.fr/p%C3%A2tisseries?go%C3%BBt=caf%C3%A9"
    # The signature may be written in capitals; HEAD is answered the same way.
    upper = signed_go(platform, CLEAN, organization_id)
    upper["sig"] = upper["sig"].upper()
    assert web.get("/go", params=upper).status_code == 303


def test_a_signed_listed_link_shows_the_warning(web: TestClient, platform: Platform) -> None:
    url_id = confirmed(platform, KIT)
    organization_id = member(platform)
    answer = web.get("/go", params=signed_go(platform, KIT, organization_id), headers={"Accept-Language": "fr"})
    assert is_warning(answer) and "location" not in answer.headers
    assert_private_page(answer)
    assert "Elle se fait passer pour Banque Exemple." in answer.text
    # Another page of the listed directory is covered too (a Safe Browsing path-prefix expression).
    kit_dir = confirmed(platform, "https://www.bakery-example.fr/wp-content/kit/", level=Level.PREFIX)
    sibling = "https://www.bakery-example.fr/wp-content/kit/step2.php?x=1"
    assert is_warning(web.get("/go", params=signed_go(platform, sibling, organization_id)))
    assert (protected(platform, url_id), protected(platform, kit_dir)) == (1, 1)


def test_an_unsigned_link_gets_the_neutral_page_never_a_redirect(web: TestClient, platform: Platform) -> None:
    answer = web.get("/go", params={"url": CLEAN})
    assert is_neutral(answer, "www.bakery-example.fr") and "location" not in answer.headers
    assert_private_page(answer)
    assert f'<a href="{CLEAN}" rel="noreferrer noopener nofollow">Continue to www.bakery-example.fr</a>' in answer.text
    french = web.get("/go", params={"url": CLEAN}, headers={"Accept-Language": "fr"})
    assert "Vous quittez signalement pour www.bakery-example.fr" in french.text
    # The host shown is where the browser goes, not what the link pretends.
    disguised = web.get("/go", params={"url": "https://www.banque-exemple.fr@evil-login.example/"})
    assert is_neutral(disguised, "evil-login.example")
    # A listed link warns even unsigned: what anyone may see, anyone is warned of.
    confirmed(platform, KIT)
    assert is_warning(web.get("/go", params={"url": KIT}))


def test_a_bad_signature_is_an_unsigned_link(web: TestClient, platform: Platform) -> None:
    own, other = member(platform), member(platform, name="Other Mail")
    good = signed_go(platform, CLEAN, own)
    assert web.get("/go", params=good).status_code == 303
    tampered = [
        good | {"url": CLEAN + "/../../evil"},  # the link changed under its signature
        good | {"url": "https://evil-login.example/"},
        good | {"org": str(other)},  # another organization's id with this one's signature
        signed_go(platform, CLEAN, other) | {"org": str(own)},
        good | {"sig": good["sig"][:-1] + ("0" if good["sig"][-1] != "0" else "1")},
        good | {"sig": good["sig"][:31]},
        good | {"sig": hmac.new(b"guessed key", CLEAN.encode(), hashlib.sha256).hexdigest()[:32]},
        good | {"sig": "z" * 32},
        good | {"sig": ""},
        good | {"org": "abc"},
        good | {"org": "-1"},
        good | {"org": "99999999999999999999999"},
        good | {"org": "²"},  # a digit to str.isdigit, not to int()
        good | {"org": "٧"},
        {"url": CLEAN, "org": str(own)},
        signed_go(platform, CLEAN, 987_654),  # a well-made signature for an organization that does not exist
    ]
    for params in tampered:
        answer = web.get("/go", params=params)
        url_host = split(canonicalize(params["url"]) or "")[1]
        assert is_neutral(answer, url_host), params
    # A disabled organization's links no longer redirect, once its kept ceiling is CEILING_SECONDS old.
    with platform.engine.begin() as conn:
        organizations.update_organization(conn, own, name=None, disabled=True)
    assert web.get("/go", params=good).status_code == 303  # within the seconds the signer's ceiling is kept
    kept = web.app.state.link_ceilings  # type: ignore[attr-defined]
    kept[own] = (kept[own][0] - warning.CEILING_SECONDS - 1, kept[own][1])
    assert is_neutral(web.get("/go", params=good), "www.bakery-example.fr")


def test_a_delisted_url_redirects_again(web: TestClient, platform: Platform) -> None:
    url_id = confirmed(platform, KIT)
    organization_id = member(platform)
    assert is_warning(web.get("/go", params=signed_go(platform, KIT, organization_id)))
    cleared(platform, url_id)
    answer = web.get("/go", params=signed_go(platform, KIT, organization_id))
    assert answer.status_code == 303 and answer.headers["location"] == KIT


def test_a_delisting_is_seen_before_the_index_refreshes(platform: Platform) -> None:
    """The index answers within its refresh period; the database has the last word on a listed URL's state."""
    app = create_app(platform)
    with TestClient(app, client=VISITOR, follow_redirects=False) as client:
        app.state.lookup = LookupService(platform.engine, refresh=3600)
        url_id = confirmed(platform, KIT)
        assert is_warning(client.get("/warning", params={"url": KIT}))  # the index is built at the first check
        cleared(platform, url_id)
        assert "is not on our list" in client.get("/warning", params={"url": KIT}).text


# -- counting protected clicks -----------------------------------------------------------------------------------


def test_protected_clicks_per_url_day_and_campaign(web: TestClient, platform: Platform) -> None:
    kit, other = confirmed(platform, KIT), confirmed(platform, "https://colis-frais-livraison.info/suivi")
    for _ in range(3):
        web.get("/warning", params={"url": KIT})
    web.head("/warning", params={"url": KIT})  # a link checker's HEAD is not a person
    web.get("/go", params={"url": "https://colis-frais-livraison.info/suivi"})
    with platform.engine.begin() as conn:
        rows = conn.execute(select(url_clicks).order_by(url_clicks.c.url_id)).all()
        assert [(r.url_id, r.day, r.clicks) for r in rows] == [(kit, utcnow().date(), 3), (other, utcnow().date(), 1)]
        assert set(url_clicks.c.keys()) == {"url_id", "day", "clicks"}  # no one is recorded
        clicks.count(conn, kit, date(2026, 11, 2), 5)  # an earlier day
        clicks.count(conn, kit, date(2026, 11, 2))
        assert clicks.protected(conn, [kit, other, 987_654]) == {kit: 9, other: 1}
        # Campaigns: each URL counted once, however many of the campaign's reports carry it.
        now = utcnow()
        counters = dict.fromkeys(("phishing", "malware", "scam", "spam", "legitimate", "unclassified"), 0)
        made = {}
        for public_id in ("cmp-00000000000a", "cmp-00000000000b", "cmp-00000000000c"):
            made[public_id] = conn.execute(insert(campaigns).returning(campaigns.c.id), {
                "public_id": public_id, "first_seen": now, "last_seen": now, "reports": 2, "brands": {},
                "updated_at": now, **counters,
            }).scalar_one()  # fmt: skip
        carried: dict[str, list[list[int]]] = {
            "cmp-00000000000a": [[kit], [kit, other]],
            "cmp-00000000000b": [[other]],
            "cmp-00000000000c": [[]],
        }
        for public_id, carried_urls in carried.items():
            for url_ids in carried_urls:
                report_id = new_report(conn)
                conn.execute(update(reports).where(reports.c.id == report_id).values(campaign_id=made[public_id]))
                for url_id in url_ids:
                    conn.execute(insert(report_urls), {"report_id": report_id, "url_id": url_id, "found_in": []})
        assert clicks.by_campaign(conn, list(carried)) == {"cmp-00000000000a": 10, "cmp-00000000000b": 1}
        assert clicks.of_report(conn, report_id) == 0
        # A URL's removal takes its counts with it.
        conn.execute(urls.delete().where(urls.c.id == other))
        assert clicks.protected(conn, [kit, other]) == {kit: 9}


def test_a_reporter_reads_how_many_people_its_report_protected(
    web: TestClient, platform: Platform, users: Users
) -> None:
    reporter_id, token = users.create(Role.REPORTER)
    url_id = confirmed(platform, KIT)
    with platform.engine.begin() as conn:
        report_id = new_report(conn)
        conn.execute(update(reports).where(reports.c.id == report_id).values(reporter_id=reporter_id))
        conn.execute(insert(report_urls), {"report_id": report_id, "url_id": url_id, "found_in": ["html:a"]})
    assert web.get(f"/api/v1/reports/{report_id}", headers=bearer(token)).json()["protected_clicks"] == 0
    web.get("/go", params={"url": KIT})
    web.get("/warning", params={"url": KIT})
    assert web.get(f"/api/v1/reports/{report_id}", headers=bearer(token)).json()["protected_clicks"] == 2


# -- logs ---------------------------------------------------------------------------------------------------------


def _visits(platform: Platform, organization_id: int) -> list[tuple[str, dict[str, str]]]:
    return [
        ("/warning", {"url": KIT}),
        ("/warning", {"url": CLEAN}),
        ("/warning", {"url": "javascript:alert(1)"}),
        ("/go", signed_go(platform, KIT, organization_id)),
        ("/go", signed_go(platform, CLEAN, organization_id)),
        ("/go", {"url": CLEAN}),
        ("/go", {"url": CLEAN, "org": str(organization_id), "sig": "0" * 32}),
    ]


SEEN = [200, 200, 400, 200, 303, 200, 200]
SECRETS = ("secure-banque-exemple", "bakery-example", "javascript")  # of the URLs visited


def _server_side(caplog: pytest.LogCaptureFixture) -> str:
    """What the application logged at DEBUG and above, but for the test's own HTTP client (httpx may log each
    request it sends, URL included); a canary logged first shows that the capture sees DEBUG records."""
    records = [r for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]
    assert any(r.getMessage() == "canary" for r in records), "the capture saw nothing"
    return "\n".join(f"{r.name} {r.getMessage()}" for r in records)


def _canary() -> None:
    logging.getLogger("signalement.ui.warning").debug("canary")


def test_nothing_logs_the_url_or_the_visitor(
    web: TestClient, platform: Platform, caplog: pytest.LogCaptureFixture
) -> None:
    confirmed(platform, KIT)
    organization_id = member(platform)
    caplog.set_level(logging.DEBUG)
    _canary()
    assert [web.get(path, params=params).status_code for path, params in _visits(platform, organization_id)] == SEEN
    logged = _server_side(caplog)
    for secret in (*SECRETS, VISITOR[0]):
        assert secret not in logged


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_server_as_run_logs_neither_the_url_nor_the_client_even_at_debug(
    platform: Platform,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`signalement serve`'s own uvicorn options (web/server.py), at log level debug, with real HTTP from another
    loopback address (127.0.0.2, so that it can be told from the server's own 127.0.0.1)."""
    confirmed(platform, KIT)
    organization_id = member(platform)
    caplog.set_level(logging.DEBUG)
    _canary()
    statuses: list[int] = []

    def serve(app: FastAPI, **options: object) -> None:  # in place of uvicorn.run: the same, in a thread
        assert options["access_log"] is False
        port = free_port()
        server = uvicorn.Server(uvicorn.Config(app, **(options | {"host": "127.0.0.1", "port": port})))  # type: ignore[arg-type]
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        try:
            deadline = time.monotonic() + 20
            while not server.started:
                assert time.monotonic() < deadline, "uvicorn did not start"
                time.sleep(0.05)
            transport = httpx.HTTPTransport(local_address="127.0.0.2")
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", transport=transport) as client:
                statuses.extend(client.get(p, params=q).status_code for p, q in _visits(platform, organization_id))
        finally:
            server.should_exit = True
            thread.join(10)

    uvicorn_loggers = [logging.getLogger(n) for n in ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")]
    kept = [(lg, lg.handlers[:], lg.level, lg.propagate) for lg in uvicorn_loggers]
    monkeypatch.setattr(uvicorn, "run", serve)  # server.py calls uvicorn.run
    sigterm = signal.getsignal(signal.SIGTERM)
    try:
        settings = platform.settings.model_copy(update={"worker": False, "smtp": False, "log_level": "debug"})
        server_module.run_server(settings)
    finally:
        signal.signal(signal.SIGTERM, sigterm)
        for lg, handlers, level, propagate in kept:  # uvicorn configured its loggers: as they were for what follows
            lg.handlers[:], lg.level, lg.propagate = handlers, level, propagate
    assert statuses == SEEN
    printed = capfd.readouterr()
    logged = _server_side(caplog) + printed.out + printed.err
    assert "Application startup complete" in logged  # uvicorn's own log, at debug, is in what is checked
    for secret in (*SECRETS, "127.0.0.2"):
        assert secret not in logged


# -- the link key -------------------------------------------------------------------------------------------------


def test_a_member_admin_reads_its_link_key_and_signs_with_it(web: TestClient, platform: Platform) -> None:
    own, other = member(platform), member(platform, name="Other Mail")
    people = {}
    with platform.engine.begin() as conn:
        for name, role, organization_id in (("admin", Role.MEMBER_ADMIN, own), ("analyst", Role.MEMBER_ANALYST, own),
                                            ("stranger", Role.MEMBER_ADMIN, other), ("staff", Role.ADMIN, None),
                                            ("analyst-staff", Role.ANALYST, None)):  # fmt: skip
            user_id = create_user(conn, f"{name}@example.org", role)
            conn.execute(update(users).where(users.c.id == user_id).values(organization_id=organization_id))
            people[name] = bearer(issue_token(conn, user_id, name="t"))
    path = f"/api/v1/organizations/{own}/link-key"
    answer = web.get(path, headers=people["admin"])
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    body = answer.json()
    assert body["key"] == link_key(platform.secret, own).hex() and len(body["key"]) == 64
    assert (body["algorithm"], body["signature_hex"], body["organization_id"]) == ("HMAC-SHA256", 32, own)
    assert body["go"].endswith(f"/go?url={{url}}&org={own}&sig={{sig}}")
    assert web.get(path, headers=people["staff"]).json()["key"] == body["key"]
    assert web.get(f"/api/v1/organizations/{other}/link-key", headers=people["stranger"]).json()["key"] != body["key"]
    assert_problem(web.get(path, headers=people["analyst"]), 403, "forbidden")
    assert_problem(web.get(path, headers=people["analyst-staff"]), 403, "forbidden")
    assert_problem(web.get(path, headers=people["stranger"]), 404, "not_found")
    assert_problem(web.get("/api/v1/organizations/987654/link-key", headers=people["staff"]), 404, "not_found")
    assert_unauthorized(web.get(path))
    with platform.engine.connect() as conn:
        reads = conn.execute(select(audit_log.c.actor).where(audit_log.c.action == "organization.link_key.read"))
        assert sorted(reads.scalars()) == ["admin@example.org", "staff@example.org", "stranger@example.org"]

    # The recipe of docs/warning.md, with the key as read: the signed link redirects.
    key = bytes.fromhex(body["key"])
    link = "https://www.bakery-example.fr/menu?day=mardi"
    sig = hmac.new(key, link.encode("utf-8"), hashlib.sha256).hexdigest()[:32]
    answer = web.get("/go", params={"url": link, "org": str(own), "sig": sig})
    assert answer.status_code == 303 and answer.headers["location"] == link


def test_the_app_still_answers_problems_for_the_api_and_pages_for_people(web: TestClient) -> None:
    app = web.app
    assert isinstance(app, FastAPI)
    paths = app.openapi()["paths"]
    assert "/api/v1/organizations/{organization_id}/link-key" in paths
    assert "/go" not in paths and "/warning" not in paths  # pages, not API operations
