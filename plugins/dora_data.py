"""Per-deployment and per-incident facts behind the ``dora`` and ``ops`` metrics.

Everything here is independent of the reporting windows: the previous successful deployment,
the next successful one, which incidents are attributed to which deployment, whether a
deployment is rework. The windows only select rows afterwards (``dora_rows``), so one
computation serves ``--by week`` as well as a single window.

Times are int64 microseconds since the epoch (``fin``, ``det``, ``res``) so that the arithmetic
is exact and the same in SQL, polars and numpy.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import duckdb
import polars as pl
from mlreport.config import Config

US_PER_DAY = 86_400_000_000
US_PER_HOUR = 3_600_000_000
MAX_US = 9_223_372_036_854_775_807  # an unresolved incident is open until +infinity
SUCCESS, ROLLED_BACK = "success", "rolled_back"


@dataclass(frozen=True)
class DoraFacts:
    """Production deployments (one row each, ``di`` = row number) and incidents."""

    deployments: pl.DataFrame
    incidents: pl.DataFrame


@contextlib.contextmanager
def registered(con: duckdb.DuckDBPyConnection, frame: pl.DataFrame) -> Iterator[str]:
    """Expose a polars frame to SQL under a unique name for the duration of the block."""
    name = f"_dora_{uuid.uuid4().hex[:12]}"
    con.register(name, frame.to_arrow())
    try:
        yield name
    finally:
        con.unregister(name)


def load_facts(
    con: duckdb.DuckDBPyConnection, config: Config, entities: list[str] | None
) -> DoraFacts:
    """Read production deployments and incidents and derive the window-free facts."""
    deps = load_deployments(con, config.metrics.production_environments, entities)
    window_us = round(config.metrics.attribution_window_days * US_PER_DAY)
    with registered(con, deps) as dep_table:
        incidents = load_incidents(con, dep_table, entities, window_us)
        rework = rework_by_incident(con, dep_table, entities)
    deps = deps.with_columns(
        rework=(pl.col("status") == SUCCESS)
        & (pl.col("kind").is_in(["hotfix", "rollback"]) | pl.col("di").is_in(rework.implode()))
    )
    return DoraFacts(with_failures(deps, incidents), incidents)


# -- deployments --------------------------------------------------------------------------


def load_deployments(
    con: duckdb.DuckDBPyConnection, production: list[str], entities: list[str] | None
) -> pl.DataFrame:
    """Production deployments ordered by (entity, environment, finished_at, source, id).

    That order breaks ties between equal ``finished_at`` deterministically; ``prev_di`` is the
    previous successful deployment of the same entity and environment (P), ``next_success``
    the ``finished_at`` of the next successful one.
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
    return (
        frame.with_row_index("di")
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

_INCIDENTS_SQL = """
WITH inc AS (
    SELECT source, incident_id, entity, environment,
           epoch_us(detected_at) AS det, epoch_us(resolved_at) AS res,
           nullif(trim(cause_deployment_id), '') AS cause
    FROM incidents
    WHERE $all OR list_contains($ents, entity)
),
dep AS (SELECT di, entity, environment, fin, status, source, deployment_id FROM {dep}),
explicit AS (
    SELECT i.source, i.incident_id, d.di,
           row_number() OVER (PARTITION BY i.source, i.incident_id
                              ORDER BY d.fin DESC, d.environment DESC, d.source DESC) AS rn
    FROM inc i JOIN dep d ON d.entity = i.entity AND d.deployment_id = i.cause
),
cand AS (
    SELECT entity, environment, fin, max(di) AS di FROM dep
    WHERE status IN ('success', 'rolled_back') GROUP BY entity, environment, fin
),
cand_any AS (SELECT entity, fin, arg_max(di, environment) AS di FROM cand GROUP BY entity, fin),
by_env AS (
    SELECT i.source, i.incident_id, c.di
    FROM (SELECT * FROM inc WHERE cause IS NULL AND environment IS NOT NULL) i
    ASOF JOIN cand c ON i.entity = c.entity AND i.environment = c.environment AND i.det >= c.fin
    WHERE c.fin >= i.det - $window
),
by_any AS (
    SELECT i.source, i.incident_id, c.di
    FROM (SELECT * FROM inc WHERE cause IS NULL AND environment IS NULL) i
    ASOF JOIN cand_any c ON i.entity = c.entity AND i.det >= c.fin
    WHERE c.fin >= i.det - $window
)
SELECT inc.source, inc.incident_id, inc.entity, inc.environment, inc.det, inc.res, inc.cause,
       coalesce(e.di, b.di, a.di) AS att_di
FROM inc
LEFT JOIN (SELECT * FROM explicit WHERE rn = 1) e USING (source, incident_id)
LEFT JOIN by_env b USING (source, incident_id)
LEFT JOIN by_any a USING (source, incident_id)
ORDER BY inc.entity, inc.det, inc.source, inc.incident_id
"""


def load_incidents(
    con: duckdb.DuckDBPyConnection, dep_table: str, entities: list[str] | None, window_us: int
) -> pl.DataFrame:
    """Incidents with the production deployment they are attributed to (``att_di``).

    ``cause_deployment_id`` (blank counts as unset) wins when set, matched against the
    deployment ids of the same entity; several matches (one id in several sources) go to the
    latest. Otherwise: the latest production deployment with status success or rolled_back of
    the same entity and environment (any production environment when the incident's is NULL)
    that finished at or before ``detected_at`` and at most the attribution window earlier.
    """
    params = {"all": entities is None, "ents": list(entities or []), "window": window_us}
    return con.sql(_INCIDENTS_SQL.format(dep=dep_table), params=params).pl()


_REWORK_SQL = """
WITH iv AS (
    SELECT entity, epoch_us(detected_at) AS s,
           coalesce(epoch_us(resolved_at), {max_us}) AS e
    FROM incidents
    WHERE ($all OR list_contains($ents, entity))
      AND (resolved_at IS NULL OR resolved_at >= detected_at)
),
o AS (
    SELECT entity, s, e,
           max(e) OVER (PARTITION BY entity ORDER BY s, e
                        ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS before
    FROM iv
),
g AS (
    SELECT entity, s, e,
           sum(CASE WHEN before IS NULL OR s > before THEN 1 ELSE 0 END)
               OVER (PARTITION BY entity ORDER BY s, e ROWS UNBOUNDED PRECEDING) AS gid
    FROM o
),
merged AS (SELECT entity, min(s) AS s, max(e) AS e FROM g GROUP BY entity, gid)
SELECT d.di FROM (SELECT di, entity, fin FROM {dep} WHERE status = 'success') d
ASOF JOIN merged m ON d.entity = m.entity AND d.fin >= m.s
WHERE d.fin <= m.e
"""


def rework_by_incident(
    con: duckdb.DuckDBPyConnection, dep_table: str, entities: list[str] | None
) -> pl.Series:
    """``di`` of successful deployments that finished while an incident of the entity was open.

    Open means ``detected_at <= finished_at <= resolved_at`` (an unresolved incident stays
    open forever); the incident's environment does not matter. Overlapping incident intervals
    are merged first so one as-of join answers every deployment.
    """
    params = {"all": entities is None, "ents": list(entities or [])}
    sql = _REWORK_SQL.format(dep=dep_table, max_us=MAX_US)
    return con.sql(sql, params=params).pl()["di"]


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
    counted = pl.col("status").is_in([SUCCESS, ROLLED_BACK])
    has_inc = pl.col("n_att").fill_null(0) > 0
    return (
        deps.join(per_dep, on="di", how="left", maintain_order="left")
        .with_columns(
            counted=counted,
            failed=counted & ((pl.col("status") == ROLLED_BACK) | has_inc),
        )
        .with_columns(
            recovered=pl.when(~pl.col("failed"))
            .then(None)
            .when(has_inc)
            .then(pl.when(pl.col("open_att") == 0).then(pl.col("last_res")))
            .otherwise(pl.col("next_success"))
        )
    )
