"""The whole analysis, understanding then verdict, on real mail (tests/fixtures/mail) and on hostile input."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from signalement.verdict.analysis import analyze_message, analyze_sms
from signalement.verdict.chain import CATEGORIES, HARMFUL

FIXTURES = Path(__file__).parents[2] / "fixtures" / "mail"
LABELS = {row["file"]: row["label"] for row in csv.DictReader((FIXTURES / "labels.csv").open())}


def _verdict(name: str) -> dict[str, object]:
    return analyze_message((FIXTURES / name).read_bytes())


def test_the_document_carries_the_verdict_beside_the_understanding() -> None:
    document = _verdict("phishing-ru-tax-lure-zip-malspam.eml")
    assert document["category"] == "malware"
    assert 0.5 <= float(document["score"]) <= 1  # type: ignore[arg-type]
    assert "executable-attachment" in {r["rule"] for r in document["reasons"]}  # type: ignore[attr-defined]
    assert document["origin"] is not None and "fingerprint" in document
    json.dumps(document)


def test_no_real_ham_is_called_harmful() -> None:
    for name, label in LABELS.items():
        if label == "ham":
            assert _verdict(name)["category"] == "legitimate", name


def test_real_phishing_and_malspam_are_caught() -> None:
    phishing = [name for name, label in LABELS.items() if label == "phishing"]
    caught = [name for name in phishing if _verdict(name)["category"] in HARMFUL]
    assert "phishing-pl-prosecutor-lure-pdf-malspam.eml" in caught
    assert "phishing-openphish-url-html.eml" in caught
    assert len(caught) >= len(phishing) // 2


def test_an_sms_pushing_a_lookalike_is_phishing() -> None:
    raw = json.dumps(
        {
            "sender": "+33612345678",
            "text": "Votre colis est en attente: reglez 1,99 EUR https://laposte-suivi-colis.com/p",
        }
    ).encode()
    document = analyze_sms(raw)
    assert document["category"] == "phishing"
    assert [b["brand"] for b in document["brands"] if b["impersonated"]] == ["la-poste"]


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=3000))
def test_any_bytes_get_a_verdict(raw: bytes) -> None:
    document = analyze_message(b"From: a@b.example\r\nSubject: x\r\n\r\n" + raw)
    assert document["category"] in CATEGORIES
