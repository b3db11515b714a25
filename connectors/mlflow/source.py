"""The built-in ``mlflow`` source: runs, metric history and the model registry.

It talks only to an :class:`MlflowBackend` — the tracking REST API (``tracking_uri``, see
``rest``) or the sqlite database ``mlflow server`` writes (``store``, see
``sqlite``) — and never imports mlflow.

Incremental strategy (docs/sources-mlflow.md has the long form). Every sync lists experiments,
runs, registered models and their versions (a few large pages), and compares each item with a
short digest kept in the stream's cursor; only items whose digest changed are written:

- a run's row digest covers status, end time, lifecycle stage, name, params and tags, so a run
  that finishes, is renamed, re-tagged or deleted is re-written;
- a run's metric digest covers its latest (step, timestamp, value) per key; when it changes the
  run's full history is re-read (upserts on (run, key, step, ts) make that idempotent);
- runs, experiments and versions that vanish from the listing (purged) are marked deleted;
- the registry is diffed against the last snapshot (aliases, tags, version timestamps) to write
  ``model_events`` and, for the configured aliases, ``deployments``.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import logging
import re
import time
import tomllib
from collections.abc import Iterable, Iterator
from typing import Any, Protocol

import polars as pl
from pydantic import Field, SecretStr, model_validator

from mlreport.config import Config, ConfigPath
from mlreport.connectors.mlflow.ordered_map import ordered_map
from mlreport.connectors.mlflow.prefetch import HistoryPrefetch
from mlreport.sources import Checkpoint, Rows, Source, SourceError, SourceOptions, Stream

log = logging.getLogger("mlreport.mlflow")

CURSOR_VERSION = 1
RUN_BATCH = 1_000  # run rows per write: the batch is held in memory, so it stays small
METRIC_RUNS = 1_000  # runs whose history is written per batch of rows
CHECKPOINT_SECONDS = 5.0  # a cursor holds a digest per run: writing it after every batch
# made a sync quadratic in the number of runs (~4 s of JSON at 10,000 runs), so it is written
# at most this often, and at the end.
UTC_US = pl.Datetime("us", "UTC")
GIT_TAG = "mlflow.source.git.commit"
DEFAULT_ALIASES = {"production": ["champion", "production"], "staging": ["challenger", "staging"]}


class MlflowBackend(Protocol):
    """What the source needs from MLflow (REST and sqlite readers give the same dicts)."""

    requests: int

    def experiments(self) -> Iterator[dict]: ...
    def runs(self, experiment_ids: list[str]) -> Iterator[dict]: ...
    def metric_history(self, run_id: str, key: str) -> Iterator[dict]: ...
    def registered_models(self) -> Iterator[dict]: ...
    def model_versions(self, name: str) -> Iterator[dict]: ...
    def logged_models(self) -> Iterator[dict]: ...


class MlflowOptions(SourceOptions):
    """Config keys of a ``type = "mlflow"`` source."""

    tracking_uri: str | None = Field(default=None, description="The tracking server URL.")
    store: ConfigPath | None = Field(
        default=None, description="Offline: the sqlite database `mlflow server` writes."
    )
    token: SecretStr | None = Field(default=None, description="Bearer token (use ${VAR}).")
    username: str | None = None
    password: SecretStr | None = None
    ca_bundle: ConfigPath | None = Field(default=None, description="CA certificates (PEM).")
    experiments: list[str] = Field(default_factory=list, description="Experiment name globs.")
    aliases: dict[str, list[str]] = Field(
        default_factory=lambda: {k: list(v) for k, v in DEFAULT_ALIASES.items()},
        description="Environment -> registry aliases whose moves are deployments.",
    )
    approval_tag: str = "approved"
    deployments: bool = Field(
        default=True,
        description="Write alias moves as deployments; turn off when another source (events, "
        "CI) already records the same releases, so DORA does not count them twice.",
    )
    owner_tag: str = Field(default="owner", description="Registered-model tag naming an owner.")
    timeout: float = Field(default=30.0, gt=0)
    retries: int = Field(default=5, ge=0, le=20)
    # 1,000, not the server's 50,000: one 10,000-run page took a local server 36-56 s, past
    # the request timeout, and every retry restarted the whole query (benchmarks/bench_mlflow.py).
    page_size: int = Field(default=1_000, ge=1, le=50_000)
    concurrency: int = Field(
        default=4, ge=1, le=32, description="Metric-history requests in flight at once."
    )

    @model_validator(mode="after")
    def _one_store(self) -> MlflowOptions:
        if (self.tracking_uri is None) == (self.store is None):
            raise ValueError("set exactly one of tracking_uri (a server) or store (sqlite file)")
        if self.tracking_uri is not None and not re.match(r"^https?://", self.tracking_uri):
            raise ValueError("tracking_uri must start with http:// or https://")
        if self.token is not None and (self.username or self.password):
            raise ValueError("set either token or username/password, not both")
        return self


# -- small helpers ------------------------------------------------------------------------------


class _Pacer:
    """True at most once per ``seconds``: when the next checkpoint is due."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.last = time.monotonic()

    def due(self) -> bool:
        now = time.monotonic()
        if now - self.last < self.seconds:
            return False
        self.last = now
        return True


