"""``git rev-list D ^P`` for many (D, P) pairs at once.

One Python walk per deployment is far too slow for millions of commits and deployments, so all
walks advance together, one generation level per step, exactly like git's commit painting, on
the segments of a :class:`~mlreport.plugins.dora.commit_graph.CommitGraph` (see
:func:`rev_list`).
"""

from __future__ import annotations

import numpy as np

from mlreport.plugins.dora.commit_graph import CommitGraph, Segments

_FAR = np.iinfo(np.int64).max


def rev_list(
    graph: CommitGraph, heads: np.ndarray, bases: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``git rev-list heads[k] ^bases[k]`` for every k at once.

    Returns ``(k, node)`` arrays: for each pair k, the nodes reachable from ``heads[k]`` and
    not from ``bases[k]`` (``bases[k] = -1``: no base, every ancestor).

    Git's commit painting, vectorised over pairs and done on segments: each pair's frontier
    starts with its head painted interesting and its base uninteresting; a step pops, for
    every pair, the entries at that pair's highest generation, together with any other entry
    of the same segment. In a segment, the nodes from the highest interesting entry down to
    just above the highest uninteresting one are reported, and the parents of the bottom are
    pushed, uninteresting if anything in the segment was. Since a child's generation exceeds
    its parents', every way into a segment is known when it is popped, so its paint is final.
    A pair stops when its frontier holds only uninteresting entries. Exact, like git without
    its "slop" shortcut.
    """
    sg = graph.segments()
    walk = _Walk(sg, np.asarray(heads, dtype=np.int64), np.asarray(bases, dtype=np.int64))
    while walk.step():
        pass
    return walk.result(graph)


class _Walk:
    """State of the vectorised walk.

    The frontier holds entries at segment tops: (pair, segment, paint, generation). Each
    pair's starting commits (head, base) may sit inside a segment, so they are kept apart,
    per pair, until popped.
    """

    def __init__(self, sg: Segments, heads: np.ndarray, bases: np.ndarray) -> None:
        self.sg = sg
        self.out: list[tuple[np.ndarray, ...]] = []
        pair = np.flatnonzero(heads >= 0)
        hs, hp = sg.seg[heads[pair]], sg.pos[heads[pair]]
        has_base = bases[pair] >= 0
        bnode = np.where(has_base, bases[pair], 0)
        bs = np.where(has_base, sg.seg[bnode], -1)
        bp = np.where(has_base, sg.pos[bnode], _FAR)
        # head and base in one segment: the run between them, and nothing below
        same = bs == hs
        self._emit(pair[same], hs[same], hp[same], np.minimum(bp[same], sg.length[hs[same]]))
        keep = ~same
        self.pair = pair[keep]  # compact pair id -> caller's pair index
        self.head_seg, self.head_pos = hs[keep], hp[keep]
        self.base_seg, self.base_pos = bs[keep], bp[keep]
        self.head_gen = sg.top_gen[self.head_seg] - self.head_pos
        self.base_gen = np.where(has_base[keep], sg.top_gen[np.maximum(bs[keep], 0)] - bp[keep], -1)
        self.head_alive = np.ones(self.pair.size, dtype=bool)
        self.base_alive = has_base[keep].copy()
        self.k = np.zeros(0, dtype=np.int64)
        self.s = np.zeros(0, dtype=np.int64)
        self.u = np.zeros(0, dtype=bool)
        self.g = np.zeros(0, dtype=np.int64)
        n_seg = sg.top_gen.size
        self._owner = np.zeros(n_seg, dtype=np.int64)  # scratch: which entry popped a segment

    def _emit(self, pair: np.ndarray, seg: np.ndarray, a: np.ndarray, b: np.ndarray) -> None:
        """Report positions [a, b) of ``seg`` for caller's pairs ``pair`` (where a < b)."""
        ok = a < b
        if ok.any():
            self.out.append((pair[ok], seg[ok], a[ok], b[ok]))

    def step(self) -> bool:
        """Pop, paint and push once for every pair; False when every walk is done."""
        if self.pair.size == 0:
            return False
        top = np.maximum(
            np.where(self.head_alive, self.head_gen, -1),
            np.where(self.base_alive, self.base_gen, -1),
        )
        np.maximum.at(top, self.k, self.g)
        pop = self.g == top[self.k]
        k, s, u = self._pop(pop, top)
        gk, gs, i_pos, u_pos = self._merge(k, s, u)
        self._emit(self.pair[gk], gs, i_pos, np.minimum(u_pos, self.sg.length[gs]))
        self._push(gk, gs, u_pos < _FAR)
        return True

    def _pop(self, pop: np.ndarray, top: np.ndarray) -> tuple[np.ndarray, ...]:
        """The popped frontier entries plus starting commits that are at the top generation
        or lie in a popped segment (all of a segment is decided at once)."""
        pk, ps, pu = self.k[pop], self.s[pop], self.u[pop]
        rest = ~pop
        self.k, self.s, self.u, self.g = self.k[rest], self.s[rest], self.u[rest], self.g[rest]
        heads = self.head_alive & (self.head_gen == top)
        heads[pk[self.head_alive[pk] & (self.head_seg[pk] == ps)]] = True
        bases = self.base_alive & (self.base_gen == top)
        bases[pk[self.base_alive[pk] & (self.base_seg[pk] == ps)]] = True
        self.head_alive &= ~heads
        self.base_alive &= ~bases
        hk, bk = np.flatnonzero(heads), np.flatnonzero(bases)
        # positions ride along as a fourth array through _merge via the paint arrays
        self._pos = np.concatenate(
            [np.zeros(pk.size, dtype=np.int64), self.head_pos[hk], self.base_pos[bk]]
        )
        return (
            np.concatenate([pk, hk, bk]),
            np.concatenate([ps, self.head_seg[hk], self.base_seg[bk]]),
            np.concatenate([pu, np.zeros(hk.size, bool), np.ones(bk.size, bool)]),
        )

    def _merge(self, k: np.ndarray, s: np.ndarray, u: np.ndarray) -> tuple[np.ndarray, ...]:
        """Per popped (pair, segment): highest interesting and uninteresting positions.

        Without sorting: every entry writes its index into a per-segment slot; an entry that
        lost the slot to one of the same pair is merged into it. Entries that lost to another
        pair try again among themselves (rarely more than twice).
        """
        p = self._pos
        i_pos = np.where(u, _FAR, p)
        u_pos = np.where(u, p, _FAR)
        keep = np.ones(s.size, dtype=bool)
        todo = np.arange(s.size, dtype=np.int64)
        while todo.size:
            self._owner[s[todo]] = todo
            winner = self._owner[s[todo]]
            lost = winner != todo
            if not lost.any():
                break
            loser, winner = todo[lost], winner[lost]
            same = k[loser] == k[winner]
            if same.any():
                np.minimum.at(i_pos, winner[same], i_pos[loser[same]])
                np.minimum.at(u_pos, winner[same], u_pos[loser[same]])
                keep[loser[same]] = False
            todo = loser[~same]
        if keep.all():
            return k, s, i_pos, u_pos
        return k[keep], s[keep], i_pos[keep], u_pos[keep]

    def _push(self, k: np.ndarray, s: np.ndarray, uninteresting: np.ndarray) -> None:
        """Push the parents of each popped segment's bottom; drop pairs with nothing to find."""
        sg = self.sg
        counts = sg.par_ptr[s + 1] - sg.par_ptr[s]
        parent = sg.par_seg[_expand(sg.par_ptr[s], counts)]
        self.k = np.concatenate([self.k, np.repeat(k, counts)])
        self.s = np.concatenate([self.s, parent])
        self.u = np.concatenate([self.u, np.repeat(uninteresting, counts)])
        self.g = np.concatenate([self.g, sg.top_gen[parent]])
        active = self.head_alive.copy()
        active[self.k[~self.u]] = True
        keep = active[self.k]
        if not keep.all():
            self.k, self.s, self.u, self.g = self.k[keep], self.s[keep], self.u[keep], self.g[keep]
        n_active = int(active.sum())
        if n_active == 0:
            self.pair = self.pair[:0]
        elif n_active * 2 < self.pair.size:
            self._compact(active)

    def _compact(self, active: np.ndarray) -> None:
        """Forget finished pairs so per-pair arrays shrink with the walk."""
        new_id = np.cumsum(active) - 1
        self.k = new_id[self.k]
        for name in (
            "pair",
            "head_seg",
            "head_pos",
            "head_gen",
            "head_alive",
            "base_seg",
            "base_pos",
            "base_gen",
            "base_alive",
        ):
            setattr(self, name, getattr(self, name)[active])

    def result(self, graph: CommitGraph) -> tuple[np.ndarray, np.ndarray]:
        if not self.out:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        pair, seg, a, b = (np.concatenate(x) for x in zip(*self.out, strict=True))
        counts = b - a
        return np.repeat(pair, counts), self.sg.nodes[_expand(self.sg.start[seg] + a, counts)]


def _expand(begin: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """The integer ranges [begin, begin + count), concatenated (vectorised)."""
    counts = np.asarray(counts, dtype=np.int64)
    nz = counts > 0
    begin, counts = np.asarray(begin, dtype=np.int64)[nz], counts[nz]
    total = int(counts.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    steps = np.ones(total, dtype=np.int64)
    ends = np.cumsum(counts)
    steps[0] = begin[0]
    # at each range's first slot, jump from the previous range's last value to this begin
    steps[ends[:-1]] = begin[1:] - (begin[:-1] + counts[:-1] - 1)
    return np.cumsum(steps)
