"""The MLflow tracking REST API as an :class:`MlflowBackend` (httpx, no mlflow import).

Page sizes are the largest the server accepts (MLflow 3.x ``mlflow/server/handlers.py`` and
``mlflow/store/*/__init__.py``): runs/search and experiments/search 50,000,
registered-models/search 1,000, model-versions/search 200,000, metrics/get-history 25,000.
Every list is paged with ``page_token`` until the server stops returning one.

Metric history: the UI's ``ajax-api/2.0/mlflow/metrics/get-history-bulk`` returns one key for up
to 100 runs per request (sorted by run id, capped at 25,000 points and *not* paged). It is used
when the server has it, with a truncation-safe protocol (a run whose points may have been cut
off is asked again); a server without it (404) falls back to the documented paged
``metrics/get-history`` per run and key.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from mlreport.connectors.mlflow.artifacts import rest_present
from mlreport.http import HttpClient, HttpError

log = logging.getLogger("mlreport.mlflow")

API = "/api/2.0/mlflow"
AJAX = "/ajax-api/2.0/mlflow"
RUNS_PAGE = 50_000
EXPERIMENTS_PAGE = 50_000
MODELS_PAGE = 1_000
VERSIONS_PAGE = 200_000
HISTORY_PAGE = 25_000
LOGGED_MODELS_PAGE = 1_000
BULK_RUNS = 100  # run ids per get-history-bulk request (server maximum)
BULK_POINTS = 25_000  # the server's cap on points per get-history-bulk response
VIEW_ALL = 3  # ViewType.ALL: active and deleted


def _not_found(exc: HttpError) -> bool:
    return exc.status == 404 or exc.code == "ENDPOINT_NOT_FOUND"


class RestBackend:
    """Reads one MLflow tracking server; ``requests`` counts HTTP requests sent. Safe to call
    from several threads (httpx's client is), which the source uses for metric history."""

    threadsafe = True
    bulk_runs = BULK_RUNS  # run ids per metric-history read

    def __init__(self, client: HttpClient, page_size: int = RUNS_PAGE) -> None:
        self.client = client
        self.page_size = page_size
        self.bulk_history: bool | None = None  # None: not tried yet
        self.has_logged_models: bool | None = None

    @property
    def requests(self) -> int:
        return self.client.requests

    def close(self) -> None:
        self.client.close()

    # -- tracking -----------------------------------------------------------------------------

    def experiments(self) -> Iterator[dict]:
        body = {"max_results": min(self.page_size, EXPERIMENTS_PAGE), "view_type": VIEW_ALL}
        yield from self._post_pages("experiments/search", body, "experiments")

    def runs(self, experiment_ids: list[str]) -> Iterator[dict]:
        """All runs, deleted included, oldest first: the server pages by offset, so ascending
        start time keeps runs created during a sync at the end instead of shifting pages."""
        if not experiment_ids:
            return
        body = {
            "experiment_ids": list(experiment_ids),
            "max_results": min(self.page_size, RUNS_PAGE),
            "run_view_type": VIEW_ALL,
            "order_by": ["attributes.start_time ASC"],
        }
        yield from self._post_pages("runs/search", body, "runs", ahead=True)

    def metric_history(self, run_id: str, key: str) -> Iterator[dict]:
        params = {"run_id": run_id, "metric_key": key, "max_results": HISTORY_PAGE}
        yield from self._get_pages("metrics/get-history", params, "metrics")

    def metric_history_bulk(self, run_ids: list[str], key: str) -> Iterator[tuple[str, dict]]:
        """(run_id, point) for ``key`` over many runs, with as few requests as the server
        allows; falls back to :meth:`metric_history` per run."""
        pending = sorted(set(run_ids))
        while pending:
            batch, pending = pending[:BULK_RUNS], pending[BULK_RUNS:]
            points = self._bulk(batch, key) if self.bulk_history is not False else None
            if points is None:
                for run_id in batch:
                    for point in self.metric_history(run_id, key):
                        yield run_id, point
                continue
            if len(points) < BULK_POINTS:
                for point in points:
                    yield point["run_id"], _point(point)
                continue
            # Capped: the server sorts by run id, so every run before the last one seen is
            # complete; the last one may be cut off and is asked again (alone, if need be).
            last = points[-1]["run_id"]
            complete = [p for p in points if p["run_id"] != last]
            for point in complete:
                yield point["run_id"], _point(point)
            rest = [r for r in batch if r >= last]
            if not complete:  # one run with more points than a bulk answer holds
                for point in self.metric_history(last, key):
                    yield last, point
                rest = [r for r in rest if r != last]
            pending = sorted(rest + pending)

    def _bulk(self, run_ids: list[str], key: str) -> list[dict] | None:
        params: list[tuple[str, Any]] = [("run_id", r) for r in run_ids]
        params += [("metric_key", key), ("max_results", BULK_POINTS)]
        try:
            body = self.client.get_json(f"{AJAX}/metrics/get-history-bulk", params)
        except HttpError as exc:
            if not _not_found(exc):
                raise
            log.debug("get-history-bulk not available; using metrics/get-history per run")
            self.bulk_history = False
            return None
        self.bulk_history = True
        return _list(body, "metrics", "metrics/get-history-bulk")

    # -- registry -----------------------------------------------------------------------------

    def registered_models(self) -> Iterator[dict]:
        params = {"max_results": MODELS_PAGE}
        yield from self._get_pages("registered-models/search", params, "registered_models")

    def model_versions(self, name: str) -> Iterator[dict]:
        params = {"filter": f"name = '{_quote(name)}'", "max_results": VERSIONS_PAGE}
        yield from self._get_pages("model-versions/search", params, "model_versions")

    def logged_models(self, experiment_ids: list[str] | None = None) -> Iterator[dict]:
        """MLflow 3 logged models; nothing (and no error) from a server without them."""
        if self.has_logged_models is False:
            return
        if experiment_ids is None:  # the protocol's call: every experiment
            experiment_ids = [str(e["experiment_id"]) for e in self.experiments()]
        if not experiment_ids:
            return
        body = {"experiment_ids": list(experiment_ids), "max_results": LOGGED_MODELS_PAGE}
        try:
            yield from self._post_pages("logged-models/search", body, "models")
        except HttpError as exc:
            if not _not_found(exc):
                raise
            log.debug("logged-models/search not available (MLflow before 3.0)")
            self.has_logged_models = False
            return
        self.has_logged_models = True

    def artifacts_present(
        self,
        source: str | None,
        run_id: str | None,
        model_id: str | None,
        artifact_uri: str | None = None,
    ) -> bool | None:
        """Whether a version's artifacts can be listed through this server (``artifacts``)."""
        return rest_present(self.client, source, run_id, model_id, artifact_uri)

    # -- paging -------------------------------------------------------------------------------

    def _post_pages(
        self, endpoint: str, body: dict, field: str, ahead: bool = False
    ) -> Iterator[dict]:
        yield from self._pages(self.client.post_json, endpoint, body, field, ahead)

    def _get_pages(self, endpoint: str, params: dict, field: str) -> Iterator[dict]:
        yield from self._pages(self.client.get_json, endpoint, params, field)

    def _pages(
        self,
        send: Callable[[str, dict], Any],
        endpoint: str,
        payload: dict,
        field: str,
        ahead: bool = False,
    ) -> Iterator[dict]:
        """The items ``field`` of every page, following ``next_page_token``."""
        url = f"{API}/{endpoint}"

        def fetch(token: str | None) -> Any:
            return send(url, dict(payload, page_token=token) if token else payload)

        for answer in _answers(fetch, ahead):
            yield from _list(answer, field, endpoint)


def _answers(fetch: Callable[[str | None], Any], ahead: bool) -> Iterator[Any]:
    """Every answer of a paged endpoint. With ``ahead`` the next page is asked for before this
    one is handed over: the server builds page k + 1 while the caller writes page k (a page of
    runs costs the server seconds)."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="mlreport-page") as pool:
        pending = pool.submit(fetch, None) if ahead else None
        token: str | None = None
        while True:
            answer = pending.result() if pending is not None else fetch(token)
            token = answer.get("next_page_token") if isinstance(answer, dict) else None
            if ahead and token:
                pending = pool.submit(fetch, token)
            yield answer
            if not token:
                return


def _list(answer: Any, field: str, endpoint: str) -> list[dict]:
    """The list ``field`` of a JSON answer (absent = empty, as protobuf JSON omits it)."""
    if not isinstance(answer, dict):
        raise HttpError(f"{endpoint}: expected a JSON object, got {type(answer).__name__}")
    items = answer.get(field, [])
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise HttpError(f"{endpoint}: {field!r} is not a list of objects")
    return items


def _point(point: dict) -> dict:
    return {k: point.get(k) for k in ("key", "value", "timestamp", "step")}


def _quote(name: str) -> str:
    """Quote a model name inside an MLflow filter string literal."""
    return name.replace("\\", "\\\\").replace("'", "\\'")
