"""When is a week-on-week change more than noise? Normal-approximation 95 % intervals of the
difference between two weeks; a change is significant only when its interval excludes zero."""

from __future__ import annotations

import math

Z95 = 1.959964


def _excludes_zero(difference: float, variance: float) -> bool | None:
    if variance <= 0:  # no spread to judge by (every answer identical): do not claim significance
        return None
    return abs(difference) > Z95 * math.sqrt(variance)


def proportion_change_significant(x1: float, n1: float, x0: float, n0: float) -> bool | None:
    """Proportion x1/n1 this week against x0/n0 the week before; None when either is empty."""
    if not n1 or not n0:
        return None
    p1, p0 = x1 / n1, x0 / n0
    return _excludes_zero(p1 - p0, p1 * (1 - p1) / n1 + p0 * (1 - p0) / n0)


def nps_change_significant(
    promoters1: float, detractors1: float, n1: float, promoters0: float, detractors0: float, n0: float
) -> bool | None:
    """NPS is a mean of +1 / 0 / -1 scores: its variance per response is p + d - (p - d)^2."""
    if not n1 or not n0:
        return None
    p1, d1, p0, d0 = promoters1 / n1, detractors1 / n1, promoters0 / n0, detractors0 / n0
    v1, v0 = p1 + d1 - (p1 - d1) ** 2, p0 + d0 - (p0 - d0) ** 2
    return _excludes_zero((p1 - d1) - (p0 - d0), v1 / n1 + v0 / n0)


def mean_change_significant(
    mean1: float, var1: float | None, n1: float, mean0: float, var0: float | None, n0: float
) -> bool | None:
    """Welch-style comparison of two means from their sample variances."""
    if var1 is None or var0 is None or min(n1 or 0, n0 or 0) < 2:  # a variance needs two answers
        return None
    return _excludes_zero(mean1 - mean0, var1 / n1 + var0 / n0)
