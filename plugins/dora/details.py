"""The detail rows the ``dora`` family publishes: ``details.dora_changes``, one row per change
a deployment ships, from the same facts and changes as ``dora.lead_time`` (so a report's
lead-time distribution matches the metric); and ``details.dora_sha_prefixes``, the deployments
that named an abbreviated sha and what it resolved to."""

from __future__ import annotations

import polars as pl

from mlreport.plugins.dora.changes import Changes
from mlreport.plugins.dora.commit_graph import NULL_TIME
from mlreport.plugins.dora.data import US_PER_HOUR, DoraFacts
from mlreport.warehouse import Warehouse, registered


def changes_frame(warehouse: Warehouse, facts: DoraFacts, found: Changes) -> pl.DataFrame:
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


def prefixes_frame(facts: DoraFacts, found: Changes) -> pl.DataFrame:
    """Deployments that named an abbreviated sha, per repository tried: ``resolved`` the full
    sha (null when ``matches`` > 1 commits start with it: ambiguous, so not linked there)."""
    deps = facts.deployments.select("di", "entity", "environment", "source", "deployment_id", "fin")
    out = found.prefixes.join(deps, on="di", how="inner").sort(
        "entity", "environment", "fin", "source", "deployment_id", "repo"
    )
    return out.select(
        "entity",
        "environment",
        "source",
        "deployment_id",
        _as_time("fin").alias("finished_at"),
        pl.col("sha").alias("commit_sha"),
        "repo",
        "resolved",
        "matches",
    )


def _as_time(col: str) -> pl.Expr:
    """The facts keep times as int64 µs (exact arithmetic); reports get UTC datetimes."""
    return pl.col(col).cast(pl.Datetime("us", "UTC"))
