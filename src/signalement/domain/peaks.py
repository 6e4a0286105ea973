"""Peak detection for the statistics (issue 10, docs/peaks.md): is a bucket's count a spike against its own baseline?

A series is a member's count of reports per bucket (hour or day, UTC) for one key, indexed by bucket. The count at
`at` is judged against a robust, seasonal baseline, read from a fixed window before it:

- for each of the `seasons` past seasons (a season is a week: 168 hours, or 7 days), the largest count of the same
  bucket and its `spread` neighbours on either side: a rhythm that moves by a bucket, as local office hours do in
  UTC buckets across a daylight saving change, still matches (pooling the neighbours instead would leave the new
  first busy hour of each day two quiet neighbours to one busy, and a peak every morning for weeks), and
- the `recent` buckets just before `at` (the current level, so a slow growth lifts the baseline).

The sample's median and median absolute deviation (MAD) stand for the level and the noise: a past peak or two in
the sample moves neither. The count is a peak when it is at least `min_count` and above the largest of three
bounds: the median plus `threshold` scaled MADs (1.4826 × MAD estimates a normal sigma), the Poisson quantile at
`threshold` sigmas (the floor: a flat series of zeros or of a constant has a MAD of 0, and any bump would be
infinitely many MADs above it), and `min_ratio` times the median.

History that does not exist is not zero. Without a `start`, a series starts at its first non-zero sample point
(older sample points, all zero, are dropped), so a brand-new resource is judged on the buckets it has; a count of
at least `min_count` with no history at all is a peak (a resource that draws that many reports the first time it
draws any is news for its member).

Cost: `check` reads `values[at]` and, only when it reaches `min_count`, the `seasons × (2 × spread + 1) + recent`
buckets of its window (24 for the hourly rule), never the rest of the series: about 12 µs a check.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from itertools import dropwhile
from statistics import median

MAD_TO_SIGMA = 1.4826  # 1 / Φ⁻¹(3/4): the MAD of a normal distribution times this is its sigma


@dataclass(frozen=True)
class PeakRule:
    """How a series is judged; the defaults are the hourly rule, justified in docs/peaks.md."""

    season: int = 168  # buckets per season: a week of hours (the same hour of the same weekday)
    seasons: int = 6  # past seasons: the median shrugs off two unusual weeks, and learns new habits in three
    spread: int = 1  # neighbours on each side of each seasonal bucket, the busiest kept: a shifted rhythm matches
    recent: int = 6  # buckets just before `at`: the current level, so a slow growth lifts the baseline
    threshold: float = 6.0  # scaled MADs above the median
    min_count: float = 10  # below this, never a peak: 0 → 3 reports is no news
    min_ratio: float = 3.0  # the count must also exceed this many times the median

    def __post_init__(self) -> None:
        if self.season < 1 or self.seasons < 0 or self.spread < 0 or self.recent < 0:
            raise ValueError("season must be positive; seasons, spread and recent not negative")
        if self.seasons * (2 * self.spread + 1) + self.recent == 0:
            raise ValueError("the baseline sample is empty")
        # No bucket may be sampled twice: neighbourhoods of two seasons, or the recent run and last season's.
        if self.seasons and (2 * self.spread >= self.season or self.recent >= self.season - self.spread):
            raise ValueError("seasonal neighbourhoods and the recent buckets overlap")
        if self.threshold < 0 or self.min_count < 0 or self.min_ratio < 1:
            raise ValueError("threshold and min_count must not be negative, min_ratio at least 1")

    @cached_property
    def offsets(self) -> tuple[int, ...]:
        """How far before `at` each sample point lies, oldest first: the seasonal points, then the recent run."""
        seasonal = [
            k * self.season - d for k in range(self.seasons, 0, -1) for d in range(-self.spread, self.spread + 1)
        ]
        return (*seasonal, *range(self.recent, 0, -1))

    @property
    def span(self) -> int:
        """How many buckets before `at` the baseline reaches back: the window `check` reads."""
        return max(self.offsets)

    def recent_share(self, seasons: int) -> int:
        """How many recent points join a sample that has `seasons` seasons of history (see `sample`)."""
        if seasons == 0:
            return self.recent
        return min(self.recent, -(-self.recent * seasons // self.seasons))


HOURLY = PeakRule()
# Days: the same weekday of eight weeks (spread 0: a weekday's neighbours are other weekdays, or the weekend) and
# the three days before. Daily sums are smoother than hours (no campaign waves): twice the usual is already news.
DAILY = PeakRule(season=7, seasons=8, spread=0, recent=3, threshold=6.0, min_count=10, min_ratio=2.0)


@dataclass(frozen=True)
class Baseline:
    """The level of a series before a bucket: median and MAD of its sample, and the sample's size (0: no history)."""

    median: float
    mad: float
    size: int

    @property
    def sigma(self) -> float:
        """The noise, for the score: the scaled MAD, floored as for Poisson counts (sqrt of the median, at least 1)."""
        return max(MAD_TO_SIGMA * self.mad, math.sqrt(self.median), 1.0)


