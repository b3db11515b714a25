"""The ``mlflow`` source: its streams, and what each sync reads and writes.

It talks only to an :class:`~mlreport.connectors.mlflow.backend.MlflowBackend` (see
``backend``) and never imports mlflow. Rows are built in ``rows``, registry changes found in
``registry_history``, and rows written before read back in ``stored``.

Incremental strategy (docs/sources-mlflow.md has the long form). Every sync lists experiments,
runs, registered models and their versions (a few large pages), and compares each item with a
short digest kept in the stream's cursor; only items whose digest changed are written:

- a run's row digest covers status, end time, lifecycle stage, name, params and tags, so a run
  that finishes, is renamed, re-tagged or deleted is re-written;
- a run's metric digest covers its latest (step, timestamp, value) per key; when it changes the
  run's full history is re-read (upserts on (run, key, step, ts) make that idempotent);
- runs, experiments and versions that vanish from the listing (purged) are marked deleted;
- the registry is diffed against the last snapshot (aliases, tags, version timestamps) to write
  ``model_events`` and, for the configured aliases, ``deployments``;
- lineage (``lineage_streams``): the datasets runs read (``run_inputs``, a digest per run), MLflow 3
  logged models (``logged_models``), and per version its logged model and, for versions that
  ever held a production alias, whether its artifacts can still be listed.
"""

from __future__ import annotations

import fnmatch
import json
import logging
import time
from collections.abc import Iterator
from typing import Any

import polars as pl

from mlreport.config import Config
from mlreport.connectors.mlflow.backend import open_backend
from mlreport.connectors.mlflow.cursor import (
    CHECKPOINT_SECONDS,
    CURSOR_VERSION,
    Pacer,
    digest,
    read_cursor,
)
from mlreport.connectors.mlflow.history import read_histories
from mlreport.connectors.mlflow.lineage import run_input_rows
from mlreport.connectors.mlflow.lineage_streams import LineageStreams
from mlreport.connectors.mlflow.options import MlflowOptions
from mlreport.connectors.mlflow.prefetch import HistoryPrefetch
from mlreport.connectors.mlflow.registry_history import (
    alias_moves,
    registry_events,
    snapshot,
)
from mlreport.connectors.mlflow.rows import (
    DEPLOYMENT_SCHEMA,
    EVENT_SCHEMA,
    EXPERIMENT_SCHEMA,
    MODEL_SCHEMA,
    RUN_SCHEMA,
    VERSION_SCHEMA,
    experiment_row,
    latest_metrics,
    model_row,
    need,
    run_row,
    to_frame,
    version_row,
)
from mlreport.connectors.mlflow.stored import (
    deleted_versions,
    stored_deployed,
    stored_rows,
    stored_snapshot,
)
from mlreport.sources import Checkpoint, Rows, Source, Stream

log = logging.getLogger("mlreport.mlflow")

