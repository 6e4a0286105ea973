"""The chain (chain.toml) as data: which category each rule's firing pushes toward, and how hard.

A category's score is the logistic of its bias plus the weights of its rules that fired: independent evidence
adds up in log-odds, as in a naive Bayes or logistic model, and each reason keeps its own weight in the open.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib.resources import files

HARMFUL = ("malware", "phishing", "scam")  # in this order when two scores tie
CATEGORIES = (*HARMFUL, "spam", "legitimate")
THRESHOLD = 0.5


@dataclass(frozen=True)
class Link:
    rule: str
    weights: Mapping[str, float]  # category -> log-odds added


@dataclass(frozen=True)
class Chain:
    biases: Mapping[str, float]
    links: tuple[Link, ...]

    def scores(self, fired: Iterable[str]) -> dict[str, float]:
        total = dict(self.biases)
        names = set(fired)
        for link in self.links:
            if link.rule in names:
                for category, weight in link.weights.items():
                    total[category] += weight
        return {category: 1 / (1 + math.exp(-value)) for category, value in total.items()}

    def decide(self, scores: Mapping[str, float]) -> tuple[str, float]:
        """(category, score): the score is how sure the verdict is that the message is unwanted."""
        harmful = max(HARMFUL, key=lambda c: scores[c])
        unwanted = max(scores.values())
        if scores[harmful] >= THRESHOLD:
            return harmful, scores[harmful]
        if scores["spam"] >= THRESHOLD:
            return "spam", scores["spam"]
        return "legitimate", unwanted


def parse(text: str, known_rules: Iterable[str]) -> Chain:
    """The chain of a chain.toml text; raises ValueError on an unknown rule or category."""
    data = tomllib.loads(text)
    biases = {name: float(table["bias"]) for name, table in data["category"].items()}
    if set(biases) != {*HARMFUL, "spam"}:
        raise ValueError(f"chain categories must be {sorted({*HARMFUL, 'spam'})}")
    known = set(known_rules)
    links: list[Link] = []
    for table in data.get("link", []):
        name = table["rule"]
        if name not in known:
            raise ValueError(f"chain names an unknown rule: {name}")
        weights = {k: float(v) for k, v in table.items() if k != "rule"}
        if not set(weights) <= set(biases):
            raise ValueError(f"rule {name}: unknown category in {sorted(weights)}")
        links.append(Link(name, weights))
    return Chain(biases, tuple(links))


@cache
def chain() -> Chain:
    from signalement.verdict.rules import RULES

    return parse(files("signalement.verdict").joinpath("chain.toml").read_text(encoding="utf-8"), RULES)
