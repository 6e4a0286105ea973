"""The chain (chain.toml) as data: what each rule's firing means.

Two questions, each a logistic model whose weights are in the open:
- Is the message harmful? The log-odds are the harmful bias plus the `harmful` weights of the rules that fired.
- If so, which harm? Each rule points to the harm it is evidence of (`harm`: phishing, malware or scam); the
  verdict is the harm whose fired rules weigh most (malware, then phishing, then scam on a tie).
- If not, is it spam? The same with the `spam` weights.
Independent evidence adds up in log-odds, as in a naive Bayes or logistic model; a negative weight is evidence
against (an authenticated brand, a discussion list).
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib.resources import files

HARMFUL = ("malware", "phishing", "scam")  # in this order when two harms weigh the same
CATEGORIES = (*HARMFUL, "spam", "legitimate")
THRESHOLD = 0.5


@dataclass(frozen=True)
class Link:
    rule: str
    harmful: float = 0.0  # log-odds added to "harmful"
    harm: str | None = None  # which harm the rule is evidence of
    spam: float = 0.0  # log-odds added to "spam"


@dataclass(frozen=True)
class Scores:
    harmful: float
    spam: float
    harm: str  # the harm whose fired rules weigh most

    def as_json(self) -> dict[str, float | str]:
        return {"harmful": round(self.harmful, 3), "spam": round(self.spam, 3), "harm": self.harm}


@dataclass(frozen=True)
class Chain:
    harmful_bias: float
    spam_bias: float
    links: Mapping[str, Link]  # by rule, in the file's order

    def scores(self, fired: Iterable[str]) -> Scores:
        harmful, spam = self.harmful_bias, self.spam_bias
        by_harm = dict.fromkeys(HARMFUL, 0.0)
        for name in set(fired):
            link = self.links.get(name)
            if link is not None:
                harmful += link.harmful
                spam += link.spam
                if link.harm is not None and link.harmful > 0:
                    by_harm[link.harm] += link.harmful
        harm = max(HARMFUL, key=lambda h: by_harm[h])  # max keeps the first of equals: HARMFUL's order
        return Scores(_logistic(harmful), _logistic(spam), harm)

    def decide(self, scores: Scores) -> tuple[str, float]:
        """(category, score): the score is how sure the verdict is that the message is unwanted."""
        if scores.harmful > THRESHOLD:
            return scores.harm, scores.harmful
        if scores.spam > THRESHOLD:
            return "spam", scores.spam
        return "legitimate", max(scores.harmful, scores.spam)


def _logistic(value: float) -> float:
    return 1 / (1 + math.exp(-value))


def parse(text: str, known_rules: Iterable[str]) -> Chain:
    """The chain of a chain.toml text; raises ValueError on an unknown rule, harm or field."""
    data = tomllib.loads(text)
    known = set(known_rules)
    links: list[Link] = []
    for table in data.get("link", []):
        name = table.get("rule")
        if name not in known:
            raise ValueError(f"chain names an unknown rule: {name}")
        if not set(table) <= {"rule", "harmful", "harm", "spam"}:
            raise ValueError(f"rule {name}: unknown field in {sorted(table)}")
        harm = table.get("harm")
        if harm not in (None, *HARMFUL) or (table.get("harmful", 0) > 0 and harm is None):
            raise ValueError(f"rule {name}: a positive harmful weight needs a harm among {HARMFUL}")
        links.append(Link(name, float(table.get("harmful", 0.0)), harm, float(table.get("spam", 0.0))))
    return Chain(float(data["bias"]["harmful"]), float(data["bias"]["spam"]), {link.rule: link for link in links})


@cache
def chain() -> Chain:
    from signalement.verdict.rules import RULES

    return parse(files("signalement.verdict").joinpath("chain.toml").read_text(encoding="utf-8"), RULES)