def _digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def _kv(items: Any) -> dict[str, Any]:
    """``[{key, value}]`` (REST) → ``{key: value}``."""
    return {i["key"]: i.get("value") for i in items or [] if isinstance(i, dict) and "key" in i}


def _ms(value: Any, where: str) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise SourceError(f"{where}: expected epoch milliseconds, got {value!r}") from None


def _need(item: dict, key: str, where: str) -> Any:
    value = item.get(key)
    if value is None or value == "":
        raise SourceError(f"{where}: field {key!r} is missing")
    return value


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _version_key(version: str) -> tuple[int, str]:
    return (int(version), version) if str(version).isdigit() else (-1, str(version))


def _frame(rows: list[dict], schema: dict[str, Any], ms_columns: Iterable[str] = ()) -> Any:
    """Rows with epoch-millisecond columns → a frame with UTC timestamps."""
    frame = pl.DataFrame(rows, schema=schema, orient="row")
    convert = [
        pl.from_epoch(pl.col(c), time_unit="ms").dt.replace_time_zone("UTC").alias(c)
        for c in ms_columns
    ]
    return frame.with_columns(convert) if convert else frame


def _cursor(cursor: Any, stream: str) -> dict:
    if cursor is None:
        return {}
    if not isinstance(cursor, dict) or cursor.get("v") != CURSOR_VERSION:
        log.warning("mlflow %s: cursor of an older format; reading everything again", stream)
        return {}
    return cursor


