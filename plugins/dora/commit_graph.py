"""The commit graph as integer arrays, and ``git rev-list D ^P`` for many pairs at once.

Lead time needs, for every production deployment D and its predecessor P, the commits reachable
from D and not from P. Walking the graph once per deployment in Python is far too slow for a
warehouse with millions of commits and deployments, so the graph is loaded once into numpy
arrays (CSR parent lists, generation numbers) and all walks advance together, one generation
level per step, exactly like git's commit painting (see :func:`rev_list`).
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import numpy as np
import polars as pl

from mlreport.warehouse import registered

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


# -- loading ---------------------------------------------------------------------------------


def load_commit_graph(
    con: duckdb.DuckDBPyConnection, repos: list[str], find: pl.DataFrame | None = None
) -> tuple[CommitGraph, np.ndarray, np.ndarray]:
    """Load the commits of ``repos`` with their parent edges, joined on the exact sha.

    ``find``: a frame (i: int64, sha: string) of shas to look up in the same pass over
    ``commits``. Returns the graph and ``(i, node)`` for every node whose sha is a row's sha.
    """
    repos = sorted(set(repos))
    stored = {r for (r,) in con.execute("SELECT DISTINCT repo FROM commits").fetchall()}
    # a filter on repo costs more than it saves unless it leaves repositories out
    only = "" if stored <= set(repos) else "AND list_contains($repos, {col})"
    params = {"repos": repos}
    nodes = con.sql(
        "SELECT rowid AS r, list_position($repos, repo)::INTEGER - 1 AS k, "
        "coalesce(generation, 0) AS g, "
        f"coalesce(epoch_us(authored_at), {NULL_TIME}) AS a "
        "FROM commits WHERE list_contains($repos, repo)",
        params=params,
    ).fetchnumpy()
    rowid = np.asarray(nodes["r"], dtype=np.int64)
    order = slice(None) if _ascending(rowid) else np.argsort(rowid, kind="stable")
    graph = CommitGraph(
        tuple(repos),
        rowid[order],
        np.asarray(nodes["k"], dtype=np.int32)[order],
        np.asarray(nodes["g"], dtype=np.int64)[order],
        np.asarray(nodes["a"], dtype=np.int64)[order],
        *_empty_csr(rowid.size),
    )
    if find is None:
        find = pl.DataFrame(schema={"i": pl.Int64, "sha": pl.String})
    with registered(con, find.select("i", "sha").drop_nulls()) as name:
        pairs = con.sql(
            "WITH probe AS ("
            " SELECT FALSE AS look, rowid AS src, repo, unnest(parents) AS sha FROM commits"
            f" WHERE TRUE {only.format(col='repo')}"
            f" UNION ALL SELECT TRUE, i, NULL, sha FROM {name}) "
            "SELECT p.look, p.src, c.rowid AS dst FROM probe p JOIN commits c ON c.sha = p.sha "
            f"WHERE (p.look OR c.repo = p.repo) {only.format(col='c.repo')}",
            params=params if only else None,
        ).fetchnumpy()
    is_look = np.asarray(pairs["look"], dtype=bool)
    src = np.asarray(pairs["src"], dtype=np.int64)
    dst = graph.nodes_of(np.asarray(pairs["dst"], dtype=np.int64), known=True)
    child = graph.nodes_of(src[~is_look], known=True)
    ptr, flat = build_csr(graph.size, child, dst[~is_look])
    graph.parent_ptr, graph.parents = ptr, flat
    _check_generations(graph, con)
    return graph, src[is_look], dst[is_look]


def _check_generations(graph: CommitGraph, con: duckdb.DuckDBPyConnection) -> None:
    """Compute the generations of every repository that has commits without one."""
    missing = np.unique(graph.repo[graph.generation <= 0])
    if not missing.size:
        return
    graph.generation = graph.generation.copy()
    for k in missing.tolist():
        _fill_generations(
            graph.generation,
            graph.repo == k,
            graph.parent_ptr,
            graph.parents,
            graph.repos[k],
            con,
            graph.rowid,
        )
    graph.computed = tuple(graph.repos[k] for k in missing.tolist())


def _ascending(a: np.ndarray) -> bool:
    return a.size < 2 or bool(np.all(a[1:] > a[:-1]))


def _empty_csr(n: int) -> tuple[np.ndarray, np.ndarray]:
    return np.zeros(n + 1, dtype=np.int64), np.zeros(0, dtype=np.int64)


def build_csr(n: int, child: np.ndarray, parent: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Parent lists in CSR form from (child, parent) edge arrays; duplicate edges dropped.

    A counting sort: an edge goes to its child's slot plus its rank among that child's
    edges; only children with several parents need ranking (a small sort).
    """
    child = np.asarray(child, dtype=np.int64)
    parent = np.asarray(parent, dtype=np.int64)
    keep = (child >= 0) & (parent >= 0)
    if not keep.all():
        child, parent = child[keep], parent[keep]
    counts = np.bincount(child, minlength=n) if child.size else np.zeros(n, dtype=np.int64)
    many = np.flatnonzero(counts[child] > 1)  # edges of children with several parents
    rank = np.zeros(child.size, dtype=np.int64)
    if many.size:
        sub = many[np.lexsort((parent[many], child[many]))]
        c, p = child[sub], parent[sub]
        repeat = np.zeros(sub.size, dtype=bool)
        repeat[1:] = (c[1:] == c[:-1]) & (p[1:] == p[:-1])
        if repeat.any():  # a parent listed twice: keep one edge
            drop = np.zeros(child.size, dtype=bool)
            drop[sub[repeat]] = True
            return build_csr(n, child[~drop], parent[~drop])
        run_start = np.ones(sub.size, dtype=bool)
        run_start[1:] = c[1:] != c[:-1]
        starts = np.flatnonzero(run_start)
        lengths = np.diff(np.append(starts, sub.size))
        rank[sub] = np.arange(sub.size) - np.repeat(starts, lengths)
    ptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=ptr[1:])
    flat = np.empty(child.size, dtype=np.int64)
    flat[ptr[child] + rank] = parent
    return ptr, flat


