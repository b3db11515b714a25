"""Per-window detail frames the tests check the ``dora`` rules with, built on the plugin's
own functions (the plugin publishes only ``details.dora_changes``; these two read one window
at a time, straight from the warehouse)."""

from __future__ import annotations

import numpy as np
import polars as pl

from mlreport.config import Config
from mlreport.metrics import Window
from mlreport.plugins.dora.data import load_facts
from mlreport.plugins.dora.details import changes_frame
from mlreport.plugins.dora.family import shipped_changes
from mlreport.plugins.dora.rows import memberships
from mlreport.warehouse import Warehouse


def deployment_changes(
    warehouse: Warehouse, config: Config, window: Window, entities: list[str] | None = None
) -> pl.DataFrame:
    """One row per (successful production deployment in ``window``, commit it ships).

    Columns: entity, environment, source, deployment_id, finished_at, sha, authored_at,
    lead_time_hours (null when authored_at is unknown): exactly the changes
    ``dora.lead_time`` aggregates, as ``details.dora_changes`` publishes them.
    """
    facts = load_facts(warehouse.con, config, entities)
    return changes_frame(warehouse, facts, shipped_changes(warehouse, facts, [window]))


def attributed_incidents(
    warehouse: Warehouse, config: Config, window: Window, entities: list[str] | None = None
) -> pl.DataFrame:
    """Incidents detected in ``window`` with the production deployment they are attributed to.

    Columns: entity, environment, source, incident_id, detected_at, resolved_at,
    cause_deployment_id (blank as null), deployment_source, deployment_id,
    deployment_environment, deployment_finished_at (deployment columns null when unattributed).
    """
    facts = load_facts(warehouse.con, config, entities)
    rows, _ = memberships(facts.incidents["det"].to_numpy(), [window])
    incidents = facts.incidents[np.sort(rows)]
    deps = facts.deployments.select(
        pl.col("di").alias("att_di"),
        pl.col("source").alias("deployment_source"),
        "deployment_id",
        pl.col("environment").alias("deployment_environment"),
        pl.col("fin").alias("dep_fin"),
    )
    out = incidents.join(deps, on="att_di", how="left").sort(
        "entity", "det", "source", "incident_id"
    )
    return out.select(
        "entity",
        "environment",
        "source",
        "incident_id",
        _as_time("det").alias("detected_at"),
        _as_time("res").alias("resolved_at"),
        pl.col("cause").alias("cause_deployment_id"),
        "deployment_source",
        "deployment_id",
        "deployment_environment",
        _as_time("dep_fin").alias("deployment_finished_at"),
    )


def _as_time(col: str) -> pl.Expr:
    """µs since the epoch as UTC datetimes, like the plugin's published frames."""
    return pl.col(col).cast(pl.Datetime("us", "UTC"))
