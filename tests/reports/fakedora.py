"""A stand-in for ``mlreport.plugins.dora`` following its contract (families ``dora`` and
``ops``, rows with ``environment``/``stat`` dimensions, DORA 2023 band tables, and
the ``details.dora_changes`` it publishes). The report tests register it as a plugin that
replaces the built-in families, as an outside package would; the numbers are plausible, not
the catalogue's."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import polars as pl

from mlreport import hookimpl
from mlreport.config import BandLevel
from mlreport.metrics import MetricContext, MetricFamily, MetricInfo, Window

STATS = ("p50", "p75", "p90")


def _levels(*levels: tuple[str, float | None, float | None]) -> list[BandLevel]:
    return [BandLevel(band=b, min=lo, max=hi) for b, lo, hi in levels]


BANDS = {
    "dora-2023": {
        "dora.deployment_frequency": _levels(
            ("elite", 7, None), ("high", 1, 7), ("medium", 0.25, 1), ("low", None, 0.25)
        ),
        "dora.lead_time": _levels(
            ("elite", None, 24), ("high", 24, 168), ("medium", 168, 720), ("low", 720, None)
        ),
        "dora.change_failure_rate": _levels(
            ("elite", None, 0.05),
            ("high", 0.05, 0.10),
            ("medium", 0.10, 0.15),
            ("low", 0.15, None),
        ),
        "dora.recovery_time": _levels(
            ("elite", None, 1), ("high", 1, 24), ("medium", 24, 168), ("low", 168, None)
        ),
    }
}


def quantile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    pos = (len(s) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def _hours(a: datetime, b: datetime) -> float:
    return (a - b).total_seconds() / 3600


def _prod(ctx_config) -> list[str]:
    return list(ctx_config.metrics.production_environments)


def _all_deployments(warehouse, config) -> list[dict[str, Any]]:
    return warehouse.query(
        "SELECT * FROM deployments WHERE list_contains(?, environment) "
        "ORDER BY entity, environment, finished_at, deployment_id",
        [_prod(config)],
    ).to_dicts()


def deployment_changes(warehouse, config, window: Window, entities=None) -> pl.DataFrame:
    """Commits of the entity's repositories authored since the previous successful
    production deployment, for each successful production deployment in ``window``."""
    deps = [d for d in _all_deployments(warehouse, config) if d["status"] == "success"]
    commits = warehouse.query(
        "SELECT r.entity, c.sha, c.authored_at FROM commits c "
        "JOIN repo_entities r ON r.repo = c.repo ORDER BY c.authored_at, c.sha"
    ).to_dicts()
    out = []
    prev: dict[tuple[str, str], datetime] = {}
    for d in deps:
        key = (d["entity"], d["environment"])
        since = prev.get(key)
        prev[key] = d["finished_at"]
        if since is None or entities and d["entity"] not in entities:
            continue
        if not (window.start <= d["finished_at"] < window.end):
            continue
        for c in commits:
            if c["entity"] == d["entity"] and since < c["authored_at"] <= d["finished_at"]:
                out.append(
                    {
                        "entity": d["entity"],
                        "environment": d["environment"],
                        "source": d["source"],
                        "deployment_id": d["deployment_id"],
                        "finished_at": d["finished_at"],
                        "sha": c["sha"],
                        "authored_at": c["authored_at"],
                        "lead_time_hours": _hours(d["finished_at"], c["authored_at"]),
                    }
                )
    schema = {
        "entity": pl.String,
        "environment": pl.String,
        "source": pl.String,
        "deployment_id": pl.String,
        "finished_at": pl.Datetime("us", "UTC"),
        "sha": pl.String,
        "authored_at": pl.Datetime("us", "UTC"),
        "lead_time_hours": pl.Float64,
    }
    return pl.DataFrame(out, schema=schema)


def _row(metric, entity, w, dims, value, unit, n):
    return {
        "metric": metric,
        "entity": entity,
        "window_start": w.start,
        "window_end": w.end,
        "dimensions": dims,
        "value": value,
        "unit": unit,
        "n": n,
    }


def _stats(metric, entity, w, env, values, unit="hours"):
    for stat, q in zip(STATS, (0.5, 0.75, 0.9), strict=True):
        dims = {"environment": env, "stat": stat}
        yield _row(metric, entity, w, dims, quantile(values, q), unit, len(values))


class Dora(MetricFamily):
    name = "dora"
    metrics = (
        MetricInfo("dora.deployment_frequency", "deploys/week", "deploys per week"),
        MetricInfo("dora.lead_time", "hours", "lead time", STATS),
        MetricInfo("dora.change_failure_rate", "ratio", "change failure rate"),
        MetricInfo("dora.recovery_time", "hours", "recovery time", STATS),
        MetricInfo("dora.open_failures", "count", "open failures"),
        MetricInfo("dora.unlinked_deployments", "count", "unlinked deployments"),
        MetricInfo("dora.rework_rate", "ratio", "rework rate"),
    )
    band_tables = BANDS

    def compute(self, ctx: MetricContext):
        deps = _all_deployments(ctx.warehouse, ctx.config)
        incidents = ctx.warehouse.query("SELECT * FROM incidents").to_dicts()
        shas = set(ctx.warehouse.query("SELECT sha FROM commits")["sha"].to_list())
        units = sorted({(d["entity"], d["environment"]) for d in deps})
        shipped = []
        for w in ctx.windows:
            changes = deployment_changes(ctx.warehouse, ctx.config, w)
            shipped.append(deployment_changes(ctx.warehouse, ctx.config, w, ctx.entities))
            for entity, env in units:
                if ctx.entities and entity not in ctx.entities:
                    continue
                yield from self._unit(ctx, w, entity, env, deps, incidents, shas, changes)
        ctx.publish("dora_changes", pl.concat(shipped).unique(maintain_order=True))

    def _unit(self, ctx, w, entity, env, deps, incidents, shas, changes):
        mine = [
            d
            for d in deps
            if (d["entity"], d["environment"]) == (entity, env)
            and w.start <= d["finished_at"] < w.end
        ]
        ok = [d for d in mine if d["status"] == "success"]
        dims = {"environment": env}
        yield _row(
            "dora.deployment_frequency",
            entity,
            w,
            dims,
            len(ok) / w.days * 7,
            "deploys/week",
            len(ok),
        )
        lead = changes.filter((pl.col("entity") == entity) & (pl.col("environment") == env))
        yield from _stats("dora.lead_time", entity, w, env, lead["lead_time_hours"].to_list())
        considered = [d for d in mine if d["status"] in ("success", "rolled_back")]
        caused = {}
        for i in incidents:
            caused.setdefault(i["cause_deployment_id"], []).append(i)
        failed = [
            d for d in considered if d["status"] == "rolled_back" or d["deployment_id"] in caused
        ]
        cfr = len(failed) / len(considered) if considered else None
        yield _row("dora.change_failure_rate", entity, w, dims, cfr, "ratio", len(considered))
        recovered, open_ = [], 0
        for d in failed:
            incs = caused.get(d["deployment_id"], [])
            if any(i["resolved_at"] is None for i in incs):
                open_ += 1
            elif incs:
                recovered.append(_hours(max(i["resolved_at"] for i in incs), d["finished_at"]))
        yield from _stats("dora.recovery_time", entity, w, env, recovered)
        yield _row("dora.open_failures", entity, w, dims, float(open_), "count", len(failed))
        unlinked = sum(1 for d in mine if d["commit_sha"] not in shas)
        yield _row(
            "dora.unlinked_deployments", entity, w, dims, float(unlinked), "count", len(mine)
        )
        rework = sum(1 for d in ok if d["kind"] in ("hotfix", "rollback"))
        yield _row(
            "dora.rework_rate", entity, w, dims, rework / len(ok) if ok else None, "ratio", len(ok)
        )


class Ops(MetricFamily):
    name = "ops"
    metrics = (
        MetricInfo("ops.time_to_restore", "hours", "time to restore", STATS),
        MetricInfo("ops.time_to_detect", "hours", "time to detect", STATS),
        MetricInfo("ops.automation_rate", "ratio", "automated share"),
    )

    def compute(self, ctx: MetricContext):
        deps = _all_deployments(ctx.warehouse, ctx.config)
        by_id = {d["deployment_id"]: d for d in deps}
        incidents = ctx.warehouse.query("SELECT * FROM incidents").to_dicts()
        units = sorted({(d["entity"], d["environment"]) for d in deps})
        for w in ctx.windows:
            for entity, env in units:
                if ctx.entities and entity not in ctx.entities:
                    continue
                incs = [
                    i
                    for i in incidents
                    if i["entity"] == entity and w.start <= i["detected_at"] < w.end
                ]
                restore = [
                    _hours(i["resolved_at"], i["detected_at"])
                    for i in incs
                    if i["resolved_at"] is not None
                ]
                detect = [
                    _hours(i["detected_at"], by_id[i["cause_deployment_id"]]["finished_at"])
                    for i in incs
                    if i["cause_deployment_id"] in by_id
                ]
                yield from _stats("ops.time_to_restore", entity, w, env, restore)
                yield from _stats("ops.time_to_detect", entity, w, env, detect)
                mine = [
                    d
                    for d in deps
                    if d["entity"] == entity
                    and d["environment"] == env
                    and w.start <= d["finished_at"] < w.end
                ]
                auto = sum(1 for d in mine if d["trigger"] == "automated")
                yield _row(
                    "ops.automation_rate",
                    entity,
                    w,
                    {"environment": env},
                    auto / len(mine) if mine else None,
                    "ratio",
                    len(mine),
                )


@hookimpl
def register_metrics(register):
    register("dora", Dora, replace=True)
    register("ops", Ops, replace=True)
