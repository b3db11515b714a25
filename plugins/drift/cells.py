"""Exact ECDF arithmetic on binned counts: which cells must be known, splitting them, and
KS, Wasserstein and the reference deciles from cell counts plus the values fetched for the
needed cells (steps 3 and 4 in :mod:`mlreport.plugins.drift.binned`). numpy only, no SQL.
"""

from __future__ import annotations

import numpy as np

from mlreport.plugins.drift import binned
from mlreport.plugins.drift.binned import Grid, Histogram


class Cells:
    """Consecutive cells covering the line — below the reference range, pieces of bins, above
    it — with each side's count and offset sum and the pooled smallest and largest value, so
    both ECDFs are exact at every cell edge. ``pos``/``size`` are a cell's start and width in
    bin units (±inf and 0 outside the range)."""

    def __init__(
        self,
        r: np.ndarray,
        c: np.ndarray,
        off_r: np.ndarray,
        off_c: np.ndarray,
        lows: np.ndarray,
        highs: np.ndarray,
        pos: np.ndarray,
        size: np.ndarray,
    ) -> None:
        self.r, self.c, self.off_r, self.off_c = r, c, off_r, off_c
        self.lows, self.highs, self.pos, self.size = lows, highs, pos, size
        self.n1, self.n2 = int(r.sum()), int(c.sum())
        self.R, self.C = np.cumsum(r), np.cumsum(c)  # counts up to each cell's end
        self.Rb, self.Cb = self.R - r, self.C - c  # counts before each cell
        self.single = lows == highs  # one distinct value (False when empty: NaN)

    @classmethod
    def from_histograms(cls, ref: Histogram, cur: Histogram) -> Cells:
        bins = len(ref.counts) - 2
        pos = np.concatenate([[-np.inf], np.arange(bins, dtype=float), [np.inf]])
        size = np.concatenate([[0.0], np.ones(bins), [0.0]])
        lows, highs = np.fmin(ref.lows, cur.lows), np.fmax(ref.highs, cur.highs)
        return cls(ref.counts, cur.counts, ref.offsets, cur.offsets, lows, highs, pos, size)

    def needed(self, ranks: tuple[np.ndarray, np.ndarray, np.ndarray]) -> np.ndarray:
        """Cells whose values must be known: possible KS sup inside, a sign change of
        F_ref − F_cur inside, or a reference order statistic around a decile (with every
        cell between the two, where current values may lie below the decile)."""
        n1, n2 = self.n1, self.n2
        R, C, Rb, Cb = self.R, self.C, self.Rb, self.Cb
        best = np.abs(R * n2 - C * n1).max()  # n1·n2·|D| at every edge, exactly
        # Inside a cell F_ref ∈ [Rb, R]/n1 and F_cur ∈ [Cb, C]/n2.
        bound = np.maximum(R * n2 - Cb * n1, C * n1 - Rb * n2)
        ks = (bound > best) & ~self.single
        overlap = (Rb * n2 < C * n1) & (R * n2 > Cb * n1)
        need = ks | overlap
        lo, hi, _ = ranks
        first = np.searchsorted(R, lo, side="right")
        last = np.searchsorted(R, hi, side="right")
        for a, b in zip(first, last, strict=True):
            need[a : b + 1] = True
        need[0] = need[-1] = False  # outside the reference range: F_ref is constant
        return need & (self.r + self.c > 0)

    def open_cells(self, need: np.ndarray) -> np.ndarray:
        """Needed cells whose values are not known from the histogram (several values)."""
        return need & ~self.single

    def open_mass(self, need: np.ndarray) -> int:
        return int((self.r + self.c)[self.open_cells(need)].sum())

    def open_set(self, need: np.ndarray, level: int) -> tuple | None:
        """The open cells as (keys at ``level``, (smallest, largest value)); None if none.
        Open cells are always of the finest level: only they are ever split."""
        idx = np.flatnonzero(self.open_cells(need))
        if not len(idx):
            return None
        keys = (self.pos[idx] * 2**level).astype(np.int64).tolist()
        return keys, (float(self.lows[idx[0]]), float(self.highs[idx[-1]]))

    def refine(self, need: np.ndarray, level: int, rows: dict[str, np.ndarray]) -> Cells | None:
        """Open cells replaced by their 2**REFINE_BITS cells of ``level``; None if the
        counts disagree (they cannot unless binning were inconsistent)."""
        open_ = self.open_cells(need)
        sub = 2.0**-level
        starts = (
            self.pos[open_][:, None] + np.arange(2**binned.REFINE_BITS)[None, :] * sub
        ).ravel()
        keep = ~open_
        pos = np.concatenate([self.pos[keep], starts])
        order = np.argsort(pos, kind="stable")
        new = np.concatenate([np.zeros(keep.sum(), bool), np.ones(len(starts), bool)])[order]
        pos = pos[order]
        size = np.concatenate([self.size[keep], np.full(len(starts), sub)])[order]

        def merged(old: np.ndarray, fill: float) -> np.ndarray:
            return np.concatenate([old[keep], np.full(len(starts), fill, old.dtype)])[order]

        r, c = merged(self.r, 0), merged(self.c, 0)
        off_r, off_c = merged(self.off_r, 0.0), merged(self.off_c, 0.0)
        lows, highs = merged(self.lows, np.nan), merged(self.highs, np.nan)
        at = np.minimum(np.searchsorted(pos, rows["m"] * sub), len(pos) - 1)
        ok = (pos[at] == rows["m"] * sub) & new[at]  # values of other cells are dropped
        for side, counts, offsets in ((0, r, off_r), (1, c, off_c)):
            mine = ok & (rows["side"] == side)
            counts[at[mine]] = rows["n"][mine]
            offsets[at[mine]] = rows["s"][mine]
        np.fmin.at(lows, at[ok], rows["lo"][ok])
        np.fmax.at(highs, at[ok], rows["hi"][ok])
        finer = Cells(r, c, off_r, off_c, lows, highs, pos, size)
        if (finer.n1, finer.n2) != (self.n1, self.n2):
            return None
        return finer


