"""Every main page, in French and in English, checked by axe-core in the browser (no serious or critical
violation), and photographed for docs/screenshots (the README shows some)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import ANALYSED, PHONE, axe_violations, phishing_eml, screenshot, sign_in, wait_for_text

BLOCKING = ("serious", "critical")


class Audit:
    def __init__(self) -> None:
        self.found: dict[str, list[dict[str, Any]]] = {}

    def check(self, page: Page, name: str) -> None:
        self.found[name] = axe_violations(page)

    def blocking(self) -> dict[str, list[dict[str, Any]]]:
        return {name: [v for v in found if v["impact"] in BLOCKING] for name, found in self.found.items() if found}


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_main_pages_have_no_serious_accessibility_violation(
    open_page: Callable[..., Page], new_reporter: Callable[[], str], lang: str
) -> None:
    email = new_reporter()
    audit = Audit()
    # bypass_csp: lets the test inject axe into the page whatever the site's Content-Security-Policy
    page = open_page(locale="fr-FR" if lang == "fr" else "en-GB", bypass_csp=True)

    page.goto("/signin")
    expect(page.locator("html")).to_have_attribute("lang", lang)
    screenshot(page, f"signin-{lang}")
    audit.check(page, "signin")

    sign_in(page, email)
    page.goto("/report")
    screenshot(page, f"report-form-{lang}")
    audit.check(page, "report form")
    page.locator("#file").set_input_files(
        {"name": "message.eml", "mimeType": "message/rfc822", "buffer": phishing_eml(100 + len(lang))}
    )
    page.locator("form[action='/report'] button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/reports/\d+$"))
    timeline = page.url
    page.goto("/report")
    page.locator("#sender").fill("+33 6 12 34 56 78")
    page.locator("#text").fill("Votre colis est bloqué, réglez 1,99 EUR de frais : https://colis-suivi.example/p/7")
    page.locator("form[action='/report/sms'] button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/reports/\d+$"))

    page.goto(timeline)
    wait_for_text(page, ANALYSED)
    screenshot(page, f"report-timeline-{lang}")
    audit.check(page, "report timeline")

    page.goto("/reports")
    expect(page.locator("tbody tr")).to_have_count(2)
    screenshot(page, f"reports-{lang}")
    audit.check(page, "my reports")

    page.goto("/reports/999999")
    audit.check(page, "not found")

    page.goto("/account")
    screenshot(page, f"account-{lang}")
    audit.check(page, "my account")
    page.locator("form[action='/account/second-factor/start'] button").click()
    expect(page.locator("#totp-key")).to_be_visible()
    audit.check(page, "second factor set-up")

    page.set_viewport_size(PHONE)
    page.goto("/reports")
    if lang == "en":
        screenshot(page, "reports-phone-en")
    audit.check(page, "my reports (phone)")

    for name, violations in audit.found.items():  # shown with -s or on failure: the minor ones too
        for v in violations:
            print(f"axe [{lang}] {name}: {v['impact']} {v['id']} ({v['help']}) at {v['targets']}")
    assert not any(audit.blocking().values()), audit.blocking()
