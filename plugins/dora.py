"""The built-in ``dora`` and ``ops`` metric families (DESIGN.md, metric catalogue).

Definitions and every interpretation are documented in ``docs/metrics-dora.md``. The work is
split so each piece can be tested alone: ``dora_data`` derives window-free facts (previous
deployment, attribution, rework, failures), ``dora_changes`` finds the commits each deployment
ships (``git rev-list D ^P`` for all deployments at once, on ``commit_graph``), and
``dora_rows`` turns facts into one row per (metric, entity, window, dimensions).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import duckdb
import numpy as np
import polars as pl

from mlreport import hookimpl
from mlreport.config import BandLevel
from mlreport.metrics import MetricContext, MetricFamily, MetricInfo, Window
from mlreport.plugins import dora_changes, dora_data, dora_rows
from mlreport.plugins.commit_graph import NULL_TIME
from mlreport.plugins.dora_data import US_PER_HOUR, DoraFacts
from mlreport.warehouse import Warehouse, registered

P = ("p50", "p75", "p90")
HOURS_PER_WEEK = 168.0
HOURS_PER_MONTH = 720.0  # 30 days
ONCE_A_MONTH = 7 / 30  # deploys per week

# DORA 2023 (Accelerate State of DevOps) performance levels, as numbers; see the docs.
DORA_2023 = {
    "dora.deployment_frequency": [
        BandLevel(band="elite", min=7.0),
        BandLevel(band="high", min=1.0),
        BandLevel(band="medium", min=ONCE_A_MONTH),
        BandLevel(band="low", min=0.0),
    ],
    "dora.lead_time:p50": [
        BandLevel(band="elite", max=24.0),
        BandLevel(band="high", max=HOURS_PER_WEEK),
        BandLevel(band="medium", max=HOURS_PER_MONTH),
        BandLevel(band="low"),
    ],
    "dora.change_failure_rate": [
        BandLevel(band="elite", max=0.05),
        BandLevel(band="high", max=0.10),
        BandLevel(band="medium", max=0.15),
        BandLevel(band="low"),
    ],
    "dora.recovery_time:p50": [
        BandLevel(band="elite", max=1.0),
        BandLevel(band="high", max=24.0),
        BandLevel(band="medium", max=HOURS_PER_WEEK),
        BandLevel(band="low"),
    ],
}


class DoraMetrics(MetricFamily):
    """Delivery performance per entity and production environment."""

    name = "dora"
    metrics = (
        MetricInfo(
            "dora.deployment_frequency",
            "deploys/week",
            "Successful production deployments per week",
            higher_is_better=True,
        ),
        MetricInfo(
            "dora.lead_time",
            "hours",
            "Commit authored to its first successful production deployment",
            P,
            higher_is_better=False,
        ),
        MetricInfo(
            "dora.change_failure_rate",
            "ratio",
            "Share of production deployments rolled back or followed by an incident",
            higher_is_better=False,
        ),
        MetricInfo(
            "dora.recovery_time",
            "hours",
            "Failed deployment to recovery (incidents resolved or next success)",
            P,
            higher_is_better=False,
        ),
        MetricInfo(
            "dora.open_failures",
            "count",
            "Failed deployments not recovered yet",
            higher_is_better=False,
        ),
        MetricInfo(
            "dora.unlinked_deployments",
            "count",
            "Successful production deployments whose commit is not in the warehouse",
            higher_is_better=False,
        ),
        MetricInfo(
            "dora.rework_rate",
            "ratio",
            "Share of successful production deployments that were unplanned",
            higher_is_better=False,
        ),
    )
    band_tables = {"dora-2023": DORA_2023}

    def compute(self, ctx: MetricContext) -> pl.DataFrame:
        rows = compute_rows(ctx, dora=True, ops=False)
        if ctx.detail_windows:
            shared: _Shared = ctx.cache["dora"]
            found = changes_frame(ctx.warehouse, shared.facts, shared.changes)
            ctx.publish("dora_changes", found)
        return rows


class OpsMetrics(MetricFamily):
    """Operational measures from incidents and deployments."""

    name = "ops"
    metrics = (
        MetricInfo(
            "ops.time_to_restore",
            "hours",
            "Incident detected to resolved (production or environment-less incidents)",
            P,
            higher_is_better=False,
        ),
        MetricInfo(
            "ops.time_to_detect",
            "hours",
            "Attributed deployment finished to incident detected",
            P,
            higher_is_better=False,
        ),
        MetricInfo(
            "ops.automation_rate",
            "ratio",
            "Share of production deployments triggered automatically",
            higher_is_better=True,
        ),
    )

    def compute(self, ctx: MetricContext) -> pl.DataFrame:
        return compute_rows(ctx, dora=False, ops=True)


@hookimpl
def register_metrics(register):
    register("dora", DoraMetrics)
    register("ops", OpsMetrics)


# -- computing -------------------------------------------------------------------------------


def compute_rows(ctx: MetricContext, dora: bool, ops: bool) -> pl.DataFrame:
    """Both families share the facts; each computes only its own rows."""
    production = list(ctx.config.metrics.production_environments)
    shared = _shared(ctx, production, with_changes=dora)
    frames: list[pl.DataFrame] = []
    if dora:
        frames.append(dora_rows.dora_rows(shared.facts, shared.changes, shared.grid))
    if ops:
        frames.append(dora_rows.ops_rows(shared.facts, shared.grid, production))
    return pl.concat(frames, how="vertical")


@dataclass
class _Shared:
    facts: DoraFacts
    grid: dora_rows.Grid
    changes: dora_changes.Changes | None = None


def _shared(ctx: MetricContext, production: list[str], with_changes: bool) -> _Shared:
    """Facts, grid and changes, computed once per context: ``compute_metrics`` hands the same
    context to both families, so ``ops`` reuses what ``dora`` read."""
    shared: _Shared | None = ctx.cache.get("dora")
    if shared is None:
        con = ctx.warehouse.con
        deps = dora_data.load_deployments(con, production, ctx.entities)
        pending = _start_loading(con, deps, ctx.windows) if with_changes else None
        facts = dora_data.complete_facts(con, ctx.config, ctx.entities, deps)
        shared = _Shared(facts, dora_rows.make_grid(facts, ctx.windows, production))
        if pending is not None:
            shared.changes = dora_changes.walk(facts.deployments, pending())
        ctx.cache["dora"] = shared
    if with_changes and shared.changes is None:
        shared.changes = shipped_changes(ctx.warehouse, shared.facts, ctx.windows)
    return shared


def _start_loading(
    con: duckdb.DuckDBPyConnection, deps: pl.DataFrame, windows: Sequence[Window]
) -> Callable[[], dora_changes.Loaded]:
    """Load the commit graph on a cursor in another thread while incidents are attributed
    (DuckDB and numpy release the GIL, so the two cores share the work)."""
    cursor = con.cursor()
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dora-graph")
    future = pool.submit(dora_changes.load, cursor, deps, wanted_deployments(deps, windows))

    def wait() -> dora_changes.Loaded:
        try:
            return future.result()
        finally:
            pool.shutdown()
            cursor.close()

    return wait


def wanted_deployments(deps: pl.DataFrame, windows: Sequence[Window]) -> np.ndarray:
    """Row numbers of the successful deployments in any of ``windows``."""
    rows, _ = dora_rows.memberships(deps["fin"].to_numpy(), windows)
    in_any = np.zeros(deps.height, dtype=bool)
    in_any[rows] = True
    return np.flatnonzero(in_any & (deps["status"] == "success").to_numpy())


def shipped_changes(
    warehouse: Warehouse, facts: DoraFacts, windows: Sequence[Window]
) -> dora_changes.Changes:
    """Links and changes of the successful production deployments in any of ``windows``."""
    deps = facts.deployments
    return dora_changes.changes(warehouse.con, deps, wanted_deployments(deps, windows))


# -- detail rows ---------------------------------------------------------------------


def changes_frame(
    warehouse: Warehouse, facts: DoraFacts, found: dora_changes.Changes
) -> pl.DataFrame:
    """The changes ``found`` as rows (published to reports as ``details.dora_changes``).

    Columns: entity, environment, source, deployment_id, finished_at, sha, authored_at,
    lead_time_hours (null when authored_at is unknown): exactly the changes
    ``dora.lead_time`` aggregates.
    """
    con = warehouse.con
    authored = pl.Series("authored", found.authored).replace(NULL_TIME, None)
    changes = pl.DataFrame({"di": found.di, "crow": found.crow}).with_columns(authored)
    with registered(con, changes.select("crow").unique()) as name:
        shas = con.sql(
            f"SELECT c.rowid AS crow, c.sha FROM commits c JOIN {name} w ON c.rowid = w.crow"
        ).pl()
    deps = facts.deployments.select("di", "entity", "environment", "source", "deployment_id", "fin")
    out = (
        changes.join(deps, on="di", how="inner")
        .join(shas, on="crow", how="left")
        .with_columns(lead=(pl.col("fin") - pl.col("authored")) / US_PER_HOUR)
        .sort("entity", "environment", "fin", "source", "deployment_id", "authored", "sha")
    )
    return out.select(
        "entity",
        "environment",
        "source",
        "deployment_id",
        _as_time("fin").alias("finished_at"),
        "sha",
        _as_time("authored").alias("authored_at"),
        pl.col("lead").alias("lead_time_hours"),
    )


def _as_time(col: str) -> pl.Expr:
    return pl.col(col).cast(pl.Datetime("us", "UTC"))
