"""MLflow entities as ``mlflow server`` renders them in JSON (MessageToDict of the entities'
``to_proto``, MLflow 3.x): unset fields left out, int64 as numbers, NaN as ``"NaN"``, enum
values by name; the sqlite reader builds every dict it returns with these."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

LOGGED_MODEL_STATUS = {  # logged_models.status (int) -> the proto enum's name
    0: "LOGGED_MODEL_STATUS_UNSPECIFIED",
    1: "LOGGED_MODEL_PENDING",
    2: "LOGGED_MODEL_READY",
    3: "LOGGED_MODEL_UPLOAD_FAILED",
}


def _double(value: Any, is_nan: Any = False) -> Any:
    """A proto double in JSON: NaN and infinities are strings (MessageToDict's rules)."""
    if value is None:
        return None
    number = float(value)
    if is_nan or math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "Infinity" if number > 0 else "-Infinity"
    return number


def set_field(out: dict, key: str, value: Any, *, truthy: bool = False) -> None:
    """Set a proto2 optional field: unset (None, or falsy where MLflow tests truthiness) is
    left out of the JSON, exactly as the server leaves it out."""
    if value is None or (truthy and not value):
        return
    out[key] = value


def key_values(rows: Iterable[tuple[Any, Any]]) -> list[dict]:
    """``[{key, value}]``; a NULL value is an unset field."""
    out = []
    for key, value in rows:
        item = {"key": key}
        set_field(item, "value", value)
        out.append(item)
    return out


def metric(key: str, value: Any, timestamp: Any, step: Any, is_nan: Any) -> dict:
    return {"key": key, "value": _double(value, is_nan), "timestamp": timestamp, "step": step}


def model_version(row: tuple, tags: list[tuple]) -> dict:
    """A ``ModelVersion`` as the server renders it (``ModelVersion.to_proto``)."""
    name, version, created, updated, description, user, stage, source, run_id = row[:9]
    run_link, status, status_message = row[9:]
    out: dict[str, Any] = {"name": name, "version": str(version)}
    set_field(out, "creation_timestamp", created)
    set_field(out, "last_updated_timestamp", updated)
    set_field(out, "description", description)
    set_field(out, "user_id", user)
    set_field(out, "current_stage", stage)
    set_field(out, "source", source)
    set_field(out, "run_id", run_id)
    set_field(out, "run_link", run_link)
    set_field(out, "status", status)
    set_field(out, "status_message", status_message, truthy=True)
    set_field(out, "tags", key_values(tags), truthy=True)
    return out


def logged_model(row: tuple, tags: list, params: list, metrics: list) -> dict:
    """A ``LoggedModel`` as ``logged-models/search`` renders it."""
    model_id, exp_id, name, location, created, updated, status, kind, run_id, message = row
    info: dict[str, Any] = {"model_id": model_id, "experiment_id": str(exp_id)}
    set_field(info, "name", name)
    set_field(info, "creation_timestamp_ms", created)
    set_field(info, "last_updated_timestamp_ms", updated)
    set_field(info, "artifact_uri", location)
    set_field(info, "status", LOGGED_MODEL_STATUS.get(status, status))
    set_field(info, "model_type", kind)
    set_field(info, "source_run_id", run_id)
    set_field(info, "status_message", message)
    set_field(info, "tags", [{"key": k, "value": v} for k, v in tags], truthy=True)
    data: dict[str, Any] = {}
    set_field(data, "params", [{"key": k, "value": v} for k, v in params], truthy=True)
    points = []
    for key, value, timestamp, step, metric_run, dataset, digest in metrics:
        point: dict[str, Any] = {"key": key}
        set_field(point, "value", _double(value))
        point.update(timestamp=timestamp, step=step)
        set_field(point, "model_id", model_id)
        set_field(point, "dataset_name", dataset, truthy=True)
        set_field(point, "dataset_digest", digest, truthy=True)
        set_field(point, "run_id", metric_run, truthy=True)
        points.append(point)
    set_field(data, "metrics", points, truthy=True)
    return {"info": info, "data": data}
