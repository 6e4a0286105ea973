"""Peak detection on synthetic series (issue 10): a known injected peak, none, a weekly rhythm, a slow growth."""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from typing import overload

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from signalement.domain.peaks import DAILY, HOURLY, Peak, PeakRule, band, baseline, check, peaks

WEEK = 168
HISTORY = 6 * WEEK  # the hourly rule's seasonal window, filled before the weeks under test
WEEKS = 12 * WEEK  # the weeks under test
SEEDS = range(10)
Level = Callable[[int], float]


def poisson(rng: random.Random, mean: float) -> int:
    if mean > 50:  # the normal approximation, good enough this far from zero
        return max(round(rng.gauss(mean, math.sqrt(mean))), 0)
    limit, count, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        count, product = count + 1, product * rng.random()
    return count


def series(level: Level, seed: int, length: int = HISTORY + WEEKS) -> list[float]:
    rng = random.Random(seed)
    return [float(poisson(rng, level(t))) for t in range(length)]


def office(t: int, busy: float = 50, quiet: float = 5) -> float:
    """Busy on weekday office hours (Monday 08:00 to 18:00 ...), ten times quieter nights and weekends."""
    day, hour = divmod(t % WEEK, 24)
    return busy if day < 5 and 8 <= hour < 18 else quiet


def at_hour(week: int, day: int, hour: int) -> int:
    """The bucket of a weekday (0 = Monday) and hour in a week under test (0 = the first after the history)."""
    return HISTORY + week * WEEK + day * 24 + hour


def found(values: Sequence[float], rule: PeakRule = HOURLY, after: int = HISTORY) -> list[int]:
    """Where peaks are, once the baseline window is full (the first hours of a series are tested apart)."""
    return [peak.at for peak in peaks(values, rule) if peak.at >= after]


# --- a known injected peak ---


@pytest.mark.parametrize("seed", SEEDS)
def test_a_one_hour_burst_is_found_at_that_hour_and_nowhere_else(seed: int) -> None:
    values = series(lambda t: 20, seed)
    burst = at_hour(8, 2, 14)
    values[burst] = 200
    assert found(values) == [burst]
    peak = check(values, burst, HOURLY)
    assert peak is not None
    assert 18 <= peak.baseline.median <= 28 and peak.baseline.size == 12  # 6 weeks' busiest + 6 recent hours
    assert peak.upper < 200 and peak.score > 25


@pytest.mark.parametrize("seed", SEEDS)
def test_a_burst_over_several_hours_is_found_on_its_first_hour(seed: int) -> None:
    values = series(lambda t: 20, seed)
    first = at_hour(9, 4, 22)
    values[first : first + 5] = [150.0] * 5
    hours = found(values)
    assert hours[0] == first
    assert all(first <= hour < first + 5 for hour in hours)


def test_a_past_peak_does_not_lift_the_baseline() -> None:
    values = series(lambda t: 20, 0)
    past = [at_hour(1, 3, 10), at_hour(3, 3, 11), at_hour(4, 3, 9)]  # the same hour or its neighbour, 3 weeks of 6
    for hour in past:
        values[hour] = 500
    values[at_hour(7, 3, 10)] = 200
    assert found(values) == [*past, at_hour(7, 3, 10)]


# --- none ---


@pytest.mark.parametrize("mean", [0.2, 1, 3, 5, 20, 200, 2000])
def test_stationary_noise_gives_no_peak(mean: float) -> None:
    for seed in SEEDS:
        assert found(series(lambda t: mean, seed)) == [], seed


def test_a_series_of_zeros_then_two_or_three_reports_is_no_peak() -> None:
    values = [0.0] * (HISTORY + WEEKS)
    values[-50], values[-20], values[-19], values[-1] = 2, 3, 3, 3
    assert peaks(values, HOURLY) == []
    values[-1] = 9  # still under min_count
    assert peaks(values, HOURLY) == []


def test_a_constant_series_alerts_only_past_its_poisson_bound() -> None:
    values = [7.0] * (HISTORY + WEEKS)
    values[-1] = 20
    assert peaks(values, HOURLY) == []  # 7 + 6 sqrt 7 + 5.8 ≈ 28.7
    values[-1] = 30
    assert [peak.at for peak in peaks(values, HOURLY)] == [len(values) - 1]


# --- a weekly rhythm ---


@pytest.mark.parametrize("seed", SEEDS)
def test_a_weekly_rhythm_gives_no_peak_not_even_on_monday_mornings(seed: int) -> None:
    values = series(office, seed)
    assert found(values) == []
    assert all(check(values, at_hour(week, 0, 8), HOURLY) is None for week in range(12))


