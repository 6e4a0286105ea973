"""Who can confirm a URL: one reliable, quick reporter can; new or anonymous reporters, or a flood from one source,
cannot by themselves; rules and analysts can; reports never undo an analyst's clearing."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from signalement.domain.url_reputation import (
    CONFIRM_AT,
    ConfirmedBy,
    Evidence,
    Record,
    UrlState,
    move,
    next_state,
    reporter_weight,
    weigh,
)

RELIABLE = Record(confirmed=20, cleared=0, early=15)
NEW = Record()


def _report(n: int, record: Record = NEW, *, source: str | None = None, anonymous: bool = False) -> Evidence:
    return Evidence(f"user:{n}", source or f"user:{n}", anonymous, record)


def test_one_reliable_quick_reporter_confirms_alone() -> None:
    weight = weigh([_report(1, RELIABLE)])
    assert weight.confirms and weight.sources == 1
    assert next_state(UrlState.SUSPECTED, by_rules=False, weight=weight) == (UrlState.CONFIRMED, ConfirmedBy.REPORTERS)


def test_reliable_but_late_weighs_less_than_reliable_and_early() -> None:
    late = Record(confirmed=20, cleared=0, early=0)
    assert reporter_weight(_report(1, late)) < reporter_weight(_report(1, RELIABLE))


def test_a_reporter_often_wrong_weighs_less_than_a_new_one() -> None:
    wrong = Record(confirmed=2, cleared=18)
    assert reporter_weight(_report(1, wrong)) < reporter_weight(_report(2, NEW))


def test_new_reporters_never_list_a_url_by_themselves() -> None:
    crowd = weigh(_report(n) for n in range(1000))
    assert crowd.sources == 1000 and not crowd.confirms and crowd.total <= 1.0


def test_anonymous_reporters_never_list_a_url_by_themselves() -> None:
    assert not weigh(_report(n, anonymous=True) for n in range(10_000)).confirms


def test_a_flood_from_one_source_counts_once() -> None:
    flood = weigh(_report(n, Record(confirmed=5, cleared=0), source="organization:7") for n in range(500))
    single = weigh([_report(1, Record(confirmed=5, cleared=0), source="organization:7")])
    assert flood.total == single.total and flood.sources == 1


def test_a_proven_reporter_and_the_crowd_confirm_together() -> None:
    proven = _report(1, Record(confirmed=8, cleared=1, early=2))
    assert not weigh([proven]).confirms
    assert weigh([proven, *(_report(n) for n in range(2, 8))]).confirms


def test_rules_confirm_and_reports_bring_a_url_that_was_down_back() -> None:
    none = weigh([])
    assert next_state(UrlState.SUSPECTED, by_rules=True, weight=none) == (UrlState.CONFIRMED, ConfirmedBy.RULES)
    assert next_state(UrlState.DOWN, by_rules=False, weight=weigh([_report(1, RELIABLE)]))[0] is UrlState.CONFIRMED


def test_reports_never_undo_a_clearing() -> None:
    assert next_state(UrlState.CLEARED, by_rules=True, weight=weigh([_report(1, RELIABLE)])) == (
        UrlState.CLEARED,
        None,
    )


def test_analyst_moves() -> None:
    assert move(UrlState.SUSPECTED, UrlState.CONFIRMED) is UrlState.CONFIRMED
    assert move(UrlState.CLEARED, UrlState.CONFIRMED) is UrlState.CONFIRMED
    with pytest.raises(ValueError, match="cannot become"):
        move(UrlState.CONFIRMED, UrlState.CONFIRMED)


_RECORDS = st.builds(Record, st.integers(0, 200), st.integers(0, 200), st.integers(0, 200))


@given(st.lists(st.tuples(st.integers(0, 50), _RECORDS, st.booleans()), max_size=60))
def test_only_proven_reporters_can_reach_the_threshold(reports: list[tuple[int, Record, bool]]) -> None:
    evidence = [Evidence(f"r{i}", f"s{source}", anonymous, record) for i, (source, record, anonymous) in
                enumerate(reports)]  # fmt: skip
    weight = weigh(evidence)
    assert weight.unproven <= 1.0 < CONFIRM_AT
    if weight.confirms:
        assert weight.proven > 0
