"""The campaign decision: which keys a report has, and which campaign (if any) it joins on them."""

from __future__ import annotations

import itertools
import random
from typing import Any

import pytest

from signalement.mail.fingerprint import fingerprint
from signalement.verdict.campaigns import (
    BAND_THRESHOLD,
    BANDS,
    EXEMPLAR_BELOW,
    FOUND,
    MAX_DOMAIN_KEYS,
    MIN_SHINGLES,
    NO_CAMPAIGN,
    Candidate,
    Evidence,
    count_changes,
    decide,
    distinctive_domains,
    evidence,
    is_distinctive,
)

BAND_KEYS = tuple(f"b{i}:{i:016x}" for i in range(BANDS))


def report(
    category: str | None = "phishing", domains: tuple[str, ...] = (), brands: frozenset[str] = frozenset()
) -> Evidence:
    return Evidence(bands=BAND_KEYS, domains=domains, category=category, brands=brands)


def test_keys_carry_their_band_position() -> None:
    bands = ["00ff" * 4] * BANDS  # the same value in every band: still 32 different keys
    found = evidence({"fingerprint": {"bands": bands, "shingles": 40, "domains": []}})
    assert found.bands[0] == "b0:00ff00ff00ff00ff"
    assert found.bands[31] == "b31:00ff00ff00ff00ff"
    assert len(set(found.bands)) == BANDS


@pytest.mark.parametrize(
    "fingerprint_json",
    [
        {"bands": ["ab" * 8] * BANDS, "shingles": MIN_SHINGLES - 1, "domains": []},  # too little text
        {"bands": ["ab" * 8] * 8, "shingles": 40, "domains": []},  # not a 32-band fingerprint
        {"bands": [], "shingles": 0, "domains": []},  # no text
        {"bands": "not a list", "shingles": "many"},
    ],
)
def test_a_fingerprint_that_says_too_little_gives_no_band_key(fingerprint_json: dict[str, Any]) -> None:
    assert evidence({"fingerprint": fingerprint_json}).bands == ()


@pytest.mark.parametrize(
    "facts", [{}, {"fingerprint": None, "urls": "x", "brands": 3, "category": 7}, {"urls": [1, {}]}]
)
def test_evidence_never_raises_on_a_malformed_document(facts: dict[str, Any]) -> None:
    assert evidence(facts) == Evidence((), (), None, frozenset())


def test_the_verdict_gives_category_and_impersonated_brands_only() -> None:
    found = evidence(
        {
            "category": "scam",
            "brands": [
                {"brand": "la-poste", "name": "La Poste", "impersonated": True, "evidence": []},
                {"brand": "orange", "name": "Orange", "impersonated": False, "evidence": []},
            ],
        }
    )
    assert found.category == "scam"
    assert found.brands == frozenset({"la-poste"})


@pytest.mark.parametrize(
    ("host", "domain", "distinctive"),
    [
        ("colis-suivi.example.net", "example.net", True),
        ("www.laposte.fr", "laposte.fr", False),  # a brand's own domain is in its genuine mail too
        ("bit.ly", "bit.ly", False),  # a shortener
        ("docs.google.com", "google.com", False),  # file sharing below a shared domain
        ("u12.ct.sendgrid.net", "sendgrid.net", False),  # an ESP's tracking domain
        ("evil-login.web.app", "evil-login.web.app", True),  # one customer's name under a platform's suffix
        ("x.evil-login.web.app", "evil-login.web.app", True),
    ],
)
def test_distinctive_domains(host: str, domain: str, distinctive: bool) -> None:
    assert is_distinctive(host, domain) is distinctive


