"""The sqlite database ``mlflow server --backend-store-uri sqlite:///mlflow.db`` writes, read
offline as an :class:`~mlreport.connectors.mlflow.backend.MlflowBackend` — no server, no mlflow
import, never a write.

Every method returns the dicts the tracking REST API returns for the same objects (built in
``sqlite_json``), in the server's order, so the ``mlflow`` source cannot tell the two backends
apart. Which files and schemas are accepted is ``sqlite_schema``.

The file is opened with sqlite's read-only URI mode (``file:...?mode=ro``). Each page of runs is
read inside one short read transaction (a consistent snapshot of a run and its params, tags and
metrics) that ends before the page is handed out, so a live server is never blocked for long.
"""

from __future__ import annotations

import logging
import sqlite3
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from mlreport.connectors.mlflow.artifacts import local_present
from mlreport.connectors.mlflow.lineage import run_path, source_run
from mlreport.connectors.mlflow.sqlite_json import (
    key_values,
    logged_model,
    metric,
    model_version,
    set_field,
)
from mlreport.connectors.mlflow.sqlite_schema import (
    INPUT_COLUMNS,
    LOGGED_MODEL_COLUMNS,
    REGISTRY_COLUMNS,
    check_file,
    check_schema,
)
from mlreport.sources import SourceError

log = logging.getLogger("mlreport.mlflow")

RUN_PAGE = 1_000  # runs per read transaction
IN_CHUNK = 500  # ids per IN (...) list, well below sqlite's bound-parameter limit
DEFAULT_WORKSPACE = "default"  # the registry a single-tenant server serves
DELETED_VERSION = "Deleted_Internal"  # MLflow's soft-deleted model versions


def _chunks(items: Sequence[Any], size: int = IN_CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _marks(items: Sequence[Any]) -> str:
    return ",".join("?" * len(items))


class SqliteBackend:
    """Reads one MLflow sqlite database, read-only; ``requests`` stays 0 (no HTTP)."""

    requests: int = 0

    def __init__(self, path: str | Path, artifacts_destination: Path | None = None) -> None:
        self.path = Path(path)
        self.artifacts_destination = artifacts_destination
        check_file(self.path)
        uri = f"{self.path.resolve().as_uri()}?mode=ro"
        try:
            self._con = sqlite3.connect(uri, uri=True, timeout=30.0, isolation_level=None)
        except sqlite3.Error as exc:
            raise SourceError(f"MLflow store {self.path}: cannot open read-only: {exc}") from None
        self._columns = self._read_columns()
        check_schema(self.path, self._columns, self.alembic_version)
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
            set_field(out, "artifact_location", location)
            set_field(out, "lifecycle_stage", stage)
            set_field(out, "creation_time", created, truthy=True)
            set_field(out, "last_update_time", updated, truthy=True)
            set_field(out, "tags", key_values(tags.get(exp_id, [])), truthy=True)
            set_field(out, "workspace", space)
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
            set_field(info, "run_name", name)
            info["experiment_id"] = str(exp_id)
            set_field(info, "user_id", user)
            set_field(info, "status", status)
            set_field(info, "start_time", start)
            set_field(info, "end_time", end, truthy=True)
            set_field(info, "artifact_uri", artifacts, truthy=True)
            set_field(info, "lifecycle_stage", stage)
            data: dict[str, Any] = {}
            set_field(data, "metrics", [metric(*m) for m in metrics.get(run_id, [])], truthy=True)
            set_field(data, "params", key_values(params.get(run_id, [])), truthy=True)
            set_field(data, "tags", key_values(run_tags), truthy=True)
            run_inputs: dict[str, Any] = {}
            set_field(run_inputs, "dataset_inputs", inputs.get(run_id), truthy=True)
            run_outputs: dict[str, Any] = {}
            set_field(run_outputs, "model_outputs", outputs.get(run_id), truthy=True)
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
                    set_field(dataset, "schema", schema, truthy=True)
                    set_field(dataset, "profile", profile, truthy=True)
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
            yield metric(*row)

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
                yield run_id, metric(*point)

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
            set_field(out, "creation_timestamp", created)
            set_field(out, "last_updated_timestamp", updated, truthy=True)
            set_field(out, "description", description, truthy=True)
            set_field(out, "latest_versions", latest.get(name), truthy=True)
            set_field(out, "tags", key_values(tags.get(name, [])), truthy=True)
            alias_list = [{"alias": a, "version": str(v)} for a, v in aliases.get(name, [])]
            set_field(out, "aliases", alias_list, truthy=True)
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
        return [model_version(row, tags.get((row[0], row[1]), [])) for row in rows]

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
            yield logged_model(
                row, tags.get(model_id, []), values.get(model_id, []), metrics.get(model_id, [])
            )

    # -- artifacts ----------------------------------------------------------------------------

    def artifacts_present(
        self,
        source: str | None,
        run_id: str | None,
        model_id: str | None,
        artifact_uri: str | None = None,
    ) -> bool | None:
        """Whether a version's artifacts can be listed on this machine (``artifacts``): its
        logged model's location, its run's artifacts, or the source itself."""
        proxy = self.artifacts_destination
        if model_id:
            if not self._logged_models:
                return None
            found = self._all(
                "SELECT artifact_location FROM logged_models WHERE model_id = ?", [model_id]
            )
            return local_present(found[0][0], proxy) if found else False
        run_id = source_run(source) or run_id
        if run_id:
            found = self._all("SELECT artifact_uri FROM runs WHERE run_uuid = ?", [run_id])
            if not found:
                return False
            root = artifact_uri or found[0][0]
            path = run_path(source, root)
            if path is not None and root:
                return local_present(f"{root.rstrip('/')}/{path}" if path else root, proxy)
        return local_present(source, proxy)


_NULL_START = -(2**63)  # sorts a NULL start_time first, where sqlite puts NULLs


def _start_key(start: Any) -> int:
    return _NULL_START if start is None else int(start)
