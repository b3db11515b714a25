"""The sqlite database ``mlflow server --backend-store-uri sqlite:///mlflow.db`` writes, read
offline as an :class:`MlflowBackend` — no server, no mlflow import, never a write.

Every method returns the dicts the tracking REST API returns for the same objects (protobuf JSON
as ``mlflow server`` renders it: unset fields left out, int64 as numbers, NaN as ``"NaN"``,
enum values by name), in the server's order, so the ``mlflow`` source cannot tell the two
backends apart. The table and column names are MLflow's sqlalchemy models
(``mlflow/store/tracking/dbmodels/models.py``, ``mlflow/store/model_registry/dbmodels/models.py``);
the JSON rules are the entities' ``to_proto`` (MLflow 3.x).

The file is opened with sqlite's read-only URI mode (``file:...?mode=ro``). Each page of runs is
read inside one short read transaction (a consistent snapshot of a run and its params, tags and
metrics) that ends before the page is handed out, so a live server is never blocked for long.
"""

from __future__ import annotations

import logging
import math
import sqlite3
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from mlreport.sources import SourceError

log = logging.getLogger("mlreport.mlflow")

SQLITE_MAGIC = b"SQLite format 3\x00"
RUN_PAGE = 1_000  # runs per read transaction
IN_CHUNK = 500  # ids per IN (...) list, well below sqlite's bound-parameter limit
DEFAULT_WORKSPACE = "default"  # the registry a single-tenant server serves
DELETED_VERSION = "Deleted_Internal"  # MLflow's soft-deleted model versions
LOGGED_MODEL_STATUS = {  # logged_models.status (int) -> the proto enum's name
    0: "LOGGED_MODEL_STATUS_UNSPECIFIED",
    1: "LOGGED_MODEL_PENDING",
    2: "LOGGED_MODEL_READY",
    3: "LOGGED_MODEL_UPLOAD_FAILED",
}
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


# -- protobuf JSON, as the server renders it ---------------------------------------------------


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


def _set(out: dict, key: str, value: Any, *, truthy: bool = False) -> None:
    """Set a proto2 optional field: unset (None, or falsy where MLflow tests truthiness) is
    left out of the JSON, exactly as the server leaves it out."""
    if value is None or (truthy and not value):
        return
    out[key] = value


def _key_values(rows: Iterable[tuple[Any, Any]]) -> list[dict]:
    """``[{key, value}]``; a NULL value is an unset field."""
    out = []
    for key, value in rows:
        item = {"key": key}
        _set(item, "value", value)
        out.append(item)
    return out


def _metric(key: str, value: Any, timestamp: Any, step: Any, is_nan: Any) -> dict:
    return {"key": key, "value": _double(value, is_nan), "timestamp": timestamp, "step": step}


