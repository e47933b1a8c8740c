"""Tests for the confidence questionnaire statistics, checked against values worked by hand.

Wilcoxon p-values are checked against an independent brute-force enumeration of every
assignment of signs to the ranks (``_brute_force_wilcoxon_p``), or for a larger sample against
the normal approximation written out here, rather than only against scipy again.
"""

from __future__ import annotations

import itertools
import math

import pytest

from trainer.plugins.confidence.analysis import (
    CONFIDENT_FROM,
    PairedChange,
    Share,
    paired_change,
    response_rate,
    share_confident,
)


def _average_ranks(values: list[float]) -> list[float]:
    """Ranks 1..n of ``values``, ties given the mean of the ranks they span (plain Python)."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and values[order[end + 1]] == values[order[start]]:
            end += 1
        for i in order[start : end + 1]:
            ranks[i] = (start + 1 + end + 1) / 2
        start = end + 1
    return ranks


def _brute_force_wilcoxon_p(differences: list[float]) -> float:
    """Two-sided exact signed-rank p: zeros dropped, every sign pattern of the ranks enumerated."""
    non_zero = [d for d in differences if d != 0]
    ranks = _average_ranks([abs(d) for d in non_zero])
    observed = sum(r for r, d in zip(ranks, non_zero, strict=True) if d > 0)
    sums = [
        sum(r for r, sign in zip(ranks, signs, strict=True) if sign)
        for signs in itertools.product([False, True], repeat=len(ranks))
    ]
    at_most = sum(1 for s in sums if s <= observed + 1e-9) / len(sums)
    at_least = sum(1 for s in sums if s >= observed - 1e-9) / len(sums)
    return min(1.0, 2 * min(at_most, at_least))


def test_confident_from_is_four() -> None:
    assert CONFIDENT_FROM == 4


def test_typical_six_pairs_with_ties_and_a_zero() -> None:
    earlier = {"a": 2, "b": 3, "c": 3, "d": 4, "e": 2, "f": 1}
    later = {"a": 3, "b": 4, "c": 5, "d": 3, "e": 2, "f": 3}
    # differences later - earlier: a +1, b +1, c +2, d -1, e 0, f +2
    # sorted: [-1, 0, 1, 1, 2, 2]; numpy linear percentiles sit at position q*(6-1):
    #   25% -> 1.25 -> 0 + 0.25*(1-0) = 0.25;  50% -> 2.5 -> (1+1)/2 = 1;
    #   75% -> 3.75 -> 1 + 0.75*(2-1) = 1.75
    result = paired_change(earlier, later)
    assert isinstance(result, PairedChange)
    assert result.n == 6
    assert result.median == pytest.approx(1.0)
    assert result.lower_quartile == pytest.approx(0.25)
    assert result.upper_quartile == pytest.approx(1.75)
    assert result.improved == Share(4, 6)  # a, b, c, f
    assert result.same == Share(1, 6)  # e
    assert result.worse == Share(1, 6)  # d
    # zero (e) dropped; |d| = 1,1,2,1,2 -> the three 1s share ranks 1,2,3 -> 2 each,
    #   the two 2s share ranks 4,5 -> 4.5 each.
    # R+ = 2 (a) + 2 (b) + 4.5 (c) + 4.5 (f) = 13;  R- = 2 (d);  R+ + R- = 15 = 5*6/2
    assert result.wilcoxon_statistic == pytest.approx(2.0)  # min(R+, R-)
    assert result.effect_size == pytest.approx(11 / 15)  # (13 - 2) / 15
    # p: R+ = 2k + 4.5j over 32 sign patterns (k of the three 2s positive, j of the two 4.5s).
    #   R+ >= 13 needs j = 2 (9) and k >= 2: C(3,2) + C(3,3) = 4 patterns -> 4/32 = 0.125;
    #   two-sided p = 2 * 0.125 = 0.25
    assert result.wilcoxon_p == pytest.approx(0.25)
    assert result.wilcoxon_p == pytest.approx(_brute_force_wilcoxon_p([1, 1, 2, -1, 0, 2]))
    # confident (>= 4) before: d only -> 1/6; after: b (4), c (5) -> 2/6
    assert result.confident_before == Share(1, 6)
    assert result.confident_after == Share(2, 6)
    assert result.became_confident == 2  # b 3->4, c 3->5  (c)
    assert result.stopped_confident == 1  # d 4->3  (b)
    # McNemar b=1 of 3: P(X <= 1) = (1 + 3)/8 = 0.5 -> 2 * 0.5 = 1.0
    assert result.mcnemar_p == pytest.approx(1.0)
    assert result.unmatched_earlier == 0
    assert result.unmatched_later == 0


def test_no_ties_exact_p_value_by_enumeration() -> None:
    earlier = {1: 2.0, 2: 3.5, 3: 2.25, 4: 3.0, 5: 1.5, 6: 2.5, 7: 3.0}
    later = {1: 2.25, 2: 3.0, 3: 3.0, 4: 4.0, 5: 2.75, 6: 4.0, 7: 4.75}
    # differences: +0.25, -0.5, +0.75, +1.0, +1.25, +1.5, +1.75 -> ranks of |d| are 1..7,
    # the only negative is rank 2: R- = 2, R+ = 28 - 2 = 26.
    result = paired_change(earlier, later)
    assert result.wilcoxon_statistic == pytest.approx(2.0)
    # subsets of {1..7} with sum <= 2: {}, {1}, {2} -> 3 of 2**7 = 128 patterns have R- <= 2;
    # by symmetry 3 have R+ <= 2, so p = 2 * 3/128 = 0.046875
    assert result.wilcoxon_p == pytest.approx(6 / 128)
    assert result.wilcoxon_p == pytest.approx(
        _brute_force_wilcoxon_p([0.25, -0.5, 0.75, 1.0, 1.25, 1.5, 1.75])
    )
    assert result.effect_size == pytest.approx(6 / 7)  # (26 - 2) / 28
    # sorted [-0.5, 0.25, 0.75, 1.0, 1.25, 1.5, 1.75], positions q*6:
    #   25% -> 1.5 -> 0.25 + 0.5*(0.75-0.25) = 0.5; 50% -> 3 -> 1.0; 75% -> 4.5 -> 1.375
    assert result.lower_quartile == pytest.approx(0.5)
    assert result.median == pytest.approx(1.0)
    assert result.upper_quartile == pytest.approx(1.375)
    # nobody >= 4 before; after 4.0 (4), 4.0 (6), 4.75 (7): c = 3, b = 0
    assert result.confident_before == Share(0, 7)
    assert result.confident_after == Share(3, 7)
    assert (result.became_confident, result.stopped_confident) == (3, 0)
    assert result.mcnemar_p == pytest.approx(2 * 0.5**3)  # 0.25


def test_all_equal_answers() -> None:
    ratings = {"a": 3, "b": 4, "c": 5, "d": 2}
    result = paired_change(ratings, dict(ratings))
    # every difference is 0
    assert result.n == 4
    assert (result.median, result.lower_quartile, result.upper_quartile) == (0.0, 0.0, 0.0)
    assert result.improved == Share(0, 4)
    assert result.same == Share(4, 4)
    assert result.worse == Share(0, 4)
    assert result.wilcoxon_statistic is None
    assert result.wilcoxon_p is None
    assert result.effect_size is None
    assert result.confident_before == result.confident_after == Share(2, 4)  # b, c
    assert (result.became_confident, result.stopped_confident) == (0, 0)
    assert result.mcnemar_p is None  # b + c = 0


def test_one_respondent() -> None:
    result = paired_change({"x": 2}, {"x": 4})
    # one difference, +2: every percentile is 2
    assert result.n == 1
    assert (result.median, result.lower_quartile, result.upper_quartile) == (2.0, 2.0, 2.0)
    assert result.improved == Share(1, 1)
    # one rank (1), positive: R+ = 1, R- = 0 -> statistic 0, effect (1 - 0)/1 = 1
    assert result.wilcoxon_statistic == pytest.approx(0.0)
    assert result.effect_size == pytest.approx(1.0)
    # patterns R+ = 0 or 1: P(R+ >= 1) = 1/2 -> p = 2 * 1/2 = 1
    assert result.wilcoxon_p == pytest.approx(1.0)
    assert result.wilcoxon_p == pytest.approx(_brute_force_wilcoxon_p([2]))
    assert (result.became_confident, result.stopped_confident) == (1, 0)
    assert result.mcnemar_p == pytest.approx(1.0)  # b=0 of 1: 2 * 0.5**1


def test_no_respondents() -> None:
    result = paired_change({}, {})
    assert result.n == 0
    assert result.median is None
    assert result.lower_quartile is None
    assert result.upper_quartile is None
    for share in (
        result.improved,
        result.same,
        result.worse,
        result.confident_before,
        result.confident_after,
    ):
        assert share == Share(0, 0)
        assert share.percent is None
        assert share.rounded() is None
    assert result.wilcoxon_statistic is None
    assert result.wilcoxon_p is None
    assert result.effect_size is None
    assert (result.became_confident, result.stopped_confident) == (0, 0)
    assert result.mcnemar_p is None
    assert (result.unmatched_earlier, result.unmatched_later) == (0, 0)


def test_unmatched_answers_on_both_sides() -> None:
    earlier = {"a": 1, "b": 2, "c": 3, "only_before": 5, "blank_after": 1, "blank_both": None}
    later = {"b": 3, "c": 4, "only_after": 1, "blank_after": None, "blank_both": None, "x": 5}
    earlier["x"] = None  # answered after only, with an explicit None before
    result = paired_change(earlier, later)
    # pairs: b (2->3), c (3->4); "a", "only_before", "blank_after" answered before only;
    # "only_after", "x" answered after only; "blank_both" in neither count.
    assert result.n == 2
    assert result.unmatched_earlier == 3
    assert result.unmatched_later == 2
    # only the pairs count: both +1, so the unmatched 5 and 1 ratings change nothing
    assert result.median == pytest.approx(1.0)
    assert result.improved == Share(2, 2)
    assert result.confident_before == Share(0, 2)
    assert result.confident_after == Share(1, 2)  # c


def test_none_ratings_ignored() -> None:
    # 5 and 4 confident, 3 not; the Nones are not answers at all -> 2 of 3
    share = share_confident([5, None, 3, 4, None])
    assert share == Share(2, 3)
    assert share.percent == pytest.approx(200 / 3)
    assert share.rounded() == 67  # 66.67 -> 67
    assert share_confident([None, None]) == Share(0, 0)
    assert share_confident([]).percent is None
    # means of several statements: 3.99 is below the line, 4.0 on it
    assert share_confident([3.99, 4.0, 4.5, 1]) == Share(2, 4)


def test_share_percent_and_rounded_half_up() -> None:
    assert Share(1, 8).percent == 12.5  # 100 * 1 / 8, not rounded
    assert Share(1, 8).rounded() == 13  # 12.5 -> 13 (Python's round() would give 12)
    assert Share(3, 8).rounded() == 38  # 37.5 -> 38
    assert Share(5, 8).rounded() == 63  # 62.5 -> 63
    assert Share(1, 200).rounded() == 1  # 0.5 -> 1
    assert Share(1, 3).rounded() == 33  # 33.33 -> 33
    assert Share(2, 3).rounded() == 67  # 66.67 -> 67
    assert Share(0, 5).rounded() == 0
    assert Share(5, 5).rounded() == 100
    assert Share(0, 0).percent is None
    assert Share(0, 0).rounded() is None
    with pytest.raises(ValueError):
        Share(-1, 4)


def test_response_rate() -> None:
    assert response_rate(7, 20) == Share(7, 20)
    assert response_rate(7, 20).percent == pytest.approx(35.0)  # 100 * 7 / 20
    assert response_rate(1, 8).rounded() == 13  # 12.5 -> 13
    assert response_rate(0, 0).percent is None


def test_mcnemar_with_known_discordant_counts() -> None:
    # six people become confident (2 -> 4), none stop, two stay confident, one stays not.
    earlier = {i: 2 for i in range(6)} | {6: 4, 7: 5, 8: 3}
    later = {i: 4 for i in range(6)} | {6: 5, 7: 4, 8: 3}
    result = paired_change(earlier, later)
    assert (result.stopped_confident, result.became_confident) == (0, 6)  # b, c
    # b = 0 of 6 at 0.5: P(X <= 0) = 0.5**6 -> two-sided 2 * 0.5**6 = 0.03125
    assert result.mcnemar_p == pytest.approx(0.03125)

    # b = 1, c = 5: P(X <= 1) = (C(6,0) + C(6,1)) / 64 = 7/64 -> p = 14/64 = 0.21875
    earlier = {i: 2 for i in range(5)} | {5: 4}
    later = {i: 4 for i in range(5)} | {5: 3}
    result = paired_change(earlier, later)
    assert (result.stopped_confident, result.became_confident) == (1, 5)
    expected = 2 * (math.comb(6, 0) + math.comb(6, 1)) / 2**6
    assert result.mcnemar_p == pytest.approx(expected)
    assert result.mcnemar_p == pytest.approx(0.21875)


def test_effect_size_by_hand() -> None:
    earlier = {"a": 2, "b": 3, "c": 4, "d": 1, "e": 5, "f": 3}
    later = {"a": 3, "b": 4, "c": 3, "d": 3, "e": 2, "f": 3}
    # differences: a +1, b +1, c -1, d +2, e -3, f 0
    # zero dropped; |d| = 1,1,1,2,3 -> the 1s share ranks 1..3 -> 2 each; 2 -> 4; 3 -> 5
    # R+ = 2 + 2 + 4 = 8; R- = 2 + 5 = 7; r = (8 - 7) / 15 = 1/15
    result = paired_change(earlier, later)
    assert result.effect_size == pytest.approx(1 / 15)
    assert result.wilcoxon_statistic == pytest.approx(7.0)  # min(8, 7)
    # R+ = 2k + 4a + 5b over 32 patterns; R+ <= 7: (a,b)=(0,0) k=0..3 -> 8, (1,0) k<=1 -> 4,
    # (0,1) k<=1 -> 4, (1,1) none -> 16/32; R+ >= 8 is the complement -> 16/32.
    # p = min(1, 2 * 16/32) = 1
    assert result.wilcoxon_p == pytest.approx(1.0)
    assert result.wilcoxon_p == pytest.approx(_brute_force_wilcoxon_p([1, 1, -1, 2, -3, 0]))
    # negative effect when the worsening dominates: swap the occasions
    assert paired_change(later, earlier).effect_size == pytest.approx(-1 / 15)


def test_float_noise_does_not_split_ties() -> None:
    # 13/3 - 10/3 is 0.9999999999999996 in floats; 3 - 4 is exactly -1. They must tie.
    result = paired_change({"p": 10 / 3, "q": 4}, {"p": 13 / 3, "q": 3})
    # |d| = 1, 1 -> ranks 1.5, 1.5; R+ = 1.5, R- = 1.5 -> statistic 1.5, effect 0
    # (without rounding: ranks 1 and 2, statistic 1, effect (1 - 2)/3)
    assert result.wilcoxon_statistic == pytest.approx(1.5)
    assert result.effect_size == pytest.approx(0.0)
    assert result.median == pytest.approx(0.0)  # mean of -1 and +1
    # patterns R+ = 0, 1.5, 1.5, 3: P(R+ <= 1.5) = P(R+ >= 1.5) = 3/4 -> p = min(1, 1.5) = 1
    assert result.wilcoxon_p == pytest.approx(1.0)


def test_larger_sample_with_ties_uses_normal_approximation() -> None:
    # 20 pairs: 14 improve by 1, 4 fall by 1, 2 unchanged (more than 13 -> normal approximation)
    earlier = {i: 3 for i in range(20)}
    later = {i: 4 if i < 14 else (2 if i < 18 else 3) for i in range(20)}
    result = paired_change(earlier, later)
    # zeros dropped: m = 18 non-zero, all |d| = 1 -> every rank (1 + 18)/2 = 9.5
    # R+ = 14 * 9.5 = 133, R- = 4 * 9.5 = 38
    assert result.wilcoxon_statistic == pytest.approx(38.0)
    assert result.effect_size == pytest.approx(95 / 171)  # (133 - 38) / 171
    # mean m(m+1)/4 = 85.5; variance m(m+1)(2m+1)/24 - sum(t^3 - t)/48
    #   = 18*19*37/24 - (18**3 - 18)/48 = 527.25 - 121.125 = 406.125
    # z = (133 - 85.5) / sqrt(406.125) = 2.357 (no continuity correction); p = erfc(|z|/sqrt 2)
    z = (133 - 85.5) / math.sqrt(18 * 19 * 37 / 24 - (18**3 - 18) / 48)
    assert z == pytest.approx(2.357, abs=1e-3)
    assert result.wilcoxon_p == pytest.approx(math.erfc(z / math.sqrt(2)))
    assert result.wilcoxon_p == pytest.approx(0.0184, abs=1e-4)
