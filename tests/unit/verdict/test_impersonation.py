"""Brands named or imitated, and when that is impersonation."""

from __future__ import annotations

from signalement.verdict.evidence import Auth, Evidence, Link
from signalement.verdict.impersonation import brand_index


def _link(host: str, domain: str | None = None) -> Link:
    return Link(f"https://{host}/x", host, domain or host, ("html:a",), None, True)


def _finding(evidence: Evidence, brand: str) -> tuple[bool, list[str], str]:
    found = {f.brand.id: f for f in brand_index().findings(evidence)}
    assert brand in found, sorted(found)
    return found[brand].impersonated, found[brand].named_in, found[brand].why


def test_a_display_name_claiming_a_brand_from_another_domain() -> None:
    evidence = Evidence(
        "mail", display_name="PayPal Service", from_domain="mailer.example", links=(_link("x.example"),)
    )
    impersonated, named_in, why = _finding(evidence, "paypal")
    assert impersonated and named_in == ["display_name"] and "mailer.example" in why


def test_a_brand_newsletter_or_card_in_the_display_name_is_a_claim() -> None:
    for name, brand in (("Ledger News", "ledger"), ("Amazon Visa", "amazon")):
        evidence = Evidence("mail", display_name=name, from_domain="mailer.example", links=(_link("x.example"),))
        impersonated, named_in, _ = _finding(evidence, brand)
        assert impersonated and "display_name" in named_in


def test_a_person_bearing_a_brand_name_is_not_a_claim() -> None:
    evidence = Evidence("mail", display_name="Ian Bell", from_domain="ianbell.example")
    assert "bell" not in {f.brand.id for f in brand_index().findings(evidence)}


def test_a_dmarc_aligned_pass_from_the_brand_suppresses_impersonation() -> None:
    evidence = Evidence(
        "mail",
        display_name="PayPal",
        from_domain="paypal.com",
        links=(_link("lookalike-paypal-login.example"),),
        auth=Auth(dmarc="pass"),
    )
    impersonated, _, why = _finding(evidence, "paypal")
    assert not impersonated and why.startswith("authenticated")


def test_the_brand_domain_failing_authentication_is_spoofed() -> None:
    evidence = Evidence("mail", display_name="PayPal", from_domain="paypal.com", auth=Auth(dmarc="fail"))
    impersonated, _, why = _finding(evidence, "paypal")
    assert impersonated and "failed authentication" in why


def test_a_freemail_account_at_the_brand_proves_nothing() -> None:
    evidence = Evidence(
        "mail", display_name="Microsoft 365 Security", from_domain="outlook.com", auth=Auth(dmarc="pass")
    )
    impersonated, _, _ = _finding(evidence, "microsoft")
    assert impersonated


def test_a_lookalike_link_impersonates() -> None:
    evidence = Evidence("mail", subject="Your account", from_domain="x.example", links=(_link("paypa1.com"),))
    impersonated, _, why = _finding(evidence, "paypal")
    assert impersonated and "paypa1.com" in why


def test_a_weak_lookalike_counts_only_when_the_brand_is_shown() -> None:
    unrelated = Evidence("mail", display_name="News", from_domain="x.example", links=(_link("nypost.com"),))
    assert "nzpost" not in {f.brand.id for f in brand_index().findings(unrelated)}


def test_an_sms_sender_id_alone_is_not_impersonation() -> None:
    evidence = Evidence("sms", sms_sender="LaPoste", text="Votre colis est en route")
    impersonated, named_in, _ = _finding(evidence, "la-poste")
    assert not impersonated and "sms_sender" in named_in
    pushed = Evidence(
        "sms", sms_sender="LaPoste", text="Colis: https://suivi-colis.example", links=(_link("suivi-colis.example"),)
    )
    assert _finding(pushed, "la-poste")[0]


def test_a_logo_looks_like_the_brand_a_share_button_does_not() -> None:
    links = (_link("secure-check.example"),)
    logo = Evidence("mail", from_domain="x.example", image_alts=("PayPal logo", "banner"), links=links)
    impersonated, named_in, why = _finding(logo, "paypal")
    assert impersonated and "logo" in named_in and "secure-check.example" in why
    share = Evidence("mail", from_domain="x.example", image_alts=("Aimez notre page Facebook",), links=links)
    impersonated, named_in, _ = _finding(share, "facebook")
    assert not impersonated and named_in == ["alts"]
