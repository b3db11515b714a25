"""Which sqlite files the offline MLflow reader accepts: an MLflow database whose tables have
the columns it reads (MLflow's sqlalchemy models, ``mlflow/store/tracking/dbmodels/models.py``,
``mlflow/store/model_registry/dbmodels/models.py``). Anything else fails early, naming the file
and what to do, instead of with sqlite's own riddle."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from mlreport.sources import SourceError

SQLITE_MAGIC = b"SQLite format 3\x00"
HINT = "point `store` at the sqlite file `mlflow server --backend-store-uri sqlite:///...` writes"

# The columns read from each table. A database missing one of these is a schema this reader
# does not know (its alembic revision is named in the error).
TRACKING_COLUMNS: dict[str, tuple[str, ...]] = {
    "experiments": (
        "experiment_id", "name", "artifact_location", "lifecycle_stage", "creation_time",
        "last_update_time",
    ),
    "experiment_tags": ("experiment_id", "key", "value"),
    "runs": (
        "run_uuid", "name", "experiment_id", "user_id", "status", "start_time", "end_time",
        "lifecycle_stage", "artifact_uri",
    ),
    "params": ("run_uuid", "key", "value"),
    "tags": ("run_uuid", "key", "value"),
    "metrics": ("run_uuid", "key", "value", "timestamp", "step", "is_nan"),
    "latest_metrics": ("run_uuid", "key", "value", "timestamp", "step", "is_nan"),
}  # fmt: skip
REGISTRY_COLUMNS: dict[str, tuple[str, ...]] = {
    "registered_models": ("name", "creation_time", "last_updated_time", "description"),
    "registered_model_tags": ("name", "key", "value"),
    "registered_model_aliases": ("name", "alias", "version"),
    "model_versions": (
        "name", "version", "creation_time", "last_updated_time", "description", "user_id",
        "current_stage", "source", "run_id", "run_link", "status", "status_message",
    ),
    "model_version_tags": ("name", "version", "key", "value"),
}  # fmt: skip
INPUT_COLUMNS: dict[str, tuple[str, ...]] = {
    "datasets": (
        "dataset_uuid", "name", "digest", "dataset_source_type", "dataset_source",
        "dataset_schema", "dataset_profile",
    ),
    "inputs": ("input_uuid", "source_type", "source_id", "destination_type", "destination_id"),
    "input_tags": ("input_uuid", "name", "value"),
}  # fmt: skip
LOGGED_MODEL_COLUMNS: dict[str, tuple[str, ...]] = {
    "logged_models": (
        "model_id", "experiment_id", "name", "artifact_location", "creation_timestamp_ms",
        "last_updated_timestamp_ms", "status", "lifecycle_stage", "model_type", "source_run_id",
        "status_message",
    ),
    "logged_model_tags": ("model_id", "tag_key", "tag_value"),
    "logged_model_params": ("model_id", "param_key", "param_value"),
    "logged_model_metrics": (
        "model_id", "metric_name", "metric_timestamp_ms", "metric_step", "metric_value",
        "run_id", "dataset_name", "dataset_digest",
    ),
}  # fmt: skip


def check_file(path: Path) -> None:
    """Fail early, naming the file, for what sqlite would report as a riddle."""
    if not path.exists():
        raise SourceError(f"MLflow store {path}: file not found; {HINT}")
    if path.is_dir():
        raise SourceError(
            f"MLflow store {path}: is a directory; the offline reader needs the sqlite "
            f"database file (the mlruns file layout is not supported); {HINT}"
        )
    with path.open("rb") as fh:
        head = fh.read(len(SQLITE_MAGIC))
    if not head:
        raise SourceError(f"MLflow store {path}: the file is empty, not an MLflow database; {HINT}")
    if head != SQLITE_MAGIC:
        raise SourceError(f"MLflow store {path}: not a sqlite database; {HINT}")


def check_schema(
    path: Path, tables: dict[str, set[str]], alembic_version: Callable[[], str | None]
) -> None:
    """Raise unless ``tables`` ({table: its columns}) hold every column read: the tracking
    tables always, the registry, dataset-input and logged-model tables when any of theirs
    is there. ``alembic_version`` is asked only to name an unknown schema."""
    if not any(t in tables for t in TRACKING_COLUMNS):
        found = ", ".join(sorted(tables)[:8]) or "no tables at all"
        raise SourceError(
            f"MLflow store {path}: a sqlite database without MLflow's tables "
            f"(experiments, runs, ...; found {found}); {HINT}"
        )
    wanted = dict(TRACKING_COLUMNS)
    for optional in (REGISTRY_COLUMNS, INPUT_COLUMNS, LOGGED_MODEL_COLUMNS):
        if any(t in tables for t in optional):
            wanted.update(optional)
    problems = []
    for table, columns in wanted.items():
        have = tables.get(table)
        if have is None:
            problems.append(f"table {table} is missing")
        elif missing := [c for c in columns if c not in have]:
            problems.append(f"table {table} lacks {', '.join(missing)}")
    if problems:
        version = alembic_version() or "none recorded"
        raise SourceError(
            f"MLflow store {path}: unknown schema (alembic version {version}): "
            f"{'; '.join(problems)}. Upgrade it with `mlflow db upgrade sqlite:///"
            f"{path}` using MLflow 3.x, or sync through the server (tracking_uri)."
        )
