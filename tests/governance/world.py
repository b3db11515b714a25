"""Hand-built warehouses for the governance evidence: registry rows, runs, datasets, logged
models, deployments, incidents and report runs inserted as a source would store them, the
real lifecycle family publishing the registry history, and fixed metric values standing in
for the ``monitoring``, ``performance``, ``drift`` and ``fairness`` families (the report reads
stored values, so what computed them does not matter here)."""

from __future__ import annotations

import importlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from mlreport import hookimpl, plugin_manager
from mlreport.config import Config, parse_config
from mlreport.metrics import MetricFamily, MetricInfo, Window
from mlreport.reporting import ReportContext, prepare_metrics
from mlreport.reports.governance.models import model_inputs
from mlreport.reports.governance.report import GovernanceReport
from mlreport.warehouse import Warehouse

AS_OF = datetime(2026, 7, 1, tzinfo=UTC)
SOURCE = "reg"
HOSTILE = '<script>alert("x")</script> [x](http://evil) | *b* <img src=x onerror=alert(1)>'
BUILTINS = (
    "mlreport.connectors.mlflow",  # its options say which aliases mean production
    "mlreport.reports.renderers",
    "mlreport.plugins.lifecycle",
    "mlreport.reports.governance.report",
)


def ago(days: float) -> datetime:
    return AS_OF - timedelta(days=days)


