"""The commit graph as integer arrays: commits as node numbers, parent lists in CSR form,
generation numbers, and the graph's linear runs (segments) that walks cross in one step.

Lead time needs, for every production deployment D and its predecessor P, the commits reachable
from D and not from P. Walking the graph once per deployment in Python is far too slow for a
warehouse with millions of commits and deployments, so the graph is held in numpy arrays:
``graph_loading`` reads it from the warehouse, ``rev_list`` walks it for all pairs at once.
The segments are derived from the graph and cached on it (``CommitGraph.segments``), so they
live here with it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NULL_TIME = np.iinfo(np.int64).min
"""Stands for a NULL timestamp in the int64 microsecond arrays."""


class CommitGraphError(Exception):
    """The commits cannot form a history (a cycle), named by repository and sha."""


@dataclass
class CommitGraph:
    """Commits of some repositories as arrays indexed by node number.

    Node numbers follow ascending warehouse ``rowid``. ``parents[parent_ptr[i]:parent_ptr[i+1]]``
    are node ``i``'s parents that exist in the warehouse (a parent missing from ``commits``,
    as in a shallow clone, is simply absent).
    """

    repos: tuple[str, ...]
    rowid: np.ndarray  # int64, ascending
    repo: np.ndarray  # int32 index into repos
    generation: np.ndarray  # int64, >= 1
    authored_us: np.ndarray  # int64 microseconds since the epoch, NULL_TIME when unknown
    parent_ptr: np.ndarray  # int64, size + 1
    parents: np.ndarray  # int64 node numbers
    computed: tuple[str, ...] = ()  # repositories whose generations were computed here
    _segments: Segments | None = None
    _lut: np.ndarray | None = None

    def segments(self) -> Segments:
        """The graph's linear runs, computed on first use."""
        if self._segments is None:
            self._segments = segments(self)
        return self._segments

    @property
    def size(self) -> int:
        return int(self.rowid.size)

    def nodes_of(self, rowids: np.ndarray, known: bool = False) -> np.ndarray:
        """Node numbers of warehouse rowids (-1 where a rowid is not in the graph).

        ``known``: every rowid is a node of the graph (skips the range checks).
        """
        rowids = np.asarray(rowids, dtype=np.int64)
        if self.size == 0:
            return np.full(rowids.size, -1, dtype=np.int64)
        high = int(self.rowid[-1])
        if high < 4 * self.size + 1024:  # dense rowids: a lookup table beats binary search
            if self._lut is None:
                self._lut = np.full(high + 1, -1, dtype=np.int64)
                self._lut[self.rowid] = np.arange(self.size, dtype=np.int64)
            if known:
                return self._lut[rowids]
            inside = (rowids >= 0) & (rowids <= high)
            return np.where(inside, self._lut[np.clip(rowids, 0, high)], -1)
        pos = np.clip(np.searchsorted(self.rowid, rowids), 0, self.size - 1)
        return np.where(self.rowid[pos] == rowids, pos, -1)


# -- segments ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Segments:
    """The graph cut into maximal linear runs ("segments"), so a walk crosses a run in one step.

    Node x is linked to its parent p when x has exactly one parent and p exactly one child;
    a segment is a maximal chain of links, listed top (youngest) first. Every edge between
    segments goes from a segment's bottom to another segment's top, so a walk enters a segment
    only at its top (or where it starts) and, once inside, covers it down to the bottom.
    """

    seg: np.ndarray  # node -> segment
    pos: np.ndarray  # node -> distance from its segment's top
    start: np.ndarray  # segment -> offset of its top in `nodes` (size segments + 1)
    nodes: np.ndarray  # nodes ordered by (segment, pos)
    top_gen: np.ndarray  # segment -> generation of its top
    par_ptr: np.ndarray  # segment -> offsets into par_seg (size segments + 1)
    par_seg: np.ndarray  # the segments holding the parents of each segment's bottom
    shared: np.ndarray  # segment -> its top has several children (may be entered twice)

    @property
    def length(self) -> np.ndarray:
        return np.diff(self.start)


def segments(graph: CommitGraph) -> Segments:
    """Cut ``graph`` into segments: O(n) work plus log2(longest segment) gathers."""
    n, ptr, flat = graph.size, graph.parent_ptr, graph.parents
    n_par = np.diff(ptr)
    n_child = np.bincount(flat, minlength=n) if flat.size else np.zeros(n, dtype=np.int64)
    first = np.full(n, -1, dtype=np.int64)
    has = n_par > 0
    first[has] = flat[ptr[:-1][has]]
    linked = (n_par == 1) & (n_child[np.maximum(first, 0)] == 1)
    up = np.arange(n, dtype=np.int64)
    up[first[linked]] = np.flatnonzero(linked)
    top, dist = _pointer_jump(up)
    is_top = top == np.arange(n)
    seg_of_top = np.cumsum(is_top) - 1
    seg = seg_of_top[top]
    tops = np.flatnonzero(is_top)
    start = np.zeros(tops.size + 1, dtype=np.int64)
    np.cumsum(np.bincount(seg, minlength=tops.size), out=start[1:])
    nodes = np.empty(n, dtype=np.int64)
    nodes[start[seg] + dist] = np.arange(n, dtype=np.int64)
    bottom = nodes[start[1:] - 1] if n else np.zeros(0, dtype=np.int64)
    counts = n_par[bottom]
    par_ptr = np.zeros(tops.size + 1, dtype=np.int64)
    np.cumsum(counts, out=par_ptr[1:])
    par_seg = seg[flat[np.repeat(ptr[bottom], counts) + ramp(counts)]]
    return Segments(
        seg, dist, start, nodes, graph.generation[tops], par_ptr, par_seg, n_child[tops] > 1
    )


def _pointer_jump(up: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each node, the end of its chain of ``up`` pointers and the number of steps.

    Histories are mostly stored in order, so most links join neighbouring node numbers: runs
    of neighbours are measured with one cumulative pass, and only run ends jump pointers.
    """
    n = up.size
    ar = np.arange(n, dtype=np.int64)
    asc, desc = up == ar + 1, up == ar - 1
    if asc.sum() >= desc.sum():  # run end: first node at or after x that leaves the run
        run_end = np.minimum.accumulate(np.where(asc, n, ar)[::-1])[::-1]
    else:
        run_end = np.maximum.accumulate(np.where(desc, -1, ar))
    off = np.abs(run_end - ar)
    ends = np.flatnonzero(run_end == ar)
    top = ar.copy()
    dist = np.zeros(n, dtype=np.int64)
    jump = ends[up[ends] != ends]
    top[jump] = run_end[up[jump]]
    dist[jump] = 1 + off[up[jump]]
    todo = jump[top[top[jump]] != top[jump]]
    while todo.size:
        nxt = top[todo]
        dist[todo] += dist[nxt]
        top[todo] = top[nxt]
        todo = todo[top[top[todo]] != top[todo]]
    return top[run_end], dist[run_end] + off


def ramp(counts: np.ndarray) -> np.ndarray:
    """0..c-1 for each count c, concatenated (vectorised); also used to gather parent lists
    when generations are computed."""
    total = int(counts.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    starts = np.cumsum(counts) - counts
    return np.arange(total, dtype=np.int64) - np.repeat(starts, counts)
