"""The warning page and /go in a real browser: a listed link shows the warning (with and without JavaScript, in
English and French), going back works, going on takes an explicit choice; a signed unlisted link redirects at
once, an unsigned one shows the neutral page, a delisted one redirects again. Every link leads to a small HTTP
server of the test's own on 127.0.0.1 (another port): the browser reaches no other host.

URLs are confirmed and members made by writing to the served platform's database (its SQLite file, from this
process), as an analyst's change would; the server's lookup index sees a new listing within its refresh period."""

from __future__ import annotations

import hashlib
import itertools
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlencode

import pytest
from playwright.sync_api import ConsoleMessage, Page, expect
from sqlalchemy import insert

from signalement.domain.members import Entitlements, OrgKind, Tlp
from signalement.domain.url_reputation import Level, UrlState
from signalement.mail.canonical import canonicalize, split
from signalement.platform import Platform
from signalement.settings import Settings
from signalement.store import organizations
from signalement.store import urls as store
from signalement.store.tables import urls
from signalement.web.links_api import link_key, signature
from tests.e2e.conftest import Server, axe_violations, screenshot

_serial = itertools.count(1)
LANDED = "Landing page of the test"
LISTING_WAIT = 15.0  # seconds for the server's index to list a new URL (it looks every 2 s)


class _Landing(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = f"<!doctype html><html lang='en'><title>Landing</title><h1>{LANDED}</h1></html>".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # quiet: the test reads no log of it
        pass


@pytest.fixture(scope="module")
def landing() -> Iterator[str]:
    """Where every link of these tests leads: `http://127.0.0.1:<port>`."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Landing)
    thread = threading.Thread(target=server.serve_forever, name="landing", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    thread.join(10)


@pytest.fixture(scope="module")
def served(server: Server) -> Iterator[Platform]:
    """The served platform's database and secret, opened from this process."""
    platform = Platform(Settings(data_dir=server.data, database_url="", secret_key="", smtp=False))  # as served
    yield platform
    platform.close()


@pytest.fixture
def browse(open_page: Callable[..., Page], landing: str) -> Iterator[Callable[..., Page]]:
    """A page that may also reach the landing server (the conftest's watch aborts every other host); the test
    fails on any Content-Security-Policy violation in its pages (the inline script runs under its nonce)."""
    violations: list[str] = []

    def noted(message: ConsoleMessage) -> None:
        if message.type == "error" and "Content Security Policy" in message.text:
            violations.append(message.text)

    def open_(**options: object) -> Page:
        page = open_page(**options)
        page.route(f"{landing}/**", lambda route: route.continue_())
        page.on("console", noted)
        return page

    yield open_
    assert violations == [], f"Content-Security-Policy violations: {violations}"


def a_link(landing: str) -> str:
    """A fresh address on the landing server: each test lists its own."""
    return f"{landing}/account-{next(_serial)}-{os.getpid()}/login.php?session=7"


def confirm(platform: Platform, url: str) -> int:
    canonical = canonicalize(url)
    assert canonical is not None
    when = datetime(2026, 11, 3, 8, 0, tzinfo=UTC)
    with platform.engine.begin() as conn:
        url_id = int(conn.execute(insert(urls).returning(urls.c.id), {
            "sha256": hashlib.sha256(canonical.encode()).digest(), "canonical": canonical,
            "host": split(canonical)[1], "first_seen": when, "last_seen": when, "reports": 4, "reporters": 4,
        }).scalar_one())  # fmt: skip
        found = store.get(conn, url_id)
        assert found is not None
        store.change(conn, found, actor="analyst@example.org", action="confirm", state=UrlState.CONFIRMED,
                     tlp=Tlp.GREEN, listing=(Level.URL, canonical), brand="Banque Exemple")  # fmt: skip
    return url_id


def clear(platform: Platform, url_id: int) -> None:
    with platform.engine.begin() as conn:
        found = store.get(conn, url_id)
        assert found is not None
        store.change(conn, found, actor="analyst@example.org", action="clear", state=UrlState.CLEARED)


def go_link(platform: Platform, url: str, *, signed: bool = True) -> str:
    """/go as a member's webmail rewrites the link (signed with its link key), or as anyone could (unsigned)."""
    if not signed:
        return "/go?" + urlencode({"url": url})
    with platform.engine.begin() as conn:
        organization_id = organizations.create(conn, f"Webmail {next(_serial)}-{os.getpid()}", OrgKind.MAILBOX_PROVIDER,
                                               Entitlements(max_tlp=Tlp.GREEN))  # fmt: skip
    sig = signature(link_key(platform.secret, organization_id), url)
    return "/go?" + urlencode({"url": url, "org": organization_id, "sig": sig})


def warning_heading(page: Page) -> str:
    return page.get_by_role("heading", level=1).inner_text()


def until_listed(page: Page, path: str, title: re.Pattern[str]) -> None:
    """Opens the path until the warning shows: the server's index lists a new URL within seconds."""
    deadline = time.monotonic() + LISTING_WAIT
    while True:
        page.goto(path)
        if title.search(warning_heading(page)):
            return
        if time.monotonic() > deadline:
            pytest.fail(f"{path} never showed the warning:\n{page.locator('main').inner_text()}")
        time.sleep(0.5)


WARNING_EN = re.compile(r"^Warning: dangerous page$")
WARNING_FR = re.compile(r"^Attention : page dangereuse$")


def test_a_listed_link_warns_and_going_on_takes_a_choice(
    browse: Callable[..., Page], served: Platform, landing: str
) -> None:
    target = a_link(landing)
    confirm(served, target)
    page = browse()
    link = go_link(served, target)
    until_listed(page, link, WARNING_EN)
    page.goto(f"{landing}/inbox")  # where the person was: "Go back" returns there
    page.goto(link)
    expect(page.locator("html")).to_have_attribute("lang", "en")
    main = page.locator("main")
    expect(main).to_contain_text("on 127.0.0.1, is a phishing page")
    expect(main).to_contain_text("It pretends to be Banque Exemple.")
    expect(main).to_contain_text("People reported it 4 time(s).")
    expect(main).to_contain_text("It has been known since 3 November 2026.")
    going_on = page.get_by_role("link", name="Open the page on 127.0.0.1 anyway")
    expect(going_on).to_be_hidden()  # folded away until asked for
    back = page.get_by_role("link", name="Go back")
    expect(back).to_be_visible()
    screenshot(page, "warning-en")

    back.click()  # with JavaScript: back in the history
    expect(page).to_have_url(f"{landing}/inbox")

    page.go_forward()
    expect(page.get_by_role("heading", level=1)).to_have_text(WARNING_EN)
    page.get_by_text("I understand the risk").click()
    expect(going_on).to_be_visible()
    expect(going_on).to_have_attribute("rel", "noreferrer noopener nofollow")
    going_on.click()
    expect(page).to_have_url(target)
    expect(page.get_by_role("heading")).to_have_text(LANDED)


def test_the_warning_works_without_javascript_in_french(
    browse: Callable[..., Page], served: Platform, landing: str
) -> None:
    target = a_link(landing)
    confirm(served, target)
    page = browse(java_script_enabled=False, locale="fr-FR")
    until_listed(page, "/warning?" + urlencode({"url": target}), WARNING_FR)
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page.locator("main")).to_contain_text("Elle se fait passer pour Banque Exemple.")
    expect(page.locator("main")).to_contain_text("connue depuis le 3 novembre 2026")
    going_on = page.get_by_role("link", name="Ouvrir quand même la page sur 127.0.0.1")
    expect(going_on).to_be_hidden()
    page.get_by_text("Je comprends le risque").click()  # <details> opens without any script
    going_on.click()
    expect(page).to_have_url(target)

    until_listed(page, "/warning?" + urlencode({"url": target}), WARNING_FR)
    page.get_by_role("link", name="Revenir en arrière").focus()  # by keyboard
    page.keyboard.press("Enter")  # without JavaScript: the site's home, out of harm's way
    expect(page).to_have_url(re.compile(r"/signin$"))


