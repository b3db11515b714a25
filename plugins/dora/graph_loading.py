"""Loading the commit graph of some repositories from the warehouse's ``commits`` table: one
DuckDB join on the exact sha turns parent shas into edges (and finds the deployments' shas in
the same pass), and generations are computed in memory where the warehouse has none."""

from __future__ import annotations

import duckdb
import numpy as np
import polars as pl

from mlreport.plugins.dora.commit_graph import NULL_TIME, CommitGraph, CommitGraphError, ramp
from mlreport.warehouse import registered


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
        flat[np.repeat(ptr[idx], counts) + ramp(counts)]
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
