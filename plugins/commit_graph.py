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

NULL_TIME = np.iinfo(np.int64).min
"""Stands for a NULL timestamp in the int64 microsecond arrays."""


class CommitGraphError(Exception):
    """The commits cannot form a history (a cycle), named by repository and sha."""


@dataclass(frozen=True)
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

    @property
    def size(self) -> int:
        return int(self.rowid.size)

    def nodes_of(self, rowids: np.ndarray) -> np.ndarray:
        """Node numbers of warehouse rowids (-1 where a rowid is not in the graph)."""
        rowids = np.asarray(rowids, dtype=np.int64)
        if self.size == 0:
            return np.full(rowids.size, -1, dtype=np.int64)
        pos = np.clip(np.searchsorted(self.rowid, rowids), 0, self.size - 1)
        return np.where(self.rowid[pos] == rowids, pos, -1)


# -- loading ---------------------------------------------------------------------------------


def load_commit_graph(con: duckdb.DuckDBPyConnection, repos: list[str]) -> CommitGraph:
    """Load the commits of ``repos`` with their parent edges (joined on the exact sha)."""
    repos = sorted(set(repos))
    nodes = con.sql(
        "SELECT rowid AS r, list_position($repos, repo)::INTEGER - 1 AS k, "
        "coalesce(generation, 0) AS g, "
        f"coalesce(epoch_us(authored_at), {NULL_TIME}) AS a "
        "FROM commits WHERE list_contains($repos, repo)",
        params={"repos": repos},
    ).fetchnumpy()
    edges = con.sql(
        "SELECT c.r AS child, p.rowid AS parent FROM "
        "(SELECT rowid AS r, repo, unnest(parents) AS psha FROM commits "
        " WHERE list_contains($repos, repo)) c "
        "JOIN commits p ON p.repo = c.repo AND p.sha = c.psha",
        params={"repos": repos},
    ).fetchnumpy()
    rowid = np.asarray(nodes["r"], dtype=np.int64)
    order = slice(None) if _ascending(rowid) else np.argsort(rowid, kind="stable")
    rowid = rowid[order]
    repo = np.asarray(nodes["k"], dtype=np.int32)[order]
    generation = np.asarray(nodes["g"], dtype=np.int64)[order]
    authored = np.asarray(nodes["a"], dtype=np.int64)[order]
    graph = CommitGraph(tuple(repos), rowid, repo, generation, authored, *_empty_csr(rowid.size))
    child = graph.nodes_of(edges["child"])
    parent = graph.nodes_of(edges["parent"])
    ptr, flat = build_csr(rowid.size, child, parent)
    missing = np.unique(repo[generation <= 0])
    if missing.size:
        generation = generation.copy()
        for k in missing.tolist():
            _fill_generations(generation, repo == k, ptr, flat, repos[k], con, rowid)
    return CommitGraph(
        tuple(repos),
        rowid,
        repo,
        generation,
        authored,
        ptr,
        flat,
        tuple(repos[k] for k in missing.tolist()),
    )


def _ascending(a: np.ndarray) -> bool:
    return a.size < 2 or bool(np.all(a[1:] > a[:-1]))


def _empty_csr(n: int) -> tuple[np.ndarray, np.ndarray]:
    return np.zeros(n + 1, dtype=np.int64), np.zeros(0, dtype=np.int64)


