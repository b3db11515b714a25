"""Every dict the sqlite reader returns equals what ``mlflow server`` returns over REST for the
same objects, read from the very database that server writes."""

from __future__ import annotations

import json
import math
import sqlite3
from typing import Any

import httpx
import pytest

from mlreport.connectors.mlflow import sqlite
from mlreport.connectors.mlflow.sqlite import SqliteBackend

pytestmark = pytest.mark.slow  # starts a real mlflow server (tens of seconds on a busy machine)

API = "/api/2.0/mlflow"


def normal(value: Any) -> Any:
    """Lists in canonical order, so that only content is compared."""
    if isinstance(value, dict):
        return {k: normal(v) for k, v in value.items()}
    if isinstance(value, list):
        items = [normal(v) for v in value]
        return sorted(items, key=lambda v: json.dumps(v, sort_keys=True))
    return value


@pytest.fixture(scope="module")
def rest(seeded_server):
    with httpx.Client(base_url=seeded_server.server.url + API, timeout=30) as client:
        yield client


@pytest.fixture
def backend(seeded_server):
    with SqliteBackend(seeded_server.server.db) as backend:
        yield backend


def all_ids(rest: httpx.Client) -> list[str]:
    body = {"view_type": "ALL", "max_results": 1000}
    return [
        e["experiment_id"] for e in rest.post("experiments/search", json=body).json()["experiments"]
    ]


def rest_runs(rest: httpx.Client, ids: list[str]) -> list[dict]:
    body = {
        "experiment_ids": ids,
        "run_view_type": "ALL",
        "max_results": 1000,
        "order_by": ["attributes.start_time ASC"],
    }
    return rest.post("runs/search", json=body).json().get("runs", [])  # absent when none


def test_experiments(rest, backend, seeded_server):
    body = {"view_type": "ALL", "max_results": 1000}
    expected = rest.post("experiments/search", json=body).json()["experiments"]
    mine = list(backend.experiments())
    assert normal(mine) == normal(expected)
    assert sorted(e["experiment_id"] for e in mine) == sorted(seeded_server.seeded.experiment_ids)
    assert {e["lifecycle_stage"] for e in mine} == {"active", "deleted"}


def test_runs_all_stages_in_start_time_then_id_order(rest, backend, seeded_server):
    ids = all_ids(rest)
    mine = list(backend.runs(ids))
    assert normal(mine) == normal(rest_runs(rest, ids))
    order = [(r["info"]["start_time"], r["info"]["run_id"]) for r in mine]
    assert order == sorted(order)
    assert sorted(r["info"]["run_id"] for r in mine) == sorted(seeded_server.seeded.run_ids)
    stages = {r["info"]["run_id"]: r["info"]["lifecycle_stage"] for r in mine}
    assert list(stages.values()).count("deleted") == 1
    assert backend.requests == 0


def test_runs_of_some_experiments(rest, backend):
    for ids in (["1"], ["2", "3"], ["0"]):
        assert normal(list(backend.runs(ids))) == normal(rest_runs(rest, ids))
    assert list(backend.runs([])) == []


def test_runs_paged_across_equal_start_times(rest, backend, monkeypatch):
    """Pages of 1 and 2 runs: the keyset (start_time, run_id) neither skips nor repeats."""
    ids = all_ids(rest)
    whole = list(backend.runs(ids))
    for size in (1, 2):
        monkeypatch.setattr(sqlite, "RUN_PAGE", size)
        monkeypatch.setattr(sqlite, "IN_CHUNK", size)
        assert list(backend.runs(ids)) == whole


def test_metric_history_in_server_order(rest, backend, seeded_server):
    for run_id, keys in seeded_server.seeded.metric_keys.items():
        for key in keys:
            params = {"run_id": run_id, "metric_key": key}
            expected = rest.get("metrics/get-history", params=params).json()["metrics"]
            assert list(backend.metric_history(run_id, key)) == expected, key
    assert list(backend.metric_history(run_id, "no-such-key")) == []


def test_metric_history_values(backend, seeded_server):
    """NaN as the string the REST API sends; infinities as MLflow stores them (±max float)."""
    run_id = seeded_server.seeded.run_ids[0]
    weird = [p["value"] for p in backend.metric_history(run_id, "weird")]
    assert weird[0] == "NaN"
    assert weird[1:3] == [1.7976931348623157e308, -1.7976931348623157e308]
    loss = [(p["timestamp"], p["step"], p["value"]) for p in backend.metric_history(run_id, "loss")]
    assert loss == sorted(loss)
    assert not any(isinstance(v, float) and math.isnan(v) for v in weird)


def test_metric_history_bulk_matches_per_run(backend, seeded_server):
    runs = seeded_server.seeded.run_ids
    for key in ("loss", "auc"):
        bulk = list(backend.metric_history_bulk(runs, key))
        per_run = [(r, p) for r in sorted(runs) for p in backend.metric_history(r, key)]
        assert bulk == per_run


def test_registered_models(rest, backend, seeded_server):
    expected = rest.get("registered-models/search", params={"max_results": 1000}).json()
    mine = list(backend.registered_models())
    assert normal(mine) == normal(expected["registered_models"])
    assert [m["name"] for m in mine] == sorted(seeded_server.seeded.model_names)


def test_model_versions(rest, backend, seeded_server):
    for name in seeded_server.seeded.model_names:
        params = {"filter": f"name = '{name}'", "max_results": 1000}
        expected = rest.get("model-versions/search", params=params).json()
        mine = list(backend.model_versions(name))
        assert normal(mine) == normal(expected.get("model_versions", [])), name
    numbers = [v["version"] for v in backend.model_versions("credit-model")]
    assert "4" not in numbers  # deleted in MLflow: gone from the listing, as over REST
    assert list(backend.model_versions("no-such-model")) == []


def test_model_versions_as_get_returns_them_apart_from_aliases(rest, backend):
    """``model-versions/get`` adds the aliases, which the registered model also lists."""
    aliases = {
        a["alias"]: a["version"]
        for m in backend.registered_models()
        if m["name"] == "credit-model"
        for a in m["aliases"]
    }
    for version in backend.model_versions("credit-model"):
        params = {"name": "credit-model", "version": version["version"]}
        got = rest.get("model-versions/get", params=params).json()["model_version"]
        mine = sorted(a for a, v in aliases.items() if v == version["version"])
        assert sorted(got.pop("aliases", [])) == mine
        assert normal(got) == normal(version)


def test_logged_models(rest, backend):
    ids = all_ids(rest)
    expected = rest.post("logged-models/search", json={"experiment_ids": ids}).json()["models"]
    assert normal(list(backend.logged_models(ids))) == normal(expected)
    assert normal(list(backend.logged_models())) == normal(expected)
    assert list(backend.logged_models([])) == []


def test_never_writes(seeded_server):
    """The connection is read-only: sqlite refuses a write outright."""
    with (
        SqliteBackend(seeded_server.server.db) as backend,
        pytest.raises(sqlite3.OperationalError, match="readonly"),
    ):
        backend._con.execute("CREATE TABLE mlreport_probe (x)")
