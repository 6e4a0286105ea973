"""End-to-end journeys in a real browser: Debian's chromium, headless, driven by Playwright.

One `signalement serve` per session (a real process: the API and its worker, over SQLite in a temp folder, no
SMTP), reached only on 127.0.0.1: every other request the browser tries is aborted and fails the test. People are
created with `signalement user create --password`, as an operator would. Chromium is never downloaded
(`playwright install` is not used): a missing chromium fails the tests, it does not skip them.
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path
from typing import Any

import pytest
from benchmarks.ingest import wait_ready
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, Route, ViewportSize, sync_playwright

from tests.pg import free_port
from tests.relay import Relay

BIN = Path(sys.executable).parent / "signalement"
ROOT = Path(__file__).parents[2]
SCREENSHOTS = ROOT / "docs" / "screenshots"
AXE = Path(__file__).parent / "vendor" / "axe-core-4.14.1" / "axe.min.js"
PASSWORD = "correct horse battery staple"
DESKTOP: ViewportSize = {"width": 1280, "height": 800}
PHONE: ViewportSize = {"width": 390, "height": 844}
ANALYSED = re.compile(r"Analysed as|Analysé comme")  # the timeline's verdict event, in either language

_people = itertools.count(1)


@dataclass
class Server:
    url: str
    data: Path
    log: Path
    relay: Relay

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


def _env(data: Path, relay: str = "") -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIGNALEMENT_")}
    ours = {"SIGNALEMENT_DATA_DIR": str(data), "SIGNALEMENT_SMTP": "false", "SIGNALEMENT_LOG_LEVEL": "warning"}
    return env | ours | ({"SIGNALEMENT_MAIL_RELAY": relay} if relay else {})


@pytest.fixture(scope="package")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data = tmp_path_factory.mktemp("e2e-data")
    log = data.parent / "serve.log"
    port = free_port()
    relay = Relay().start()
    with log.open("w") as out:
        process = subprocess.Popen(
            [str(BIN), "serve", "--port", str(port)],
            env=_env(data, relay.address),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its worker process too is stopped with the group
        )
    running = Server(f"http://127.0.0.1:{port}", data, log, relay)
    try:
        wait_ready(running.url, 60.0, process)
    except (RuntimeError, TimeoutError) as error:
        os.killpg(process.pid, signal.SIGKILL)
        pytest.fail(f"signalement serve did not start: {error}\n{running.output()}")
    yield running
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)
    relay.stop()


@pytest.fixture
def new_reporter(server: Server) -> Callable[[], str]:
    """Creates a reporter with PASSWORD through the CLI (the password prompt read from stdin); their e-mail."""

    def create() -> str:
        email = f"reporter{next(_people)}-{os.getpid()}@example.org"
        done = subprocess.run(
            [str(BIN), "user", "create", email, "--role", "reporter", "--password"],
            input=f"{PASSWORD}\n{PASSWORD}\n",
            env=_env(server.data),
            capture_output=True,
            text=True,
            timeout=60,
            start_new_session=True,  # no terminal: getpass reads the piped stdin
        )
        assert done.returncode == 0, done.stderr
        return email

    return create


def chromium_path() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.fail(
            "Debian's chromium is needed by the end-to-end tests (tests/e2e) and was not found on PATH: "
            "run `apt-get install chromium` (.ci/run does it on a clean machine). They are not skipped on purpose.",
            pytrace=False,
        )
    return found


# Package scope, not session: Playwright's sync API keeps an event loop running in the main thread while it lives,
# and the suites after this package call asyncio.run.
@pytest.fixture(scope="package")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="package")
def browser(playwright: Playwright) -> Iterator[Browser]:
    chromium = playwright.chromium.launch(executable_path=chromium_path(), headless=True)
    yield chromium
    chromium.close()


@dataclass
class Watch:
    """What must not happen in a test's pages: a request off the local server, a JavaScript error."""

    local: str
    blocked: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def route(self, route: Route) -> None:
        url = route.request.url
        if url == self.local or url.startswith(self.local + "/"):
            route.continue_()
        else:
            self.blocked.append(url)
            route.abort("blockedbyclient")


