"""Per-deployment and per-incident facts behind the ``dora`` and ``ops`` metrics.

Everything here is independent of the reporting windows: the previous successful deployment,
the next successful one, which incidents are attributed to which deployment, whether a
deployment is rework. The windows only select rows afterwards (``rows``), so one
computation serves ``--by week`` as well as a single window.

Times are int64 microseconds since the epoch (``fin``, ``det``, ``res``) so that the arithmetic
is exact and the same in SQL, polars and numpy.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import numpy as np
import polars as pl

from mlreport.config import Config
from mlreport.warehouse import registered

US_PER_DAY = 86_400_000_000
US_PER_HOUR = 3_600_000_000
MAX_US = 9_223_372_036_854_775_807  # an unresolved incident is open until +infinity
SUCCESS, ROLLED_BACK = "success", "rolled_back"


@dataclass(frozen=True)
class DoraFacts:
    """Production deployments (one row each, ``di`` = row number) and incidents."""

    deployments: pl.DataFrame
    incidents: pl.DataFrame


def load_facts(
    con: duckdb.DuckDBPyConnection, config: Config, entities: list[str] | None
) -> DoraFacts:
    """Read production deployments and incidents and derive the window-free facts."""
    deps = load_deployments(con, config.metrics.production_environments, entities)
    return complete_facts(con, config, entities, deps)


def complete_facts(
    con: duckdb.DuckDBPyConnection,
    config: Config,
    entities: list[str] | None,
    deps: pl.DataFrame,
) -> DoraFacts:
    """Incidents, attribution, rework and failures for deployments already loaded."""
    window_us = round(config.metrics.attribution_window_days * US_PER_DAY)
    incidents = keyed_incidents(load_raw_incidents(con, entities), deps)
    incidents = incidents.with_columns(att_di=attribute(con, incidents, deps, window_us))
    rework = rework_by_incident(con, incidents, deps)
    deps = deps.with_columns(
        rework=(pl.col("status") == SUCCESS)
        & (pl.col("kind").is_in(["hotfix", "rollback"]) | pl.Series(rework))
    )
    return DoraFacts(with_failures(deps, incidents), incidents)


# -- deployments --------------------------------------------------------------------------


def load_deployments(
    con: duckdb.DuckDBPyConnection, production: list[str], entities: list[str] | None
) -> pl.DataFrame:
    """Production deployments ordered by (entity, environment, finished_at, source, id).

    That order breaks ties between equal ``finished_at`` deterministically; ``prev_di`` is the
    previous successful deployment of the same entity and environment (P), ``next_success``
    the ``finished_at`` of the next successful one. ``rank`` orders an entity's deployments
    across its production environments (finished_at, environment, source, id): the order in
    which commits reach production.
    """
    frame = con.sql(
        "SELECT source, deployment_id, entity, environment, commit_sha, "
        'epoch_us(finished_at) AS fin, status, kind, "trigger" FROM deployments '
        "WHERE list_contains($envs, environment) "
        "AND ($all OR list_contains($ents, entity)) "
        "ORDER BY entity, environment, fin, source, deployment_id",
        params=_params(production, entities),
    ).pl()
    success = pl.col("status") == SUCCESS
    order = frame.select(
        pl.arg_sort_by(["entity", "fin", "environment", "source", "deployment_id"])
    ).to_series()
    rank = np.empty(frame.height, dtype=np.int64)
    rank[order.to_numpy()] = np.arange(frame.height, dtype=np.int64)
    return (
        frame.with_row_index("di")
        .with_columns(pl.Series("rank", rank))
        .with_columns(pl.col("di").cast(pl.Int64))
        .with_columns(
            ek=_starts(pl.col("entity") != pl.col("entity").shift(1)),
            grp=_starts(
                (pl.col("entity") != pl.col("entity").shift(1))
                | (pl.col("environment") != pl.col("environment").shift(1))
            ),
        )
        .with_columns(
            prev_di=pl.when(success).then(
                pl.when(success).then(pl.col("di")).shift(1).forward_fill().over("grp")
            ),
            next_success=pl.when(success).then(pl.col("fin")).shift(-1).backward_fill().over("grp"),
            counted=pl.col("status").is_in([SUCCESS, ROLLED_BACK]),
        )
    )


def _starts(change: pl.Expr) -> pl.Expr:
    """Number runs of equal keys 0, 1, 2, ... in a sorted frame."""
    return (change.fill_null(True).cast(pl.Int64).cum_sum() - 1).cast(pl.Int64)


def _params(production: list[str], entities: list[str] | None) -> dict:
    return {
        "envs": list(production),
        "all": entities is None,
        "ents": list(entities or []),
    }


# -- incidents and attribution --------------------------------------------------------------


def load_raw_incidents(con: duckdb.DuckDBPyConnection, entities: list[str] | None) -> pl.DataFrame:
    """Incidents in a stable order, times in µs; a blank ``cause_deployment_id`` is unset."""
    return con.sql(
        "SELECT source, incident_id, entity, environment, "
        "epoch_us(detected_at) AS det, epoch_us(resolved_at) AS res, "
        "nullif(trim(cause_deployment_id), '') AS cause FROM incidents "
        "WHERE $all OR list_contains($ents, entity) "
        "ORDER BY entity, det, source, incident_id",
        params={"all": entities is None, "ents": list(entities or [])},
    ).pl()


def keyed_incidents(incidents: pl.DataFrame, deps: pl.DataFrame) -> pl.DataFrame:
    """Add ``ii`` (row number), ``ek`` (the entity's code among deployments, -1 if it has
    none) and ``grp`` (the (entity, environment) deployment group, -1 if none)."""
    ents = deps.group_by("ek").agg(pl.col("entity").first())
    groups = deps.group_by("grp").agg(pl.col("entity").first(), pl.col("environment").first())
    return (
        incidents.with_row_index("ii")
        .with_columns(pl.col("ii").cast(pl.Int64))
        .join(ents, on="entity", how="left", maintain_order="left")
        .join(groups, on=["entity", "environment"], how="left", maintain_order="left")
        .with_columns(pl.col("ek").fill_null(-1), pl.col("grp").fill_null(-1))
    )


_IMPLICIT_SQL = """
WITH cand AS (SELECT grp, ek, fin, max(di) AS di FROM {dep} GROUP BY grp, ek, fin),
cand_any AS (SELECT ek, fin, max(di) AS di FROM {dep} GROUP BY ek, fin),
by_env AS (
    SELECT i.ii, c.di FROM (SELECT * FROM {inc} WHERE has_env) i
    ASOF JOIN cand c ON i.grp = c.grp AND i.det >= c.fin
    WHERE c.fin >= i.det - $window
),
by_any AS (
    SELECT i.ii, c.di FROM (SELECT * FROM {inc} WHERE NOT has_env) i
    ASOF JOIN cand_any c ON i.ek = c.ek AND i.det >= c.fin
    WHERE c.fin >= i.det - $window
)
SELECT ii, di FROM by_env UNION ALL SELECT ii, di FROM by_any
"""


def attribute(
    con: duckdb.DuckDBPyConnection, incidents: pl.DataFrame, deps: pl.DataFrame, window_us: int
) -> pl.Series:
    """The production deployment (``di``) each incident is attributed to, or null.

    ``cause_deployment_id`` wins when set: matched against the deployment ids of the same
    entity (one id in several sources: the latest). Otherwise the latest production deployment
    with status success or rolled_back of the same entity and environment (any production
    environment when the incident's is NULL) that finished at or before ``detected_at`` and at
    most the attribution window earlier. Ties on ``finished_at`` go to the last deployment in
    (environment, source, deployment_id) order: the largest ``di``.
    """
    att = np.full(incidents.height, -1, dtype=np.int64)
    explicit = incidents.filter(pl.col("cause").is_not_null())
    if explicit.height:
        causes = explicit["cause"].unique().implode()
        named = deps.filter(pl.col("deployment_id").is_in(causes)).select(
            "di", "ek", pl.col("deployment_id").alias("cause"), "fin"
        )
        hit = (
            explicit.select("ii", "ek", "cause")
            .join(named, on=["ek", "cause"], how="inner")
            .group_by("ii")
            .agg(pl.col("di").sort_by("fin", "di").last())
        )
        att[hit["ii"].to_numpy()] = hit["di"].to_numpy()
    implicit = incidents.filter(pl.col("cause").is_null() & (pl.col("ek") >= 0)).select(
        "ii", "ek", "grp", "det", has_env=pl.col("environment").is_not_null()
    )
    cand = deps.filter(pl.col("counted")).select("di", "grp", "ek", "fin")
    if implicit.height and cand.height:
        with registered(con, implicit) as inc, registered(con, cand) as dep:
            sql = _IMPLICIT_SQL.format(inc=inc, dep=dep)
            hit = con.sql(sql, params={"window": window_us}).fetchnumpy()
        att[np.asarray(hit["ii"], dtype=np.int64)] = np.asarray(hit["di"], dtype=np.int64)
    return pl.Series("att_di", att).replace(-1, None)


_REWORK_SQL = """
WITH o AS (
    SELECT ek, s, e,
           max(e) OVER (PARTITION BY ek ORDER BY s, e
                        ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS before
    FROM {iv}
),
g AS (
    SELECT ek, s, e,
           sum(CASE WHEN before IS NULL OR s > before THEN 1 ELSE 0 END)
               OVER (PARTITION BY ek ORDER BY s, e ROWS UNBOUNDED PRECEDING) AS gid
    FROM o
),
merged AS (SELECT ek, min(s) AS s, max(e) AS e FROM g GROUP BY ek, gid)
SELECT d.di FROM {dep} d ASOF JOIN merged m ON d.ek = m.ek AND d.fin >= m.s
WHERE d.fin <= m.e
"""


def rework_by_incident(
    con: duckdb.DuckDBPyConnection, incidents: pl.DataFrame, deps: pl.DataFrame
) -> np.ndarray:
    """Per deployment: successful and finished while an incident of its entity was open.

    Open means ``detected_at <= finished_at <= resolved_at`` (an unresolved incident stays
    open forever); the incident's environment does not matter. Overlapping incident intervals
    are merged first so one as-of join answers every deployment.
    """
    out = np.zeros(deps.height, dtype=bool)
    iv = incidents.filter(
        (pl.col("ek") >= 0) & (pl.col("res").is_null() | (pl.col("res") >= pl.col("det")))
    ).select("ek", s=pl.col("det"), e=pl.col("res").fill_null(MAX_US))
    dep = deps.filter(pl.col("status") == SUCCESS).select("di", "ek", "fin")
    if iv.height == 0 or dep.height == 0:
        return out
    with registered(con, iv) as iv_name, registered(con, dep) as dep_name:
        hit = con.sql(_REWORK_SQL.format(iv=iv_name, dep=dep_name)).fetchnumpy()
    out[np.asarray(hit["di"], dtype=np.int64)] = True
    return out


# -- failures -------------------------------------------------------------------------------


def with_failures(deps: pl.DataFrame, incidents: pl.DataFrame) -> pl.DataFrame:
    """Add ``failed`` and ``recovered`` (finished_at of recovery, null while open).

    A deployment with status success or rolled_back failed when it was rolled back or has an
    attributed incident. It recovered at the latest ``resolved_at`` of its incidents once all
    are resolved; a rollback without incidents at the next successful deployment.
    """
    per_dep = (
        incidents.filter(pl.col("att_di").is_not_null())
        .group_by("att_di")
        .agg(
            n_att=pl.len(),
            open_att=pl.col("res").null_count(),
            last_res=pl.col("res").max(),
        )
        .rename({"att_di": "di"})
    )
    has_inc = pl.col("n_att").fill_null(0) > 0
    return (
        deps.join(per_dep, on="di", how="left", maintain_order="left")
        .with_columns(
            failed=pl.col("counted") & ((pl.col("status") == ROLLED_BACK) | has_inc),
        )
        .with_columns(
            recovered=pl.when(~pl.col("failed"))
            .then(None)
            .when(has_inc)
            .then(pl.when(pl.col("open_att") == 0).then(pl.col("last_res")))
            .otherwise(pl.col("next_success"))
        )
    )
