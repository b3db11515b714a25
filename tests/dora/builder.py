"""Build warehouse rows for DORA scenarios by hand and read metric values back."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from mlreport.config import Config, parse_config
from mlreport.metrics import MetricContext, Window, compute_metrics
from mlreport.plugins.dora.family import DoraMetrics, OpsMetrics
from mlreport.warehouse import Warehouse

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def t(hours: float = 0, days: float = 0) -> datetime:
    """A time ``days`` and ``hours`` after 2024-01-01 00:00 UTC."""
    return T0 + timedelta(days=days, hours=hours)


def config(text: str = "") -> Config:
    return parse_config(text, None, Path("."))


@dataclass
class Data:
    """Rows to insert: commits get their generation from their parents unless given."""

    commits: list[dict[str, Any]] = field(default_factory=list)
    deployments: list[dict[str, Any]] = field(default_factory=list)
    incidents: list[dict[str, Any]] = field(default_factory=list)
    repo_entities: list[dict[str, Any]] = field(default_factory=list)
    _gen: dict[tuple[str, str], int] = field(default_factory=dict)

    def commit(
        self,
        sha: str,
        parents: tuple[str, ...] = (),
        authored: datetime | None = T0,
        repo: str = "repo",
        generation: int | None | str = "auto",
    ) -> str:
        if generation == "auto":
            generation = 1 + max((self._gen.get((repo, p), 0) for p in parents), default=0)
        self._gen[(repo, sha)] = generation or 0
        self.commits.append(
            {
                "repo": repo,
                "sha": sha,
                "parents": list(parents),
                "generation": generation,
                "authored_at": authored,
                "committed_at": authored,
                "source": "test",
            }
        )
        return sha

    def chain(self, prefix: str, n: int, parent: str | None = None, **kw) -> list[str]:
        """n commits in a line, named prefix1..prefixN, each one hour after the previous."""
        out = []
        authored = kw.pop("start", T0)
        for i in range(1, n + 1):
            parents = (parent,) if parent else ()
            parent = self.commit(f"{prefix}{i}", parents, authored=authored, **kw)
            authored += timedelta(hours=1)
            out.append(parent)
        return out

    def deploy(
        self,
        deployment_id: str,
        sha: str | None,
        finished: datetime,
        entity: str = "svc",
        environment: str = "production",
        status: str = "success",
        kind: str = "planned",
        trigger: str | None = "automated",
        source: str = "ci",
    ) -> str:
        self.deployments.append(
            {
                "source": source,
                "deployment_id": deployment_id,
                "entity": entity,
                "environment": environment,
                "commit_sha": sha,
                "started_at": finished - timedelta(minutes=5),
                "finished_at": finished,
                "status": status,
                "kind": kind,
                "trigger": trigger,
            }
        )
        return deployment_id

    def incident(
        self,
        incident_id: str,
        detected: datetime,
        resolved: datetime | None = None,
        entity: str = "svc",
        environment: str | None = "production",
        cause: str | None = None,
        source: str = "pager",
    ) -> str:
        self.incidents.append(
            {
                "source": source,
                "incident_id": incident_id,
                "entity": entity,
                "environment": environment,
                "severity": "sev2",
                "detected_at": detected,
                "resolved_at": resolved,
                "cause_deployment_id": cause,
                "title": incident_id,
            }
        )
        return incident_id

    def map(self, repo: str, entity: str) -> None:
        self.repo_entities.append({"repo": repo, "entity": entity, "source": "test"})

    def write(self, wh: Warehouse) -> Warehouse:
        """Replace the warehouse's DORA tables with these rows."""
        for table in ("commits", "deployments", "incidents", "repo_entities"):
            wh.con.execute(f"DELETE FROM {table}")
        schemas = {
            "commits": {
                "repo": pl.String,
                "sha": pl.String,
                "parents": pl.List(pl.String),
                "generation": pl.Int64,
                "authored_at": pl.Datetime("us", "UTC"),
                "committed_at": pl.Datetime("us", "UTC"),
                "source": pl.String,
            },
            "deployments": {
                "source": pl.String,
                "deployment_id": pl.String,
                "entity": pl.String,
                "environment": pl.String,
                "commit_sha": pl.String,
                "started_at": pl.Datetime("us", "UTC"),
                "finished_at": pl.Datetime("us", "UTC"),
                "status": pl.String,
                "kind": pl.String,
                "trigger": pl.String,
            },
            "incidents": {
                "source": pl.String,
                "incident_id": pl.String,
                "entity": pl.String,
                "environment": pl.String,
                "severity": pl.String,
                "detected_at": pl.Datetime("us", "UTC"),
                "resolved_at": pl.Datetime("us", "UTC"),
                "cause_deployment_id": pl.String,
                "title": pl.String,
            },
            "repo_entities": {"repo": pl.String, "entity": pl.String, "source": pl.String},
        }
        keys = {
            "commits": ("repo", "sha"),
            "deployments": ("source", "deployment_id"),
            "incidents": ("source", "incident_id"),
            "repo_entities": ("repo", "entity"),
        }
        for table, schema in schemas.items():
            rows = getattr(self, table)
            if rows:
                wh.upsert(table, pl.DataFrame(rows, schema=schema), keys[table])
        return wh


def compute(
    wh: Warehouse,
    windows: list[Window],
    cfg: Config | None = None,
    entities: list[str] | None = None,
) -> pl.DataFrame:
    """Both families, computed directly (no storing, no grading)."""
    ctx = MetricContext(wh, cfg or config(), windows, entities)
    return pl.concat([DoraMetrics().compute(ctx), OpsMetrics().compute(ctx)])


def compute_all(wh: Warehouse, windows: list[Window], cfg: Config | None = None) -> pl.DataFrame:
    """Through the kernel: plugin registry, grading, storing."""
    return compute_metrics(wh, cfg or config(), windows, "*")


def value(
    frame: pl.DataFrame,
    metric: str,
    entity: str = "svc",
    window: Window | None = None,
    **dims: str,
) -> tuple[float | None, int]:
    """(value, n) of exactly one row."""
    if metric.startswith("dora.") or metric in ("ops.time_to_detect", "ops.automation_rate"):
        dims.setdefault("environment", "production")
    text = json.dumps(dims, sort_keys=True, separators=(",", ":"))
    rows = frame.filter(
        (pl.col("metric") == metric) & (pl.col("entity") == entity) & (pl.col("dimensions") == text)
    )
    if window is not None:
        rows = rows.filter(pl.col("window_start") == window.start)
    assert rows.height == 1, f"{metric} {entity} {text}: {rows.height} rows\n{rows}"
    return rows["value"][0], rows["n"][0]
