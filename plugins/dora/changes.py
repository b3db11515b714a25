"""The changes each deployment ships: the commits that reach production with it.

A change of a successful production deployment D is a commit reachable from D's commit and
from **no earlier successful production deployment of D's entity** (in D's repository): each
commit counts once, at its first production deployment, however release lines interleave
(a maintenance 2.2.5 after 2.3.2 ships only its own backports). The entity's first deployment
in a repository ships nothing: there is nothing before it to tell new commits from old.

A deployment is linked to a commit through ``repo_entities``: among the repositories mapped to
its entity, or, for an entity without a mapping, among all repositories, the first by name that
holds the sha.

Computed for all deployments at once: with the entity's deployments in order in each
repository (D_0, D_1, …), a commit first reached at D_j is in ``rev-list D_j ^D_{j-1}``, so the
first such set that holds it (by deployment order) is its first deployment, unless it is an
ancestor of D_0 (production had it from the start); only commits at or below D_0's generation
can be, and only those are checked, with ``rev-list D_j ^D_0``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb
import numpy as np
import polars as pl

from mlreport.plugins.dora.commit_graph import CommitGraph
from mlreport.plugins.dora.data import SUCCESS
from mlreport.plugins.dora.graph_loading import load_commit_graph
from mlreport.plugins.dora.rev_list import rev_list
from mlreport.warehouse import registered

# An abbreviated sha (7–39 hex digits, any case) per deployment and repository: the full sha it
# names there (``resolved``) when exactly one commit starts with it, else null (``matches`` > 1).
PREFIXES = pl.DataFrame(
    schema={
        "di": pl.Int64,
        "sha": pl.String,
        "repo": pl.String,
        "resolved": pl.String,
        "matches": pl.Int64,
    }
)
ABBREVIATED = r"^[0-9a-fA-F]{7,40}$"


@dataclass(frozen=True)
class Changes:
    """Per deployment (indexed by ``di``): its commit, and the commits it ships.

    ``d_row[di]`` is the rowid of the deployment's commit (-1: unlinked or not asked for);
    ``di``, ``crow``, ``authored`` list the shipped commits (authored: µs, NULL_TIME unknown).
    """

    d_row: np.ndarray
    repo: np.ndarray  # index into repos, -1 when unlinked
    repos: tuple[str, ...]
    di: np.ndarray
    node: np.ndarray
    authored: np.ndarray
    node_rowid: np.ndarray  # the graph's rowid of each node
    prefixes: pl.DataFrame = field(default_factory=PREFIXES.clear)  # di, sha, repo, resolved

    @property
    def crow(self) -> np.ndarray:
        """Warehouse rowid of each shipped commit."""
        return self.node_rowid[self.node]


@dataclass(frozen=True)
class Loaded:
    """What the warehouse says about the deployments' commits (the expensive part)."""

    wanted_di: np.ndarray
    graph: CommitGraph | None
    found_di: np.ndarray  # a deployment whose sha a node holds, once per repository
    found_node: np.ndarray
    mapping: pl.DataFrame
    prefixes: pl.DataFrame = field(default_factory=PREFIXES.clear)  # abbreviated shas


def changes(con: duckdb.DuckDBPyConnection, deps: pl.DataFrame, wanted_di: np.ndarray) -> Changes:
    """Link the deployments ``wanted_di`` (row numbers of ``deps``) and find their changes."""
    return walk(deps, load(con, deps, wanted_di))


def members(deps: pl.DataFrame, wanted_di: np.ndarray) -> np.ndarray:
    """The successful deployments that decide what the wanted ones ship: every successful
    deployment of their entities up to the last wanted one, in deployment order."""
    if wanted_di.size == 0:
        return wanted_di
    last = deps[wanted_di].group_by("ek").agg(pl.col("rank").max().alias("last"))
    chosen = (
        deps.filter(pl.col("status") == SUCCESS)
        .join(last, on="ek", how="inner")
        .filter(pl.col("rank") <= pl.col("last"))
    )
    return np.sort(chosen["di"].to_numpy().astype(np.int64))


def load(con: duckdb.DuckDBPyConnection, deps: pl.DataFrame, wanted_di: np.ndarray) -> Loaded:
    """Load the commit graph of the deployments' repositories and find the shas of every
    deployment that decides what the wanted ones ship, in one pass over ``commits``. Touches
    the warehouse only through ``con`` (so it can run on a cursor in another thread)."""
    wanted_di = np.asarray(wanted_di, dtype=np.int64)
    mapping = con.sql("SELECT DISTINCT entity, repo FROM repo_entities").pl()
    none = np.zeros(0, dtype=np.int64)
    if wanted_di.size == 0:
        return Loaded(wanted_di, None, none, none, mapping)
    member_di = members(deps, wanted_di)
    find = pl.DataFrame({"i": member_di, "sha": deps["commit_sha"].gather(member_di)})
    entities = deps["entity"].gather(member_di).unique()
    repos = _repos_to_load(con, entities, mapping)
    prefixes = resolve_prefixes(con, find, repos)
    resolved = prefixes.filter(pl.col("resolved").is_not_null())
    find = pl.concat([find, resolved.select(i="di", sha="resolved")]).unique()
    graph, found_di, found_node = load_commit_graph(con, repos, find)
    return Loaded(wanted_di, graph, found_di, found_node, mapping, prefixes)