@dataclass(frozen=True)
class Peak:
    """A count above its baseline: `score` in sigmas above the median, `upper` the bound it went past."""

    at: int
    count: float
    baseline: Baseline
    score: float
    upper: float


def sample(values: Sequence[float], at: int, rule: PeakRule, start: int | None = None) -> list[float]:
    """The baseline's points for `values[at]`, oldest first, without buckets before the series' start.

    One point per season (its neighbourhood's busiest), then the recent run. The recent run keeps the share of the
    sample it has with full history (half, hourly) while a young series fills its seasons in: otherwise, in a
    series two weeks old, six quiet night hours would outvote two Monday mornings and make each Monday morning a
    peak.
    """
    _check_index(values, at)
    first = 0 if start is None else max(start, 0)
    offsets = [offset for offset in rule.offsets if at - offset >= first]
    if start is None:  # the series starts at its first non-zero point: zeros before it are not history
        offsets = list(dropwhile(lambda offset: not values[at - offset], offsets))
    seasonal = [offset for offset in offsets if offset > rule.recent]
    busiest: dict[int, float] = {}  # season → the largest count of its neighbourhood, oldest season first
    for offset in seasonal:
        season = (offset + rule.spread) // rule.season
        busiest[season] = max(busiest.get(season, values[at - offset]), values[at - offset])
    recent = offsets[len(seasonal) :]
    recent = recent[max(len(recent) - rule.recent_share(len(busiest)), 0) :]
    return [*busiest.values(), *(values[at - offset] for offset in recent)]


def baseline(values: Sequence[float], at: int, rule: PeakRule, start: int | None = None) -> Baseline:
    """The level and noise before `values[at]`, from its seasonal window (see `sample`)."""
    points = sample(values, at, rule, start)
    if not points:
        return Baseline(0.0, 0.0, 0)
    middle = float(median(points))
    return Baseline(middle, float(median([abs(value - middle) for value in points])), len(points))


def upper_bound(base: Baseline, rule: PeakRule) -> float:
    """The largest count that is still ordinary variation: what the member's chart shows as expected at most."""
    noise = base.median + rule.threshold * MAD_TO_SIGMA * base.mad
    # The floor, as if the counts were Poisson with the median for mean. Counts are skewed at small means: Poisson(3)
    # passes 3 + 6 × sqrt 3 ≈ 13.4 once in 300,000 hours, not once in 10⁹; the Cornish-Fisher term (z² - 1) / 6
    # corrects the normal quantile for that skewness (and keeps the floor at 5.8 over a series of zeros).
    poisson = base.median + rule.threshold * math.sqrt(base.median) + (rule.threshold**2 - 1) / 6
    return max(noise, poisson, rule.min_ratio * base.median)


def check(values: Sequence[float], at: int, rule: PeakRule, start: int | None = None) -> Peak | None:
    """The peak at `values[at]`, or None. `start`: the series' first bucket, when known (else its first non-zero)."""
    _check_index(values, at)
    count = values[at]
    if count < rule.min_count:  # most buckets of most series: one read, no baseline
        return None
    base = baseline(values, at, rule, start)
    upper = upper_bound(base, rule)
    if count <= upper:
        return None
    return Peak(at, count, base, (count - base.median) / base.sigma, upper)


def peaks(values: Sequence[float], rule: PeakRule, start: int | None = None) -> list[Peak]:
    """Every peak of a whole series, as `check` finds each (for tests, and to mark past peaks on a chart)."""
    return [peak for at in range(len(values)) if (peak := check(values, at, rule, start)) is not None]


def band(values: Sequence[float], rule: PeakRule, start: int | None = None) -> list[float]:
    """The expected upper bound at every bucket of a series, drawn under it on the member's chart."""
    return [upper_bound(baseline(values, at, rule, start), rule) for at in range(len(values))]


def _check_index(values: Sequence[float], at: int) -> None:
    # A negative index would silently read from the end of the series.
    if not 0 <= at < len(values):
        raise IndexError(f"bucket {at} is outside the series of {len(values)} buckets")