# -- row builders (one per table) ---------------------------------------------------------------

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
}
EVENT_SCHEMA = {
    "name": pl.Utf8,
    "version": pl.Utf8,
    "event": pl.Utf8,
    "at": pl.Int64,  # microseconds (see _unique_times)
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
        "experiment_id": str(_need(exp, "experiment_id", where)),
        "name": exp.get("name"),
        "lifecycle_stage": exp.get("lifecycle_stage"),
        "tags": json.dumps(_kv(exp.get("tags")), sort_keys=True),
        "created_at": _ms(exp.get("creation_time"), where),
        "updated_at": _ms(exp.get("last_update_time"), where),
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
    tags = _kv(data.get("tags"))
    return {
        "run_id": str(run_id),
        "experiment_id": str(info.get("experiment_id")),
        "name": info.get("run_name") or tags.get("mlflow.runName"),
        "status": info.get("status"),
        "lifecycle_stage": info.get("lifecycle_stage"),
        "user_id": info.get("user_id"),
        "git_sha": tags.get(GIT_TAG),
        "start_time": _ms(info.get("start_time"), f"{where}: run {run_id}"),
        "end_time": _ms(info.get("end_time"), f"{where}: run {run_id}"),
        "params": json.dumps(_kv(data.get("params")), sort_keys=True),
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
        "key": _need(point, "key", where),
        "step": _ms(point.get("step") or 0, where),
        "ts": _ms(_need(point, "timestamp", where), where),
        "value": value,
    }


def model_row(model: dict, owner_tag: str) -> dict:
    where = "registered-models/search"
    tags = _kv(model.get("tags"))
    aliases = {a["alias"]: str(a["version"]) for a in model.get("aliases") or []}
    return {
        "name": _need(model, "name", where),
        "owner": tags.get(owner_tag),
        "description": model.get("description") or None,
        "tags": json.dumps(tags, sort_keys=True),
        "aliases": json.dumps(aliases, sort_keys=True),
        "created_at": _ms(model.get("creation_timestamp"), where),
        "updated_at": _ms(model.get("last_updated_timestamp"), where),
    }


def version_row(version: dict, aliases: list[str], run_id: str | None) -> dict:
    where = "model-versions/search"
    return {
        "name": _need(version, "name", where),
        "version": str(_need(version, "version", where)),
        "run_id": run_id,
        "model_source": version.get("source"),
        "status": version.get("status"),
        "description": version.get("description") or None,
        "tags": json.dumps(_kv(version.get("tags")), sort_keys=True),
        "aliases": sorted(aliases),
        "created_at": _ms(version.get("creation_timestamp"), where),
        "updated_at": _ms(version.get("last_updated_timestamp"), where),
    }


# -- the registry snapshot and its diff ---------------------------------------------------------


def snapshot(models: list[dict], versions: dict[str, list[dict]]) -> dict:
    """{model: {"aliases": {alias: version}, "versions": {version: {tags, created, updated}}}}"""
    snap: dict[str, Any] = {}
    for model in models:
        name = model["name"]
        snap[name] = {
            "aliases": {a["alias"]: str(a["version"]) for a in model.get("aliases") or []},
            "versions": {
                str(v["version"]): {
                    "tags": _kv(v.get("tags")),
                    "created": _ms(v.get("creation_timestamp"), "model-versions/search"),
                    "updated": _ms(v.get("last_updated_timestamp"), "model-versions/search"),
                }
                for v in versions.get(name, [])
            },
        }
    return snap


def _bound(name: str, version: str, prev: dict | None, cur: dict, now_ms: int) -> tuple[int, str]:
    """Best time for a change of ``version`` seen now: its last_updated_timestamp when that
    moved since the previous snapshot (or on the first sync), else the sync time."""
    cur_v = cur.get(name, {}).get("versions", {}).get(version)
    if cur_v is None or cur_v.get("updated") is None:
        return now_ms, "sync_time"
    if prev is None:
        return cur_v["updated"], "last_updated_timestamp"
    prev_v = prev.get(name, {}).get("versions", {}).get(version)
    if prev_v is None or prev_v.get("updated") != cur_v["updated"]:
        return cur_v["updated"], "last_updated_timestamp"
    return now_ms, "sync_time"


def registry_events(prev: dict | None, cur: dict, now_ms: int, since_ms: int | None) -> list[dict]:
    """model_events rows (``at`` in ms) for the changes between two snapshots. With no
    previous snapshot: every version's creation and every current alias (at the version's
    last_updated_timestamp)."""
    events: list[dict] = []

    def add(name, version, event, at_kind_at, detail):
        at, kind = at_kind_at
        if kind == "sync_time" and since_ms is not None:
            detail = dict(detail, since=since_ms)
        events.append(
            {
                "name": name,
                "version": version,
                "event": event,
                "at": at,
                "at_kind": kind,
                "detail": detail,
            }
        )

    for name in sorted(cur):
        model = cur[name]
        before = (prev or {}).get(name, {"aliases": {}, "versions": {}})
        for version in sorted(model["versions"], key=_version_key):
            info = model["versions"][version]
            if version not in before["versions"] and info.get("created") is not None:
                add(
                    name,
                    version,
                    "version_created",
                    (info["created"], "last_updated_timestamp"),
                    {"timestamp": "creation_timestamp"},
                )
            elif version in before["versions"]:
                old_tags = before["versions"][version].get("tags", {})
                for tag in sorted(set(old_tags) | set(info["tags"])):
                    if old_tags.get(tag) != info["tags"].get(tag):
                        add(
                            name,
                            version,
                            "tag_changed",
                            _bound(name, version, prev, cur, now_ms),
                            {"tag": tag, "old": old_tags.get(tag), "new": info["tags"].get(tag)},
                        )
        for alias in sorted(set(before["aliases"]) | set(model["aliases"])):
            old, new = before["aliases"].get(alias), model["aliases"].get(alias)
            if old == new:
                continue
            if old is not None:
                add(
                    name,
                    old,
                    "alias_removed",
                    _bound(name, old, prev, cur, now_ms),
                    {"alias": alias, "new_version": new},
                )
            if new is not None:
                detail = {"alias": alias, "previous_version": old}
                if prev is None:
                    detail["baseline"] = True
                add(name, new, "alias_set", _bound(name, new, prev, cur, now_ms), detail)
    # A registered model that disappeared takes its aliases with it.
    for name in sorted(set(prev or {}) - set(cur)):
        for alias, old in sorted(prev[name]["aliases"].items()):
            add(name, old, "alias_removed", (now_ms, "sync_time"), {"alias": alias})
    return events


def environment_versions(aliases: dict[str, str], envs: dict[str, list[str]]) -> dict:
    """{environment: (alias, version)}: the first configured alias present wins."""
    out = {}
    for env, names in envs.items():
        for alias in names:
            if alias in aliases:
                out[env] = (alias, aliases[alias])
                break
    return out


def _unique_times(events: list[dict]) -> list[dict]:
    """``at`` in microseconds, nudged by 1 µs where two events of one version would share
    the table's key (name, version, event, at) — e.g. two aliases set in one sync."""
    seen: set[tuple] = set()
    for e in events:
        at = e["at"] * 1000
        while (e["name"], e["version"], e["event"], at) in seen:
            at += 1
        seen.add((e["name"], e["version"], e["event"], at))
        e["at"] = at
    return events


# -- the source ---------------------------------------------------------------------------------


class MlflowSource(Source):
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
        self._logged_runs: dict[str, str] | None = None

    # -- backend ------------------------------------------------------------------------------

    @property
    def backend(self) -> Any:
        if self._backend is None:
            self._backend = self._make_backend()
        return self._backend

    def _make_backend(self) -> Any:
        opts = self.options
        if opts.store is not None:
            try:
                from mlreport.connectors.mlflow.sqlite import SqliteBackend
            except ImportError as exc:
                raise SourceError(
                    f"source {self.name!r}: offline store unavailable: {exc}"
                ) from None
            return SqliteBackend(opts.store)
        from mlreport.connectors.mlflow.rest import RestBackend
        from mlreport.http import http_client

        kwargs: dict[str, Any] = {}
        if opts.ca_bundle is not None and not opts.ca_bundle.is_file():
            raise SourceError(
                f"source {self.name!r}: ca_bundle: {opts.ca_bundle}: CA bundle not found"
            )
        if self._sleep is not None:
            kwargs["sleep"] = self._sleep
        client = http_client(
            opts.tracking_uri,
            token=opts.token.get_secret_value() if opts.token else None,
            username=opts.username,
            password=opts.password.get_secret_value() if opts.password else None,
            verify=opts.ca_bundle if opts.ca_bundle else True,
            timeout=opts.timeout,
            retries=opts.retries,
            transport=self._transport,
            credential_key=self._credential_key(),
            **kwargs,
        )
        return RestBackend(client, page_size=opts.page_size)

    def _credential_key(self) -> str:
        """Which config key holds the credential, e.g. ``sources[0].token (${MLFLOW_TOKEN})``."""
        index = next((i for i, s in enumerate(self.config.sources) if s.name == self.name), None)
        key = "token" if self.options.token is not None or not self.options.username else "password"
        where = f"sources[{index}].{key}" if index is not None else f"{self.name}.{key}"
        var = _env_var(self.config, index, key)
        return f"{where} (${{{var}}})" if var else where

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
            Stream("run_metrics", "run_metrics", ("source", "run_id", "key", "step", "ts")),
            Stream(
                "model_events", "model_events", ("source", "name", "version", "event", "at"), "name"
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
            yield from reader(_cursor(cursor, stream.name))
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
            self._all_experiments = {str(_need(e, "experiment_id", "experiments")) for e in listed}
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
            digests[row["experiment_id"]] = d = _digest(row)
            if old.get(row["experiment_id"]) != d:
                rows.append(row)
        # purged since the last sync (not merely left out by the `experiments` globs): keep
        # the row, marked deleted
        gone = sorted(set(old) - set(digests) - self._all_experiments)
        if gone:
            stored = self._stored("experiments", "experiment_id", gone)
            rows += [dict(r, lifecycle_stage="deleted") for r in stored]
        if rows:
            yield Rows(self._experiment_frame(rows))
        yield Checkpoint({"v": CURSOR_VERSION, "digests": digests})

    def _experiment_frame(self, rows: list[dict]) -> pl.DataFrame:
        return _frame(rows, EXPERIMENT_SCHEMA, ("created_at", "updated_at"))

    # runs -------------------------------------------------------------------------------------

    def _read_runs(self, cursor: dict, prefetch: bool = True) -> Iterator[Rows | Checkpoint]:
        old = cursor.get("digests", {})
        ahead = self._start_prefetch(cursor) if prefetch else None
        pending: list[str] = []
        ids = [str(e["experiment_id"]) for e in self._selected_experiments()]
        digests = dict(old)
        seen: set[str] = set()
        self._run_metrics = {}
        key_sets: dict[tuple, tuple] = {}
        batch: list[dict] = []
        pace = _Pacer(CHECKPOINT_SECONDS)
        for run in self.backend.runs(ids):
            row = run_row(run)
            run_id = row["run_id"]
            seen.add(run_id)
            metrics = latest_metrics(run)
            keys = tuple(m[0] for m in metrics)  # one shared tuple per key set, not per run
            metrics_digest = _digest(metrics)
            self._run_metrics[run_id] = (metrics_digest, key_sets.setdefault(keys, keys))
            if ahead is not None and ahead.expected.get(run_id) != metrics_digest:
                pending.append(run_id)
                if len(pending) >= METRIC_RUNS:
                    ahead.add(pending)
                    pending = []
            d = _digest(row)
            if old.get(run_id) != d:
                batch.append(row)
                digests[run_id] = d
            if len(batch) >= RUN_BATCH:
                yield Rows(_frame(batch, RUN_SCHEMA, ("start_time", "end_time")))
                if pace.due():
                    yield Checkpoint({"v": CURSOR_VERSION, "digests": digests})
                batch = []
        if ahead is not None:
            ahead.add(pending)
        self._tally()
        listed = set(ids)
        gone = sorted(r for r in set(old) - seen)
        if gone:
            stored = self._stored("runs", "run_id", gone)
            # gone from a listed experiment, or with its whole experiment: purged
            purged = listed | {r["experiment_id"] for r in stored} - self._all_experiments
            marked = [
                dict(r, lifecycle_stage="deleted") for r in stored if r["experiment_id"] in purged
            ]
            batch += marked
            for r in marked:
                digests.pop(r["run_id"], None)
        if batch:
            yield Rows(_frame(batch, RUN_SCHEMA, ("start_time", "end_time")))
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
        pace = _Pacer(CHECKPOINT_SECONDS)
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
            expected = _cursor(stored, "run_metrics").get("digests", {})
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
        """Each chunk of runs with every point of each of their keys (None: no points), in
        chunk order.

        Over HTTP the reads (one per key and ~100 runs) run ``concurrency`` at a time in one
        continuous stream across chunks, so the server never waits for us to write a chunk;
        at most ``2 × concurrency`` answers are held ahead of the one being written."""
        size = getattr(self.backend, "bulk_runs", METRIC_RUNS)
        units = (
            (i, key, ids[j : j + size])
            for i, chunk in enumerate(chunks)
            for key, ids in _by_key(chunk, current)
            for j in range(0, len(ids), size)
        )
        workers = self.options.concurrency if getattr(self.backend, "threadsafe", False) else 1
        answers = ordered_map(self._history_points, units, workers, ahead=2 * workers)
        rows: list[dict] = []
        done = 0
        for (i, _, _), points in answers:
            while done < i:  # every read of chunk `done` is in: it is complete
                yield chunks[done], _metric_frame(rows)
                rows, done = [], done + 1
            rows += points
        for i in range(done, len(chunks)):
            yield chunks[i], _metric_frame(rows)
            rows = []

    def _history_points(self, unit: tuple[int, str, list[str]]) -> list[dict]:
        _, key, run_ids = unit
        bulk = getattr(self.backend, "metric_history_bulk", None)
        if bulk is not None:
            return [metric_row(run_id, point) for run_id, point in bulk(run_ids, key)]
        return [
            metric_row(run_id, point)
            for run_id in run_ids
            for point in self.backend.metric_history(run_id, key)
        ]

    # registry ---------------------------------------------------------------------------------

    def _registry_now(self) -> tuple[list[dict], dict[str, list[dict]], int]:
        """Registered models and all their versions, read once per sync, with the time read."""
        if self._registry is None:
            now = _now_ms()
            models = list(self.backend.registered_models())
            versions = {}
            for m in models:
                name = _need(m, "name", "registered-models/search")
                versions[name] = list(self.backend.model_versions(name))
            self._tally()
            self._registry = (models, versions, now)
        return self._registry

    def _read_model_events(self, cursor: dict) -> Iterator[Rows | Checkpoint]:
        models, versions, now = self._registry_now()
        cur = snapshot(models, versions)
        prev, since = cursor.get("snapshot"), cursor.get("at_ms")
        if prev is None:
            prev, since = self._stored_snapshot()
        events = _unique_times(registry_events(prev, cur, now, since))
        for e in events:
            e["detail"] = json.dumps(e["detail"], sort_keys=True)
        if events:
            frame = pl.DataFrame(events, schema=EVENT_SCHEMA, orient="row")
            frame = frame.with_columns(
                pl.from_epoch(pl.col("at"), time_unit="us").dt.replace_time_zone("UTC")
            )
            yield Rows(frame)
        yield Checkpoint({"v": CURSOR_VERSION, "snapshot": cur, "at_ms": now})

    def _read_deployments(self, cursor: dict) -> Iterator[Rows | Checkpoint]:
        models, versions, now = self._registry_now()
        cur = snapshot(models, versions)
        for model in cur.values():  # tags are not needed here; keep the cursor small
            for info in model["versions"].values():
                info.pop("tags", None)
        prev, deployed = cursor.get("snapshot"), cursor.get("deployed")
        if prev is None:
            prev, _ = self._stored_snapshot()
            deployed = self._stored_deployed()
        deployed = {m: dict(envs) for m, envs in (deployed or {}).items()}
        rows = self._alias_moves(prev, cur, now, deployed)
        if rows:
            yield Rows(_frame(rows, DEPLOYMENT_SCHEMA, ("started_at", "finished_at")))
        yield Checkpoint({"v": CURSOR_VERSION, "snapshot": cur, "deployed": deployed})

    def _alias_moves(self, prev: dict | None, cur: dict, now: int, deployed: dict) -> list[dict]:
        """Deployments for moves of the configured aliases; a move to an older version is a
        rollback, and the deployment it left is marked rolled_back."""
        rows: list[dict] = []
        rolled_back: list[str] = []
        for name in sorted(cur):
            prev_aliases = (prev or {}).get(name, {}).get("aliases", {})
            before = environment_versions(prev_aliases, self.options.aliases)
            after = environment_versions(cur[name]["aliases"], self.options.aliases)
            for env in sorted(after):
                alias, version = after[env]
                old = before.get(env)
                if old is not None and old[1] == version:
                    continue
                at, _kind = _bound(name, version, prev, cur, now)
                kind = "planned"
                if old is not None and _version_key(version) < _version_key(old[1]):
                    kind = "rollback"
                    if deployed.get(name, {}).get(env):
                        rolled_back.append(deployed[name][env])
                dep_id = f"{name}:{alias}:{version}:{at}"
                rows.append(
                    {
                        "deployment_id": dep_id,
                        "entity": name,
                        "environment": env,
                        "version": version,
                        "commit_sha": None,
                        "model_version": version,
                        "started_at": at,
                        "finished_at": at,
                        "status": "success",
                        "kind": kind,
                        "trigger": "automated",
                    }
                )
                deployed.setdefault(name, {})[env] = dep_id
            for env in set(before) - set(after):
                deployed.get(name, {}).pop(env, None)
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
            for r in self._stored("runs", "run_id", wanted):
                shas[r["run_id"]] = r["git_sha"]
        for r in rows:
            r["commit_sha"] = shas.get(run_of.get((r["entity"], r["version"])))

    def _rolled_back(self, ids: list[str], new: set[str]) -> list[dict]:
        ids = [i for i in ids if i not in new]
        if not ids or self.warehouse is None:
            return []
        stored = self._stored("deployments", "deployment_id", ids)
        return [dict(r, status="rolled_back") for r in stored]

    def _run_id_of(self, version: dict) -> str | None:
        """The version's run; MLflow 3 versions made from a logged model may carry only its
        ``model_id`` — then the logged model's source run."""
        if version.get("run_id"):
            return str(version["run_id"])
        model_id = version.get("model_id")
        if not model_id:
            return None
        if self._logged_runs is None:
            self._logged_runs = {
                str(m.get("info", m).get("model_id")): m.get("info", m).get("source_run_id")
                for m in self.backend.logged_models()
            }
            self._tally()
        return self._logged_runs.get(str(model_id))

    def _read_registered_models(self, cursor: dict) -> Iterator[Rows | Checkpoint]:
        models, _, _ = self._registry_now()
        old = cursor.get("digests", {})
        digests, rows = {}, []
        for model in models:
            row = model_row(model, self.options.owner_tag)
            digests[row["name"]] = d = _digest(row)
            if old.get(row["name"]) != d:
                rows.append(row)
        if rows:
            yield Rows(_frame(rows, MODEL_SCHEMA, ("created_at", "updated_at")))
        yield Checkpoint({"v": CURSOR_VERSION, "digests": digests})

    def _read_model_versions(self, cursor: dict) -> Iterator[Rows | Checkpoint]:
        models, versions, _ = self._registry_now()
        old: dict = cursor.get("digests", {})
        digests: dict[str, dict[str, str]] = {}
        rows = []
        for model in models:
            name = model["name"]
            aliases = {a["alias"]: str(a["version"]) for a in model.get("aliases") or []}
            for v in versions.get(name, []):
                number = str(v["version"])
                mine = [a for a, n in aliases.items() if n == number]
                row = version_row(v, mine, self._run_id_of(v))
                digests.setdefault(name, {})[number] = d = _digest(row)
                if old.get(name, {}).get(number) != d:
                    rows.append(row)
        gone = [
            (name, number)
            for name, numbers in old.items()
            for number in numbers
            if number not in digests.get(name, {})
        ]
        rows += self._deleted_versions(gone)
        if rows:
            yield Rows(_frame(rows, VERSION_SCHEMA, ("created_at", "updated_at")))
        yield Checkpoint({"v": CURSOR_VERSION, "digests": digests})

    def _deleted_versions(self, gone: list[tuple[str, str]]) -> list[dict]:
        """Versions deleted in MLflow keep their row, with status DELETED and no aliases."""
        if not gone or self.warehouse is None:
            return []
        out = []
        for name, number in gone:
            rel = self.warehouse.con.sql(
                f"SELECT {', '.join(VERSION_SCHEMA)} FROM model_versions "
                "WHERE source = ? AND name = ? AND version = ?",
                params=[self.name, name, number],
            )
            for row in _epoch_rows(rel.pl(), ("created_at", "updated_at")):
                out.append(dict(row, status="DELETED", aliases=[]))
        return out

    # -- what is stored -------------------------------------------------------------------------

    def _stored(self, table: str, key: str, ids: list[str]) -> list[dict]:
        """Stored rows of this source, as the row builders make them (times in ms)."""
        if self.warehouse is None or not ids:
            return []
        schema = {
            "experiments": EXPERIMENT_SCHEMA,
            "runs": RUN_SCHEMA,
            "deployments": DEPLOYMENT_SCHEMA,
        }[table]
        times = [c for c, t in schema.items() if t == pl.Int64 and c not in ("step",)]
        cols = ", ".join(f'"{c}"' for c in schema)
        rel = self.warehouse.con.sql(
            f"SELECT {cols} FROM {table} WHERE source = ? AND {key} IN "
            f"(SELECT unnest(?::VARCHAR[]))",
            params=[self.name, ids],
        )
        return list(_epoch_rows(rel.pl(), times))

    def _stored_snapshot(self) -> tuple[dict | None, int | None]:
        """The registry as last stored (for --full); None when nothing is stored yet."""
        if self.warehouse is None:
            return None, None
        models = self.warehouse.con.sql(
            "SELECT name, aliases, epoch_ms(synced_at) FROM registered_models WHERE source = ?",
            params=[self.name],
        ).fetchall()
        if not models:
            return None, None
        snap: dict[str, Any] = {
            name: {"aliases": json.loads(aliases or "{}"), "versions": {}}
            for name, aliases, _ in models
        }
        since = max(m[2] for m in models if m[2] is not None) if models else None
        versions = self.warehouse.con.sql(
            "SELECT name, version, tags, epoch_ms(created_at), epoch_ms(updated_at), status "
            "FROM model_versions WHERE source = ?",
            params=[self.name],
        ).fetchall()
        for name, version, tags, created, updated, status in versions:
            if name in snap and status != "DELETED":
                snap[name]["versions"][version] = {
                    "tags": json.loads(tags or "{}"),
                    "created": created,
                    "updated": updated,
                }
        return snap, since

    def _stored_deployed(self) -> dict:
        if self.warehouse is None:
            return {}
        rows = self.warehouse.con.sql(
            "SELECT entity, environment, arg_max(deployment_id, finished_at) FROM deployments "
            "WHERE source = ? GROUP BY ALL",
            params=[self.name],
        ).fetchall()
        out: dict[str, dict[str, str]] = {}
        for entity, env, dep in rows:
            out.setdefault(entity, {})[env] = dep
        return out


def _metric_frame(rows: list[dict]) -> pl.DataFrame | None:
    return _frame(rows, METRIC_SCHEMA, ("ts",)) if rows else None


def _by_key(run_ids: list[str], current: dict) -> list[tuple[str, list[str]]]:
    """(key, the runs of ``run_ids`` that have it), keys sorted: one bulk read each."""
    by_key: dict[str, list[str]] = {}
    for run_id in run_ids:
        for key in current[run_id][1]:
            by_key.setdefault(key, []).append(run_id)
    return sorted(by_key.items())


def _epoch_rows(frame: pl.DataFrame, times: Iterable[str]) -> Iterator[dict]:
    times = [c for c in times if c in frame.columns]
    frame = frame.with_columns([pl.col(c).dt.epoch(time_unit="ms").alias(c) for c in times])
    yield from frame.iter_rows(named=True)


def _env_var(config: Config, index: int | None, key: str) -> str | None:
    """The ``${VAR}`` a config key was read from (the file is re-read; values never are)."""
    if index is None or config.file is None:
        return None
    try:
        raw = tomllib.loads(config.file.read_text(encoding="utf-8"))
        value = raw["sources"][index].get(key)
    except (OSError, ValueError, KeyError, IndexError, AttributeError):
        return None
    match = re.search(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", value) if isinstance(value, str) else None
    return match.group(1) if match else None
