"""The verdict on a message: the brands it names or imitates, the rules that fire, and the category they lead to.

`judge` runs the detectors once (brands and lookalikes, the lure lexicon, the kinds of linked hosts), then every
rule, then the chain. Every rule that fired is a reason; the verdict explains itself.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from signalement.mail.stages import UNTIMED, Stages
from signalement.verdict import lexicon
from signalement.verdict.chain import chain
from signalement.verdict.evidence import Evidence
from signalement.verdict.impersonation import BrandFinding, brand_index
from signalement.verdict.rules import RULES, Facts, link_kinds

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Reason:
    rule: str
    detail: str

    def as_json(self) -> dict[str, str]:
        return {"rule": self.rule, "detail": self.detail}


@dataclass(frozen=True)
class Verdict:
    category: str
    score: float
    reasons: tuple[Reason, ...]
    brands: tuple[BrandFinding, ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {
            "category": self.category,
            "score": round(self.score, 3),
            "reasons": [r.as_json() for r in self.reasons],
            "brands": [b.as_json() for b in self.brands],
        }


def judge(evidence: Evidence, stages: Stages | None = None) -> Verdict:
    stages = stages if stages is not None else UNTIMED
    start = stages.start()
    brands = brand_index().findings(evidence)
    stages.stop("brands", start)
    start = stages.start()
    facts = Facts(evidence, brands, lexicon.signals(evidence), link_kinds(evidence))
    reasons = tuple(_fired(facts))
    scores = chain().scores(r.rule for r in reasons)
    category, score = chain().decide(scores)
    stages.stop("rules", start)
    return Verdict(category, score, reasons, tuple(brands))


def _fired(facts: Facts) -> list[Reason]:
    fired: list[Reason] = []
    for name, rule in RULES.items():
        if rule.signal is not None and rule.signal not in facts.signals:
            continue  # no phrase of it was found: nothing to ask
        try:
            detail = rule.check(facts)
        except (ValueError, TypeError, LookupError, UnicodeError, RecursionError) as e:  # a bug, not a verdict
            log.warning("rule %s failed: %s", name, type(e).__name__)
            continue
        if detail is not None:
            fired.append(Reason(name, detail))
    return fired


def rules_table(markdown: bool = False) -> list[str]:
    """Every rule with its weights and what it looks at: for `signalement rules` and docs/verdicts.md."""
    lines = ["| rule | looks at | harmful | harm | spam |", "|---|---|---|---|---|"] if markdown else []
    for name, rule in RULES.items():
        link = chain().links[name]
        harm = link.harm or ""
        if markdown:
            lines.append(f"| `{name}` | {rule.description} | {link.harmful:+g} | {harm} | {link.spam:+g} |")
        else:
            weights = f"harmful {link.harmful:+g} {harm:<8} spam {link.spam:+g}"
            lines.append(f"{name:<26} {weights:<34} {rule.description}")
    return lines
