"""Population stability index over the reference's deciles: numpy's decile positions and
PSI from counts at the decile edges. Shared by the binned and the exact path.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

PSI_FLOOR = 1e-4
LEVELS = np.arange(1, 10) / 10


def decile_ranks(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """numpy's linear quantile positions: the order statistics below and above each decile
    (0-based ranks) and the fraction between them."""
    h = (n - 1) * LEVELS
    lo = np.floor(h).astype(np.int64)
    hi = np.minimum(lo + 1, n - 1)
    return lo, hi, h - lo


def psi_from_counts(ref_counts: np.ndarray, cur_counts: np.ndarray) -> float:
    """PSI from per-bin counts: floored proportions, Σ (cur − ref) · ln(cur / ref)."""
    p = np.maximum(ref_counts / ref_counts.sum(), PSI_FLOOR)
    q = np.maximum(cur_counts / cur_counts.sum(), PSI_FLOOR)
    return float(np.sum((q - p) * np.log(q / p)))


def psi_from_edge_counts(
    deciles: Sequence[float], ref: Sequence[int], n_ref: int, cur: Sequence[int], n_cur: int
) -> float:
    """PSI from counts at the (repeating) deciles: a value's bin is the number of distinct
    edges strictly below it, so bin j holds (e_j, e_{j+1}] and its count is a difference of
    counts at edges."""
    at = {e: (r, c) for e, r, c in zip(deciles, ref, cur, strict=True)}
    edges = sorted(at)
    below = np.array([[0, 0]] + [list(at[e]) for e in edges] + [[n_ref, n_cur]], dtype=float)
    bins = np.diff(below, axis=0)
    return psi_from_counts(bins[:, 0], bins[:, 1])
