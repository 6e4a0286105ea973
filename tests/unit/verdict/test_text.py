from __future__ import annotations

from signalement.verdict.text import PhraseIndex, normalize, phrase


def test_normalize_folds_case_accents_and_punctuation() -> None:
    text = normalize("Vérifiez VOTRE compte, s'il-vous-plaît !")
    assert text.padded == " verifiez votre compte s il vous plait "
    assert "compte" in text.words


def test_phrase_is_the_normalized_form() -> None:
    assert phrase("Caisse d'Épargne") == "caisse d epargne"


def test_phrases_match_whole_words_only() -> None:
    index = PhraseIndex({"verify your account": ["credential-lure"], "dhl": ["dhl"], "la poste": ["la-poste"]})
    found = index.find(normalize("Please VERIFY your account at La Poste, not adhl."))
    assert found == {"credential-lure": ["verify your account"], "la-poste": ["la poste"]}
    assert index.find(normalize("verify your accounts")) == {}


def test_an_empty_text_finds_nothing() -> None:
    assert PhraseIndex({"x y": ["a"]}).find(normalize("")) == {}
    assert not normalize("  !! ")