def build_csr(n: int, child: np.ndarray, parent: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Parent lists in CSR form from (child, parent) edge arrays; duplicate edges dropped."""
    child = np.asarray(child, dtype=np.int64)
    parent = np.asarray(parent, dtype=np.int64)
    keep = (child >= 0) & (parent >= 0)
    child, parent = child[keep], parent[keep]
    order = np.argsort(child, kind="stable")
    child, parent = child[order], parent[order]
    if child.size > 1:
        dup = np.zeros(child.size, dtype=bool)
        same_child = child[1:] == child[:-1]
        if same_child.any():
            # a parent listed twice for one child: sort each child's run, drop repeats
            order = np.lexsort((parent, child))
            child, parent = child[order], parent[order]
            dup[1:] = (child[1:] == child[:-1]) & (parent[1:] == parent[:-1])
            child, parent = child[~dup], parent[~dup]
    ptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(child, minlength=n), out=ptr[1:])
    return ptr, parent


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
        sha = con.sql("SELECT sha FROM commits WHERE rowid = $r", params={"r": row}).fetchone()
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


# -- rev-list ------------------------------------------------------------------------------


def rev_list(
    graph: CommitGraph, heads: np.ndarray, bases: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``git rev-list heads[k] ^bases[k]`` for every k at once.

    Returns ``(k, node)`` arrays: for each pair k, the nodes reachable from ``heads[k]`` and not
    from ``bases[k]`` (``bases[k] = -1``: no base, every ancestor). Every pair's walk starts
    with its head painted interesting and its base uninteresting; a step pops, for each pair,
    the frontier entries at that pair's highest generation, merges duplicates (uninteresting
    wins), reports the interesting ones and pushes their parents with the same paint. Because
    a child's generation is above its parents', a commit is popped only after every path to it
    from the head or the base was painted, so its paint is final. A pair is done when its
    frontier holds only uninteresting commits. Exact, like git without its "slop" shortcut.
    """
    heads = np.asarray(heads, dtype=np.int64)
    bases = np.asarray(bases, dtype=np.int64)
    gen, ptr, flat = graph.generation, graph.parent_ptr, graph.parents
    n_children = np.bincount(flat, minlength=graph.size) if flat.size else np.zeros(graph.size)
    multi_child = n_children > 1  # only these can be pushed twice for one pair
    live = (heads >= 0) & (heads != bases)
    pair = np.flatnonzero(live)
    has_base = bases[pair] >= 0
    # frontier: pair (compact id), node, generation, uninteresting
    ids = np.arange(pair.size, dtype=np.int64)
    fk = np.concatenate([ids, ids[has_base]])
    fn = np.concatenate([heads[pair], bases[pair][has_base]])
    fu = np.concatenate([np.zeros(pair.size, bool), np.ones(int(has_base.sum()), bool)])
    fg = gen[fn]
    base_of, head_of = bases[pair], heads[pair]  # per compact id
    out_k: list[np.ndarray] = []
    out_n: list[np.ndarray] = []
    top = np.full(pair.size, -1, dtype=np.int64)
    while fk.size:
        # per pair, the highest generation in its frontier
        top[fk] = -1
        np.maximum.at(top, fk, fg)
        pop = fg == top[fk]
        pk, pn, pu = fk[pop], fn[pop], fu[pop]
        twice = multi_child[pn] | (pn == base_of[pk]) | (pn == head_of[pk])
        pk, pn, pu = _merge_duplicates(pk, pn, pu, twice)
        found = ~pu
        out_k.append(pair[pk[found]])
        out_n.append(pn[found])
        # push the parents with the same paint
        counts = ptr[pn + 1] - ptr[pn]
        parent = flat[np.repeat(ptr[pn], counts) + _ramp(counts)]
        rest = ~pop
        fk = np.concatenate([fk[rest], np.repeat(pk, counts)])
        fn = np.concatenate([fn[rest], parent])
        fu = np.concatenate([fu[rest], np.repeat(pu, counts)])
        fg = np.concatenate([fg[rest], gen[parent]])
        # a pair with only uninteresting commits left is done
        active = np.zeros(pair.size, dtype=bool)
        active[fk[~fu]] = True
        keep = active[fk]
        if not keep.all():
            fk, fn, fu, fg = fk[keep], fn[keep], fu[keep], fg[keep]
        if fk.size and pair.size > 1024 and fk.size * 4 < pair.size:
            fk, pair, base_of, head_of, top = _compact(fk, pair, base_of, head_of)
    if not out_k:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    return np.concatenate(out_k), np.concatenate(out_n)


def _merge_duplicates(
    k: np.ndarray, n: np.ndarray, u: np.ndarray, maybe_dup: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Merge entries of the same (pair, node); uninteresting wins.

    Only a commit with several children, or a pair's own head or base, can be pushed twice,
    so only those entries are sorted.
    """
    if not maybe_dup.any():
        return k, n, u
    idx = np.flatnonzero(maybe_dup)
    dk, dn, du = k[idx], n[idx], u[idx]
    order = np.lexsort((~du, dn, dk))  # per (pair, node), uninteresting first
    dk, dn, du = dk[order], dn[order], du[order]
    first = np.ones(dk.size, dtype=bool)
    first[1:] = (dk[1:] != dk[:-1]) | (dn[1:] != dn[:-1])
    single = ~maybe_dup
    return (
        np.concatenate([k[single], dk[first]]),
        np.concatenate([n[single], dn[first]]),
        np.concatenate([u[single], du[first]]),
    )


def _compact(
    fk: np.ndarray, pair: np.ndarray, base_of: np.ndarray, head_of: np.ndarray
) -> tuple[np.ndarray, ...]:
    """Renumber the pairs still walking so per-pair arrays stay as small as the frontier."""
    alive, new_fk = np.unique(fk, return_inverse=True)
    return (
        new_fk.astype(np.int64),
        pair[alive],
        base_of[alive],
        head_of[alive],
        np.full(alive.size, -1, dtype=np.int64),
    )