def test_signed_unlisted_links_redirect_unsigned_ones_ask_delisted_ones_redirect(
    browse: Callable[..., Page], served: Platform, landing: str
) -> None:
    page = browse()
    unlisted = a_link(landing)
    page.goto(go_link(served, unlisted))
    expect(page).to_have_url(unlisted)  # at once: no page of the platform in between
    expect(page.get_by_role("heading")).to_have_text(LANDED)

    page.goto(go_link(served, unlisted, signed=False))
    expect(page.get_by_role("heading", level=1)).to_have_text("You are leaving signalement for 127.0.0.1")
    page.get_by_role("link", name="Continue to 127.0.0.1").click()
    expect(page).to_have_url(unlisted)

    listed = a_link(landing)
    url_id = confirm(served, listed)
    signed = go_link(served, listed)
    until_listed(page, signed, WARNING_EN)
    clear(served, url_id)
    page.goto(signed)  # the database has the last word: redirected at once, index refreshed or not
    expect(page).to_have_url(listed)
    expect(page.get_by_role("heading")).to_have_text(LANDED)


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_the_pages_have_no_serious_accessibility_violation(
    browse: Callable[..., Page], served: Platform, landing: str, lang: str
) -> None:
    target = a_link(landing)
    confirm(served, target)
    # bypass_csp: lets the test inject axe into the page whatever the site's Content-Security-Policy
    page = browse(locale="fr-FR" if lang == "fr" else "en-GB", bypass_csp=True)
    until_listed(page, "/warning?" + urlencode({"url": target}), WARNING_FR if lang == "fr" else WARNING_EN)
    found = {"warning": axe_violations(page)}
    page.locator("details summary").click()
    found["warning, unfolded"] = axe_violations(page)
    page.goto(go_link(served, a_link(landing), signed=False))
    found["leaving"] = axe_violations(page)
    page.goto("/warning?url=javascript:alert(1)")
    found["refused"] = axe_violations(page)
    blocking = {name: [v for v in v_list if v["impact"] in ("serious", "critical")] for name, v_list in found.items()}
    assert all(not v for v in blocking.values()), blocking
