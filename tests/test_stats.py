"""Significance of week-on-week changes, against values worked out by hand."""

import pytest

from pipelines.report.scorecard import fmt, fmt_change, status_of
from pipelines.report.stats import mean_change_significant, nps_change_significant, proportion_change_significant


def test_proportion_change():
    # 50 % of 400 against 40 % of 400: difference 0.10, se = sqrt(.25/400 + .24/400) = 0.035 -> z = 2.86
    assert proportion_change_significant(200, 400, 160, 400) is True
    # the same rates over 40 answers: se = 0.111 -> z = 0.90
    assert proportion_change_significant(20, 40, 16, 40) is False
    assert proportion_change_significant(5, 0, 3, 10) is None  # an empty week judges nothing
    assert proportion_change_significant(10, 10, 10, 10) is None  # no spread at all


def test_nps_change():
    # 500 answers each: 50 % promoters / 20 % detractors (NPS 30) against 40 % / 30 % (NPS 10)
    # variances .7 - .09 = .61 and .7 - .01 = .69; se = sqrt(1.30 / 500) = 0.051 -> z = 3.9
    assert nps_change_significant(250, 100, 500, 200, 150, 500) is True
    # the same split over 30 answers: se = 0.208 -> z = 0.96
    assert nps_change_significant(15, 6, 30, 12, 9, 30) is False


def _nps_verdict_from_scores(promoters1, detractors1, n1, promoters0, detractors0, n0) -> bool:
    """The same test from the answers themselves: +1 / 0 / -1 scores and their population
    variance, independent of the closed form under test."""
    import math
    import statistics

    def scores(promoters, detractors, n):
        return [1] * promoters + [-1] * detractors + [0] * (n - promoters - detractors)

    now, before = scores(promoters1, detractors1, n1), scores(promoters0, detractors0, n0)
    se = math.sqrt(statistics.pvariance(now) / n1 + statistics.pvariance(before) / n0)
    return abs(statistics.fmean(now) - statistics.fmean(before)) > 1.959964 * se


@pytest.mark.parametrize(
    "shares", [(0.5, 0.2, 0.4, 0.3), (0.6, 0.1, 0.45, 0.1), (0.3, 0.45, 0.4, 0.3), (0.7, 0.05, 0.6, 0.25)]
)
def test_nps_change_agrees_with_the_answers_near_the_threshold(shares):
    """Sample sizes around the one where the change becomes significant: any error in a variance
    term moves the verdict of some of them."""
    p1, d1, p0, d0 = shares
    verdicts = set()
    for n in range(20, 600, 3):
        args = (round(p1 * n), round(d1 * n), n, round(p0 * n), round(d0 * n), n)
        verdict = nps_change_significant(*args)
        assert verdict is _nps_verdict_from_scores(*args), (shares, n)
        verdicts.add(verdict)
    assert verdicts == {True, False}  # the range crosses the threshold


def test_a_change_needs_both_weeks():
    assert nps_change_significant(50, 20, 100, 0, 0, 0) is None
    assert nps_change_significant(0, 0, 0, 50, 20, 100) is None
    assert proportion_change_significant(50, 100, 0, 0) is None


def test_a_difference_at_the_interval_edge_is_not_significant():
    from pipelines.report.stats import _excludes_zero

    assert _excludes_zero(2 * 1.959964, 4.0) is False  # zero lies on the closed interval's edge
    assert _excludes_zero(2 * 1.959964 + 1e-9, 4.0) is True


def test_mean_change():
    # CES 5.0 against 4.6, variance 2.0, 100 answers each: se = 0.2 -> z = 2.0
    assert mean_change_significant(5.0, 2.0, 100, 4.6, 2.0, 100) is True
    assert mean_change_significant(5.0, 2.0, 25, 4.6, 2.0, 25) is False  # se = 0.4 -> z = 1.0
    assert mean_change_significant(5.0, None, 25, 4.6, 2.0, 25) is None
    assert mean_change_significant(5.0, 2.0, 25, 4.6, None, 25) is None
    # two answers a week are enough for a variance, one is not: CES 6 against 2, variance 0.5
    assert mean_change_significant(6.0, 0.5, 2, 2.0, 0.5, 2) is True
    assert mean_change_significant(6.0, 0.5, 1, 2.0, 0.5, 5) is None
    assert mean_change_significant(6.0, 0.5, 5, 2.0, 0.5, 1) is None
    assert mean_change_significant(6.0, 0.5, 0, 2.0, 0.5, 5) is None


@pytest.mark.parametrize(
    "value, better, expected",
    [
        (85, "up", "on_target"),
        (80, "up", "on_target"),
        (75, "up", "watch"),
        (60, "up", "off_target"),
        (4, "down", "on_target"),
        (7, "down", "watch"),
        (12, "down", "off_target"),
        (None, "up", "no_data"),
    ],
)
def test_status_against_target_and_watch(value, better, expected):
    target, watch = (80, 70) if better == "up" else (5, 10)
    assert status_of(value, {"better": better, "target": target, "watch": watch}) == expected


def test_formats():
    # Babel writes them: the locale's percent sign, decimal mark, grouping and spaces
    assert fmt(12.345, "pct") == "12.3%"
    assert fmt(12.345, "pct", "fr") == "12,3\u00a0%"
    assert fmt(3.9, "score", "fr") == "3,90"
    assert fmt(12345, "count", "fr") == "12\u202f345" and fmt(12345, "count") == "12,345"
    assert fmt(-7.6, "points") == "-8"
    assert fmt(None, "pct") == ""
    assert fmt_change(2.3, "pct") == "+2.3\u00a0pt"
    assert fmt_change(-2.35, "pct", "fr") == "-2,4\u00a0pt"
    assert fmt_change(-3.0, "points") == "-3"
