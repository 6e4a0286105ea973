"""What a reporter does, in a real browser: sign in, report a message and an SMS, follow them, change language,
all by keyboard too; and what they may not do: open another's report, post a form without its CSRF token."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, ViewportSize, expect

from tests.e2e.conftest import ANALYSED, PHONE, phishing_eml, sign_in, wait_for_text

REPORT_URL = re.compile(r"/reports/\d+$")


def nav(page: Page) -> Locator:
    return page.get_by_role("navigation")


def mail_form(page: Page) -> Locator:
    return page.locator("form[action='/report']")


def sms_form(page: Page) -> Locator:
    return page.locator("form[action='/report/sms']")


def test_a_reporter_signs_in_reports_an_eml_file_and_sees_it_analysed(
    open_page: Callable[..., Page], new_reporter: Callable[[], str]
) -> None:
    email = new_reporter()
    page = open_page()
    page.goto("/reports")
    expect(page).to_have_url(re.compile(r"/signin$"))  # not signed in yet
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("do not match")
    page.get_by_label("Password").fill("correct horse battery staple")
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/reports$"))
    expect(page.get_by_text("You have not reported anything yet.")).to_be_visible()

    nav(page).get_by_role("link", name="Report a message").click()
    mail_form(page).get_by_label("The message as a file (.eml)").set_input_files(
        {"name": "suspendu.eml", "mimeType": "message/rfc822", "buffer": phishing_eml(1)}
    )
    mail_form(page).get_by_role("button", name="Send the report").click()
    expect(page).to_have_url(REPORT_URL)
    expect(page.locator("main")).to_contain_text("Received and stored")
    wait_for_text(page, ANALYSED)
    expect(page.locator("main")).to_contain_text("Votre compte sera suspendu")  # its subject, once analysed

    nav(page).get_by_role("link", name="My reports").click()
    row = page.locator("tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Votre compte sera suspendu")
    expect(row).to_contain_text(ANALYSED)
    expect(page.locator(".impact")).to_contain_text("1 report(s) sent")


def test_a_reporter_pastes_a_source_and_reports_an_sms(
    open_page: Callable[..., Page], new_reporter: Callable[[], str]
) -> None:
    email = new_reporter()
    page = open_page()
    sign_in(page, email)
    page.goto("/report")
    mail_form(page).get_by_label("Or its source, pasted").fill("not a message at all")
    mail_form(page).get_by_role("button", name="Send the report").click()
    expect(page.get_by_role("alert")).to_contain_text("does not look like an e-mail")

    mail_form(page).get_by_label("Or its source, pasted").fill(phishing_eml(2).decode())
    mail_form(page).get_by_role("button", name="Send the report").click()
    expect(page).to_have_url(REPORT_URL)

    page.goto("/report")
    sms_form(page).get_by_label("Sender (number or name)").fill("+33 6 12 34 56 78")
    sms_form(page).get_by_label("Text of the SMS").fill(
        "Votre colis est bloqué, réglez 1,99 EUR de frais : https://colis-suivi.example/p/42"
    )
    sms_form(page).get_by_role("button", name="Send the report").click()
    expect(page).to_have_url(REPORT_URL)
    expect(page.locator("main")).to_contain_text("Received and stored")
    wait_for_text(page, ANALYSED)

    page.goto("/reports")
    expect(page.locator("tbody tr")).to_have_count(2)
    expect(page.locator("tbody")).to_contain_text("An SMS")


def test_the_language_links_switch_every_page_to_french_and_back(
    open_page: Callable[..., Page], new_reporter: Callable[[], str]
) -> None:
    email = new_reporter()
    page = open_page(locale="en-GB")
    sign_in(page, email)
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.get_by_role("link", name="Français").click()
    expect(page).to_have_url(re.compile(r"/reports$"))  # back where they were
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page.get_by_role("heading", level=1)).to_have_text("Mes signalements")
    nav(page).get_by_role("link", name="Signaler un message").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Signaler un message")  # the choice is kept
    expect(page.get_by_label("Texte du SMS")).to_be_visible()
    page.get_by_role("link", name="English").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Report a message")


def test_a_browser_in_french_gets_french_pages(open_page: Callable[..., Page]) -> None:
    page = open_page(locale="fr-FR")
    page.goto("/signin")
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page.get_by_role("button", name="Se connecter")).to_be_visible()


def _focused(page: Page) -> dict[str, Any]:
    info: dict[str, Any] = page.evaluate(
        """() => {
            const e = document.activeElement;
            const labels = e.labels ? [...e.labels].map(l => l.textContent.trim()) : [];
            return {tag: e.tagName.toLowerCase(), id: e.id, cls: e.className, type: e.type || '',
                    text: (e.textContent || '').trim(), labels, aria: e.getAttribute('aria-label') || ''};
        }"""
    )
    return info


def _tab_until(page: Page, element_id: str, limit: int = 30) -> list[dict[str, Any]]:
    """Presses Tab until the element has the focus; every element focused on the way."""
    seen = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        seen.append(_focused(page))
        if seen[-1]["id"] == element_id:
            return seen
    pytest.fail(f"Tab never reached #{element_id}: {seen}")


def test_keyboard_only_sign_in_and_sms_report(open_page: Callable[..., Page], new_reporter: Callable[[], str]) -> None:
    email = new_reporter()
    page = open_page()
    page.goto("/signin")
    page.keyboard.press("Tab")
    first = _focused(page)
    assert first["cls"] == "skip" and first["text"] == "Skip to the content", first
    expect(page.locator("a.skip")).to_be_in_viewport()  # shown once focused
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"#main$"))
    page.keyboard.press("Tab")  # the skip link moved the starting point past the navigation
    assert _focused(page)["id"] == "email"
    page.keyboard.type(email)
    page.keyboard.press("Tab")
    assert _focused(page)["id"] == "password"
    page.keyboard.type("correct horse battery staple")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/reports$"))

    page.goto("/report")
    page.keyboard.press("Tab")
    assert _focused(page)["cls"] == "skip"
    on_the_way = _tab_until(page, "sender")
    fields = [f for f in on_the_way if f["tag"] in ("input", "textarea", "select") and f["type"] != "hidden"]
    assert {f["id"] for f in fields} >= {"file", "source", "sender"}
    assert all(f["labels"] or f["aria"] for f in fields), fields  # each field has a label
    page.keyboard.type("ACTU-INFO")
    page.keyboard.press("Tab")
    assert _focused(page)["id"] == "text" and _focused(page)["labels"] == ["Text of the SMS"]
    page.keyboard.type("Vous avez gagne un smartphone ! Reclamez-le : https://cadeau-gratuit.example/r")
    page.keyboard.press("Tab")
    assert _focused(page)["tag"] == "button"
    page.keyboard.press("Enter")
    expect(page).to_have_url(REPORT_URL)
    expect(page.locator("main")).to_contain_text("An SMS")


def test_a_reporter_cannot_open_anothers_report(
    open_page: Callable[..., Page], new_reporter: Callable[[], str]
) -> None:
    owner, other = new_reporter(), new_reporter()
    page = open_page()
    sign_in(page, owner)
    page.goto("/report")
    mail_form(page).get_by_label("Or its source, pasted").fill(phishing_eml(3).decode())
    mail_form(page).get_by_role("button", name="Send the report").click()
    expect(page).to_have_url(REPORT_URL)
    theirs = page.url

    intruder = open_page()
    sign_in(intruder, other)
    response = intruder.goto(theirs)
    assert response is not None and response.status == 404
    expect(intruder.get_by_role("heading", level=1)).to_have_text("No such page")
    expect(intruder.locator("main")).not_to_contain_text("Votre compte")
    intruder.goto("/reports")
    expect(intruder.locator("tbody tr")).to_have_count(0)


@pytest.mark.parametrize("viewport", [None, PHONE], ids=["desktop", "phone"])
def test_forms_posted_without_their_csrf_token_are_refused(
    open_page: Callable[..., Page], new_reporter: Callable[[], str], viewport: ViewportSize | None
) -> None:
    email = new_reporter()
    page = open_page(viewport=viewport)

    page.goto("/signin")  # the sign-in form, before any session
    page.evaluate("document.querySelector('main form input[name=csrf]').remove()")
    page.locator("#email").fill(email)
    page.locator("#password").fill("correct horse battery staple")
    with page.expect_response(lambda r: r.url.endswith("/signin") and r.request.method == "POST") as refused:
        page.locator("main form button[type=submit]").click()
    assert refused.value.status == 403
    expect(page.get_by_role("heading", level=1)).to_have_text("This form has expired")

    sign_in(page, email)
    page.goto("/report")
    page.evaluate("document.querySelector('form[action=\"/report/sms\"] input[name=csrf]').remove()")
    sms_form(page).get_by_label("Sender (number or name)").fill("+33612345678")
    sms_form(page).get_by_label("Text of the SMS").fill("Colis en attente : https://colis-suivi.example/p")
    with page.expect_response(lambda r: r.url.endswith("/report/sms") and r.request.method == "POST") as refused:
        sms_form(page).get_by_role("button", name="Send the report").click()
    assert refused.value.status == 403
    expect(page.get_by_role("heading", level=1)).to_have_text("This form has expired")

    # a token forged on the way (the request rewritten in flight) is refused as well
    page.goto("/report")
    page.route("**/report", lambda route: route.continue_(post_data=_forged(route.request.post_data or "")))
    mail_form(page).get_by_label("Or its source, pasted").fill(phishing_eml(4).decode())
    with page.expect_response(lambda r: r.url.endswith("/report") and r.request.method == "POST") as refused:
        mail_form(page).get_by_role("button", name="Send the report").click()
    assert refused.value.status == 403
    page.unroute("**/report")

    page.goto("/reports")
    expect(page.get_by_text("You have not reported anything yet.")).to_be_visible()  # nothing was stored
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/signin$"))


def _forged(body: str) -> str:
    """The multipart body with another value in its csrf field."""
    return re.sub(r'(name="csrf"\r\n\r\n)[^\r]*', r"\1forged-token", body)


def test_a_person_signs_up_confirms_the_address_by_mail_and_reports(
    open_page: Callable[..., Page], server: Any
) -> None:
    email = f"newcomer-{id(server)}@example.org"
    page = open_page()
    page.goto("/signin")
    page.get_by_role("link", name="Create an account").click()
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill("short")
    page.get_by_role("button", name="Create the account").click()  # the browser refuses it (minlength)
    expect(page).to_have_url(re.compile(r"/signup$"))
    page.get_by_label("Password").fill("a long enough passphrase")
    page.get_by_role("button", name="Create the account").click()
    expect(page.get_by_role("heading", name="Check your mailbox")).to_be_visible()

    page.goto(server.relay.link_for(email, "/verify"))  # the worker sent it through the relay
    expect(page).to_have_url(re.compile(r"/reports$"))  # confirmed, and signed in
    nav(page).get_by_role("link", name="Report a message").click()
    mail_form(page).get_by_label("The message as a file (.eml)").set_input_files(
        {"name": "suspendu.eml", "mimeType": "message/rfc822", "buffer": phishing_eml(7)}
    )
    mail_form(page).get_by_role("button", name="Send the report").click()
    expect(page).to_have_url(REPORT_URL)
    # The page updates itself (htmx polls the timeline) when the analysis is done: no reload here.
    expect(page.locator("#timeline")).to_contain_text(ANALYSED, timeout=90_000)
