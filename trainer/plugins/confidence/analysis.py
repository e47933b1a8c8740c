"""Statistics for before/after confidence questionnaires (ratings 1 to 5).

Pure functions and frozen dataclasses: no Flask, no database. A "rating" is a number from
1 to 5; it may be the mean of several statements, so it need not be a whole number. A rating
of ``CONFIDENT_FROM`` (4) or more counts as "confident" / "agree".

``paired_change`` compares the answers each person gave on two occasions (for example before
and after a course). It reports the spread of the changes, the Wilcoxon signed-rank test, the
matched-pairs rank-biserial effect size and an exact McNemar test on the "confident" split.
"""

from __future__ import annotations

import warnings
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass

import numpy as np
from scipy import stats

CONFIDENT_FROM = 4
"""A rating of 4 or 5 counts as "confident" / "agree"."""

# Differences are rounded to this many decimal places before they are compared, ranked or
# tested, so that float noise in means of several statements (13/3 - 11/3 != 2/3 exactly)
# cannot split a tie or turn a zero change into a tiny non-zero one. Ratings lie in 1..5,
# so nine places is far finer than any real difference.
_DIFFERENCE_PLACES = 9


@dataclass(frozen=True)
class Share:
    """``count`` out of ``n``.

    Both must be non-negative. ``count`` may exceed ``n`` (a response rate can pass 100 % if
    people who were not invited answer); the percentage then exceeds 100.
    """

    count: int
    n: int

    def __post_init__(self) -> None:
        if self.count < 0 or self.n < 0:
            raise ValueError(f"Share needs non-negative count and n, got {self.count}/{self.n}")

    @property
    def percent(self) -> float | None:
        """``100 * count / n``, not rounded; ``None`` when ``n`` is 0."""
        if self.n == 0:
            return None
        return 100 * self.count / self.n

    def rounded(self) -> int | None:
        """The percentage as a whole number, halves rounded up; ``None`` when ``n`` is 0.

        Worked in exact integer arithmetic, so 1/8 (12.5 %) gives 13, not the 12 that
        Python's round-half-to-even ``round()`` would give.
        """
        if self.n == 0:
            return None
        return (200 * self.count + self.n) // (2 * self.n)


def share_confident(ratings: Iterable[float | None]) -> Share:
    """How many ratings are ``CONFIDENT_FROM`` or more, out of all ratings given.

    ``None`` values (question not answered) are skipped: they count in neither ``count`` nor ``n``.
    """
    given = [r for r in ratings if r is not None]
    return Share(sum(1 for r in given if r >= CONFIDENT_FROM), len(given))


def response_rate(respondents: int, invited: int) -> Share:
    """``respondents`` out of ``invited``, as a :class:`Share`."""
    return Share(respondents, invited)


@dataclass(frozen=True)
class PairedChange:
    """Change between two answers from the same people; see :func:`paired_change`."""

    n: int
    median: float | None
    lower_quartile: float | None
    upper_quartile: float | None
    improved: Share
    same: Share
    worse: Share
    wilcoxon_statistic: float | None
    wilcoxon_p: float | None
    effect_size: float | None
    confident_before: Share
    confident_after: Share
    became_confident: int
    stopped_confident: int
    mcnemar_p: float | None
    unmatched_earlier: int
    unmatched_later: int


def _wilcoxon(differences: list[float]) -> tuple[float | None, float | None]:
    """Two-sided Wilcoxon signed-rank test on ``differences``: ``(statistic, p)``.

    Uses ``scipy.stats.wilcoxon(d, zero_method="wilcox", alternative="two-sided",
    method="auto")``. The "wilcox" method drops zero differences before ranking. The statistic
    is scipy's two-sided one: the smaller of R+ and R-, the sums of the ranks of the positive
    and negative differences. With scipy 1.15 or later "auto" chooses the p-value so:

    * no ties and no zeros, up to 50 differences: the exact null distribution;
    * ties or zeros, up to 13 differences (zeros included in that count): an exact
      permutation test, enumerating every assignment of signs to the ranks (deterministic,
      2**13 = 8192 < scipy's 9999 resamples);
    * otherwise the normal approximation, with tie correction and no continuity correction.

    (scipy 1.11-1.14 used the normal approximation whenever there were ties or zeros.)
    Returns ``(None, None)`` when no difference is non-zero. Any warning scipy raises is
    silenced here, so callers running with warnings as errors are safe.
    """
    if not any(d != 0 for d in differences):
        return None, None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = stats.wilcoxon(
            differences, zero_method="wilcox", alternative="two-sided", method="auto"
        )
    statistic, p = float(result.statistic), float(result.pvalue)
    if np.isnan(statistic) or np.isnan(p):
        return None, None
    return statistic, p