def future_schema(wh: Warehouse) -> None:
    """The tables and columns being added in parallel (issue 12 item 2), as their contract
    names them; a test that wants "not recorded yet" leaves them out."""
    con = wh.con
    con.execute(
        "CREATE TABLE IF NOT EXISTS logged_models (source VARCHAR, model_id VARCHAR, "
        "experiment_id VARCHAR, name VARCHAR, source_run_id VARCHAR, status VARCHAR, "
        "artifact_location VARCHAR, model_type VARCHAR, created_at TIMESTAMPTZ, params JSON, "
        "tags JSON)"
    )
    con.execute(
        "CREATE TABLE IF NOT EXISTS run_inputs (source VARCHAR, run_id VARCHAR, "
        "dataset_name VARCHAR, dataset_digest VARCHAR, dataset_source_type VARCHAR, "
        "dataset_source VARCHAR, context VARCHAR)"
    )
    for table, column, kind in (
        ("model_versions", "model_id", "VARCHAR"),
        ("model_versions", "artifacts_present", "BOOLEAN"),
        ("model_events", "key", "VARCHAR"),
        ("deployments", "strategy", "VARCHAR"),
    ):
        con.execute(f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {column} {kind}")
        wh.forget_columns(table)


class World:
    """One model's registry, runs and operations, written row by row."""

    def __init__(self, wh: Warehouse, model: str = "credit") -> None:
        self.wh, self.model = wh, model

    def insert(self, table: str, **row: Any) -> World:
        cols = ", ".join(f'"{c}"' for c in row)
        marks = ", ".join("?" for _ in row)
        values = [json.dumps(v) if isinstance(v, dict) else v for v in row.values()]
        self.wh.con.execute(f"INSERT INTO {table} ({cols}) VALUES ({marks})", values)
        return self

    def entity(self, **attrs: Any) -> World:
        return self.insert("entities", kind="model", name=self.model, declared=True, **attrs)

    def version(self, version: str, run_id: str | None = None, tags=None, **more) -> World:
        return self.insert(
            "model_versions",
            source=SOURCE,
            name=self.model,
            version=version,
            run_id=run_id,
            status="READY",
            tags=tags or {},
            created_at=ago(200 - int(version)),
            **more,
        )

    def alias(self, version: str, at: datetime, previous: str | None = None) -> World:
        return self.insert(
            "model_events",
            source=SOURCE,
            name=self.model,
            version=version,
            event="alias_set",
            at=at,
            at_kind="event",
            detail={"alias": "champion", "previous_version": previous},
        )

    def tag_event(self, version: str, at: datetime, tag: str, **more) -> World:
        return self.insert(
            "model_events",
            source=SOURCE,
            name=self.model,
            version=version,
            event="tag_changed",
            at=at,
            at_kind="event",
            detail={"tag": tag, "old": None, "new": "yes"},
            **more,
        )

    def run(self, run_id: str, git_sha: str | None = "a" * 40) -> World:
        return self.insert("runs", source=SOURCE, run_id=run_id, git_sha=git_sha, status="FINISHED")

    def run_metric(self, run_id: str, key: str, value: float) -> World:
        return self.insert(
            "run_metrics", source=SOURCE, run_id=run_id, key=key, step=0, ts=ago(300), value=value
        )

    def dataset(self, run_id: str, name: str, context: str, digest: str = "d1") -> World:
        return self.insert(
            "run_inputs",
            source=SOURCE,
            run_id=run_id,
            dataset_name=name,
            dataset_digest=digest,
            dataset_source_type="s3",
            dataset_source=f"s3://data/{name}",
            context=context,
        )

    def deployment(self, did: str, env: str, version: str, at: datetime, **more) -> World:
        return self.insert(
            "deployments",
            source="ci",
            deployment_id=did,
            entity=self.model,
            environment=env,
            model_version=version,
            finished_at=at,
            status=more.pop("status", "success"),
            **more,
        )

    def incident(self, iid: str, detected: datetime, resolved: datetime | None) -> World:
        return self.insert(
            "incidents",
            source="pager",
            incident_id=iid,
            entity=self.model,
            detected_at=detected,
            resolved_at=resolved,
            severity="high",
            title="scores off",
        )

    def report_run(self, run_id: str, as_of: datetime, signed: bool, report="governance"):
        return self.insert(
            "report_runs",
            run_id=run_id,
            report=report,
            as_of=as_of,
            started_at=as_of,
            finished_at=as_of + timedelta(minutes=1),
            status="ok",
            signature="signed" if signed else "unsigned",
            signer="Ada <ada@example.com>" if signed else None,
            key_id="ABCDEF0123456789" if signed else None,
        )


def fixed_family(name: str, values: list[tuple[str, str, dict, float | None]]) -> object:
    """A plugin whose family ``name`` stores ``values`` (metric, entity, dims, value) for
    every window it is asked for."""

    def compute(self, ctx):
        for w in ctx.windows:
            for metric, entity, dims, value in values:
                yield {
                    "metric": metric,
                    "entity": entity,
                    "window_start": w.start,
                    "window_end": w.end,
                    "dimensions": dims,
                    "value": value,
                    "unit": "",
                    "n": 100,
                }

    metrics = tuple(MetricInfo(m, "", m) for m in sorted({v[0] for v in values}))
    family = type(f"Fixed_{name}", (MetricFamily,), {"name": name, "metrics": metrics})
    family.compute = compute

    class Plugin:
        @hookimpl
        def register_metrics(self, register):
            register(name, family)

    return Plugin()


def install(values: list[tuple[str, str, dict, float | None]] = ()) -> None:
    """The plugin set of these tests: renderers, the real lifecycle family, the governance
    report and one fixed family per metric prefix in ``values``."""
    p = plugin_manager.Plugins()
    for name in BUILTINS:
        p.register_module(importlib.import_module(name), name)
    for prefix in sorted({v[0].split(".")[0] for v in values}):
        p.register_module(
            fixed_family(prefix, [v for v in values if v[0].startswith(prefix)]), prefix
        )
    plugin_manager._plugins = p


def config(tmp: Path, text: str = "") -> Config:
    return parse_config('[warehouse]\npath = "wh.duckdb"\n' + text, tmp / "mlreport.toml", tmp)


def context(wh: Warehouse, cfg: Config) -> ReportContext:
    return ReportContext(wh, cfg, Window(AS_OF - timedelta(days=90), AS_OF), AS_OF)


def evidence(wh: Warehouse, cfg: Config, model: str, eid: str, values=()):
    """The evidence ``eid`` of ``model`` after a stored metrics run, as the report reads it."""
    from mlreport.reports.governance.evidence import functions

    install(values)
    try:
        ctx = context(wh, cfg)
        prepare_metrics(wh, cfg, [(ctx, GovernanceReport)])
        return functions()[eid](model_inputs(ctx)[model])
    finally:
        plugin_manager.reset_plugins()
