"""fingerprint(): copies of one campaign collide, unrelated texts do not, and results never depend on the process."""

from __future__ import annotations

import json
import subprocess
import sys

import tlsh
from hypothesis import given, settings
from hypothesis import strategies as st

from signalement.mail.fingerprint import (
    BANDS,
    MAX_BYTES,
    MAX_SHINGLES,
    PERMUTATIONS,
    Fingerprint,
    fingerprint,
    similarity,
)

TEMPLATE = """Bonjour {name},

Votre colis n° {parcel} est bloqué au centre de tri de {city} car des frais de livraison de {amount} EUR
n'ont pas été réglés. Sans paiement avant le {date}, il sera renvoyé à l'expéditeur.

Pour programmer une nouvelle livraison, confirmez vos informations ici : {url}

Référence de suivi : {token}
Pour toute question, écrivez à {email}.

Cordialement,
Le service client La Poste Colissimo
Ce message a été envoyé à {email}. Ne répondez pas à ce courriel, il est généré automatiquement.
"""

VARIANTS = [
    {
        "name": "Marie Dupont",
        "parcel": "6A12345678901",
        "city": "Lyon",
        "amount": "1,99",
        "date": "12/05/2025",
        "url": "https://colis-suivi.example/t/a8f3c9e2b7d14f0e?u=marie.dupont%40mail.fr",
        "token": "Xk29Fj3K2Lq7",
        "email": "marie.dupont@mail.fr",
    },
    {
        "name": "Jean-Pierre Martin",
        "parcel": "8R99887766554",
        "city": "Lyon",
        "amount": "2,49",
        "date": "03/06/2025",
        "url": "https://livraison-fr.example/r?id=77c1d2e3f4a5b6c7",
        "token": "Q8wE7rT6yU5i",
        "email": "jp.martin@example.org",
    },
    {
        "name": "LUCAS",
        "parcel": "1Z00000000001",
        "city": "Lyon",
        "amount": "3,00",
        "date": "30/06/2025",
        "url": "http://bit.example/3xYz9",
        "token": "zz11yy22xx33",
        "email": "lucas@free.example",
    },
]

UNRELATED = [
    "Hi team, the quarterly report is attached. Please review the revenue figures for the northern region and "
    "send your comments before Friday so that we can finalize the board presentation next week. Thanks, Anna",
    "Votre facture d'électricité du mois de mars est disponible dans votre espace client. Le prélèvement sera "
    "effectué le 15 du mois prochain sur le compte bancaire enregistré. Merci de votre confiance.",
    "Congratulations! You have been selected to receive a free cruise to the Bahamas. Claim your prize now by "
    "calling our toll free number and provide your credit card for the small port fee of 49 dollars.",
]


def texts() -> list[str]:
    return [TEMPLATE.format(**variant) for variant in VARIANTS]


def test_variants_of_one_message_collide() -> None:
    prints = [fingerprint(text, [], "Votre colis est en attente") for text in texts()]
    unrelated = [fingerprint(text, []) for text in UNRELATED]
    for other in prints[1:]:
        assert similarity(prints[0], other) >= 0.7
        assert sum(a == b for a, b in zip(prints[0].bands, other.bands, strict=True)) >= BANDS * 0.5
        # TLSH is coarse on a 1 KB text (its buckets' quartiles flip), but variants stay far closer than the rest.
        assert prints[0].tlsh and other.tlsh
        assert tlsh.diff(prints[0].tlsh, other.tlsh) < min(tlsh.diff(prints[0].tlsh, u.tlsh) for u in unrelated) / 2


def test_edited_variant_still_collides() -> None:
    text = texts()[0]
    edited = text.replace("Cordialement,", "Bien à vous,").replace("centre de tri", "dépôt")
    assert similarity(fingerprint(text, []), fingerprint(edited, [])) >= 0.7


