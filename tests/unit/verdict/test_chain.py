from __future__ import annotations

import pytest

from signalement.verdict.chain import CATEGORIES, Scores, chain, parse
from signalement.verdict.rules import RULES


def test_every_rule_is_in_the_chain_and_documented_in_one_line() -> None:
    linked = set(chain().links)
    assert linked == set(RULES)
    for rule in RULES.values():
        assert rule.description and "\n" not in rule.description and len(rule.description) <= 120


def test_nothing_fired_is_legitimate() -> None:
    scores = chain().scores([])
    assert chain().decide(scores)[0] == "legitimate"
    assert scores.harmful < 0.2 and scores.spam < 0.2


def test_harmful_wins_over_spam_and_names_its_harm() -> None:
    assert chain().decide(Scores(harmful=0.6, spam=0.99, harm="phishing")) == ("phishing", 0.6)
    assert chain().decide(Scores(harmful=0.2, spam=0.7, harm="phishing")) == ("spam", 0.7)
    assert chain().decide(Scores(harmful=0.2, spam=0.3, harm="scam")) == ("legitimate", 0.3)
    assert set(CATEGORIES) == {"phishing", "malware", "scam", "spam", "legitimate"}


def test_the_harm_is_the_one_whose_rules_weigh_most() -> None:
    assert chain().scores(["executable-attachment", "credential-lure"]).harm == "malware"
    assert chain().scores(["advance-fee"]).harm == "scam"
    assert chain().scores(["password-form"]).harm == "phishing"


def test_weights_add_up_in_log_odds() -> None:
    one = chain().scores(["password-form"]).harmful
    two = chain().scores(["password-form", "credential-lure"]).harmful
    assert 0 < one < two < 1
    assert chain().scores(["password-form", "authenticated-brand"]).harmful < one


HEAD = "[bias]\nharmful = -3\nspam = -2\n"


@pytest.mark.parametrize(
    ("text", "error"),
    [
        (HEAD + '[[link]]\nrule = "nope"\nharmful = 1\nharm = "phishing"\n', "unknown rule"),
        (HEAD + '[[link]]\nrule = "password-form"\nham = 1\n', "unknown field"),
        (HEAD + '[[link]]\nrule = "password-form"\nharmful = 1\n', "needs a harm"),
        (HEAD + '[[link]]\nrule = "password-form"\nharmful = 1\nharm = "spam"\n', "needs a harm"),
    ],
)
def test_a_wrong_chain_is_refused(text: str, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        parse(text, RULES)


def test_the_documentation_shows_the_chain_as_it_is() -> None:
    from pathlib import Path

    from signalement.verdict.judge import rules_table

    documented = (Path(__file__).parents[3] / "docs" / "verdicts.md").read_text()
    table = "\n".join(rules_table(markdown=True))
    assert table in documented, "regenerate the table: signalement rules --markdown"