class Points:
    """The values of the needed cells (fetched, or the one value of a single-valued cell) as
    distinct values with exact cumulative counts on both sides."""

    def __init__(
        self, cells: Cells, need: np.ndarray, rows: dict[str, np.ndarray], level: int
    ) -> None:
        self.e = e = cells
        v = np.asarray(rows["v"], dtype=float)
        start = np.asarray(rows["m"], dtype=float) * 2.0**-level
        at = np.minimum(np.searchsorted(e.pos, start), len(e.pos) - 1)
        ok = e.pos[at] == start
        ok[ok] = need[at[ok]] & ~e.single[at[ok]]
        side, n = np.asarray(rows["side"])[ok], np.asarray(rows["n"], dtype=np.int64)[ok]
        single = np.flatnonzero(need & cells.single)
        idx = np.concatenate([at[ok], single])
        v = np.concatenate([v[ok], e.lows[single]])
        a = np.concatenate([np.where(side == 0, n, 0), e.r[single]])
        b = np.concatenate([np.where(side == 1, n, 0), e.c[single]])
        order = np.lexsort((v, idx))
        idx, v, a, b = idx[order], v[order], a[order], b[order]
        new = np.ones(len(v), dtype=bool)
        new[1:] = (idx[1:] != idx[:-1]) | (v[1:] != v[:-1])  # −0.0 == 0.0, as in numpy
        starts = np.flatnonzero(new)
        self.v, self.idx = v[starts], idx[starts]
        self.a = np.add.reduceat(a, starts) if len(v) else a
        self.b = np.add.reduceat(b, starts) if len(v) else b
        # cumulative counts within each cell, then from the start
        first = np.ones(len(self.v), dtype=bool)
        first[1:] = self.idx[1:] != self.idx[:-1]
        self.first = first
        group = np.cumsum(first) - 1
        ca, cb = np.cumsum(self.a), np.cumsum(self.b)
        gs = np.flatnonzero(first)
        self.Ra = e.Rb[self.idx] + ca - (ca[gs] - self.a[gs])[group]
        self.Cc = e.Cb[self.idx] + cb - (cb[gs] - self.b[gs])[group]

    def ks(self) -> float:
        """sup |F_ref − F_cur| over cell edges and known values, as scipy computes it."""
        e = self.e
        edges = np.abs(e.R / e.n1 - e.C / e.n2).max()
        inside = np.abs(self.Ra / e.n1 - self.Cc / e.n2).max() if len(self.v) else 0.0
        return float(max(edges, inside))

    def wasserstein(self, grid: Grid) -> float:
        """∫ |F_ref − F_cur| dx: exact pieces between known values, exact cell integrals
        elsewhere, and the parts below and above the reference range."""
        e = self.e
        rest = np.zeros(len(e.r), dtype=bool)
        rest[1:-1] = True
        rest[self.idx] = False  # F_ref − F_cur keeps its sign over the other cells
        # ∫ over a cell of F = (count before + Σ (1 − offset)) · width / n, in cell units
        fr = (e.Rb[rest] + e.r[rest] - e.off_r[rest]) / e.n1
        fc = (e.Cb[rest] + e.c[rest] - e.off_c[rest]) / e.n2
        total = float((np.abs(fr - fc) * e.size[rest]).sum()) * grid.width
        total += self._known_area(grid)
        # Below lo F_ref = 0 and above hi F_ref = 1 (the grid spans the reference), so there
        # |F_ref − F_cur| integrates to Σ (lo − x) / n2 and Σ (x − hi) / n2.
        return total + (e.off_c[0] + e.off_c[-1]) / e.n2

    def _known_area(self, grid: Grid) -> float:
        """Exact pieces between the known values of each cell, and from the cell's edges to
        its first and last value. The edges are positions in bin units, as everywhere else:
        lo + k·width in x would round to the ulp of lo (large next to a narrow bin when the
        values sit far from 0), while the values' own positions t = (x − lo)·scale are
        computed exactly as in SQL."""
        if not len(self.v):
            return 0.0
        e = self.e
        t = (self.v - grid.lo) * grid.scale
        last = np.append(self.first[1:], True)  # the last value of its cell
        gaps = np.append(self.v[1:] - self.v[:-1], 0.0) * grid.scale  # to the next value
        gaps[last] = (e.pos[self.idx] + e.size[self.idx] - t)[last]  # to the cell's end
        after = np.abs(self.Ra / e.n1 - self.Cc / e.n2) * gaps
        f = self.first
        before = np.abs(e.Rb[self.idx[f]] / e.n1 - e.Cb[self.idx[f]] / e.n2)
        return float(after.sum() + (before * (t[f] - e.pos[self.idx[f]])).sum()) * grid.width

    def decile_counts(
        self, ranks: tuple[np.ndarray, np.ndarray, np.ndarray]
    ) -> tuple[tuple[float, ...], tuple[int, ...], tuple[int, ...]]:
        """numpy's deciles of the reference, and each side's count of values ≤ each.

        The points are sorted by value and ``Ra`` only grows, at reference values: the value
        of rank j is the first point with Ra > j (its cell is always known)."""
        e = self.e
        lo, hi, t = ranks
        a = self.v[np.searchsorted(self.Ra, lo, side="right")]
        b = self.v[np.searchsorted(self.Ra, hi, side="right")]
        diff = b - a
        deciles = np.where(t >= 0.5, b - diff * (1 - t), a + diff * t)
        # Cells before the lower order statistic's hold values < a ≤ decile; the cells from
        # it to the upper order statistic's are known, later ones hold values > b ≥ decile.
        first = np.searchsorted(e.R, lo, side="right")
        start = np.searchsorted(self.idx, first, side="left")
        stop = np.maximum(np.searchsorted(self.v, deciles, side="right"), start)
        ca = np.concatenate([[0], np.cumsum(self.a)])
        cb = np.concatenate([[0], np.cumsum(self.b)])
        ref_below = e.Rb[first] + ca[stop] - ca[start]
        cur_below = e.Cb[first] + cb[stop] - cb[start]
        return (
            tuple(float(x) for x in deciles),
            tuple(int(x) for x in ref_below),
            tuple(int(x) for x in cur_below),
        )