def test_domain_keys_come_from_the_urls_hosts_sorted_and_capped() -> None:
    urls = [{"host": f"www.site{i:02d}.example", "registered_domain": f"site{i:02d}.example"} for i in range(20)]
    urls.append({"host": "bit.ly", "registered_domain": "bit.ly"})
    found = evidence({"urls": urls, "fingerprint": {"domains": ["ignored.example"]}})
    assert found.domains == tuple(f"site{i:02d}.example" for i in range(MAX_DOMAIN_KEYS))
    # without a URL list (an older document), the fingerprint's domains stand for their hosts
    assert evidence({"fingerprint": {"domains": ["kit.example", "bit.ly"]}}).domains == ("kit.example",)
    assert distinctive_domains([("A.Example", "A.Example")]) == ("a.example",)


def test_lookup_and_stored_keys_by_category() -> None:
    phishing = report("phishing", ("kit.example",))
    assert phishing.lookup_keys() == (*BAND_KEYS, "d:kit.example")
    assert phishing.stored_keys(exemplar=True) == (*BAND_KEYS, "d:kit.example")
    assert phishing.stored_keys(exemplar=False) == ("d:kit.example",)
    unclassified = report(None, ("kit.example",))
    assert unclassified.lookup_keys() == BAND_KEYS  # it may not join on a domain
    assert unclassified.stored_keys(exemplar=False) == ("d:kit.example",)  # but a harmful report may find it by one
    for category in ("spam", "legitimate"):
        newsletter = report(category, ("shop.example",))
        assert newsletter.lookup_keys() == BAND_KEYS
        assert newsletter.stored_keys(exemplar=True) == BAND_KEYS


# -- the decision ------------------------------------------------------------------------------------------------


def test_bands_join_from_the_threshold() -> None:
    assert decide(report(), [Candidate(7, bands=BAND_THRESHOLD - 1)]) == FOUND
    joined = decide(report(), [Candidate(7, bands=BAND_THRESHOLD)])
    assert (joined.campaign, joined.joined_by, joined.exemplar) == (7, f"bands:{BAND_THRESHOLD}", True)


def test_the_candidate_with_most_bands_wins_then_the_oldest() -> None:
    candidates = [Candidate(3, bands=8), Candidate(9, bands=20), Candidate(5, bands=20)]
    chosen = decide(report(), candidates)
    assert (chosen.campaign, chosen.joined_by) == (5, "bands:20")


def test_only_distant_variants_become_exemplars() -> None:
    assert decide(report(), [Candidate(1, bands=EXEMPLAR_BELOW - 1)]).exemplar
    assert not decide(report(), [Candidate(1, bands=EXEMPLAR_BELOW)]).exemplar
    assert not decide(report(), [Candidate(1, bands=BANDS)]).exemplar


def test_a_harmful_report_joins_a_harmful_campaign_on_its_domain_alone() -> None:
    sms = report("phishing", ("kit.example",))
    mail_campaign = Candidate(4, bands=0, domains=frozenset({"kit.example"}), harmful=True)
    joined = decide(sms, [mail_campaign])
    assert (joined.campaign, joined.joined_by, joined.exemplar) == (4, "domain:kit.example", True)
    assert joined.shared_domains == frozenset({"kit.example"})


def test_a_domain_joins_a_campaign_not_known_harmful_only_with_a_band_or_the_same_brand() -> None:
    phishing = report("phishing", ("kit.example",), brands=frozenset({"la-poste"}))
    shared = frozenset({"kit.example"})
    assert decide(phishing, [Candidate(4, bands=0, domains=shared)]) == FOUND
    assert decide(phishing, [Candidate(4, bands=1, domains=shared)]).joined_by == "domain:kit.example"
    same_brand = Candidate(4, bands=0, domains=shared, brands=frozenset({"la-poste"}))
    assert decide(phishing, [same_brand]).campaign == 4
    other_brand = Candidate(4, bands=0, domains=shared, brands=frozenset({"ameli"}))
    assert decide(phishing, [other_brand]) == FOUND


@pytest.mark.parametrize("category", ["spam", "legitimate", None])
def test_only_harmful_reports_join_on_a_domain(category: str | None) -> None:
    newsletter = report(category, ("shop.example",))
    esp_campaign = Candidate(4, bands=3, domains=frozenset({"shop.example"}), harmful=True)
    assert decide(newsletter, [esp_campaign]) == FOUND