def _rank_biserial(differences: list[float]) -> float | None:
    """Matched-pairs rank-biserial correlation ``(R+ - R-) / (R+ + R-)``, from -1 to 1.

    Zero differences are dropped; the absolute values of the rest are ranked with average ranks
    for ties. ``None`` when no difference is non-zero.
    """
    non_zero = [d for d in differences if d != 0]
    if not non_zero:
        return None
    ranks = stats.rankdata([abs(d) for d in non_zero], method="average")
    r_plus = float(sum(r for r, d in zip(ranks, non_zero, strict=True) if d > 0))
    r_minus = float(sum(r for r, d in zip(ranks, non_zero, strict=True) if d < 0))
    return (r_plus - r_minus) / (r_plus + r_minus)


def _mcnemar_exact(stopped: int, became: int) -> float | None:
    """Exact McNemar p: two-sided binomial test of ``stopped`` out of ``stopped + became`` at 0.5.

    ``None`` when there are no discordant pairs.
    """
    if stopped + became == 0:
        return None
    return float(stats.binomtest(stopped, stopped + became, 0.5, alternative="two-sided").pvalue)


def paired_change(
    earlier: Mapping[Hashable, float | None], later: Mapping[Hashable, float | None]
) -> PairedChange:
    """Compare two sets of ratings keyed by respondent.

    A pair is a key present in both mappings with a non-``None`` value in each; ``n`` counts
    them. Each difference is ``later - earlier`` (rounded to 9 decimal places). A key with an
    answer on one side only (missing or ``None`` on the other) counts in ``unmatched_earlier``
    or ``unmatched_later`` and is otherwise ignored.

    * ``median``, ``lower_quartile``, ``upper_quartile``: the 50th, 25th and 75th percentiles of
      the differences (numpy's default linear interpolation); ``None`` when ``n`` is 0.
    * ``improved`` / ``same`` / ``worse``: differences above / equal to / below zero, out of ``n``.
    * ``wilcoxon_statistic``, ``wilcoxon_p``: see :func:`_wilcoxon` (zero differences are dropped;
      ``None`` when ``n`` is 0 or every difference is zero).
    * ``effect_size``: matched-pairs rank-biserial correlation (positive means improvement);
      ``None`` when no difference is non-zero.
    * ``confident_before`` / ``confident_after``: pairs whose earlier / later rating is
      ``CONFIDENT_FROM`` or more, out of ``n``.
    * ``became_confident`` (McNemar's c) and ``stopped_confident`` (McNemar's b): pairs that
      crossed the confident line upwards / downwards; ``mcnemar_p`` is the exact two-sided test
      of b against b + c at 0.5, ``None`` when b + c is 0.
    """
    before: list[float] = []
    after: list[float] = []
    unmatched_earlier = 0
    for key, value in earlier.items():
        if value is None:
            continue
        other = later.get(key)
        if other is None:
            unmatched_earlier += 1
        else:
            before.append(value)
            after.append(other)
    unmatched_later = sum(
        1 for key, value in later.items() if value is not None and earlier.get(key) is None
    )

    n = len(before)
    differences = [round(a - b, _DIFFERENCE_PLACES) for b, a in zip(before, after, strict=True)]
    if n:
        q1, mid, q3 = (float(q) for q in np.percentile(differences, [25, 50, 75]))
        median: float | None = mid
        lower: float | None = q1
        upper: float | None = q3
    else:
        median = lower = upper = None

    statistic, p = _wilcoxon(differences)
    became = sum(1 for b, a in zip(before, after, strict=True) if b < CONFIDENT_FROM <= a)
    stopped = sum(1 for b, a in zip(before, after, strict=True) if a < CONFIDENT_FROM <= b)
    return PairedChange(
        n=n,
        median=median,
        lower_quartile=lower,
        upper_quartile=upper,
        improved=Share(sum(1 for d in differences if d > 0), n),
        same=Share(sum(1 for d in differences if d == 0), n),
        worse=Share(sum(1 for d in differences if d < 0), n),
        wilcoxon_statistic=statistic,
        wilcoxon_p=p,
        effect_size=_rank_biserial(differences),
        confident_before=share_confident(before),
        confident_after=share_confident(after),
        became_confident=became,
        stopped_confident=stopped,
        mcnemar_p=_mcnemar_exact(stopped, became),
        unmatched_earlier=unmatched_earlier,
        unmatched_later=unmatched_later,
    )
