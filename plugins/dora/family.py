"""The built-in ``dora`` and ``ops`` metric families (DESIGN.md, metric catalogue), their
``register_metrics`` hookimpl, and the facts both share in one context.

Definitions and every interpretation are documented in ``docs/metrics-dora.md``. This module
only wires the pieces together: ``data`` derives window-free facts, ``changes`` finds the
commits each deployment ships, ``rows`` turns them into metric rows and ``details`` into the
published ``details.dora_changes``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import duckdb
import numpy as np
import polars as pl

from mlreport import hookimpl
from mlreport.metrics import MetricContext, MetricFamily, MetricInfo, Window
from mlreport.plugins.dora import changes, data, rows
from mlreport.plugins.dora.bands import DORA_2023
from mlreport.plugins.dora.changes import Changes, Loaded
from mlreport.plugins.dora.data import DoraFacts
from mlreport.plugins.dora.details import changes_frame, prefixes_frame
from mlreport.plugins.dora.rows import Grid
from mlreport.warehouse import Warehouse

P = ("p50", "p75", "p90")


log = logging.getLogger("mlreport")


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
        out = compute_rows(ctx, dora=True, ops=False)
        shared: _Shared = ctx.cache["dora"]
        prefixes = prefixes_frame(shared.facts, shared.changes)
        for r in prefixes.filter(pl.col("resolved").is_null()).iter_rows(named=True):
            log.warning(
                "dora: deployment %s of %s names the abbreviated sha %r, which matches %d "
                "commits of %s; it is not linked (give more digits)",
                r["deployment_id"],
                r["entity"],
                r["commit_sha"],
                r["matches"],
                r["repo"],
            )
        if ctx.detail_windows:
            found = changes_frame(ctx.warehouse, shared.facts, shared.changes)
            ctx.publish("dora_changes", found)
            ctx.publish("dora_sha_prefixes", prefixes)
        return out


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
def register_metrics(register) -> None:
    """Both families come from this one plugin because they share the facts they read."""
    register("dora", DoraMetrics)
    register("ops", OpsMetrics)


# -- computing -------------------------------------------------------------------------------


def compute_rows(ctx: MetricContext, dora: bool, ops: bool) -> pl.DataFrame:
    """Both families share the facts; each computes only its own rows."""
    production = list(ctx.config.metrics.production_environments)
    shared = _shared(ctx, production, with_changes=dora)
    frames: list[pl.DataFrame] = []
    if dora:
        frames.append(rows.dora_rows(shared.facts, shared.changes, shared.grid))
    if ops:
        frames.append(rows.ops_rows(shared.facts, shared.grid, production))
    return pl.concat(frames, how="vertical")


@dataclass
class _Shared:
    """What ``dora`` and ``ops`` read once per context (``ctx.cache["dora"]``)."""

    facts: DoraFacts
    grid: Grid
    changes: Changes | None = None
    windows: tuple = ()  # what the grid (and the changes) were made for


def _shared(ctx: MetricContext, production: list[str], with_changes: bool) -> _Shared:
    """Facts, grid and changes, computed once per context: the kernel hands the same context
    to both families, so ``ops`` reuses what ``dora`` read. The facts are window-free; the
    grid (and the changes) follow the windows, which the kernel chooses per family."""
    shared: _Shared | None = ctx.cache.get("dora")
    if shared is not None and shared.windows != tuple(ctx.windows):
        shared = _Shared(
            shared.facts,
            rows.make_grid(shared.facts, ctx.windows, production),
            None,
            tuple(ctx.windows),
        )
        ctx.cache["dora"] = shared
    if shared is None:
        con = ctx.warehouse.con
        deps = data.load_deployments(con, production, ctx.entities)
        pending = _start_loading(con, deps, ctx.windows) if with_changes else None
        facts = data.complete_facts(con, ctx.config, ctx.entities, deps)
        shared = _Shared(
            facts, rows.make_grid(facts, ctx.windows, production), None, tuple(ctx.windows)
        )
        if pending is not None:
            shared.changes = changes.walk(facts.deployments, pending())
        ctx.cache["dora"] = shared
    if with_changes and shared.changes is None:
        shared.changes = shipped_changes(ctx.warehouse, shared.facts, ctx.windows)
    return shared


def _start_loading(
    con: duckdb.DuckDBPyConnection, deps: pl.DataFrame, windows: Sequence[Window]
) -> Callable[[], Loaded]:
    """Load the commit graph on a cursor in another thread while incidents are attributed
    (DuckDB and numpy release the GIL, so the two cores share the work)."""
    cursor = con.cursor()
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dora-graph")
    future = pool.submit(changes.load, cursor, deps, wanted_deployments(deps, windows))

    def wait() -> Loaded:
        try:
            return future.result()
        finally:
            pool.shutdown()
            cursor.close()

    return wait


def wanted_deployments(deps: pl.DataFrame, windows: Sequence[Window]) -> np.ndarray:
    """Row numbers of the successful deployments in any of ``windows``."""
    members, _ = rows.memberships(deps["fin"].to_numpy(), windows)
    in_any = np.zeros(deps.height, dtype=bool)
    in_any[members] = True
    return np.flatnonzero(in_any & (deps["status"] == "success").to_numpy())


def shipped_changes(warehouse: Warehouse, facts: DoraFacts, windows: Sequence[Window]) -> Changes:
    """Links and changes of the successful production deployments in any of ``windows``."""
    deps = facts.deployments
    return changes.changes(warehouse.con, deps, wanted_deployments(deps, windows))
