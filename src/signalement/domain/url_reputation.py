"""The reputation of the URLs reports carry, and of the people who report them (issue 11, docs/urls.md).

A URL is `suspected` as soon as a report carries it, and becomes `confirmed` either by a rule with enough
confidence (the analysis found its host imitating a brand, on a page or message asking for credentials), by an
analyst, or by the weight of its reporters: each distinct source of reports counts once, with the weight of its
most reliable reporter. A reporter's weight comes from how its past reports were judged (confirmed or cleared)
and how early it reported what was later confirmed, so that one reliable, quick reporter can confirm a URL within
minutes while new or anonymous reporters, or a flood from one source, can never list a URL by themselves.

Weights (`reporter_weight`), with `judged` = confirmed + cleared reports of that reporter:
- anonymous: ANONYMOUS_WEIGHT;
- otherwise NEW_WEIGHT blended toward CONFIRM_AT x r² (r: its Laplace-smoothed share of confirmed reports), by
  its experience judged / (judged + EXPERIENCE), times 1 + EARLY_BONUS x (the share of its confirmed reports it
  made early).
The sum over sources must reach CONFIRM_AT; what new and anonymous reporters add is capped at UNPROVEN_CAP, below it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

CONFIRM_AT = 2.0
ANONYMOUS_WEIGHT = 0.05
NEW_WEIGHT = 0.25
EXPERIENCE = 3.0  # judged reports for a reporter's record to count half
EARLY_BONUS = 0.5
UNPROVEN_CAP = 1.0  # new and anonymous reporters together: never enough alone
PROVEN_AT = 3  # judged reports after which a reporter is no longer new


class UrlState(StrEnum):
    SUSPECTED = "suspected"
    CONFIRMED = "confirmed"
    CLEARED = "cleared"
    DOWN = "down"


class Level(StrEnum):
    """How much is listed: the URL itself, every URL under a path prefix, a whole host, or a registered domain."""

    URL = "url"
    PREFIX = "prefix"
    HOST = "host"
    DOMAIN = "domain"


class ConfirmedBy(StrEnum):
    RULES = "rules"
    REPORTERS = "reporters"
    ANALYST = "analyst"


# What an analyst (or a delisting decision, or a check that the page is gone) may do from each state.
MOVES: dict[UrlState, frozenset[UrlState]] = {
    UrlState.SUSPECTED: frozenset({UrlState.CONFIRMED, UrlState.CLEARED, UrlState.DOWN}),
    UrlState.CONFIRMED: frozenset({UrlState.CLEARED, UrlState.DOWN, UrlState.SUSPECTED}),
    UrlState.CLEARED: frozenset({UrlState.SUSPECTED, UrlState.CONFIRMED}),
    UrlState.DOWN: frozenset({UrlState.CONFIRMED, UrlState.CLEARED, UrlState.SUSPECTED}),
}


def listed(state: UrlState) -> bool:
    """Whether feeds carry it (the others are withdrawals)."""
    return state is UrlState.CONFIRMED


@dataclass(frozen=True)
class Record:
    """How a reporter's past reports were judged."""

    confirmed: int = 0
    cleared: int = 0
    early: int = 0  # of the confirmed, those it reported before the confirmation, among the first

    @property
    def judged(self) -> int:
        return self.confirmed + self.cleared


@dataclass(frozen=True)
class Evidence:
    """One reporter's report of the URL."""

    reporter: str  # the submitter: user:<id>, anon:<hash>, feed:<name> ...
    source: str  # what a flood counts once as: its organization, its feed or trap, else the reporter itself
    anonymous: bool
    record: Record


def reporter_weight(evidence: Evidence) -> float:
    if evidence.anonymous:
        return ANONYMOUS_WEIGHT
    record = evidence.record
    experience = record.judged / (record.judged + EXPERIENCE)
    reliability = (record.confirmed + 1) / (record.judged + 2)
    early = record.early / record.confirmed if record.confirmed else 0.0
    # Squared: a reporter right half of the time is worth a quarter of one always right.
    return (NEW_WEIGHT * (1 - experience) + CONFIRM_AT * reliability**2 * experience) * (1 + EARLY_BONUS * early)


def proven(evidence: Evidence) -> bool:
    return not evidence.anonymous and evidence.record.judged >= PROVEN_AT


@dataclass(frozen=True)
class Weight:
    total: float
    proven: float  # from reporters with a record
    unproven: float  # from new and anonymous ones, after the cap
    sources: int

    @property
    def confirms(self) -> bool:
        return self.total >= CONFIRM_AT


def weigh(evidence: Iterable[Evidence]) -> Weight:
    """The weight of a URL's reports: per source its best reporter's weight; unproven ones capped."""
    best: dict[str, Evidence] = {}
    for item in evidence:
        kept = best.get(item.source)
        if kept is None or reporter_weight(item) > reporter_weight(kept):
            best[item.source] = item
    proven_sum = sum(reporter_weight(e) for e in best.values() if proven(e))
    unproven_sum = min(UNPROVEN_CAP, sum(reporter_weight(e) for e in best.values() if not proven(e)))
    return Weight(proven_sum + unproven_sum, proven_sum, unproven_sum, len(best))


def movable_by_reports(state: UrlState) -> bool:
    """Whether new reports can change this state (else they only add to the URL's counts)."""
    return state in (UrlState.SUSPECTED, UrlState.DOWN)


def next_state(current: UrlState, *, by_rules: bool, weight: Weight) -> tuple[UrlState, ConfirmedBy | None]:
    """What new reports do to a URL: they confirm a suspected one (by rules, or by weight) and bring one that was
    down back; they never undo an analyst's clearing (a false positive stays cleared until an analyst says)."""
    if movable_by_reports(current):
        if by_rules:
            return UrlState.CONFIRMED, ConfirmedBy.RULES
        if weight.confirms:
            return UrlState.CONFIRMED, ConfirmedBy.REPORTERS
    return current, None


def move(current: UrlState, wanted: UrlState) -> UrlState:
    """An analyst's (or a decision's) move; ValueError when it makes no sense from here."""
    if wanted not in MOVES[current]:
        raise ValueError(f"a {current} URL cannot become {wanted}")
    return wanted
