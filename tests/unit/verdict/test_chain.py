from __future__ import annotations

import pytest

from signalement.verdict.chain import CATEGORIES, chain, parse
from signalement.verdict.rules import RULES


def test_every_rule_is_in_the_chain_and_documented_in_one_line() -> None:
    linked = {link.rule for link in chain().links}
    assert linked == set(RULES)
    for rule in RULES.values():
        assert rule.description and "\n" not in rule.description and len(rule.description) <= 120


def test_nothing_fired_is_legitimate() -> None:
    scores = chain().scores([])
    assert chain().decide(scores)[0] == "legitimate"
    assert all(score < 0.2 for score in scores.values())


def test_harmful_categories_win_over_spam() -> None:
    category, score = chain().decide({"phishing": 0.6, "malware": 0.1, "scam": 0.2, "spam": 0.99})
    assert (category, score) == ("phishing", 0.6)
    assert chain().decide({"phishing": 0.1, "malware": 0.1, "scam": 0.2, "spam": 0.7})[0] == "spam"
    assert set(CATEGORIES) == {"phishing", "malware", "scam", "spam", "legitimate"}


def test_weights_add_up_in_log_odds() -> None:
    one = chain().scores(["password-form"])["phishing"]
    two = chain().scores(["password-form", "credential-lure"])["phishing"]
    assert 0 < one < two < 1


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ('[category.phishing]\nbias = 0\n[[link]]\nrule = "x"\nphishing = 1\n', "categories"),
        (
            "".join(f"[category.{c}]\nbias = 0\n" for c in ("phishing", "malware", "scam", "spam"))
            + '[[link]]\nrule = "nope"\nphishing = 1\n',
            "unknown rule",
        ),
        (
            "".join(f"[category.{c}]\nbias = 0\n" for c in ("phishing", "malware", "scam", "spam"))
            + '[[link]]\nrule = "password-form"\nham = 1\n',
            "unknown category",
        ),
    ],
)
def test_a_wrong_chain_is_refused(text: str, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        parse(text, RULES)


def test_the_documentation_lists_every_rule() -> None:
    from pathlib import Path

    documented = (Path(__file__).parents[3] / "docs" / "verdicts.md").read_text()
    assert [name for name in RULES if f"| `{name}` |" not in documented] == []
