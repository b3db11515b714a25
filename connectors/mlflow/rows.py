"""Rows of the mlflow source's tables: their schemas, and one builder per table from the dicts
a backend returns (REST's JSON shape), with the parsing checks that name the endpoint at fault.

Builders keep times in epoch milliseconds (what digests and cursors compare);
:func:`to_frame` turns them into UTC timestamps only when a batch is written, and
:func:`epoch_rows` turns stored rows back."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

import polars as pl

from mlreport.sources import SourceError

GIT_TAG = "mlflow.source.git.commit"


def kv(items: Any) -> dict[str, Any]:
    """``[{key, value}]`` (REST) → ``{key: value}``."""
    return {i["key"]: i.get("value") for i in items or [] if isinstance(i, dict) and "key" in i}


def epoch_ms(value: Any, where: str) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise SourceError(f"{where}: expected epoch milliseconds, got {value!r}") from None


def need(item: dict, key: str, where: str) -> Any:
    value = item.get(key)
    if value is None or value == "":
        raise SourceError(f"{where}: field {key!r} is missing")
    return value


def to_frame(rows: list[dict], schema: dict[str, Any], ms_columns: Iterable[str] = ()) -> Any:
    """Rows with epoch-millisecond columns → a frame with UTC timestamps."""
    frame = pl.DataFrame(rows, schema=schema, orient="row")
    convert = [
        pl.from_epoch(pl.col(c), time_unit="ms").dt.replace_time_zone("UTC").alias(c)
        for c in ms_columns
    ]
    return frame.with_columns(convert) if convert else frame


def epoch_rows(frame: pl.DataFrame, times: Iterable[str]) -> Iterator[dict]:
    times = [c for c in times if c in frame.columns]
    frame = frame.with_columns([pl.col(c).dt.epoch(time_unit="ms").alias(c) for c in times])
    yield from frame.iter_rows(named=True)


# -- one schema and one builder per table -----------------------------------------------------

EXPERIMENT_SCHEMA = {
    "experiment_id": pl.Utf8,
    "name": pl.Utf8,
    "lifecycle_stage": pl.Utf8,
    "tags": pl.Utf8,
    "created_at": pl.Int64,
    "updated_at": pl.Int64,
}
RUN_SCHEMA = {
    "run_id": pl.Utf8,
    "experiment_id": pl.Utf8,
    "name": pl.Utf8,
    "status": pl.Utf8,
    "lifecycle_stage": pl.Utf8,
    "user_id": pl.Utf8,
    "git_sha": pl.Utf8,
    "start_time": pl.Int64,
    "end_time": pl.Int64,
    "params": pl.Utf8,
    "tags": pl.Utf8,
}
METRIC_SCHEMA = {
    "run_id": pl.Utf8,
    "key": pl.Utf8,
    "step": pl.Int64,
    "ts": pl.Int64,
    "value": pl.Float64,
}
MODEL_SCHEMA = {
    "name": pl.Utf8,
    "owner": pl.Utf8,
    "description": pl.Utf8,
    "tags": pl.Utf8,
    "aliases": pl.Utf8,
    "created_at": pl.Int64,
    "updated_at": pl.Int64,
}
VERSION_SCHEMA = {
    "name": pl.Utf8,
    "version": pl.Utf8,
    "run_id": pl.Utf8,
    "model_source": pl.Utf8,
    "status": pl.Utf8,
    "description": pl.Utf8,
    "tags": pl.Utf8,
    "aliases": pl.List(pl.Utf8),
    "created_at": pl.Int64,
    "updated_at": pl.Int64,
    "model_id": pl.Utf8,
    "artifacts_present": pl.Boolean,
}
EVENT_SCHEMA = {
    "name": pl.Utf8,
    "version": pl.Utf8,
    "event": pl.Utf8,
    "key": pl.Utf8,  # the alias or tag the event is about ('' for version_created)
    "at": pl.Int64,
    "at_kind": pl.Utf8,
    "detail": pl.Utf8,
}
DEPLOYMENT_SCHEMA = {
    "deployment_id": pl.Utf8,
    "entity": pl.Utf8,
    "environment": pl.Utf8,
    "version": pl.Utf8,
    "commit_sha": pl.Utf8,
    "model_version": pl.Utf8,
    "started_at": pl.Int64,
    "finished_at": pl.Int64,
    "status": pl.Utf8,
    "kind": pl.Utf8,
    "trigger": pl.Utf8,
}


def experiment_row(exp: dict) -> dict:
    where = "experiments/search"
    return {
        "experiment_id": str(need(exp, "experiment_id", where)),
        "name": exp.get("name"),
        "lifecycle_stage": exp.get("lifecycle_stage"),
        "tags": json.dumps(kv(exp.get("tags")), sort_keys=True),
        "created_at": epoch_ms(exp.get("creation_time"), where),
        "updated_at": epoch_ms(exp.get("last_update_time"), where),
    }


def run_row(run: dict) -> dict:
    where = "runs/search"
    info = run.get("info") or {}
    data = run.get("data") or {}
    if not isinstance(info, dict) or not isinstance(data, dict):
        raise SourceError(f"{where}: a run whose info or data is not an object")
    run_id = info.get("run_id") or info.get("run_uuid")
    if not run_id:
        raise SourceError(f"{where}: a run without info.run_id")
    tags = kv(data.get("tags"))
    return {
        "run_id": str(run_id),
        "experiment_id": str(info.get("experiment_id")),
        "name": info.get("run_name") or tags.get("mlflow.runName"),
        "status": info.get("status"),
        "lifecycle_stage": info.get("lifecycle_stage"),
        "user_id": info.get("user_id"),
        "git_sha": tags.get(GIT_TAG),
        "start_time": epoch_ms(info.get("start_time"), f"{where}: run {run_id}"),
        "end_time": epoch_ms(info.get("end_time"), f"{where}: run {run_id}"),
        "params": json.dumps(kv(data.get("params")), sort_keys=True),
        "tags": json.dumps(tags, sort_keys=True),
    }


def latest_metrics(run: dict) -> list[list[Any]]:
    """The run's latest point per key, as sorted [key, step, timestamp, value]."""
    out = []
    for m in (run.get("data") or {}).get("metrics") or []:
        if not isinstance(m, dict):
            raise SourceError("runs/search: data.metrics holds a non-object")
        out.append([m.get("key"), m.get("step"), m.get("timestamp"), str(m.get("value"))])
    return sorted(out, key=lambda r: str(r[0]))