def resolve_prefixes(
    con: duckdb.DuckDBPyConnection, find: pl.DataFrame, repos: list[str]
) -> pl.DataFrame:
    """Resolve abbreviated (or upper-case) shas of ``find`` (i, sha) against ``repos``, as git
    does: a prefix names a commit of a repository when exactly one commit there starts with it.
    Only shas that match no commit exactly are tried (one hash join on the first 7 digits)."""
    candidates = find.filter(
        pl.col("sha").str.contains(ABBREVIATED)
        & (
            (pl.col("sha").str.len_chars() < 40)
            | (pl.col("sha") != pl.col("sha").str.to_lowercase())
        )
    ).with_columns(pl.col("sha").str.to_lowercase().alias("prefix"))
    if candidates.is_empty() or not repos:
        return PREFIXES.clear()
    with registered(con, candidates.select("i", "sha", "prefix")) as name:
        hits = con.sql(
            f"SELECT f.i AS di, f.sha, c.repo, min(c.sha) AS resolved, count(*) AS matches "
            f"FROM {name} f JOIN commits c ON left(c.sha, 7) = left(f.prefix, 7) "
            "AND starts_with(c.sha, f.prefix) WHERE list_contains($repos, c.repo) "
            "GROUP BY ALL ORDER BY di, repo",
            params={"repos": sorted(set(repos))},
        ).pl()
    return hits.with_columns(
        pl.when(pl.col("matches") == 1).then(pl.col("resolved")).alias("resolved"),
        pl.col("di").cast(pl.Int64),
        pl.col("matches").cast(pl.Int64),
    ).select(PREFIXES.columns)


def walk(deps: pl.DataFrame, loaded: Loaded) -> Changes:
    """Link each deployment to a commit, then find the commits each wanted one ships first."""
    n = deps.height
    d_row = np.full(n, -1, dtype=np.int64)
    repo = np.full(n, -1, dtype=np.int64)
    none = np.zeros(0, dtype=np.int64)
    graph = loaded.graph
    if graph is None:
        return Changes(d_row, repo, (), none, none, none, none)
    ek = deps["ek"].to_numpy()
    allowed = _allowed(deps, loaded.mapping, graph.repos)
    di, node, rk = _hits(loaded.found_di, loaded.found_node, graph, ek, allowed)
    own_rk = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(own_rk, di, rk)
    own = rk == own_rk[di]
    d_row[di[own]] = graph.rowid[node[own]]
    repo[di[own]] = rk[own]
    rank = deps["rank"].to_numpy()
    c_di, c_node = _first_reached(graph, di, node, rk, ek[di] * len(graph.repos) + rk, rank)
    # a change belongs to its deployment in the deployment's own repository, if it was asked for
    keep = (graph.repo[c_node] == own_rk[c_di]) & np.isin(c_di, loaded.wanted_di)
    c_di, c_node = c_di[keep], c_node[keep]
    order = np.lexsort((c_node, c_di))
    c_di, c_node = c_di[order], c_node[order]
    authored = graph.authored_us[c_node]
    return Changes(d_row, repo, graph.repos, c_di, c_node, authored, graph.rowid, loaded.prefixes)


def _first_reached(
    graph: CommitGraph,
    di: np.ndarray,
    node: np.ndarray,
    rk: np.ndarray,
    group: np.ndarray,
    rank: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """(deployment, commit) for every commit of a group (entity, repository) and the first
    deployment of that group that reaches it; ancestors of the group's first deployment and
    the first deployment's own commits are left out."""
    order = np.lexsort((rank[di], group))
    di, node, group = di[order], node[order], group[order]
    first = np.ones(di.size, dtype=bool)
    first[1:] = group[1:] != group[:-1]
    later = np.flatnonzero(~first)
    if later.size == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    k, found = rev_list(graph, node[later], node[later - 1])
    pair = later[k]
    # each commit once per group: at its first deployment in order
    by = np.lexsort((rank[di[pair]], found, group[pair]))
    pair, found = pair[by], found[by]
    once = np.ones(pair.size, dtype=bool)
    once[1:] = (group[pair[1:]] != group[pair[:-1]]) | (found[1:] != found[:-1])
    pair, found = pair[once], found[once]
    # what the group's first deployment already had is no change
    start = np.maximum.accumulate(np.where(first, np.arange(di.size), 0))
    base = node[start[pair]]
    low = graph.generation[found] <= graph.generation[base]
    if low.any():
        suspect = np.unique(pair[low])
        kk, new = rev_list(graph, node[suspect], node[start[suspect]])
        fresh = suspect[kk] * graph.size + new
        keep = np.ones(pair.size, dtype=bool)
        keep[low] = np.isin(pair[low] * graph.size + found[low], fresh)
        pair, found = pair[keep], found[keep]
    return di[pair], found


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


def _hits(
    found_di: np.ndarray,
    found_node: np.ndarray,
    graph: CommitGraph,
    ek: np.ndarray,
    allowed: _Allowed,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every (deployment, node, repository) where a deployment's sha is in a repository its
    entity may deploy from (the mapped ones; any, for an entity without a mapping)."""
    rk = graph.repo[found_node].astype(np.int64)
    e = ek[found_di]
    key = e * max(len(graph.repos), 1) + rk
    if allowed.keys.size:
        pos = np.clip(np.searchsorted(allowed.keys, key), 0, allowed.keys.size - 1)
        in_map = allowed.keys[pos] == key
    else:
        in_map = np.zeros(key.size, dtype=bool)
    ok = ~allowed.mapped[e] | in_map
    return found_di[ok], found_node[ok], rk[ok]