def test_a_rhythm_shifted_by_an_hour_gives_no_peak() -> None:
    # Office hours in local time move by an hour in UTC buckets at a daylight saving change.
    values = series(lambda t: office(t + (1 if t >= HISTORY + 5 * WEEK else 0)), 3)
    assert found(values) == []


@pytest.mark.parametrize("seed", SEEDS)
def test_a_peak_on_a_quiet_sunday_night_is_found_though_it_would_be_small_on_a_monday(seed: int) -> None:
    values = series(office, seed)
    sunday_night, monday_morning = at_hour(10, 6, 3), at_hour(10, 0, 10)
    values[sunday_night] = values[monday_morning] = 60
    assert found(values) == [sunday_night]


# --- a slow growth, a step ---


@pytest.mark.parametrize("seed", SEEDS)
def test_a_slow_growth_gives_no_peak(seed: int) -> None:
    def tripling(t: int) -> float:  # x3 over the 13 weeks after the history, smoothly
        return 20 * 3 ** (max(t - HISTORY, 0) / (13 * WEEK))

    assert found(series(tripling, seed, HISTORY + 13 * WEEK)) == []
    assert found(series(lambda t: office(t) * tripling(t) / 20, seed, HISTORY + 13 * WEEK)) == []


@pytest.mark.parametrize("seed", SEEDS)
def test_a_sudden_step_x5_is_found_on_its_first_hour(seed: int) -> None:
    step = at_hour(8, 1, 15)
    hours = found(series(lambda t: 100 if t >= step else 20, seed))
    assert hours[0] == step
    # The new level stays above a baseline that the old level holds for about two weeks (the cooldown elsewhere
    # keeps this to one alert per cooldown); then the baseline has learned it.
    assert all(step <= hour < step + 3 * WEEK for hour in hours)


# --- new series, and the series' start ---


def test_a_new_series_first_burst_is_a_peak_against_no_history() -> None:
    peak = check([200.0], 0, HOURLY)
    assert peak is not None
    assert peak.baseline.size == 0 and peak.baseline.median == 0
    assert check([9.0], 0, HOURLY) is None  # under min_count
    # Years of silence before it (leading zeros) are no history either.
    assert check([0.0] * 5000 + [200.0], 5000, HOURLY) == replace(peak, at=5000)


@pytest.mark.parametrize("seed", SEEDS)
def test_a_new_series_alerts_once_at_its_birth_then_judges_on_what_it_has(seed: int) -> None:
    values = [0.0] * HISTORY + series(lambda t: 20, seed, WEEKS)
    values[HISTORY] = 200
    assert [peak.at for peak in peaks(values, HOURLY)] == [HISTORY]


@pytest.mark.parametrize("seed", SEEDS)
def test_a_young_series_learns_its_weekly_rhythm_in_its_first_week(seed: int) -> None:
    # With no past week, its first Monday morning is news; from its second week on, its rhythm is known.
    values = series(office, seed, 8 * WEEK)
    assert all(hour < WEEK for hour in found(values, after=0))


def test_an_explicit_start_counts_the_silent_weeks_before_the_new_level_as_zeros() -> None:
    values = [0.0] * HISTORY + [20.0] * 4
    at = len(values) - 1
    assert check(values, at, HOURLY) is None  # a new series, judged on its first three hours
    peak = check(values, at, HOURLY, start=0)  # the resource existed and drew nothing for six weeks
    assert peak is not None and peak.baseline.median == 0
    assert check(values, at, HOURLY, start=at - 10) is None  # nothing before start is read


def test_buckets_before_the_start_are_not_history() -> None:
    values = [500.0] * HISTORY + [20.0] * 10 + [200.0]
    assert check(values, len(values) - 1, HOURLY) is None  # the old level hides the burst
    peak = check(values, len(values) - 1, HOURLY, start=HISTORY)
    assert peak is not None and peak.baseline.median == 20 and peak.baseline.size == 6  # the recent hours


# --- the daily rule ---


def weekdays(t: int) -> float:
    return 500 if t % 7 < 5 else 50


@pytest.mark.parametrize("seed", SEEDS)
def test_daily_a_weekly_rhythm_and_a_slow_growth_give_no_peak(seed: int) -> None:
    assert found(series(weekdays, seed, 8 * 7 + 91), DAILY, after=8 * 7) == []
    assert found(series(lambda t: weekdays(t) * 3 ** (t / 91), seed, 8 * 7 + 91), DAILY, after=8 * 7) == []


