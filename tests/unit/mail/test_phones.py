"""phones_in_text(): numbers as smishing and callback scams write them, and the digit runs that are not numbers."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from signalement.mail.phones import _DIGIT_CLASSES, MAX_PHONES, Phone, _candidates, phones_in_text


@pytest.mark.parametrize(
    ("text", "e164", "kind"),
    [
        ("Appelez le 06 12 34 56 78 avant 18h", "+33612345678", "mobile"),
        ("Service client : 01.23.45.67.89.", "+33123456789", "fixed"),
        ("tel. 07-81-23-45-67", "+33781234567", "mobile"),
        ("Numéro vert 0 800 123 456 (gratuit)", "+33800123456", "toll-free"),
        ("Rappelez vite le 08 99 23 45 67 !", "+33899234567", "premium"),
        ("Call +44 20 7946 0958 now", "+442079460958", "fixed"),
        ("WhatsApp: +33 (0)6 12 34 56 78", "+33612345678", "mobile"),
        ("Joignable au 0033612345678", "+33612345678", "mobile"),
        ("<a href='tel:+33612345678'>", "+33612345678", "mobile"),
        ("Numéro\u00a006\u00a012\u00a034\u00a056\u00a078", "+33612345678", "mobile"),
    ],
)
def test_numbers(text: str, e164: str, kind: str) -> None:
    [phone] = phones_in_text(text)
    assert (phone.e164, phone.kind) == (e164, kind)
    assert phone.raw in text
    assert phone.region == ("GB" if e164.startswith("+44") else "FR")


@pytest.mark.parametrize(
    "text",
    [
        "Montant : 1 234 567,89 EUR",
        "Commande n°2024123456 du 12/05/2024 à 10:30",
        "IBAN FR76 3000 6000 0112 3456 7890 189",
        "Carte 4970 1012 3456 7890",
        "https://x.example/track?id=0612345678",
        "https://x.example/0612345678/confirm",
        "Référence ABC0612345678",
        "Code postal 75001, colis 12345",
        "",
    ],
)
def test_not_numbers(text: str) -> None:
    assert phones_in_text(text) == []


def test_deduplicated_in_order_and_as_json() -> None:
    text = "Appelez le 06 12 34 56 78 ou le +33 6 12 34 56 78, sinon le 01 23 45 67 89."
    phones = phones_in_text(text)
    assert [p.e164 for p in phones] == ["+33612345678", "+33123456789"]
    assert phones[0].as_json() == {"e164": "+33612345678", "raw": "06 12 34 56 78", "region": "FR", "kind": "mobile"}


def test_numbers_in_a_row() -> None:
    for text in ("06 12 34 56 78 / 01 23 45 67 89", "0612345678, 0123456789", "06 12 34 56 78 - 01 23 45 67 89"):
        assert [p.e164 for p in phones_in_text(text)] == ["+33612345678", "+33123456789"]


def test_default_regions_in_order() -> None:
    text = "Call (202) 555-0143 or 06 12 34 56 78"
    assert [p.e164 for p in phones_in_text(text, ("US", "FR"))] == ["+12025550143", "+33612345678"]
    assert [p.e164 for p in phones_in_text(text, ("FR",))] == ["+33612345678"]


def test_long_texts_and_many_numbers_are_capped() -> None:
    many = " ".join(f"06 12 34 {i // 100:02d} {i % 100:02d}." for i in range(100))
    assert len(phones_in_text(many)) == MAX_PHONES
    long = "lorem ipsum " * 20_000 + "06 12 34 56 78"
    assert phones_in_text(long) == []  # beyond MAX_CHARS
    assert phones_in_text("x" * 100_000) == []


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from("0123456789 +-.()/\u00a0azé\n"), max_size=300), st.sampled_from(["FR", "US"]))
def test_never_raises(text: str, region: str) -> None:
    for phone in phones_in_text(text, (region,)):
        assert isinstance(phone, Phone) and phone.e164.startswith("+")


def test_lists_across_lines_and_long_runs_that_are_ids() -> None:
    listed = phones_in_text("Tel +1.617.258.0360\n+1.617.877.3271 / 0673426494 0673426494", ("US", "FR"))
    assert [p.e164 for p in listed] == ["+16172580360", "+16178773271", "+33673426494"]
    for text in ("Dossier 06123456780612345678", "ref 06a12b34c56d78e90f12g34h56", "id=0612345678;0698765432"):
        assert phones_in_text(text) == []


def test_candidates_are_groups_of_eight_digits_with_short_gaps() -> None:
    raw = b"a 06 12 34 56 78 bb 1 2 3 4 5 6 7 cc 12    34 56 78 90 dd +33 6 12 34 56 78"
    assert [raw[start:end] for start, end in _candidates(raw, raw.translate(_DIGIT_CLASSES))] == [
        b"06 12 34 56 78",
        b"34 56 78 90",
        b"+33 6 12 34 56 78",
    ]