def _chunks(items: Sequence[Any], size: int = IN_CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _marks(items: Sequence[Any]) -> str:
    return ",".join("?" * len(items))


# -- opening and checking the file -------------------------------------------------------------


def _check_file(path: Path) -> None:
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


class SqliteBackend:
    """Reads one MLflow sqlite database, read-only; ``requests`` stays 0 (no HTTP)."""

    requests: int = 0

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        _check_file(self.path)
        uri = f"{self.path.resolve().as_uri()}?mode=ro"
        try:
            self._con = sqlite3.connect(uri, uri=True, timeout=30.0, isolation_level=None)
        except sqlite3.Error as exc:
            raise SourceError(f"MLflow store {self.path}: cannot open read-only: {exc}") from None
        self._columns = self._read_columns()
        self._check_schema()
        self._registry = all(t in self._columns for t in REGISTRY_COLUMNS)
        self._inputs = all(t in self._columns for t in INPUT_COLUMNS)
        self._logged_models = all(t in self._columns for t in LOGGED_MODEL_COLUMNS)
        self._output_step = "step" in self._columns.get("inputs", set())
        self._history_index = self._pick_history_index()

    def close(self) -> None:
        self._con.close()

    def __enter__(self) -> SqliteBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- schema -------------------------------------------------------------------------------

    def _read_columns(self) -> dict[str, set[str]]:
        tables = [r[0] for r in self._all("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {t: {r[1] for r in self._all(f"PRAGMA table_info('{t}')")} for t in tables}

    def _pick_history_index(self) -> str:
        """Without statistics sqlite reads a history through the primary key, which starts with
        the metric key: every run's points of that key, per call. MLflow's per-run indexes
        find one run's points directly."""
        indexes = {r[0] for r in self._all("SELECT name FROM sqlite_master WHERE type = 'index'")}
        for name in ("index_metrics_run_uuid_key_step", "index_metrics_run_uuid"):
            if name in indexes:
                return f"INDEXED BY {name}"
        return ""

    def alembic_version(self) -> str | None:
        """The schema revision MLflow's migrations recorded (None if there is none)."""
        if "alembic_version" not in self._columns:
            return None
        row = self._all("SELECT version_num FROM alembic_version")
        return ", ".join(str(r[0]) for r in row) or None

    def _check_schema(self) -> None:
        if not any(t in self._columns for t in TRACKING_COLUMNS):
            found = ", ".join(sorted(self._columns)[:8]) or "no tables at all"
            raise SourceError(
                f"MLflow store {self.path}: a sqlite database without MLflow's tables "
                f"(experiments, runs, ...; found {found}); {HINT}"
            )
        wanted = dict(TRACKING_COLUMNS)
        for optional in (REGISTRY_COLUMNS, INPUT_COLUMNS, LOGGED_MODEL_COLUMNS):
            if any(t in self._columns for t in optional):
                wanted.update(optional)
        problems = []
        for table, columns in wanted.items():
            have = self._columns.get(table)
            if have is None:
                problems.append(f"table {table} is missing")
            elif missing := [c for c in columns if c not in have]:
                problems.append(f"table {table} lacks {', '.join(missing)}")
        if problems:
            version = self.alembic_version() or "none recorded"
            raise SourceError(
                f"MLflow store {self.path}: unknown schema (alembic version {version}): "
                f"{'; '.join(problems)}. Upgrade it with `mlflow db upgrade sqlite:///"
                f"{self.path}` using MLflow 3.x, or sync through the server (tracking_uri)."
            )

    # -- sqlite access ------------------------------------------------------------------------

    def _all(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        try:
            return self._con.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise SourceError(f"MLflow store {self.path}: cannot read: {exc}") from None

    @contextmanager
    def _snapshot(self) -> Iterator[None]:
        """One read transaction: the queries inside see one state of the database."""
        self._all("BEGIN")
        try:
            yield
        except BaseException:
            with suppress(sqlite3.Error):  # ending a read can lose nothing; keep the cause
                self._con.execute("ROLLBACK")
            raise
        self._all("COMMIT")

    def _workspace(self, table: str, alias: str = "") -> str:
        """The single-tenant server serves the default workspace of the registry only."""
        if "workspace" not in self._columns.get(table, set()):
            return ""
        return f" AND {alias}workspace = '{DEFAULT_WORKSPACE}'"

    # -- tracking -----------------------------------------------------------------------------

    def experiments(self) -> Iterator[dict]:
        """All experiments, deleted ones too, newest first (the server's default order)."""
        workspace = ", workspace" if "workspace" in self._columns["experiments"] else ", NULL"
        with self._snapshot():
            rows = self._all(
                "SELECT experiment_id, name, artifact_location, lifecycle_stage, creation_time, "
                f"last_update_time{workspace} FROM experiments "
                "ORDER BY creation_time DESC, experiment_id ASC"
            )
            tags: dict[Any, list] = defaultdict(list)
            for exp_id, key, value in self._all(
                "SELECT experiment_id, key, value FROM experiment_tags ORDER BY rowid"
            ):
                tags[exp_id].append((key, value))
        for exp_id, name, location, stage, created, updated, space in rows:
            out: dict[str, Any] = {"experiment_id": str(exp_id), "name": name}
            _set(out, "artifact_location", location)
            _set(out, "lifecycle_stage", stage)
            _set(out, "creation_time", created, truthy=True)
            _set(out, "last_update_time", updated, truthy=True)
            _set(out, "tags", _key_values(tags.get(exp_id, [])), truthy=True)
            _set(out, "workspace", space)
            yield out

    def runs(self, experiment_ids: list[str]) -> Iterator[dict]:
        """Runs of ``experiment_ids`` in every lifecycle stage, by start time then run id."""
        ids = [self._experiment_id(e) for e in experiment_ids]
        if not ids:
            return
        after: tuple[int, str] | None = None
        while True:
            with self._snapshot():
                page = self._run_page(ids, after)
                runs = self._assemble_runs(page)
            yield from runs
            if len(page) < RUN_PAGE:
                return
            last = page[-1]
            after = (_start_key(last[5]), last[0])

    def _experiment_id(self, value: str) -> int:
        try:
            return int(value)
        except (TypeError, ValueError):
            raise SourceError(
                f"MLflow store {self.path}: experiment id {value!r} is not a number"
            ) from None

    def _run_page(self, experiment_ids: list[int], after: tuple[int, str] | None) -> list[tuple]:
        """One keyset page; NULL start times sort first, as sqlite sorts them."""
        where = f"experiment_id IN ({_marks(experiment_ids)})"
        params: list[Any] = list(experiment_ids)
        if after is not None:
            where += " AND (COALESCE(start_time, ?), run_uuid) > (?, ?)"
            params += [_NULL_START, *after]
        return self._all(
            "SELECT run_uuid, name, experiment_id, user_id, status, start_time, end_time, "
            f"artifact_uri, lifecycle_stage FROM runs WHERE {where} "
            f"ORDER BY COALESCE(start_time, {_NULL_START}), run_uuid LIMIT {RUN_PAGE}",
            params,
        )

    def _assemble_runs(self, page: list[tuple]) -> list[dict]:
        run_ids = [r[0] for r in page]
        params = self._per_run("SELECT run_uuid, key, value FROM params", run_ids)
        tags = self._per_run("SELECT run_uuid, key, value FROM tags", run_ids)
        metrics = self._per_run(
            "SELECT run_uuid, key, value, timestamp, step, is_nan FROM latest_metrics", run_ids
        )
        inputs = self._dataset_inputs(run_ids) if self._inputs else {}
        outputs = self._model_outputs(run_ids) if self._inputs else {}
        out = []
        for run_id, name, exp_id, user, status, start, end, artifacts, stage in page:
            run_tags = tags.get(run_id, [])
            if not name:  # MLflow falls back to the mlflow.runName tag
                name = next((v for k, v in run_tags if k == "mlflow.runName" and v), name)
            info: dict[str, Any] = {"run_uuid": run_id, "run_id": run_id}
            _set(info, "run_name", name)
            info["experiment_id"] = str(exp_id)
            _set(info, "user_id", user)
            _set(info, "status", status)
            _set(info, "start_time", start)
            _set(info, "end_time", end, truthy=True)
            _set(info, "artifact_uri", artifacts, truthy=True)
            _set(info, "lifecycle_stage", stage)
            data: dict[str, Any] = {}
            _set(data, "metrics", [_metric(*m) for m in metrics.get(run_id, [])], truthy=True)
            _set(data, "params", _key_values(params.get(run_id, [])), truthy=True)
            _set(data, "tags", _key_values(run_tags), truthy=True)
            run_inputs: dict[str, Any] = {}
            _set(run_inputs, "dataset_inputs", inputs.get(run_id), truthy=True)
            run_outputs: dict[str, Any] = {}
            _set(run_outputs, "model_outputs", outputs.get(run_id), truthy=True)
            out.append({"info": info, "data": data, "inputs": run_inputs, "outputs": run_outputs})
        return out

    def _per_run(self, select: str, run_ids: list[str]) -> dict[str, list[tuple]]:
        """Rows of a per-run table grouped by run, in the order they were written."""
        grouped: dict[str, list[tuple]] = defaultdict(list)
        for chunk in _chunks(run_ids):
            for row in self._all(
                f"{select} WHERE run_uuid IN ({_marks(chunk)}) ORDER BY run_uuid, rowid", chunk
            ):
                grouped[row[0]].append(row[1:])
        return grouped

    def _dataset_inputs(self, run_ids: list[str]) -> dict[str, list[dict]]:
        """``inputs.dataset_inputs`` per run: each dataset once, with its input tags."""
        found: dict[str, dict[str, dict]] = defaultdict(dict)
        for chunk in _chunks(run_ids):
            rows = self._all(
                "SELECT i.destination_id, d.dataset_uuid, d.name, d.digest, "
                "d.dataset_source_type, d.dataset_source, d.dataset_schema, d.dataset_profile, "
                "t.name, t.value FROM inputs i "
                "JOIN datasets d ON i.source_id = d.dataset_uuid "
                "LEFT JOIN input_tags t ON t.input_uuid = i.input_uuid "
                f"WHERE i.destination_type = 'RUN' AND i.destination_id IN ({_marks(chunk)}) "
                "ORDER BY i.destination_id, i.rowid, t.name",
                chunk,
            )
            for run_id, uuid, name, digest, kind, source, schema, profile, tag, value in rows:
                item = found[run_id].get(uuid)
                if item is None:
                    dataset = {"name": name, "digest": digest, "source_type": kind}
                    dataset["source"] = source
                    _set(dataset, "schema", schema, truthy=True)
                    _set(dataset, "profile", profile, truthy=True)
                    item = found[run_id][uuid] = {"tags": [], "dataset": dataset}
                if tag is not None:
                    item["tags"].append({"key": tag, "value": value})
        return {
            run_id: [{k: v for k, v in item.items() if v != []} for item in items.values()]
            for run_id, items in found.items()
        }

    def _model_outputs(self, run_ids: list[str]) -> dict[str, list[dict]]:
        """``outputs.model_outputs`` per run (MLflow 3 logged models a run produced)."""
        step = "step" if self._output_step else "0"
        found: dict[str, list[dict]] = defaultdict(list)
        for chunk in _chunks(run_ids):
            for run_id, model_id, at in self._all(
                f"SELECT source_id, destination_id, {step} FROM inputs "
                "WHERE source_type = 'RUN_OUTPUT' AND destination_type = 'MODEL_OUTPUT' "
                f"AND source_id IN ({_marks(chunk)}) ORDER BY source_id, rowid",
                chunk,
            ):
                found[run_id].append({"model_id": model_id, "step": at})
        return found

    def metric_history(self, run_id: str, key: str) -> Iterator[dict]:
        """Every point of one metric, ordered as the server orders them (timestamp, step,
        value — NaN points are stored as value 0 with ``is_nan`` set)."""
        rows = self._all(
            f"SELECT key, value, timestamp, step, is_nan FROM metrics {self._history_index} "
            "WHERE run_uuid = ? AND key = ? ORDER BY timestamp, step, value, is_nan",
            (run_id, key),
        )
        for row in rows:
            yield _metric(*row)

    def metric_history_bulk(self, run_ids: list[str], key: str) -> Iterator[tuple[str, dict]]:
        """(run_id, point) for one key over many runs, by run id then the history order."""
        wanted = sorted(set(run_ids))
        for chunk in _chunks(wanted):
            rows = self._all(
                "SELECT run_uuid, key, value, timestamp, step, is_nan "
                f"FROM metrics {self._history_index} "
                f"WHERE key = ? AND run_uuid IN ({_marks(chunk)}) "
                "ORDER BY run_uuid, timestamp, step, value, is_nan",
                [key, *chunk],
            )
            for run_id, *point in rows:
                yield run_id, _metric(*point)

    # -- registry -----------------------------------------------------------------------------

    def registered_models(self) -> Iterator[dict]:
        """Registered models by name, with tags, aliases and latest version per stage."""
        if not self._registry:
            return
        with self._snapshot():
            models = self._all(
                "SELECT name, creation_time, last_updated_time, description "
                f"FROM registered_models WHERE 1 = 1{self._workspace('registered_models')} "
                "ORDER BY name"
            )
            tags = self._grouped(
                "SELECT name, key, value FROM registered_model_tags WHERE 1 = 1"
                f"{self._workspace('registered_model_tags')} ORDER BY name, rowid"
            )
            aliases = self._grouped(
                "SELECT name, alias, version FROM registered_model_aliases WHERE 1 = 1"
                f"{self._workspace('registered_model_aliases')} ORDER BY name, alias"
            )
            latest = self._latest_versions()
        for name, created, updated, description in models:
            out: dict[str, Any] = {"name": name}
            _set(out, "creation_timestamp", created)
            _set(out, "last_updated_timestamp", updated, truthy=True)
            _set(out, "description", description, truthy=True)
            _set(out, "latest_versions", latest.get(name), truthy=True)
            _set(out, "tags", _key_values(tags.get(name, [])), truthy=True)
            alias_list = [{"alias": a, "version": str(v)} for a, v in aliases.get(name, [])]
            _set(out, "aliases", alias_list, truthy=True)
            yield out

    def model_versions(self, name: str) -> Iterator[dict]:
        """The versions of one model, soft-deleted ones left out, most recently updated first
        (``model-versions/search``, which lists no aliases: they are on the registered model)."""
        if not self._registry:
            return
        with self._snapshot():
            versions = self._versions(
                "name = ?", [name], "last_updated_time DESC, name ASC, version DESC"
            )
        yield from versions

    def _latest_versions(self) -> dict[str, list[dict]]:
        """Per model, the highest version in each stage (MLflow's ``latest_versions``)."""
        out: dict[str, list[dict]] = defaultdict(list)
        for version in self._versions(
            "version = (SELECT MAX(o.version) FROM model_versions o WHERE o.name = mv.name "
            f"AND o.current_stage IS mv.current_stage AND o.current_stage != ?"
            f"{self._workspace('model_versions', 'o.')})",
            [DELETED_VERSION],
            "name, current_stage",
        ):
            out[version["name"]].append(version)
        return out

    def _versions(self, where: str, params: list[Any], order: str) -> list[dict]:
        space = self._workspace("model_versions", "mv.")
        rows = self._all(
            "SELECT name, version, creation_time, last_updated_time, description, user_id, "
            "current_stage, source, run_id, run_link, status, status_message "
            f"FROM model_versions mv WHERE {where} AND current_stage != ?{space} "
            f"ORDER BY {order}",
            [*params, DELETED_VERSION],
        )
        names = sorted({r[0] for r in rows})
        tags: dict[tuple, list] = defaultdict(list)
        for chunk in _chunks(names):
            for name, version, key, value in self._all(
                "SELECT name, version, key, value FROM model_version_tags "
                f"WHERE name IN ({_marks(chunk)}){self._workspace('model_version_tags')} "
                "ORDER BY rowid",
                chunk,
            ):
                tags[(name, version)].append((key, value))
        return [_version(row, tags.get((row[0], row[1]), [])) for row in rows]

    def _grouped(self, sql: str) -> dict[str, list[tuple]]:
        grouped: dict[str, list[tuple]] = defaultdict(list)
        for name, *rest in self._all(sql):
            grouped[name].append(tuple(rest))
        return grouped

    # -- logged models (MLflow 3) -------------------------------------------------------------

    def logged_models(self, experiment_ids: list[str] | None = None) -> Iterator[dict]:
        """Logged models that are not deleted, newest first; nothing from a pre-3.0 store."""
        if not self._logged_models:
            return
        where, params = "lifecycle_stage != 'deleted'", []
        if experiment_ids is not None:
            ids = [self._experiment_id(e) for e in experiment_ids]
            if not ids:
                return
            where += f" AND experiment_id IN ({_marks(ids)})"
            params = ids
        with self._snapshot():
            rows = self._all(
                "SELECT model_id, experiment_id, name, artifact_location, creation_timestamp_ms, "
                "last_updated_timestamp_ms, status, model_type, source_run_id, status_message "
                f"FROM logged_models WHERE {where} "
                "ORDER BY creation_timestamp_ms DESC, model_id ASC",
                params,
            )
            tags = self._grouped(
                "SELECT model_id, tag_key, tag_value FROM logged_model_tags ORDER BY rowid"
            )
            values = self._grouped(
                "SELECT model_id, param_key, param_value FROM logged_model_params ORDER BY rowid"
            )
            metrics = self._grouped(
                "SELECT model_id, metric_name, metric_value, metric_timestamp_ms, metric_step, "
                "run_id, dataset_name, dataset_digest FROM logged_model_metrics ORDER BY rowid"
            )
        for row in rows:
            model_id = row[0]
            yield _logged_model(
                row, tags.get(model_id, []), values.get(model_id, []), metrics.get(model_id, [])
            )


_NULL_START = -(2**63)  # sorts a NULL start_time first, where sqlite puts NULLs


def _start_key(start: Any) -> int:
    return _NULL_START if start is None else int(start)


def _version(row: tuple, tags: list[tuple]) -> dict:
    """A ``ModelVersion`` as the server renders it (``ModelVersion.to_proto``)."""
    name, version, created, updated, description, user, stage, source, run_id = row[:9]
    run_link, status, status_message = row[9:]
    out: dict[str, Any] = {"name": name, "version": str(version)}
    _set(out, "creation_timestamp", created)
    _set(out, "last_updated_timestamp", updated)
    _set(out, "description", description)
    _set(out, "user_id", user)
    _set(out, "current_stage", stage)
    _set(out, "source", source)
    _set(out, "run_id", run_id)
    _set(out, "run_link", run_link)
    _set(out, "status", status)
    _set(out, "status_message", status_message, truthy=True)
    _set(out, "tags", _key_values(tags), truthy=True)
    return out


def _logged_model(row: tuple, tags: list, params: list, metrics: list) -> dict:
    """A ``LoggedModel`` as ``logged-models/search`` renders it."""
    model_id, exp_id, name, location, created, updated, status, kind, run_id, message = row
    info: dict[str, Any] = {"model_id": model_id, "experiment_id": str(exp_id)}
    _set(info, "name", name)
    _set(info, "creation_timestamp_ms", created)
    _set(info, "last_updated_timestamp_ms", updated)
    _set(info, "artifact_uri", location)
    _set(info, "status", LOGGED_MODEL_STATUS.get(status, status))
    _set(info, "model_type", kind)
    _set(info, "source_run_id", run_id)
    _set(info, "status_message", message)
    _set(info, "tags", [{"key": k, "value": v} for k, v in tags], truthy=True)
    data: dict[str, Any] = {}
    _set(data, "params", [{"key": k, "value": v} for k, v in params], truthy=True)
    points = []
    for key, value, timestamp, step, metric_run, dataset, digest in metrics:
        point: dict[str, Any] = {"key": key}
        _set(point, "value", _double(value))
        point.update(timestamp=timestamp, step=step)
        _set(point, "model_id", model_id)
        _set(point, "dataset_name", dataset, truthy=True)
        _set(point, "dataset_digest", digest, truthy=True)
        _set(point, "run_id", metric_run, truthy=True)
        points.append(point)
    _set(data, "metrics", points, truthy=True)
    return {"info": info, "data": data}