def metric_row(run_id: str, point: dict) -> dict:
    where = f"metrics/get-history: run {run_id}"
    try:
        value = float(point["value"]) if point.get("value") is not None else None
    except (TypeError, ValueError):
        raise SourceError(f"{where}: value {point.get('value')!r} is not a number") from None
    return {
        "run_id": run_id,
        "key": need(point, "key", where),
        "step": epoch_ms(point.get("step") or 0, where),
        "ts": epoch_ms(need(point, "timestamp", where), where),
        "value": value,
    }


def model_row(model: dict, owner_tag: str) -> dict:
    where = "registered-models/search"
    tags = kv(model.get("tags"))
    aliases = {a["alias"]: str(a["version"]) for a in model.get("aliases") or []}
    return {
        "name": need(model, "name", where),
        "owner": tags.get(owner_tag),
        "description": model.get("description") or None,
        "tags": json.dumps(tags, sort_keys=True),
        "aliases": json.dumps(aliases, sort_keys=True),
        "created_at": epoch_ms(model.get("creation_timestamp"), where),
        "updated_at": epoch_ms(model.get("last_updated_timestamp"), where),
    }


def version_row(
    version: dict,
    aliases: list[str],
    run_id: str | None,
    model_id: str | None = None,
    artifacts_present: bool | None = None,
) -> dict:
    where = "model-versions/search"
    return {
        "name": need(version, "name", where),
        "version": str(need(version, "version", where)),
        "run_id": run_id,
        "model_source": version.get("source"),
        "status": version.get("status"),
        "description": version.get("description") or None,
        "tags": json.dumps(kv(version.get("tags")), sort_keys=True),
        "aliases": sorted(aliases),
        "created_at": epoch_ms(version.get("creation_timestamp"), where),
        "updated_at": epoch_ms(version.get("last_updated_timestamp"), where),
        "model_id": model_id,
        "artifacts_present": artifacts_present,
    }


def metric_frame(rows: list[dict]) -> pl.DataFrame | None:
    return to_frame(rows, METRIC_SCHEMA, ("ts",)) if rows else None