def test_unrelated_texts_share_almost_nothing() -> None:
    prints = [fingerprint(text, []) for text in [*UNRELATED, texts()[0]]]
    for i, a in enumerate(prints):
        for b in prints[i + 1 :]:
            assert similarity(a, b) < 0.2
            assert sum(x == y for x, y in zip(a.bands, b.bands, strict=True)) <= 1


def test_similarity_from_bands_alone() -> None:
    a, b = (fingerprint(text, []) for text in texts()[:2])
    banded = [Fingerprint(f.tlsh, b"", f.bands, f.shingles, f.domains) for f in (a, b)]
    assert similarity(*banded) >= 0.7
    unrelated = Fingerprint(None, b"", fingerprint(UNRELATED[0], []).bands, 1, ())
    assert similarity(banded[0], unrelated) < 0.5


def test_recipient_names_passed_in_are_replaced() -> None:
    a = fingerprint(
        "Cher client Alice Durand, votre compte Alice Durand est suspendu. Alice", [], names=["Alice Durand"]
    )
    b = fingerprint("Cher client Bob Lemaire, votre compte Bob Lemaire est suspendu. Bob", [], names=["Bob", "Lemaire"])
    assert a.bands == b.bands


def test_domains_are_registered_sorted_and_distinct() -> None:
    found = fingerprint("text", ["a.b.example.co.uk", "example.co.uk", "x.github.io", "192.0.2.1", "EXAMPLE.CO.UK"])
    assert found.domains == ("example.co.uk", "x.github.io")


def test_short_and_empty_texts() -> None:
    empty = fingerprint("", [])
    assert (empty.tlsh, empty.bands, empty.shingles, empty.minhash) == (None, (), 0, b"")
    assert fingerprint(" \n\t ", []).bands == ()
    short = fingerprint("Colis bloqué", [])
    assert len(short.bands) == BANDS and len(short.minhash) == PERMUTATIONS * 8
    assert short.tlsh is None and short.shingles == 1
    assert fingerprint("Colis bloqué", []).bands == short.bands
    assert fingerprint("Colis livré", []).bands != short.bands


def test_long_texts_are_capped() -> None:
    huge = "mot " * (MAX_BYTES // 2)
    assert fingerprint(huge, []).shingles <= MAX_SHINGLES
    assert fingerprint(huge + "fin", []).bands == fingerprint(huge + "autre", []).bands


def test_as_json_leaves_the_signature_out() -> None:
    data = fingerprint(texts()[0], ["colis-suivi.example"]).as_json()
    assert set(data) == {"tlsh", "bands", "shingles", "domains"}
    assert json.loads(json.dumps(data)) == data
    assert all(len(band) == 16 for band in data["bands"])


def test_stable_across_processes() -> None:
    """Python's hash() is salted per process: a subprocess with another seed must agree."""
    code = (
        "import json, sys; from signalement.mail.fingerprint import fingerprint;"
        "print(json.dumps([fingerprint(t, ['x.example']).as_json() for t in json.loads(sys.stdin.read())]))"
    )
    sample = [texts()[0], UNRELATED[1], "Colis bloqué", ""]
    done = subprocess.run(  # our own interpreter, fixed code
        [sys.executable, "-c", code],
        input=json.dumps(sample),
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONHASHSEED": "12345", "PYTHONPATH": ":".join(sys.path)},
    )
    assert json.loads(done.stdout) == [fingerprint(t, ["x.example"]).as_json() for t in sample]


def test_known_value() -> None:
    """A fixed input keeps a fixed fingerprint: changing the normalization or the hashes invalidates stored ones."""
    found = fingerprint("Votre colis est en attente de livraison, confirmez le paiement.", [])
    assert found.shingles == 8
    assert found.bands[:2] == KNOWN_BANDS


KNOWN_BANDS = ("e580e580e580e580", "1d2e1d2e1d2e1d2e")


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=500), st.text(max_size=50))
def test_never_raises(text: str, subject: str) -> None:
    found = fingerprint(text, ["example.com"], subject)
    assert len(found.bands) in (0, BANDS)
    assert found.shingles >= 0
