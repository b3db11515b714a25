"""The built-in ``delivery`` metric family: what pull/merge requests say about delivery.

Registered from this module (listed in ``DEFAULT_PLUGINS``). It reads ``pull_requests`` (the
``github`` and ``gitlab`` sources write them), maps them to entities through ``repo_entities``
and to production through ``deployments``; with no pull requests it returns no rows. The
definitions are in ``docs/metrics-delivery.md``:

- ``delivery.lead_time`` — the pull-request basis of DORA lead time: a merged pull request ships
  with the first successful production deployment of its entity (per environment) that
  finished at or after its merge; its lead time is that ``finished_at`` minus its first commit
  (the request's opening when no commit is known). In a window when that deployment is.
- ``delivery.review_time`` — opened to first review by someone other than the author, for
  requests merged in the window; ``delivery.unreviewed`` counts those merged without one.
"""

from __future__ import annotations

import polars as pl

from mlreport import hookimpl
from mlreport.metrics import MetricContext, MetricFamily, MetricInfo, Window
from mlreport.plugins.dora.bands import DORA_2023
from mlreport.warehouse import registered

STATS = (("p50", 0.5), ("p75", 0.75), ("p90", 0.9))
HOURS = 3600.0

# One row per (merged request, production environment of its entity) it reached.
SHIPPED_SQL = """
WITH prs AS (
    SELECT re.entity, p.repo, p.number, p.created_at, p.first_commit_at, p.first_review_at,
           p.merged_at
    FROM pull_requests p JOIN repo_entities re ON re.repo = p.repo
    WHERE p.merged_at IS NOT NULL AND ($entities IS NULL OR list_contains($entities, re.entity))
),
deps AS (
    SELECT entity, environment, source, deployment_id, finished_at FROM deployments
    WHERE status = 'success' AND list_contains($envs, environment)
),
cells AS (SELECT DISTINCT entity, environment FROM deps)
SELECT p.entity, c.environment, p.repo, p.number, p.created_at, p.first_commit_at,
       p.merged_at, d.source AS deployment_source, d.deployment_id, d.finished_at AS deployed_at,
       epoch_us(d.finished_at - coalesce(p.first_commit_at, p.created_at)) / 3.6e9 AS hours
FROM prs p JOIN cells c USING (entity)
ASOF JOIN deps d ON d.entity = p.entity AND d.environment = c.environment
    AND p.merged_at <= d.finished_at
ORDER BY p.entity, c.environment, d.finished_at, p.repo, p.number
"""

REVIEWED_SQL = """
SELECT re.entity, p.repo, p.number, p.created_at, p.first_review_at, p.merged_at,
       epoch_us(p.first_review_at - p.created_at) / 3.6e9 AS hours
FROM pull_requests p JOIN repo_entities re ON re.repo = p.repo
WHERE p.merged_at IS NOT NULL AND ($entities IS NULL OR list_contains($entities, re.entity))
ORDER BY re.entity, p.merged_at, p.repo, p.number
"""

# Quantiles per (key..., window) with DuckDB's quantile_cont (numpy's linear method).
WINDOWED_SQL = """
SELECT {keys}, w.wi, count(f.hours) AS n,
       quantile_cont(f.hours, 0.5) AS p50, quantile_cont(f.hours, 0.75) AS p75,
       quantile_cont(f.hours, 0.9) AS p90, count(*) - count(f.hours) AS missing
FROM {facts} f JOIN {windows} w ON f.{at} >= w.start AND f.{at} < w."end"
GROUP BY ALL
"""


