"""Lineage rows of the mlflow source: MLflow 3 logged models, the datasets runs read
(``mlflow.log_input``), and which logged model a registered version was made from.

Builders take the dicts a backend returns (REST's JSON shape) and keep times in epoch
milliseconds, like those of ``rows``."""

from __future__ import annotations

import json
import re

import polars as pl

from mlreport.connectors.mlflow.rows import epoch_ms, kv, need
from mlreport.sources import SourceError

CONTEXT_TAG = "mlflow.data.context"  # the input tag mlflow.log_input(context=...) sets
VERSIONS_TAG = "mlflow.modelVersions"  # a logged model's tag listing the versions made from it
# A logged model's URI, ``models:/m-<hex>``, as a version's source; ``models:/<name>/<version>``
# (a registered model) is not one.
_LOGGED_MODEL_URI = re.compile(r"^models:/(m-[0-9a-f]+)/?$")
# logged-models/search renders the status enum by its proto name; stored by MLflow's own names
# (``LoggedModelStatus``).
STATUS = {
    "LOGGED_MODEL_STATUS_UNSPECIFIED": "UNSPECIFIED",
    "LOGGED_MODEL_PENDING": "PENDING",
    "LOGGED_MODEL_READY": "READY",
    "LOGGED_MODEL_UPLOAD_FAILED": "FAILED",
}

LOGGED_MODEL_SCHEMA = {
    "model_id": pl.Utf8,
    "experiment_id": pl.Utf8,
    "name": pl.Utf8,
    "source_run_id": pl.Utf8,
    "status": pl.Utf8,
    "artifact_location": pl.Utf8,
    "model_type": pl.Utf8,
    "created_at": pl.Int64,
    "params": pl.Utf8,
    "tags": pl.Utf8,
}
RUN_INPUT_SCHEMA = {
    "run_id": pl.Utf8,
    "dataset_name": pl.Utf8,
    "dataset_digest": pl.Utf8,
    "dataset_source_type": pl.Utf8,
    "dataset_source": pl.Utf8,
    "context": pl.Utf8,
}


def logged_model_row(model: dict) -> dict:
    """A ``logged_models`` row from one ``logged-models/search`` item."""
    where = "logged-models/search"
    info = model.get("info") if isinstance(model.get("info"), dict) else model
    data = model.get("data") if isinstance(model.get("data"), dict) else {}
    status = info.get("status")
    return {
        "model_id": str(need(info, "model_id", where)),
        "experiment_id": str(info["experiment_id"]) if info.get("experiment_id") else None,
        "name": info.get("name"),
        "source_run_id": info.get("source_run_id") or None,
        "status": STATUS.get(status, status),
        "artifact_location": info.get("artifact_uri") or None,
        "model_type": info.get("model_type") or None,
        "created_at": epoch_ms(info.get("creation_timestamp_ms"), where),
        "params": json.dumps(kv(data.get("params")), sort_keys=True),
        "tags": json.dumps(kv(info.get("tags")), sort_keys=True),
    }


def run_input_rows(run: dict, run_id: str) -> list[dict]:
    """``run_inputs`` rows of one run: each dataset it read, once per context."""
    where = f"runs/search: run {run_id}: inputs.dataset_inputs"
    inputs = run.get("inputs") or {}
    items = inputs.get("dataset_inputs") if isinstance(inputs, dict) else None
    if not items:
        return []
    if not isinstance(items, list):
        raise SourceError(f"{where}: expected a list")
    rows: dict[tuple, dict] = {}
    for item in items:
        dataset = item.get("dataset") if isinstance(item, dict) else None
        if not isinstance(dataset, dict):
            raise SourceError(f"{where}: an input without a dataset object")
        row = {
            "run_id": run_id,
            "dataset_name": str(need(dataset, "name", where)),
            "dataset_digest": str(need(dataset, "digest", where)),
            "dataset_source_type": dataset.get("source_type") or None,
            "dataset_source": dataset.get("source") or None,
            "context": kv(item.get("tags")).get(CONTEXT_TAG) or "",
        }
        rows[(row["dataset_name"], row["dataset_digest"], row["context"])] = row
    return [rows[k] for k in sorted(rows)]


def version_links(logged_models: list[dict]) -> dict[tuple[str, str], str]:
    """{(registered model, version): model_id} from each logged model's ``mlflow.modelVersions``
    tag (what ``mlflow.register_model`` writes); an unreadable tag links nothing."""
    links: dict[tuple[str, str], str] = {}
    for model in logged_models:
        info = model.get("info") if isinstance(model.get("info"), dict) else model
        text = kv(info.get("tags")).get(VERSIONS_TAG)
        try:
            listed = json.loads(text) if text else []
        except ValueError:
            continue
        for entry in listed if isinstance(listed, list) else []:
            if isinstance(entry, dict) and entry.get("name") and entry.get("version"):
                links[(str(entry["name"]), str(entry["version"]))] = str(info.get("model_id"))
    return links


def model_id_of(version: dict, links: dict[tuple[str, str], str]) -> str | None:
    """The logged model a version was made from: the version's ``model_id`` where the server
    sends one, else a ``models:/m-...`` source, else the logged model's tag naming it."""
    if version.get("model_id"):
        return str(version["model_id"])
    match = _LOGGED_MODEL_URI.match(str(version.get("source") or ""))
    if match:
        return match.group(1)
    return links.get((str(version.get("name")), str(version.get("version"))))


def run_path(source: str | None, artifact_uri: str | None) -> str | None:
    """The path of ``source`` inside a run's artifacts (``runs:/<id>/<path>``, or a URI under
    the run's ``artifact_uri``); None when it is elsewhere."""
    if not source:
        return None
    if source.startswith("runs:/"):
        parts = source[len("runs:/") :].split("/", 1)
        return parts[1].strip("/") if len(parts) > 1 else ""
    if artifact_uri:
        root = artifact_uri.rstrip("/") + "/"
        if source.startswith(root):
            return source[len(root) :].strip("/")
    return None


def source_run(source: str | None) -> str | None:
    """The run a ``runs:/<id>/...`` source names."""
    if source and source.startswith("runs:/"):
        return source[len("runs:/") :].split("/", 1)[0] or None
    return None