def test_bands_win_over_domains() -> None:
    phishing = report("phishing", ("kit.example",))
    by_domain = Candidate(2, bands=0, domains=frozenset({"kit.example"}), harmful=True)
    by_bands = Candidate(8, bands=BAND_THRESHOLD)
    assert decide(phishing, [by_domain, by_bands]).campaign == 8


def test_a_report_keeps_its_campaign_while_it_qualifies() -> None:
    candidates = [Candidate(3, bands=BAND_THRESHOLD), Candidate(9, bands=30)]
    assert decide(report(), candidates, current=3).campaign == 3
    assert decide(report(), [Candidate(3, bands=BAND_THRESHOLD - 1), Candidate(9, bands=30)], current=3).campaign == 9
    assert decide(report(), [], current=3) == FOUND


def test_a_report_with_nothing_to_cluster_on_gets_no_campaign() -> None:
    assert decide(Evidence((), (), "phishing", frozenset()), []) == NO_CAMPAIGN
    assert decide(Evidence((), ("shop.example",), "spam", frozenset()), []) == NO_CAMPAIGN  # spam stores no domain
    assert decide(Evidence((), ("kit.example",), "phishing", frozenset()), []) == FOUND


def test_count_changes() -> None:
    assert count_changes(["phishing"], ["phishing"]) == {}
    assert count_changes(["spam"], ["phishing"]) == {"phishing": 1, "spam": -1}
    assert count_changes([], {"a", "b"}) == {"a": 1, "b": 1}


# -- the threshold on real fingerprints -------------------------------------------------------------------------

FIRST = ["Marie", "Jean", "Sophie", "Luc", "Camille", "Nicolas", "Julie", "Thomas"]
LAST = ["Dupont", "Martin", "Durand", "Moreau", "Girard", "Roux", "Fournier", "Morel"]


def _variant(rng: random.Random) -> str:
    token = "".join(rng.choice("abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(18))
    return (
        f"Bonjour {rng.choice(FIRST)} {rng.choice(LAST)},\n\nVotre colis n° FR{rng.randint(10**9, 10**10)} n'a pas "
        f"pu être livré car des frais de douane de {rng.randint(1, 9)},{rng.randint(10, 99)} € restent à régler. "
        f"Sans paiement sous 48 heures, il sera retourné à l'expéditeur.\n\nRéglez les frais ici : "
        f"https://suivi-colis.example/p/{token}?r={rng.randint(1000, 99999)}\n\nVotre code : {token}\n"
        "Merci de votre confiance, le service client."
    )


def _shared(a: tuple[str, ...], b: tuple[str, ...]) -> int:
    return sum(x == y for x, y in zip(a, b, strict=True))


def test_per_recipient_variants_share_far_more_bands_than_the_threshold() -> None:
    rng = random.Random(4)
    prints = [fingerprint(_variant(rng), ["suivi-colis.example"]).bands for _ in range(12)]
    assert min(_shared(a, b) for a, b in itertools.combinations(prints, 2)) >= 3 * BAND_THRESHOLD


def test_unrelated_texts_stay_under_the_threshold() -> None:
    texts = [
        "Our spring collection has arrived: linen shirts, light jackets and sandals, with free returns on orders.",
        "This week at the farm we planted tomatoes, the goats had three kids and the bakery opens on Saturdays.",
        "The city council votes on the new cycling lanes next Tuesday; here is what changes for commuters.",
        "Learn Python in thirty days: today we cover dictionaries, comprehensions and how to read a traceback.",
        "Votre facture d'électricité du mois est disponible dans votre espace client, payable sous quinze jours.",
    ]
    prints = [fingerprint(t, []).bands for t in texts]
    assert max(_shared(a, b) for a, b in itertools.combinations(prints, 2)) < BAND_THRESHOLD