class DeliveryMetrics(MetricFamily):
    """Pull-request lead time and review time per entity."""

    name = "delivery"
    metrics = (
        MetricInfo(
            "delivery.lead_time",
            "hours",
            "First commit of a merged pull request to its first successful production "
            "deployment (the pull-request basis of dora.lead_time)",
            tuple(s for s, _ in STATS),
            higher_is_better=False,
        ),
        MetricInfo(
            "delivery.review_time",
            "hours",
            "Pull request opened to its first review by someone else",
            tuple(s for s, _ in STATS),
            higher_is_better=False,
        ),
        MetricInfo(
            "delivery.unreviewed",
            "count",
            "Pull requests merged without a review by someone else",
            higher_is_better=False,
        ),
    )
    # graded with the DORA lead-time levels, as the metric it is an alternative basis of
    band_tables = {"dora-2023": {"delivery.lead_time:p50": DORA_2023["dora.lead_time:p50"]}}

    def compute(self, ctx: MetricContext) -> list[dict]:
        con = ctx.warehouse.con
        if "pull_requests" not in ctx.warehouse.tables():
            return []
        params = {
            "entities": ctx.entities,
            "envs": list(ctx.config.metrics.production_environments),
        }
        shipped = con.sql(SHIPPED_SQL, params=params).pl()
        reviewed = con.sql(REVIEWED_SQL, params={"entities": ctx.entities}).pl()
        if ctx.detail_windows:
            ctx.publish("delivery_pull_requests", details(shipped, reviewed))
        out = []
        for r in windowed(ctx, shipped, ("entity", "environment"), "deployed_at"):
            out += stat_rows("delivery.lead_time", r, {"environment": r["environment"]})
        for r in windowed(ctx, reviewed, ("entity",), "merged_at"):
            out += stat_rows("delivery.review_time", r, {})
            out.append(row("delivery.unreviewed", r, {}, float(r["missing"]), "count", r["n"]))
        return out


def windowed(ctx: MetricContext, facts: pl.DataFrame, keys: tuple[str, ...], at: str) -> list[dict]:
    """Per key and window: n, p50/p75/p90 of ``hours``, and rows without hours."""
    if facts.height == 0:
        return []
    windows = pl.DataFrame(
        {
            "wi": range(len(ctx.windows)),
            "start": [w.start for w in ctx.windows],
            "end": [w.end for w in ctx.windows],
        },
        schema={"wi": pl.Int64, "start": pl.Datetime("us", "UTC"), "end": pl.Datetime("us", "UTC")},
    )
    con = ctx.warehouse.con
    with registered(con, facts) as f, registered(con, windows) as w:
        sql = WINDOWED_SQL.format(keys=", ".join(f"f.{k}" for k in keys), facts=f, windows=w, at=at)
        found = con.sql(sql).pl()
    out = []
    for r in found.sort([*keys, "wi"]).iter_rows(named=True):
        r["window"] = ctx.windows[r["wi"]]
        out.append(r)
    return out


def stat_rows(metric: str, r: dict, dims: dict) -> list[dict]:
    return [row(metric, r, {**dims, "stat": s}, r[s], "hours", r["n"]) for s, _ in STATS]


def row(metric: str, r: dict, dims: dict, value: float | None, unit: str, n: int) -> dict:
    window: Window = r["window"]
    return {
        "metric": metric,
        "entity": r["entity"],
        "window_start": window.start,
        "window_end": window.end,
        "dimensions": dims,
        "value": value,
        "unit": unit,
        "n": n,
    }


def details(shipped: pl.DataFrame, reviewed: pl.DataFrame) -> pl.DataFrame:
    """``details.delivery_pull_requests``: one row per merged request and production
    environment it reached (environment null when it reached none yet), with its review."""
    review = reviewed.select(
        "entity", "repo", "number", "first_review_at", pl.col("hours").alias("review_hours")
    )
    lead = shipped.select(
        "entity",
        "repo",
        "number",
        "environment",
        "deployment_source",
        "deployment_id",
        "deployed_at",
        pl.col("hours").alias("lead_time_hours"),
    )
    base = reviewed.select("entity", "repo", "number", "created_at", "merged_at")
    return (
        base.join(review, on=["entity", "repo", "number"], how="left")
        .join(lead, on=["entity", "repo", "number"], how="left")
        .sort("entity", "merged_at", "repo", "number", "environment", nulls_last=True)
    )


@hookimpl
def register_metrics(register) -> None:
    register("delivery", DeliveryMetrics)
