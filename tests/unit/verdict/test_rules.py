"""Rules one by one, on evidence built by hand: each fires on what it names and stays quiet otherwise."""

from __future__ import annotations

import pytest

from signalement.verdict.evidence import Auth, Evidence, Link
from signalement.verdict.rules import RULES, Facts, link_kinds


def _link(host: str, domain: str | None = None, where: str = "html:a") -> Link:
    return Link(f"https://{host}/x", host, domain or host, (where,), None, where != "html:img")


SPF_FAIL_DKIM_PASS = Auth(spf="fail", dkim_pass_domains=("bank.example",))


def _fires(rule: str, evidence: Evidence, **facts: object) -> str | None:
    return RULES[rule].check(Facts(evidence, link_kinds=link_kinds(evidence), **facts))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("rule", "evidence"),
    [
        ("password-form", Evidence("mail", password_input=True)),
        ("password-form", Evidence("mail", attachments=(("login.html", "text/html", ("html-password",)),))),
        ("executable-attachment", Evidence("mail", attachments=(("x.zip", "zip", ("executable-in-archive",)),))),
        ("macro-document", Evidence("mail", attachments=(("x.docm", "ooxml", ("macros",)),))),
        ("link-to-ip", Evidence("mail", links=(_link("192.0.2.7"),))),
        ("link-to-hosting", Evidence("mail", links=(_link("login-x.web.app", "login-x.web.app"),))),
        ("link-shortener", Evidence("mail", links=(_link("bit.ly"),))),
        ("authentication-failed", Evidence("mail", from_domain="bank.example", auth=Auth(dmarc="fail"))),
        ("authenticated-sender", Evidence("mail", from_domain="bank.example", auth=Auth(dmarc="pass"))),
        ("freemail-sender", Evidence("mail", from_domain="gmail.com")),
        ("reply-to-elsewhere", Evidence("mail", from_domain="bank.example", reply_to_domains=("gmail.com",))),
        ("abused-tld", Evidence("mail", from_domain="promo.tangoo.shop")),
        ("random-domain", Evidence("mail", from_domain="5du256wvoz.com")),
        ("invisible-characters", Evidence("mail", subject="M\u200bi\u200bc\u200br\u200bo\u200bsoft")),
        ("disguised-words", Evidence("mail", subject="CONFlRM your B0NUS")),
        ("address-greeting", Evidence("mail", text="Hello jane.doe@example.org, your parcel is waiting")),
        ("pictographs-in-name", Evidence("mail", display_name="\U0001f525 Bonus")),
        ("shouting-subject", Evidence("mail", subject="YOU HAVE WON A BRAND NEW CAR")),
        ("html-only", Evidence("mail", html_parts=1)),
        ("image-only", Evidence("mail", html_parts=1, text="Click")),
        ("mailing-list", Evidence("mail", list_id="<dev.lists.example>", has_unsubscribe=True)),
        ("forged-list-id", Evidence("mail", list_id="zt787h7p2q <List management>", has_unsubscribe=True)),
        ("no-such-domain", Evidence("mail", from_domain="a.example", return_path_domain="bounce.mailer.cuk")),
        ("no-such-domain", Evidence("mail", reply_to_domains=("bradesco.banco",))),
        ("random-sender-address", Evidence("mail", from_address="rbyvKtbKVbuwFGs@news.example")),
        ("random-sender-address", Evidence("mail", from_address="bGIKWoI@news.example")),
        ("government-lookalike", Evidence("mail", from_domain="voebrasilgov.com")),
        ("government-lookalike", Evidence("mail", links=(_link("amendes-gouv.com"),))),
        ("crypto-wallet", Evidence("mail", text="Send the bitcoin to bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq now")),
        ("sms-link", Evidence("sms", links=(_link("colis-suivi.example"),))),
        ("mixed-script-words", Evidence("mail", subject="\u0421\u043eurt Case, N\u0435w D\u043ecuments")),
        ("styled-letters", Evidence("mail", display_name="\u1d18\u1d00\u028f\u1d0d\u1d07\u0274\u1d1b")),
        ("unfilled-template", Evidence("mail", text="Hola {firstname} {lastname}, consigue Prime")),
        ("random-token-subject", Evidence("mail", subject="Notifica\u00e7\u00e3o ao cliente Ra3HNiammhtn7Q3joVp")),
        ("organization-on-freemail", Evidence("mail", display_name="United Nations Office", from_domain="gmail.com")),
        (
            "html-without-unsubscribe",
            Evidence("mail", html_parts=1, from_domain="a.example", links=(_link("b.example"),)),
        ),
        (
            "single-link-short-text",
            Evidence("mail", from_domain="a.example", text="Your parcel: pay now", links=(_link("b.example"),)),
        ),
    ],
)
def test_rule_fires(rule: str, evidence: Evidence) -> None:
    assert _fires(rule, evidence)


OWN_LINK = (_link("a.example"),)


