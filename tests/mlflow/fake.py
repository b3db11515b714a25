"""Recorded MLflow REST responses replayed through ``httpx.MockTransport``.

The shapes are those MLflow 3.x returns (checked against the real server in test_server.py);
``FakeMlflow`` answers from small in-memory lists and lets a test inject failures.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

T0 = 1_767_225_600_000


def run(run_id: str, exp: str = "1", status: str = "FINISHED", metrics=(), start=T0) -> dict:
    return {
        "info": {
            "run_id": run_id,
            "run_uuid": run_id,
            "experiment_id": exp,
            "run_name": f"name-{run_id}",
            "user_id": "alice",
            "status": status,
            "start_time": start,
            "end_time": start + 1000 if status == "FINISHED" else None,
            "lifecycle_stage": "active",
        },
        "data": {
            "params": [{"key": "lr", "value": "0.1"}],
            "tags": [{"key": "mlflow.source.git.commit", "value": "a" * 40}],
            "metrics": [
                {"key": k, "value": v, "timestamp": ts, "step": s} for k, v, ts, s in metrics
            ],
        },
    }


@dataclass
class FakeMlflow:
    experiments: list[dict] = field(
        default_factory=lambda: [
            {
                "experiment_id": "1",
                "name": "credit",
                "lifecycle_stage": "active",
                "creation_time": T0,
                "last_update_time": T0,
                "tags": [],
            }
        ]
    )
    runs: list[dict] = field(default_factory=list)
    history: dict[tuple[str, str], list[dict]] = field(default_factory=dict)
    models: list[dict] = field(default_factory=list)
    versions: dict[str, list[dict]] = field(default_factory=dict)
    logged_models: list[dict] | None = None  # None: the endpoint 404s (MLflow 2)
    bulk: bool = True
    artifacts: dict[tuple[str, str], list[dict]] = field(default_factory=dict)  # (run, path)
    # (method, path suffix) -> callable(request) returning a response or None (answer normally)
    faults: dict[str, Callable[[httpx.Request], httpx.Response | None]] = field(
        default_factory=dict
    )
    seen: list[httpx.Request] = field(default_factory=list)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def paths(self) -> list[str]:
        return [r.url.path.rsplit("mlflow/", 1)[-1] for r in self.seen]

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        path = request.url.path.rsplit("mlflow/", 1)[-1]
        fault = self.faults.get(path)
        if fault is not None:
            answer = fault(request)
            if answer is not None:
                return answer
        body = json.loads(request.content) if request.content else {}
        q = request.url.params
        if path == "experiments/search":
            return ok({"experiments": self.experiments})
        if path == "runs/search":
            ids = set(body["experiment_ids"])
            return ok({"runs": [r for r in self.runs if r["info"]["experiment_id"] in ids]})
        if path == "metrics/get-history":
            points = self.history.get((q["run_id"], q["metric_key"]), [])
            return ok({"metrics": points} if points else {})
        if path == "metrics/get-history-bulk":
            if not self.bulk:
                return httpx.Response(404, text="<html>Not Found</html>")
            out = []
            for run_id in sorted(q.get_list("run_id")):
                for p in self.history.get((run_id, q["metric_key"]), []):
                    out.append(dict(p, run_id=run_id))
            return ok({"metrics": out[: int(q["max_results"])]})
        if path == "registered-models/search":
            return ok({"registered_models": self.models})
        if path == "model-versions/search":
            name = q["filter"].split("'")[1]
            return ok({"model_versions": self.versions.get(name, [])})
        if path == "logged-models/search":
            if self.logged_models is None:
                return httpx.Response(
                    404,
                    json={"error_code": "ENDPOINT_NOT_FOUND", "message": "No such endpoint"},
                )
            return ok({"models": self.logged_models})
        if path == "artifacts/list":
            return ok({"files": self.artifacts.get((q["run_id"], q.get("path", "")), [])})
        return httpx.Response(404, json={"error_code": "ENDPOINT_NOT_FOUND"})


def ok(body: Any) -> httpx.Response:
    return httpx.Response(200, json=body)


def points(key: str, n: int, start: int = 0) -> list[dict]:
    return [
        {"key": key, "value": float(s), "timestamp": T0 + s, "step": s}
        for s in range(start, start + n)
    ]


def latest(key: str, pts: list[dict]) -> tuple:
    p = pts[-1]
    return (key, p["value"], p["timestamp"], p["step"])


def world(n_runs: int = 2) -> FakeMlflow:
    """A small tracking server: runs with loss history and one registered model."""
    fake = FakeMlflow()
    for i in range(n_runs):
        run_id = f"run{i}"
        pts = points("loss", 3)
        fake.history[(run_id, "loss")] = pts
        fake.runs.append(run(run_id, metrics=[latest("loss", pts)], start=T0 + i))
    fake.models = [
        {
            "name": "credit-risk",
            "creation_timestamp": T0,
            "last_updated_timestamp": T0,
            "description": "risk",
            "tags": [{"key": "owner", "value": "risk@example.com"}],
            "aliases": [{"alias": "champion", "version": "1"}],
        }
    ]
    fake.versions["credit-risk"] = [
        {
            "name": "credit-risk",
            "version": "1",
            "creation_timestamp": T0,
            "last_updated_timestamp": T0 + 5,
            "run_id": "run0",
            "source": "runs:/run0/model",
            "status": "READY",
            "tags": [],
        }
    ]
    return fake
