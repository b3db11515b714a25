"""The two-sample Kolmogorov–Smirnov p-value, as ``scipy.stats.ks_2samp(method="asymp")``
computes it, with scipy's slowest branch (``scipy.special.smirnov`` at large n) summed
vectorised. Pure maths: the statistic itself comes from the engines.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np


class KsResult(NamedTuple):
    """Two-sample Kolmogorov–Smirnov statistic and its asymptotic two-sided p-value."""

    statistic: float
    pvalue: float | None  # None where scipy gives NaN: both samples of size 1


def ks_asymp_pvalue(d: float, n1: int, n2: int) -> float | None:
    """The p-value exactly as ks_2samp computes it for method='asymp', alternative='two-sided'.

    scipy rounds the effective size m·n/(m+n) to an integer; for n1 = n2 = 1 that is 0 and
    its p-value is NaN, which we report as None (undefined) rather than store a NaN.
    """
    m, n = sorted([float(n1), float(n2)], reverse=True)
    en = np.round(m * n / (m + n))
    if en < 1:
        return None
    return float(np.clip(kstwo_sf(d, int(en)), 0, 1))


def kstwo_sf(x: float, n: int) -> float:
    """``scipy.stats.kstwo.sf(x, n)``, fast where scipy is slow.

    For 140 < n ≤ 1,000,000 and 2.2 ≤ n·x² < 370 scipy returns 2·smirnov(n, x), which it
    sums term by term in C (about a second at n = 500,000, holding the GIL). We sum the same
    series vectorised (:func:`smirnov_sf`); everywhere else scipy itself is asked.
    """
    t = n * x
    if 140 < n <= SMIRNOV_EXACT_MAX and 0 < x < 0.5 and 1.0 < t < n - 1 and 2.2 <= t * x < 370:
        return min(max(2 * smirnov_sf(n, x), 0.0), 1.0)
    from scipy.stats import distributions  # scipy only where a p-value is needed

    return float(distributions.kstwo.sf(x, n))


SMIRNOV_EXACT_MAX = 1_000_000  # scipy.special.smirnov sums exactly up to this n


def smirnov_sf(n: int, d: float) -> float:
    """P(D⁺_n ≥ d) = Σ_{v=0}^{⌊n(1−d)⌋} C(n,v) d (d + v/n)^{v−1} (1 − d − v/n)^{n−v}
    (Birnbaum–Tingey), equal to ``scipy.special.smirnov`` at ~1e-13.

    Each term is taken in logs with Stirling's formula rearranged so nothing large cancels:
    log C(n,v) + v log p + (n−v) log q = v log1p(nd/v) + (n−v) log1p(−nd/(n−v))
    + ½ log(n / (2π v (n−v))) + δ(n) − δ(v) − δ(n−v), δ the Stirling remainder.
    """
    nd = n * d
    last = math.floor(n * (1 - d))
    # Terms more than e^-60 below the largest add nothing at double precision; find where
    # they are on a coarse stride (the terms vary smoothly over ~√n), then sum there.
    stride = max(1, math.isqrt(n) // 16)
    coarse = _smirnov_log_terms(n, d, nd, np.arange(1, last + 1, stride, dtype=float))
    keep = np.flatnonzero(coarse > coarse.max() - 60) if len(coarse) else np.zeros(0, int)
    total = math.exp(n * math.log1p(-d))  # the v = 0 term
    if len(keep):
        lo = max(1, 1 + (int(keep[0]) - 1) * stride)
        hi = min(last, 1 + (int(keep[-1]) + 1) * stride)
        total += float(np.exp(_smirnov_log_terms(n, d, nd, np.arange(lo, hi + 1.0))).sum())
    return total


def _smirnov_log_terms(n: int, d: float, nd: float, v: np.ndarray) -> np.ndarray:
    """log of the terms v ≥ 1 of :func:`smirnov_sf` (−inf where 1 − d − v/n ≤ 0)."""
    w = n - v
    out = np.full(len(v), -np.inf)
    ok = w > nd  # else the term is 0 (rounding can put the last v just past n(1 − d))
    v, w = v[ok], w[ok]
    out[ok] = (
        math.log(d)
        - np.log((nd + v) / n)
        + v * np.log1p(nd / v)
        + w * np.log1p(-nd / w)
        + 0.5 * np.log(n / (2 * np.pi * v * w))
        + _stirling_remainder(np.array([float(n)]))[0]
        - _stirling_remainder(v)
        - _stirling_remainder(w)
    )
    return out


def _stirling_remainder(m: np.ndarray) -> np.ndarray:
    """log m! − (m log m − m + ½ log 2πm): directly for small m, by its series for m ≥ 15."""
    from scipy.special import gammaln

    out = np.empty_like(m)
    small = m < 15
    ms = m[small]
    out[small] = gammaln(ms + 1) - (ms * np.log(ms) - ms + 0.5 * np.log(2 * np.pi * ms))
    r = 1 / m[~small]
    r2 = r * r
    series = 1 / 1680 - r2 * (1 / 1188 - r2 * 691 / 360360)
    out[~small] = r * (1 / 12 - r2 * (1 / 360 - r2 * (1 / 1260 - r2 * series)))
    return out
