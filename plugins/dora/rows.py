"""Turning window-free facts into ``metric_values`` rows, one per (metric, entity, window, dims).

Cells are (entity, production environment) pairs; every statistic is computed per
(cell, window) key with numpy counts or one polars group-by, then spread over the full grid so
trend series have no holes: an empty cell has value null and n 0, except
``dora.deployment_frequency`` which is 0.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from mlreport.metrics import Window
from mlreport.plugins.dora.changes import Changes
from mlreport.plugins.dora.commit_graph import NULL_TIME
from mlreport.plugins.dora.data import US_PER_HOUR, DoraFacts

STATS = (("p50", 0.5), ("p75", 0.75), ("p90", 0.9))


def to_us(value) -> int:
    return int(round(value.timestamp() * 1_000_000))


def memberships(times: np.ndarray, windows: Sequence[Window]) -> tuple[np.ndarray, np.ndarray]:
    """``(row, wi)`` for every row whose time lies in window ``wi`` (half-open)."""
    times = np.asarray(times, dtype=np.int64)
    order = np.argsort(times, kind="stable")
    ordered = times[order]
    rows, wis = [np.zeros(0, dtype=np.int64)], [np.zeros(0, dtype=np.int64)]
    for wi, w in enumerate(windows):
        lo = np.searchsorted(ordered, to_us(w.start), side="left")
        hi = np.searchsorted(ordered, to_us(w.end), side="left")
        rows.append(order[lo:hi])
        wis.append(np.full(hi - lo, wi, dtype=np.int64))
    return np.concatenate(rows), np.concatenate(wis)


@dataclass(frozen=True)
class Grid:
    """The cells (entity, environment), the entities and the windows being reported.

    Cells 0 .. number of deployment groups - 1 are the deployments' ``grp``; cells known only
    from incidents follow.
    """

    cell_entity: pl.Series
    cell_env: pl.Series
    entities: pl.Series  # sorted
    windows: tuple[Window, ...]

    @property
    def cells(self) -> int:
        return self.cell_entity.len()

    @property
    def w(self) -> int:
        return len(self.windows)


def make_grid(facts: DoraFacts, windows: Sequence[Window], production: list[str]) -> Grid:
    """Each entity's production environments seen in its deployments or incidents; an entity
    known only from environment-less incidents gets the first production environment."""
    deps = facts.deployments
    dep_cells = deps.group_by("grp").agg(pl.col("entity").first(), pl.col("environment").first())
    dep_cells = dep_cells.sort("grp").select("entity", "environment")
    inc = facts.incidents.filter(
        pl.col("environment").is_null() | pl.col("environment").is_in(production)
    ).select("entity", "environment")
    extra = (
        inc.drop_nulls("environment")
        .unique()
        .join(dep_cells, on=["entity", "environment"], how="anti")
    )
    known = pl.concat([dep_cells, extra]).select("entity").unique()
    bare = (
        inc.filter(pl.col("environment").is_null())
        .select("entity")
        .unique()
        .join(known, on="entity", how="anti")
        .with_columns(environment=pl.lit(production[0] if production else "production"))
    )
    extra = pl.concat([extra, bare]).sort("entity", "environment")
    cells = pl.concat([dep_cells, extra])
    entities = cells["entity"].unique().sort()
    return Grid(cells["entity"], cells["environment"], entities, tuple(windows))


# -- statistics over (key) groups ---------------------------------------------------------------


def _count(key: np.ndarray, size: int, weights: np.ndarray | None = None) -> np.ndarray:
    if key.size == 0:
        return np.zeros(size, dtype=np.float64 if weights is not None else np.int64)
    return np.bincount(key, weights=weights, minlength=size)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    out = np.full(den.size, np.nan)
    ok = den > 0
    out[ok] = num[ok] / den[ok]
    return out


def _quantiles(key: np.ndarray, values: np.ndarray, size: int) -> dict[str, np.ndarray]:
    """p50/p75/p90 per key (linear interpolation, like numpy and DuckDB ``quantile_cont``)."""
    out = {s: np.full(size, np.nan) for s, _ in STATS}
    out["n"] = np.zeros(size, dtype=np.int64)
    if key.size == 0:
        return out
    agg = (
        pl.DataFrame({"k": key, "v": values})
        .group_by("k")
        .agg(
            pl.len(), *[pl.col("v").quantile(q, interpolation="linear").alias(s) for s, q in STATS]
        )
    )
    k = agg["k"].to_numpy()
    out["n"][k] = agg["len"].to_numpy()
    for s, _ in STATS:
        out[s][k] = agg[s].to_numpy()
    return out


# -- rows --------------------------------------------------------------------------------------


class RowBuilder:
    """Shapes per-key arrays (key = cell or entity index * windows + window) into rows."""

    def __init__(self, grid: Grid) -> None:
        self.grid = grid
        w = grid.w
        self.starts = pl.Series([x.start for x in grid.windows], dtype=pl.Datetime("us", "UTC"))
        self.ends = pl.Series([x.end for x in grid.windows], dtype=pl.Datetime("us", "UTC"))
        self.days = np.array([x.days for x in grid.windows], dtype=np.float64)
        self.cell_key = np.arange(grid.cells * w, dtype=np.int64)
        self.entity_key = np.arange(grid.entities.len() * w, dtype=np.int64)
        self.frames: list[pl.DataFrame] = []

    def add(
        self,
        metric: str,
        unit: str,
        value: np.ndarray,
        n: np.ndarray,
        stat: str | None = None,
        per_entity: bool = False,
    ) -> None:
        w = self.grid.w
        key = self.entity_key if per_entity else self.cell_key
        owner, wi = key // w, key % w
        if per_entity:
            entity = self.grid.entities.gather(owner)
            dims = _dims(None, stat, owner.size)
        else:
            entity = self.grid.cell_entity.gather(owner)
            dims = _dims(self.grid.cell_env.gather(owner), stat, owner.size)
        self.frames.append(
            pl.DataFrame(
                {
                    "metric": pl.Series([metric]).gather(np.zeros(owner.size, dtype=np.int64)),
                    "entity": entity,
                    "window_start": self.starts.gather(wi),
                    "window_end": self.ends.gather(wi),
                    "dimensions": dims,
                    "value": pl.Series(value, dtype=pl.Float64).fill_nan(None),
                    "unit": pl.Series([unit]).gather(np.zeros(owner.size, dtype=np.int64)),
                    "n": pl.Series(n, dtype=pl.Int64),
                }
            )
        )

    def add_stats(self, metric: str, unit: str, q: dict[str, np.ndarray], **kw) -> None:
        for s, _ in STATS:
            self.add(metric, unit, q[s], q["n"], stat=s, **kw)

    def frame(self) -> pl.DataFrame:
        return pl.concat(self.frames, how="vertical")


def _dims(envs: pl.Series | None, stat: str | None, size: int) -> pl.Series:
    """Canonical JSON dimensions (sorted keys, no spaces), as ``canonical_dimensions``."""
    if envs is None:
        text = json.dumps({"stat": stat} if stat else {}, sort_keys=True, separators=(",", ":"))
        return pl.Series([text]).gather(np.zeros(size, dtype=np.int64))
    names = envs.unique().to_list()
    table = {
        e: json.dumps(
            {"environment": e, **({"stat": stat} if stat else {})},
            sort_keys=True,
            separators=(",", ":"),
        )
        for e in names
    }
    return envs.replace_strict(table, return_dtype=pl.String)


# -- the families ------------------------------------------------------------------------------


def dora_rows(facts: DoraFacts, found: Changes, grid: Grid) -> pl.DataFrame:
    """Rows of every ``dora.*`` metric."""
    deps = facts.deployments
    w, size = grid.w, grid.cells * grid.w
    rows, wi = memberships(deps["fin"].to_numpy(), grid.windows)
    key = deps["grp"].to_numpy()[rows] * w + wi
    success = (deps["status"] == "success").to_numpy()[rows]
    counted = deps["counted"].to_numpy()[rows]
    failed = deps["failed"].to_numpy()[rows] & counted
    recovered = deps["recovered"].fill_null(NULL_TIME).to_numpy()[rows]
    fin = deps["fin"].to_numpy()[rows]
    out = RowBuilder(grid)
    days = np.tile(out.days, grid.cells)

    n_success = _count(key[success], size)
    out.add("dora.deployment_frequency", "deploys/week", n_success / days * 7, n_success)
    out.add_stats(
        "dora.lead_time", "hours", _lead_time(deps, found, rows[success], key[success], size)
    )
    n_counted = _count(key[counted], size)
    n_failed = _count(key[failed], size)
    out.add("dora.change_failure_rate", "ratio", _ratio(n_failed, n_counted), n_counted)
    ok = failed & (recovered != NULL_TIME)
    hours = (recovered[ok] - fin[ok]) / US_PER_HOUR
    out.add_stats("dora.recovery_time", "hours", _quantiles(key[ok], hours, size))
    still_open = _count(key[failed & (recovered == NULL_TIME)], size)
    out.add("dora.open_failures", "count", _nan_when_empty(still_open, n_counted), n_counted)
    unlinked = found.d_row[rows[success]] < 0
    n_unlinked = _count(key[success], size, unlinked.astype(np.float64))
    out.add("dora.unlinked_deployments", "count", _nan_when_empty(n_unlinked, n_success), n_success)
    rework = deps["rework"].to_numpy()[rows][success]
    n_rework = _count(key[success], size, rework.astype(np.float64))
    out.add("dora.rework_rate", "ratio", _ratio(n_rework, n_success), n_success)
    return out.frame()


def _nan_when_empty(value: np.ndarray, n: np.ndarray) -> np.ndarray:
    return np.where(n > 0, value, np.nan)


def _lead_time(
    deps: pl.DataFrame, found: Changes, m_di: np.ndarray, m_key: np.ndarray, size: int
) -> dict[str, np.ndarray]:
    """Quantiles of the lead times of the changes of successful deployments, per key.

    ``m_di``, ``m_key``: each successful deployment in a window and that window's key.
    """
    known = found.authored != NULL_TIME
    c_di, c_auth = found.di, found.authored
    if not known.all():
        c_di, c_auth = c_di[known], c_auth[known]
    fin = deps["fin"].to_numpy()
    per_di = np.bincount(m_di, minlength=deps.height)
    if per_di.size == 0 or per_di.max() <= 1:  # disjoint windows: one key per deployment
        key_of = np.full(deps.height, -1, dtype=np.int64)
        key_of[m_di] = m_key
        c_key = key_of[c_di]
        inside = c_key >= 0
        if not inside.all():
            c_di, c_auth, c_key = c_di[inside], c_auth[inside], c_key[inside]
        return _quantiles(c_key, (fin[c_di] - c_auth) / US_PER_HOUR, size)
    # overlapping windows: repeat each change once per window holding its deployment
    order = np.argsort(m_di, kind="stable")
    m_di, m_key = m_di[order], m_key[order]
    first = np.zeros(deps.height + 1, dtype=np.int64)
    np.cumsum(per_di, out=first[1:])
    reps = per_di[c_di]
    idx = np.repeat(np.arange(c_di.size), reps)
    slot = first[c_di][idx] + (np.arange(idx.size) - np.repeat(np.cumsum(reps) - reps, reps))
    lead = (fin[c_di[idx]] - c_auth[idx]) / US_PER_HOUR
    return _quantiles(m_key[slot], lead, size)


def ops_rows(facts: DoraFacts, grid: Grid, production: list[str]) -> pl.DataFrame:
    """Rows of ``ops.time_to_restore``, ``ops.time_to_detect`` and ``ops.automation_rate``."""
    w = grid.w
    out = RowBuilder(grid)
    inc = facts.incidents
    rows, wi = memberships(inc["det"].to_numpy(), grid.windows)
    det = inc["det"].to_numpy()[rows]
    res = inc["res"].fill_null(NULL_TIME).to_numpy()[rows]
    index = pl.DataFrame({"entity": grid.entities, "eidx": np.arange(grid.entities.len())})
    eidx = inc.select("entity").join(index, on="entity", how="left", maintain_order="left")
    eidx = eidx["eidx"].fill_null(-1).to_numpy()[rows]
    env = inc["environment"]
    prod_or_none = (env.is_null() | env.is_in(production)).to_numpy()[rows]
    ok = prod_or_none & (res != NULL_TIME) & (eidx >= 0)
    q = _quantiles(
        eidx[ok] * w + wi[ok], (res[ok] - det[ok]) / US_PER_HOUR, grid.entities.len() * w
    )
    out.add_stats("ops.time_to_restore", "hours", q, per_entity=True)

    deps = facts.deployments
    att = inc["att_di"].fill_null(-1).to_numpy()[rows]
    has = att >= 0
    grp, fin = deps["grp"].to_numpy(), deps["fin"].to_numpy()
    key = grp[att[has]] * w + wi[has]
    hours = (det[has] - fin[att[has]]) / US_PER_HOUR
    out.add_stats("ops.time_to_detect", "hours", _quantiles(key, hours, grid.cells * w))

    d_rows, d_wi = memberships(fin, grid.windows)
    d_key = grp[d_rows] * w + d_wi
    automated = (deps["trigger"] == "automated").fill_null(False).to_numpy()[d_rows]
    n = _count(d_key, grid.cells * w)
    share = _ratio(_count(d_key, grid.cells * w, automated.astype(np.float64)), n)
    out.add("ops.automation_rate", "ratio", share, n)
    return out.frame()