@pytest.mark.parametrize(
    ("rule", "evidence"),
    [
        ("link-to-ip", Evidence("mail", links=(_link("example.org"),))),
        ("link-shortener", Evidence("mail", links=(_link("bit.ly", where="html:img"),))),  # an image, not a click
        (
            "authentication-failed",
            Evidence("mail", from_domain="bank.example", auth=Auth(spf="fail", dkim_pass_domains=("bank.example",))),
        ),
        ("reply-to-elsewhere", Evidence("mail", from_domain="gmail.com", reply_to_domains=("gmail.com",))),
        ("random-domain", Evidence("mail", from_domain="lemonde.fr")),
        ("disguised-words", Evidence("mail", subject="MySQL and SuSE: RrPZMC")),
        ("pictographs-in-name", Evidence("mail", display_name="Marie Curie")),
        (
            "html-without-unsubscribe",
            Evidence("mail", html_parts=1, from_domain="a.example", links=(_link("a.example"),)),
        ),
        ("html-without-unsubscribe", Evidence("mail", html_parts=1, has_unsubscribe=True, links=(_link("b.example"),))),
        ("shouting-subject", Evidence("mail", subject="Minutes of the AGM")),
        ("mixed-script-words", Evidence("mail", subject="\u041c\u043e\u0441\u043a\u0432\u0430 and Paris")),
        ("random-token-subject", Evidence("mail", subject="Order 123-456 shipped")),
        ("organization-on-freemail", Evidence("mail", display_name="Marie Curie", from_domain="gmail.com")),
        ("organization-on-freemail", Evidence("mail", display_name="United Nations", from_domain="un.org")),
        ("forged-list-id", Evidence("mail", list_id="Freshrpms list <rpm-list.freshrpms.net>")),
        ("forged-list-id", Evidence("mail")),
        ("no-such-domain", Evidence("mail", return_path_domain="lists.example.org")),
        ("no-such-domain", Evidence("mail", return_path_domain="localhost.localdomain")),
        ("no-such-domain", Evidence("mail", return_path_domain="192.0.2.7")),
        ("random-sender-address", Evidence("mail", from_address="MonaZeolla@example.org")),
        ("random-sender-address", Evidence("mail", from_address="TotalEnergies@example.org")),
        ("random-sender-address", Evidence("mail", from_address="jane.doe@example.org")),
        ("random-sender-address", Evidence("mail", from_address="NOREPLY@example.org")),
        ("government-lookalike", Evidence("mail", from_domain="service-public.gouv.fr")),
        ("government-lookalike", Evidence("mail", links=(_link("www.govdelivery.com", "govdelivery.com"),))),
        ("government-lookalike", Evidence("mail", from_domain="mygov.in")),
    ],
)
def test_rule_stays_quiet(rule: str, evidence: Evidence) -> None:
    assert _fires(rule, evidence) is None


def test_lexicon_rules_fire_on_their_phrases() -> None:
    from signalement.verdict import lexicon

    evidence = Evidence("mail", subject="Votre colis est en attente", text="Please verify your account today.")
    found = lexicon.signals(evidence)
    assert "credential-lure" in found
    assert _fires("credential-lure", evidence, signals=found)


def test_a_brand_in_the_subject_of_another_sender() -> None:
    from signalement.verdict.impersonation import brand_index

    evidence = Evidence("mail", subject="Your Netflix account is on hold", from_domain="tangoo.example")
    assert _fires("brand-in-subject", evidence, brands=brand_index().findings(evidence)) == "Netflix"
    own = Evidence("mail", subject="New on Netflix", from_domain="netflix.com", auth=Auth(dmarc="pass"))
    assert _fires("brand-in-subject", own, brands=brand_index().findings(own)) is None


def test_a_legal_threat_in_french() -> None:
    from signalement.verdict import lexicon

    evidence = Evidence("mail", text="Vous avez recu une citation a comparaitre devant le tribunal.")
    assert "legal-threat" in lexicon.signals(evidence)


def test_a_brand_address_shown_while_the_button_leads_elsewhere() -> None:
    shown = Link("https://www.paypal.com/signin", "www.paypal.com", "paypal.com", ("text",), None, True)
    button = _link("paypal-check.example")
    assert _fires("shown-link-elsewhere", Evidence("mail", links=(shown, button))) == "paypal.com (PayPal)"
    own = _link("www.paypal.com", "paypal.com")
    assert _fires("shown-link-elsewhere", Evidence("mail", links=(shown, own))) is None
    assert _fires("shown-link-elsewhere", Evidence("mail", links=(shown,))) is None  # nothing to click


def test_a_forged_list_id_is_not_a_discussion_list() -> None:
    evidence = Evidence("mail", list_id="r52mi6srl4xaf <List management>", has_unsubscribe=True)
    assert _fires("mailing-list", evidence) is None


@pytest.mark.parametrize(
    ("signal", "text"),
    [
        ("credential-lure", "Claim your tokens: connect your wallet before Friday."),
        ("account-threat", "Compte Microsoft : activites de connexion inhabituelles sur votre compte."),
        ("prize-lure", "As an early supporter, claim your rewards today."),
        ("investment-scam", "Your airdrop is now available: 500 tokens."),
        ("gambling", "Over 7,000 slot games, provably fair draws."),
        ("advance-fee", "I need a trustworthy partner to stand as the oil agent."),
        ("grant-lure", "L'Etat va installer des panneaux solaires : decouvrez si vous etes eligible."),
        ("favour-request", "Can you help me out with this? Please let me know if you have a moment."),
    ],
)
def test_lure_wordings(signal: str, text: str) -> None:
    from signalement.verdict import lexicon

    evidence = Evidence("mail", text=text)
    found = lexicon.signals(evidence)
    assert signal in found
    assert _fires(signal, evidence, signals=found)


def test_a_favour_request_is_only_an_opening() -> None:
    from signalement.verdict import lexicon

    with_link = Evidence("mail", text="Let me know if you have a moment.", links=(_link("b.example"),))
    assert _fires("favour-request", with_link, signals=lexicon.signals(with_link)) is None
    long = Evidence("mail", text="Let me know if you have a moment. " + " ".join(f"word{i}" for i in range(80)))
    assert _fires("favour-request", long, signals=lexicon.signals(long)) is None
