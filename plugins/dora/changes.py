"""The changes each deployment ships: ``git rev-list D ^P`` for all deployments at once.

A deployment is linked to a commit through ``repo_entities``: among the repositories mapped to
its entity, or, for an entity without a mapping, among all repositories, the first by name that
holds the sha. The previous deployment P is looked up in D's repository. D ships no changes
when it has no P (the first deployment) or when P's sha is not in D's repository (git would
refuse ``rev-list D ^P`` too).
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import numpy as np
import polars as pl

from mlreport.plugins.dora.commit_graph import CommitGraph
from mlreport.plugins.dora.graph_loading import load_commit_graph
from mlreport.plugins.dora.rev_list import rev_list


@dataclass(frozen=True)
class Changes:
    """Per deployment (indexed by ``di``): its commit, and the commits it ships.

    ``d_row[di]`` is the rowid of the deployment's commit (-1: unlinked or not asked for);
    ``di``, ``crow``, ``authored`` list the shipped commits (authored: µs, NULL_TIME unknown).
    """

    d_row: np.ndarray
    p_row: np.ndarray
    repo: np.ndarray  # index into repos, -1 when unlinked
    repos: tuple[str, ...]
    di: np.ndarray
    node: np.ndarray
    authored: np.ndarray
    node_rowid: np.ndarray  # the graph's rowid of each node

    @property
    def crow(self) -> np.ndarray:
        """Warehouse rowid of each shipped commit."""
        return self.node_rowid[self.node]


@dataclass(frozen=True)
class Loaded:
    """What the warehouse says about the wanted deployments' commits (the expensive part)."""

    wanted_di: np.ndarray
    graph: CommitGraph | None
    found_i: np.ndarray  # 2 * di for D's sha, 2 * di + 1 for P's sha
    found_node: np.ndarray
    mapping: pl.DataFrame


def changes(con: duckdb.DuckDBPyConnection, deps: pl.DataFrame, wanted_di: np.ndarray) -> Changes:
    """Link the deployments ``wanted_di`` (row numbers of ``deps``) and walk their changes."""
    return walk(deps, load(con, deps, wanted_di))


def load(con: duckdb.DuckDBPyConnection, deps: pl.DataFrame, wanted_di: np.ndarray) -> Loaded:
    """Load the commit graph of the wanted deployments' repositories and find their shas and
    their predecessors' shas, in one pass over ``commits``. Touches the warehouse only
    through ``con`` (so it can run on a cursor in another thread)."""
    wanted_di = np.asarray(wanted_di, dtype=np.int64)
    mapping = con.sql("SELECT DISTINCT entity, repo FROM repo_entities").pl()
    none = np.zeros(0, dtype=np.int64)
    if wanted_di.size == 0:
        return Loaded(wanted_di, None, none, none, mapping)
    sha = deps["commit_sha"]
    prev = deps["prev_di"].fill_null(-1).to_numpy()[wanted_di]
    has_p = prev >= 0
    find = pl.concat(
        [
            pl.DataFrame({"i": wanted_di * 2, "sha": sha.gather(wanted_di)}),
            pl.DataFrame({"i": wanted_di[has_p] * 2 + 1, "sha": sha.gather(prev[has_p])}),
        ]
    )
    entities = deps["entity"].gather(wanted_di).unique()
    repos = _repos_to_load(con, entities, mapping)
    graph, found_i, found_node = load_commit_graph(con, repos, find)
    return Loaded(wanted_di, graph, found_i, found_node, mapping)


def walk(deps: pl.DataFrame, loaded: Loaded) -> Changes:
    """Link each wanted deployment and its P to commits, then walk ``rev-list D ^P``."""
    n = deps.height
    d_row = np.full(n, -1, dtype=np.int64)
    p_row = np.full(n, -1, dtype=np.int64)
    repo = np.full(n, -1, dtype=np.int64)
    none = np.zeros(0, dtype=np.int64)
    graph = loaded.graph
    if graph is None:
        return Changes(d_row, p_row, repo, (), none, none, none, none)
    ek = deps["ek"].to_numpy()
    allowed = _allowed(deps, loaded.mapping, graph.repos)
    d_node, p_node, rk = _link(loaded.found_i, loaded.found_node, graph, ek, allowed, n)
    linked = d_node >= 0
    d_row[linked] = graph.rowid[d_node[linked]]
    repo[linked] = rk[linked]
    ok_p = p_node >= 0
    p_row[ok_p] = graph.rowid[p_node[ok_p]]
    pairs = np.flatnonzero(linked & ok_p)
    k, node = rev_list(graph, d_node[pairs], p_node[pairs])
    return Changes(
        d_row, p_row, repo, graph.repos, pairs[k], node, graph.authored_us[node], graph.rowid
    )


def _repos_to_load(
    con: duckdb.DuckDBPyConnection, entities: pl.Series, mapping: pl.DataFrame
) -> list[str]:
    """The mapped repositories of the deployments' entities; every repository as soon as one
    entity has no mapping (its sha may be anywhere)."""
    mapped = mapping.filter(pl.col("entity").is_in(entities.implode()))
    if mapped["entity"].n_unique() < entities.len():
        return [r for (r,) in con.execute("SELECT DISTINCT repo FROM commits").fetchall()]
    return mapped["repo"].unique().to_list()


@dataclass(frozen=True)
class _Allowed:
    mapped: np.ndarray  # entity code -> has a mapping
    keys: np.ndarray  # sorted entity code * repos + repo code of every mapping


def _allowed(deps: pl.DataFrame, mapping: pl.DataFrame, repos: tuple[str, ...]) -> _Allowed:
    codes = deps.select("entity", "ek").unique()
    rk = pl.DataFrame(
        {"repo": list(repos), "rk": np.arange(len(repos), dtype=np.int64)},
        schema={"repo": pl.String, "rk": pl.Int64},
    )
    m = mapping.join(codes, on="entity", how="inner")
    mapped = np.zeros(int(deps["ek"].max() or 0) + 1, dtype=bool)
    mapped[m["ek"].to_numpy()] = True
    m = m.join(rk, on="repo", how="inner")
    keys = np.sort(m["ek"].to_numpy() * max(len(repos), 1) + m["rk"].to_numpy())
    return _Allowed(mapped, keys)


def _link(
    found_i: np.ndarray,
    found_node: np.ndarray,
    graph: CommitGraph,
    ek: np.ndarray,
    allowed: _Allowed,
    n: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per deployment: D's node (first allowed repository), P's node in that repository."""
    di, is_p = found_i // 2, (found_i % 2) == 1
    rk = graph.repo[found_node].astype(np.int64)
    e = ek[di]
    key = e * max(len(graph.repos), 1) + rk
    if allowed.keys.size:
        pos = np.clip(np.searchsorted(allowed.keys, key), 0, allowed.keys.size - 1)
        in_map = allowed.keys[pos] == key
    else:
        in_map = np.zeros(key.size, dtype=bool)
    ok = ~allowed.mapped[e] | in_map
    d_rk = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
    d_cand = ok & ~is_p
    np.minimum.at(d_rk, di[d_cand], rk[d_cand])
    d_node = np.full(n, -1, dtype=np.int64)
    best = d_cand & (rk == d_rk[di])
    d_node[di[best]] = found_node[best]
    d_rk[d_node < 0] = -1
    p_node = np.full(n, -1, dtype=np.int64)
    p_ok = is_p & (rk == d_rk[di])
    p_node[di[p_ok]] = found_node[p_ok]
    return d_node, p_node, d_rk