RUN_BATCH = 1_000  # run rows per write: the batch is held in memory, so it stays small
METRIC_RUNS = 1_000  # runs whose history is written per batch of rows


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class MlflowSource(LineageStreams, Source):
    """Runs, metric history and the model registry of one MLflow tracking server or store."""

    Options = MlflowOptions
    entity_kind = "model"

    def __init__(self, name: str, options: MlflowOptions, config: Config) -> None:
        super().__init__(name, options, config)
        self.options: MlflowOptions = options
        self._backend: Any = None
        self._transport: Any = None  # tests: an httpx transport replaying responses
        self._sleep: Any = None
        self._counted = 0
        self._reset()

    def _reset(self) -> None:
        self._drop_prefetch()
        self._prefetch: HistoryPrefetch | None = None
        self._experiments: list[dict] | None = None
        self._all_experiments: set[str] = set()
        self._run_metrics: dict[str, tuple[str, tuple[str, ...]]] | None = None
        self._registry: tuple[list[dict], dict[str, list[dict]], int] | None = None
        self._logged: list[dict] | None = None  # every logged model, listed once per sync
        self._run_inputs: dict[str, list[dict]] | None = None  # run -> its run_inputs rows
        self._artifact_uris: dict[str, str] = {}  # run -> artifact_uri, from the listing

    # -- backend ------------------------------------------------------------------------------

    @property
    def backend(self) -> Any:
        if self._backend is None:
            self._backend = open_backend(
                self.name, self.options, self.config, self._transport, self._sleep
            )
        return self._backend

    def _tally(self) -> None:
        seen = getattr(self._backend, "requests", 0) if self._backend is not None else 0
        if seen > self._counted:
            self.count("requests", seen - self._counted)
            self._counted = seen

    def check(self) -> str:
        try:
            exps = sum(1 for _ in self.backend.experiments())
        finally:
            self.close()
        where = self.options.tracking_uri or str(self.options.store)
        return f"ok: {where} ({exps} experiments)"

    # -- streams ------------------------------------------------------------------------------

    def streams(self) -> list[Stream]:
        # model_events and deployments come before registered_models/model_versions: with no
        # cursor (--full) they take the previous snapshot from those tables as stored.
        streams = [
            Stream("experiments", "experiments", ("source", "experiment_id")),
            Stream("runs", "runs", ("source", "run_id")),
            Stream(
                "run_inputs",
                "run_inputs",
                ("source", "run_id", "dataset_name", "dataset_digest", "context"),
            ),
            Stream("run_metrics", "run_metrics", ("source", "run_id", "key", "step", "ts")),
            Stream("logged_models", "logged_models", ("source", "model_id")),
            Stream(
                "model_events",
                "model_events",
                ("source", "name", "version", "event", "key", "at"),
                "name",
            ),
            Stream("deployments", "deployments", ("source", "deployment_id"), "entity"),
            Stream("registered_models", "registered_models", ("source", "name"), "name"),
            Stream("model_versions", "model_versions", ("source", "name", "version"), "name"),
        ]
        if not self.options.deployments:
            streams = [s for s in streams if s.name != "deployments"]
        return streams

    def read(self, stream: Stream, cursor: Any) -> Iterator[Rows | Checkpoint]:
        if stream.name == "experiments":
            self._reset()  # a new sync: list everything afresh
        reader = getattr(self, f"_read_{stream.name}")
        try:
            yield from reader(read_cursor(cursor, stream.name))
        except BaseException:
            self._tally()
            self.close()
            raise
        self._tally()
        if stream.name == self.streams()[-1].name:
            self.close()

    def close(self) -> None:
        """Release the HTTP connections (or the sqlite file); a later read opens them again."""
        self._drop_prefetch()  # first: its threads use the connections
        if self._backend is not None:
            self._tally()
            closer = getattr(self._backend, "close", None)
            if closer is not None:
                closer()
            self._backend = None
            self._counted = 0

    def _drop_prefetch(self) -> None:
        prefetch = getattr(self, "_prefetch", None)
        if prefetch is not None:
            prefetch.close()
            self._prefetch = None

    # experiments ------------------------------------------------------------------------------

    def _selected_experiments(self) -> list[dict]:
        if self._experiments is None:
            globs = self.options.experiments
            listed = list(self.backend.experiments())
            self._all_experiments = {str(need(e, "experiment_id", "experiments")) for e in listed}
            self._experiments = [
                e
                for e in listed
                if not globs or any(fnmatch.fnmatchcase(e.get("name") or "", g) for g in globs)
            ]
            self._tally()
        return self._experiments

    def _read_experiments(self, cursor: dict) -> Iterator[Rows | Checkpoint]:
        old = cursor.get("digests", {})
        digests, rows = {}, []
        for exp in self._selected_experiments():
            row = experiment_row(exp)
            digests[row["experiment_id"]] = d = digest(row)
            if old.get(row["experiment_id"]) != d:
                rows.append(row)
        # purged since the last sync (not merely left out by the `experiments` globs): keep
        # the row, marked deleted
        gone = sorted(set(old) - set(digests) - self._all_experiments)
        if gone:
            stored = stored_rows(self.warehouse, self.name, "experiments", "experiment_id", gone)
            rows += [dict(r, lifecycle_stage="deleted") for r in stored]
        if rows:
            yield Rows(self._experiment_frame(rows))
        yield Checkpoint({"v": CURSOR_VERSION, "digests": digests})

    def _experiment_frame(self, rows: list[dict]) -> pl.DataFrame:
        return to_frame(rows, EXPERIMENT_SCHEMA, ("created_at", "updated_at"))

    # runs -------------------------------------------------------------------------------------

    def _read_runs(self, cursor: dict, prefetch: bool = True) -> Iterator[Rows | Checkpoint]:
        old = cursor.get("digests", {})
        ahead = self._start_prefetch(cursor) if prefetch else None
        pending: list[str] = []
        ids = [str(e["experiment_id"]) for e in self._selected_experiments()]
        digests = dict(old)
        seen: set[str] = set()
        self._run_metrics = {}
        self._run_inputs = {}
        self._artifact_uris = {}
        key_sets: dict[tuple, tuple] = {}
        batch: list[dict] = []
        pace = Pacer(CHECKPOINT_SECONDS)
        for run in self.backend.runs(ids):
            row = run_row(run)
            run_id = row["run_id"]
            seen.add(run_id)
            if inputs := run_input_rows(run, run_id):
                self._run_inputs[run_id] = inputs
            if uri := (run.get("info") or {}).get("artifact_uri"):
                self._artifact_uris[run_id] = uri
            metrics = latest_metrics(run)
            keys = tuple(m[0] for m in metrics)  # one shared tuple per key set, not per run
            metrics_digest = digest(metrics)
            self._run_metrics[run_id] = (metrics_digest, key_sets.setdefault(keys, keys))
            if ahead is not None and ahead.expected.get(run_id) != metrics_digest:
                pending.append(run_id)
                if len(pending) >= METRIC_RUNS:
                    ahead.add(pending)
                    pending = []
            d = digest(row)
            if old.get(run_id) != d:
                batch.append(row)
                digests[run_id] = d
            if len(batch) >= RUN_BATCH:
                yield Rows(to_frame(batch, RUN_SCHEMA, ("start_time", "end_time")))
                if pace.due():
                    yield Checkpoint({"v": CURSOR_VERSION, "digests": digests})
                batch = []
        if ahead is not None:
            ahead.add(pending)
        self._tally()
        listed = set(ids)
        gone = sorted(r for r in set(old) - seen)
        if gone:
            stored = stored_rows(self.warehouse, self.name, "runs", "run_id", gone)
            # gone from a listed experiment, or with its whole experiment: purged
            purged = listed | {r["experiment_id"] for r in stored} - self._all_experiments
            marked = [
                dict(r, lifecycle_stage="deleted") for r in stored if r["experiment_id"] in purged
            ]
            batch += marked
            for r in marked:
                digests.pop(r["run_id"], None)
        if batch:
            yield Rows(to_frame(batch, RUN_SCHEMA, ("start_time", "end_time")))
        yield Checkpoint({"v": CURSOR_VERSION, "digests": digests})

    # run metrics ------------------------------------------------------------------------------

    def _read_run_metrics(self, cursor: dict) -> Iterator[Rows | Checkpoint]:
        if self._run_metrics is None:  # read alone: list runs for their latest metrics
            for _ in self._read_runs({}, prefetch=False):
                pass
        old = cursor.get("digests", {})
        current = self._run_metrics or {}
        digests = {r: d for r, d in old.items() if r in current}
        changed = [r for r, (d, keys) in sorted(current.items()) if old.get(r) != d]
        pace = Pacer(CHECKPOINT_SECONDS)
        for chunk, frame in self._history_chunks(old, changed, current):
            if frame is not None:
                yield Rows(frame)
            for run_id in chunk:
                digests[run_id] = current[run_id][0]
            self._tally()
            if pace.due():
                yield Checkpoint({"v": CURSOR_VERSION, "digests": digests})
        yield Checkpoint({"v": CURSOR_VERSION, "digests": digests})

    def _start_prefetch(self, runs_cursor: dict) -> HistoryPrefetch | None:
        """Read history while listing runs, where the backend can take concurrent reads.
        The run_metrics stream will start from its stored cursor, or from none when the runs
        stream has none (a first or ``--full`` sync); anything else drops the read-ahead."""
        self._drop_prefetch()
        if not getattr(self.backend, "threadsafe", False) or self.warehouse is None:
            return None
        expected: dict = {}
        if runs_cursor.get("digests"):
            stored = self.warehouse.get_cursor(self.name, "run_metrics")
            expected = read_cursor(stored, "run_metrics").get("digests", {})
        try:
            self._prefetch = HistoryPrefetch(self._history_frame, expected)
        except OSError as exc:  # no writable temp directory: read history afterwards
            log.debug("no history read-ahead: %s", exc)
        return self._prefetch

    def _history_frame(self, chunk: list[str]) -> pl.DataFrame | None:
        for _, frame in self._histories([chunk], self._run_metrics or {}):
            return frame
        return None

    def _history_chunks(
        self, old: dict, changed: list[str], current: dict
    ) -> Iterator[tuple[list[str], pl.DataFrame | None]]:
        """The changed runs in chunks with their points: read ahead while the runs were
        listed if that read-ahead started from ``old``, else read now."""
        ahead, self._prefetch = self._prefetch, None
        if ahead is not None and not ahead.matches(old, changed):
            log.debug("history read ahead from another cursor: reading it again")
            ahead.close()
            ahead = None
        if ahead is None:
            chunks = [changed[i : i + METRIC_RUNS] for i in range(0, len(changed), METRIC_RUNS)]
            yield from self._histories(chunks, current)
            return
        try:
            for chunk, frame in ahead.results():
                self.count("history_chunks_read_ahead")
                yield chunk, frame
        finally:
            ahead.close()

    def _histories(
        self, chunks: list[list[str]], current: dict
    ) -> Iterator[tuple[list[str], pl.DataFrame | None]]:
        return read_histories(self.backend, chunks, current, self.options.concurrency, METRIC_RUNS)

    # registry ---------------------------------------------------------------------------------

    def _registry_now(self) -> tuple[list[dict], dict[str, list[dict]], int]:
        """Registered models and all their versions, read once per sync, with the time read."""
        if self._registry is None:
            now = _now_ms()
            models = list(self.backend.registered_models())
            versions = {}
            for m in models:
                name = need(m, "name", "registered-models/search")
                versions[name] = list(self.backend.model_versions(name))
            self._tally()
            self._registry = (models, versions, now)
        return self._registry

    def _read_model_events(self, cursor: dict) -> Iterator[Rows | Checkpoint]:
        models, versions, now = self._registry_now()
        cur = snapshot(models, versions)
        prev, since = cursor.get("snapshot"), cursor.get("at_ms")
        if prev is None:
            prev, since = stored_snapshot(self.warehouse, self.name)
        events = registry_events(prev, cur, now, since)
        for e in events:
            e["detail"] = json.dumps(e["detail"], sort_keys=True)
        if events:
            yield Rows(to_frame(events, EVENT_SCHEMA, ("at",)))
        yield Checkpoint({"v": CURSOR_VERSION, "snapshot": cur, "at_ms": now})

    def _read_deployments(self, cursor: dict) -> Iterator[Rows | Checkpoint]:
        models, versions, now = self._registry_now()
        cur = snapshot(models, versions)
        for model in cur.values():  # tags are not needed here; keep the cursor small
            for info in model["versions"].values():
                info.pop("tags", None)
        prev, deployed = cursor.get("snapshot"), cursor.get("deployed")
        if prev is None:
            prev, _ = stored_snapshot(self.warehouse, self.name)
            deployed = stored_deployed(self.warehouse, self.name)
        deployed = {m: dict(envs) for m, envs in (deployed or {}).items()}
        rows = self._alias_moves(prev, cur, now, deployed)
        if rows:
            yield Rows(to_frame(rows, DEPLOYMENT_SCHEMA, ("started_at", "finished_at")))
        yield Checkpoint({"v": CURSOR_VERSION, "snapshot": cur, "deployed": deployed})

    def _alias_moves(self, prev: dict | None, cur: dict, now: int, deployed: dict) -> list[dict]:
        """Deployments for moves of the configured aliases, with their commits; the deployment
        a rollback left is marked rolled_back."""
        rows, rolled_back = alias_moves(prev, cur, now, deployed, self.options.aliases)
        self._add_commits(rows, cur)
        rows += self._rolled_back(rolled_back, {r["deployment_id"] for r in rows})
        return rows

    def _add_commits(self, rows: list[dict], cur: dict) -> None:
        """commit_sha: the git commit tag of the version's training run."""
        if not rows:
            return
        models, versions, _ = self._registry_now()
        run_of = {
            (v["name"], str(v["version"])): self._run_id_of(v)
            for vs in versions.values()
            for v in vs
        }
        wanted = sorted({run_of.get((r["entity"], r["version"])) for r in rows} - {None})
        shas = {}
        if wanted and self.warehouse is not None:
            for r in stored_rows(self.warehouse, self.name, "runs", "run_id", wanted):
                shas[r["run_id"]] = r["git_sha"]
        for r in rows:
            r["commit_sha"] = shas.get(run_of.get((r["entity"], r["version"])))

    def _rolled_back(self, ids: list[str], new: set[str]) -> list[dict]:
        ids = [i for i in ids if i not in new]
        if not ids or self.warehouse is None:
            return []
        stored = stored_rows(self.warehouse, self.name, "deployments", "deployment_id", ids)
        return [dict(r, status="rolled_back") for r in stored]

    def _read_registered_models(self, cursor: dict) -> Iterator[Rows | Checkpoint]:
        models, _, _ = self._registry_now()
        old = cursor.get("digests", {})
        digests, rows = {}, []
        for model in models:
            row = model_row(model, self.options.owner_tag)
            digests[row["name"]] = d = digest(row)
            if old.get(row["name"]) != d:
                rows.append(row)
        if rows:
            yield Rows(to_frame(rows, MODEL_SCHEMA, ("created_at", "updated_at")))
        yield Checkpoint({"v": CURSOR_VERSION, "digests": digests})

    def _read_model_versions(self, cursor: dict) -> Iterator[Rows | Checkpoint]:
        models, versions, _ = self._registry_now()
        old: dict = cursor.get("digests", {})
        digests: dict[str, dict[str, str]] = {}
        rows = []
        checked = self._ever_in_production(models)
        for model in models:
            name = model["name"]
            aliases = {a["alias"]: str(a["version"]) for a in model.get("aliases") or []}
            for v in versions.get(name, []):
                number = str(v["version"])
                mine = [a for a, n in aliases.items() if n == number]
                model_id = self._model_id_of(v)
                run_id = self._run_id_of(v)
                present = None
                if (name, number) in checked:
                    present = self.backend.artifacts_present(
                        v.get("source"), run_id, model_id, self._artifact_uris.get(run_id or "")
                    )
                row = version_row(v, mine, run_id, model_id, present)
                digests.setdefault(name, {})[number] = d = digest(row)
                if old.get(name, {}).get(number) != d:
                    rows.append(row)
        gone = [
            (name, number)
            for name, numbers in old.items()
            for number in numbers
            if number not in digests.get(name, {})
        ]
        rows += deleted_versions(self.warehouse, self.name, gone)
        if rows:
            yield Rows(to_frame(rows, VERSION_SCHEMA, ("created_at", "updated_at")))
        yield Checkpoint({"v": CURSOR_VERSION, "digests": digests})