@pytest.fixture
def open_page(browser: Browser, server: Server) -> Iterator[Callable[..., Page]]:
    """Opens a page in a new browser context (a new person: own cookies); desktop size unless told."""
    contexts: list[BrowserContext] = []
    watch = Watch(server.url)

    def open_(viewport: ViewportSize | None = None, locale: str = "en-GB", **options: Any) -> Page:
        size = viewport or DESKTOP
        phone = size["width"] < 600
        context = browser.new_context(
            viewport=size,
            locale=locale,
            is_mobile=phone,
            has_touch=phone,
            base_url=server.url,
            service_workers="block",
            **options,
        )
        context.route("**/*", watch.route)
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: watch.errors.append(str(error)))
        return page

    yield open_
    for context in contexts:
        context.close()
    assert watch.blocked == [], f"the pages tried to reach other hosts: {watch.blocked}"
    assert watch.errors == [], f"JavaScript errors in the pages: {watch.errors}"


def sign_in(page: Page, email: str, password: str = PASSWORD) -> None:
    """Through the form, as a person does; ends on their reports."""
    page.goto("/signin")
    page.locator("#email").fill(email)
    page.locator("#password").fill(password)
    page.locator("main form button[type=submit]").click()
    page.wait_for_url("**/reports")


def wait_for_text(page: Page, pattern: re.Pattern[str], timeout: float = 90.0) -> None:
    """Reloads the page until its main content matches: the worker analyses reports in its own time."""
    deadline = time.monotonic() + timeout
    while not pattern.search(page.locator("main").inner_text()):
        if time.monotonic() > deadline:
            pytest.fail(f"{page.url} never showed {pattern.pattern!r}:\n{page.locator('main').inner_text()}")
        time.sleep(0.5)
        page.reload()


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's violations on the page as it is (the vendored script injected by the test, not the app)."""
    page.add_script_tag(path=AXE)
    result: list[dict[str, Any]] = page.evaluate(
        """async () => (await axe.run(document)).violations.map(v => ({
            id: v.id, impact: v.impact, help: v.help, targets: v.nodes.map(n => n.target.join(' ')),
        }))"""
    )
    return result


def screenshot(page: Page, name: str) -> None:
    """Taken every run (it must work); written to docs/screenshots only when SIGNALEMENT_SCREENSHOTS=1, so that a
    test run does not change tracked files: `SIGNALEMENT_SCREENSHOTS=1 .venv/bin/pytest tests/e2e` refreshes them."""
    image = page.screenshot(animations="disabled", caret="hide")
    assert image.startswith(b"\x89PNG")
    if os.environ.get("SIGNALEMENT_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        (SCREENSHOTS / f"{name}.png").write_bytes(image)


def phishing_eml(n: int) -> bytes:
    """A made-up phishing message: reserved names (example.*), documentation addresses, different for each n."""
    message = EmailMessage(policy=SMTP)
    message["Received"] = (
        "from mail.banque-alerte.example ([203.0.113.7]) by mx.example.net; Thu, 26 Nov 2026 09:59:58 +0100"
    )
    message["From"] = "Banque Exemple <securite@banque-alerte.example>"
    message["To"] = "client@example.net"
    message["Subject"] = f"Votre compte sera suspendu sous 24 h (dossier {n})"
    message["Date"] = "Thu, 26 Nov 2026 10:00:00 +0100"
    message["Message-ID"] = f"<e2e-{n}-{os.getpid()}@banque-alerte.example>"
    message.set_content(
        "Bonjour,\n\nUne activité inhabituelle a été détectée sur votre compte. Sans vérification de votre identité "
        "sous 24 heures, il sera suspendu.\n\nConfirmez vos identifiants ici : "
        f"http://198.51.100.23/banque-exemple/login?dossier={n}\n\nLe service sécurité\n"
    )
    return message.as_bytes()