@pytest.mark.parametrize("seed", SEEDS)
def test_daily_a_peak_day_is_found(seed: int) -> None:
    values = series(weekdays, seed, 20 * 7)
    saturday, wednesday = 15 * 7 + 5, 17 * 7 + 2
    values[saturday] = 300  # six times a Saturday, less than any weekday
    values[wednesday] = 1500
    assert found(values, DAILY, after=8 * 7) == [saturday, wednesday]


# --- cost: only the baseline window is read ---


class Reads(Sequence[float]):
    """A series that records which buckets were read."""

    def __init__(self, values: list[float]) -> None:
        self.values, self.read = values, set[int]()

    def __len__(self) -> int:
        return len(self.values)

    @overload
    def __getitem__(self, index: int) -> float: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[float]: ...
    def __getitem__(self, index: int | slice) -> float | Sequence[float]:
        if isinstance(index, slice):
            raise TypeError("check reads buckets one by one")
        self.read.add(index)
        return self.values[index]

    def __iter__(self) -> Iterator[float]:
        raise TypeError("check never iterates over a whole series")


@pytest.mark.parametrize("rule", [HOURLY, DAILY])
def test_check_reads_only_its_baseline_window(rule: PeakRule) -> None:
    values = Reads(series(lambda t: 20, 1, 20_000))
    at = 19_000
    values.values[at] = 200
    assert check(values, at, rule) is not None
    sampled = rule.seasons * (2 * rule.spread + 1) + rule.recent  # read, then each season's busiest kept
    assert len(values.read) == sampled + 1 and min(values.read) == at - rule.span and max(values.read) == at
    values.read.clear()
    values.values[at] = 3
    assert check(values, at, rule) is None
    assert values.read == {at}  # under min_count: one read


def test_rules_that_would_sample_a_bucket_twice_or_nothing_are_refused() -> None:
    for bad in (
        {"season": 2, "spread": 1},
        {"season": 24, "spread": 1, "recent": 23},
        {"seasons": 0, "recent": 0},
        {"min_ratio": 0.5},
        {"season": 0},
    ):
        with pytest.raises(ValueError):  # noqa: PT011 - each message says which
            PeakRule(**bad)
    assert PeakRule(seasons=0, recent=24).offsets == tuple(range(24, 0, -1))


def test_a_bucket_outside_the_series_is_refused() -> None:
    with pytest.raises(IndexError):
        check([1.0, 2.0], 2, HOURLY)
    with pytest.raises(IndexError):
        check([1.0, 2.0], -1, HOURLY)


def test_the_band_is_what_each_peak_went_past() -> None:
    values = series(office, 4)
    values[at_hour(5, 6, 2)] = 80
    bounds = band(values, HOURLY)
    assert len(bounds) == len(values)
    for peak in peaks(values, HOURLY):
        assert bounds[peak.at] == peak.upper < peak.count
    assert bounds[at_hour(5, 0, 10)] > 60  # office hours expect more than nights
    assert bounds[at_hour(5, 6, 2)] < 30


# --- properties ---

SMALL = PeakRule(season=24, seasons=3, spread=1, recent=4)  # a small window, so generated series exercise it
counts = st.lists(st.integers(0, 60).map(float), min_size=1, max_size=120)


def is_peak(values: Sequence[float], at: int, rule: PeakRule) -> bool:
    return check(values, at, rule) is not None


@settings(max_examples=200, deadline=None)
@given(counts, st.integers(1, 20))
def test_scaling_a_series_by_a_factor_keeps_every_peak(values: list[float], factor: int) -> None:
    scaled = [value * factor for value in values]
    for peak in peaks(values, SMALL):
        assert is_peak(scaled, peak.at, SMALL)


@settings(max_examples=200, deadline=None)
@given(counts.map(lambda values: [value + 1 for value in values]), st.integers(0, 50))
def test_adding_a_constant_creates_no_peak_past_min_count(values: list[float], constant: int) -> None:
    # Without min_count (an absolute floor: 9 + 1 reaches 10), on a series with no leading zeros (they would become
    # history), past its first bucket (judged against nothing).
    rule = replace(SMALL, min_count=0)
    shifted = [value + constant for value in values]
    for peak in peaks(shifted, rule):
        assert peak.at == 0 or is_peak(values, peak.at, rule)  # the first bucket has no history to shift


@settings(max_examples=200, deadline=None)
@given(counts, st.sampled_from([HOURLY, DAILY, SMALL]))
def test_a_peak_is_at_least_min_count_above_its_bound_and_above_its_median(values: list[float], rule: PeakRule) -> None:
    for peak in peaks(values, rule):
        assert isinstance(peak, Peak)
        assert peak.count >= rule.min_count and peak.count > peak.upper and peak.score > 0
        assert peak.count > rule.min_ratio * peak.baseline.median
        assert peak.baseline == baseline(values, peak.at, rule)