# -- generations -----------------------------------------------------------------------------


def compute_generations(n: int, ptr: np.ndarray, parents: np.ndarray) -> np.ndarray:
    """``generation`` = 1 for roots, 1 + max(parents' generation) otherwise.

    Kahn's algorithm in plain Python: O(commits + edges), about a second per million commits.
    Only used when a repository has commits without a stored generation (the git source
    always fills it). Raises ``CommitGraphError`` naming a node on a cycle.
    """
    counts = np.diff(ptr)
    child_of_edge = np.repeat(np.arange(n, dtype=np.int64), counts)
    order = np.argsort(parents, kind="stable")
    child_ptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(parents, minlength=n), out=child_ptr[1:])
    children = child_of_edge[order].tolist()
    cptr = child_ptr.tolist()
    pending = counts.tolist()
    gen = [1] * n
    ready = [i for i in range(n) if pending[i] == 0]
    done = 0
    while ready:
        node = ready.pop()
        done += 1
        g = gen[node] + 1
        for j in range(cptr[node], cptr[node + 1]):
            c = children[j]
            if gen[c] < g:
                gen[c] = g
            pending[c] -= 1
            if pending[c] == 0:
                ready.append(c)
    if done != n:
        stuck = next(i for i in range(n) if pending[i] > 0)
        raise CommitGraphError(stuck)
    return np.asarray(gen, dtype=np.int64)


def _fill_generations(
    generation: np.ndarray,
    mask: np.ndarray,
    ptr: np.ndarray,
    flat: np.ndarray,
    repo: str,
    con: duckdb.DuckDBPyConnection,
    rowid: np.ndarray,
) -> None:
    """Recompute every generation of one repository (stored ones may be inconsistent)."""
    idx = np.flatnonzero(mask)
    local = np.full(generation.size, -1, dtype=np.int64)
    local[idx] = np.arange(idx.size)
    counts = np.diff(ptr)[idx]
    sub_parents = local[
        flat[np.repeat(ptr[idx], counts) + _ramp(counts)]
    ]  # edges never cross repositories
    sub_ptr = np.zeros(idx.size + 1, dtype=np.int64)
    np.cumsum(counts, out=sub_ptr[1:])
    try:
        generation[idx] = compute_generations(idx.size, sub_ptr, sub_parents)
    except CommitGraphError as exc:
        row = int(rowid[idx[int(exc.args[0])]])
        sha = (con.execute("SELECT sha FROM commits WHERE rowid = ?", [row]).fetchall() or [None])[
            0
        ]
        raise CommitGraphError(
            f"commits: repository {repo!r}: the parents of commit {sha[0] if sha else '?'} "
            "form a cycle, so it has no generation; re-sync the repository"
        ) from None


def _ramp(counts: np.ndarray) -> np.ndarray:
    """0..c-1 for each count c, concatenated (vectorised)."""
    total = int(counts.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    starts = np.cumsum(counts) - counts
    return np.arange(total, dtype=np.int64) - np.repeat(starts, counts)


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
    par_seg = seg[flat[np.repeat(ptr[bottom], counts) + _ramp(counts)]]
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


# -- rev-list ------------------------------------------------------------------------------

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
