"""Fill the registry tables by hand (the mlflow source's rows, as issue 3 defines them)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from mlreport.config import Config, parse_config
from mlreport.warehouse import Warehouse

TS = pl.Datetime("us", "UTC")
SCHEMAS: dict[str, dict[str, Any]] = {
    "registered_models": {
        "source": pl.String,
        "name": pl.String,
        "owner": pl.String,
        "description": pl.String,
        "tags": pl.String,
        "aliases": pl.String,
        "created_at": TS,
        "updated_at": TS,
    },
    "model_versions": {
        "source": pl.String,
        "name": pl.String,
        "version": pl.String,
        "run_id": pl.String,
        "model_source": pl.String,
        "status": pl.String,
        "description": pl.String,
        "tags": pl.String,
        "aliases": pl.List(pl.String),
        "created_at": TS,
        "updated_at": TS,
    },
    "model_events": {
        "source": pl.String,
        "name": pl.String,
        "version": pl.String,
        "event": pl.String,
        "at": TS,
        "at_kind": pl.String,
        "detail": pl.String,
    },
    "runs": {
        "source": pl.String,
        "run_id": pl.String,
        "experiment_id": pl.String,
        "name": pl.String,
        "status": pl.String,
        "lifecycle_stage": pl.String,
        "user_id": pl.String,
        "git_sha": pl.String,
        "start_time": TS,
        "end_time": TS,
        "params": pl.String,
        "tags": pl.String,
    },
    "run_metrics": {
        "source": pl.String,
        "run_id": pl.String,
        "key": pl.String,
        "step": pl.Int64,
        "ts": TS,
        "value": pl.Float64,
    },
    "experiments": {
        "source": pl.String,
        "experiment_id": pl.String,
        "name": pl.String,
        "lifecycle_stage": pl.String,
    },
    "deployments": {
        "source": pl.String,
        "deployment_id": pl.String,
        "entity": pl.String,
        "environment": pl.String,
        "version": pl.String,
        "commit_sha": pl.String,
        "model_version": pl.String,
        "started_at": TS,
        "finished_at": TS,
        "status": pl.String,
        "kind": pl.String,
        "trigger": pl.String,
    },
    "entities": {
        "kind": pl.String,
        "name": pl.String,
        "owner": pl.String,
        "team": pl.String,
        "risk_tier": pl.String,
        "declared": pl.Boolean,
    },
    "commits": {
        "repo": pl.String,
        "sha": pl.String,
        "parents": pl.List(pl.String),
        "generation": pl.Int64,
        "authored_at": TS,
        "committed_at": TS,
        "subject": pl.String,
    },
    "repo_entities": {"repo": pl.String, "entity": pl.String, "source": pl.String},
}
KEYS = {
    "registered_models": ("source", "name"),
    "model_versions": ("source", "name", "version"),
    "model_events": ("source", "name", "version", "event", "at"),
    "runs": ("source", "run_id"),
    "run_metrics": ("source", "run_id", "key", "step", "ts"),
    "experiments": ("source", "experiment_id"),
    "deployments": ("source", "deployment_id"),
    "entities": ("kind", "name"),
    "commits": ("repo", "sha"),
    "repo_entities": ("repo", "entity"),
}


def d(day: str, hour: float = 0) -> datetime:
    """``d("2026-01-05", 12)`` -> 2026-01-05 12:00 UTC."""
    return datetime.fromisoformat(day).replace(tzinfo=UTC) + timedelta(hours=hour)


def config(text: str = "", base: Path = Path(".")) -> Config:
    return parse_config(text, None, base)


MLFLOW_CONFIG = """
[[sources]]
name = "mlflow"
type = "mlflow"
store = "mlflow.db"
approval_tag = "signed-off"
aliases = { production = ["champion"], staging = ["challenger"] }
"""


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, sort_keys=True)


@dataclass
class Registry:
    """Rows of the registry, run and deployment tables; ``write`` upserts them."""

    source: str = "mlflow"
    rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def add(self, table: str, **row: Any) -> dict[str, Any]:
        self.rows.setdefault(table, []).append(row)
        return row

    def model(self, name: str, owner=None, description=None, tags=None, aliases=None, source=None):
        return self.add(
            "registered_models",
            source=source or self.source,
            name=name,
            owner=owner,
            description=description,
            tags=_json(tags or {}),
            aliases=_json(aliases or {}),
            created_at=d("2025-12-01"),
            updated_at=d("2025-12-01"),
        )

    def version(
        self,
        name: str,
        version: str,
        run_id: str | None,
        created: datetime,
        description=None,
        tags=None,
        aliases=(),
        source=None,
    ):
        return self.add(
            "model_versions",
            source=source or self.source,
            name=name,
            version=version,
            run_id=run_id,
            model_source=f"models:/m-{version}",
            status="READY",
            description=description,
            tags=_json(tags or {}),
            aliases=list(aliases),
            created_at=created,
            updated_at=created,
        )

    def run(
        self,
        run_id: str,
        start: datetime,
        status: str = "FINISHED",
        experiment_id: str = "1",
        git_sha: str | None = None,
        params=None,
        tags=None,
        stage: str = "active",
        name: str | None = None,
        source=None,
    ):
        return self.add(
            "runs",
            source=source or self.source,
            run_id=run_id,
            experiment_id=experiment_id,
            name=name or run_id,
            status=status,
            lifecycle_stage=stage,
            user_id="alice",
            git_sha=git_sha,
            start_time=start,
            end_time=start + timedelta(hours=1) if status != "RUNNING" else None,
            params=_json(params or {}),
            tags=_json(tags or {}),
        )

    def metric(self, run_id: str, key: str, value: float, step: int, ts: datetime, source=None):
        return self.add(
            "run_metrics",
            source=source or self.source,
            run_id=run_id,
            key=key,
            step=step,
            ts=ts,
            value=value,
        )

    def event(
        self,
        name: str,
        version: str,
        event: str,
        at: datetime,
        detail=None,
        at_kind: str = "last_updated_timestamp",
        source=None,
    ):
        return self.add(
            "model_events",
            source=source or self.source,
            name=name,
            version=version,
            event=event,
            at=at,
            at_kind=at_kind,
            detail=_json(detail or {}),
        )

    def alias_set(self, name, version, alias, at, previous=None, source=None, **kw):
        detail = {"alias": alias}
        if previous is not None:
            detail["previous_version"] = previous
        self.event(name, version, "alias_set", at, detail, source=source, **kw)
        return self

    def alias_removed(self, name, version, alias, at, source=None):
        self.event(name, version, "alias_removed", at, {"alias": alias}, source=source)
        return self

    def entity(self, name: str, owner=None, team=None, risk_tier=None):
        return self.add(
            "entities",
            kind="model",
            name=name,
            owner=owner,
            team=team,
            risk_tier=risk_tier,
            declared=True,
        )

    def deployment(
        self,
        name: str,
        version: str,
        at: datetime,
        alias: str = "champion",
        sha: str | None = None,
        kind: str = "planned",
        environment: str = "production",
        source=None,
    ):
        """A deployments row exactly as the mlflow source writes it for an alias move."""
        at_ms = int(at.timestamp() * 1000)
        return self.add(
            "deployments",
            source=source or self.source,
            deployment_id=f"{name}:{alias}:{version}:{at_ms}",
            entity=name,
            environment=environment,
            version=version,
            commit_sha=sha,
            model_version=version,
            started_at=at,
            finished_at=at,
            status="success",
            kind=kind,
            trigger="automated",
        )

    def commit(self, sha: str, authored: datetime, parents=(), generation=1, repo="repo"):
        return self.add(
            "commits",
            repo=repo,
            sha=sha,
            parents=list(parents),
            generation=generation,
            authored_at=authored,
            committed_at=authored,
            subject=sha,
        )

    def repo(self, repo: str, entity: str):
        return self.add("repo_entities", repo=repo, entity=entity, source="git")

    def write(self, wh: Warehouse) -> Warehouse:
        for table, rows in self.rows.items():
            schema = SCHEMAS[table]
            frame = pl.DataFrame([{k: r.get(k) for k in schema} for r in rows], schema=schema)
            wh.upsert(table, frame, KEYS[table])
        return wh
