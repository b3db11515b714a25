"""The sample organisation's MLflow store: a real ``mlflow server`` sqlite database, committed.

``mlreport demo`` needs no MLflow: ``write_store`` copies the committed file
(``sample_data/mlflow/mlflow.db``) into the demo folder and ``mlflow_source_config`` names it
in the config. The file is made by ``python -m mlreport.sample_data.mlflow_store --build``
(a dev-time step that needs the ``mlflow`` CLI): it starts a real ``mlflow server`` on a fresh
sqlite database, writes the sample story through the tracking REST API (httpx; mlflow itself is
never imported here), then rewrites what the server stamped itself — run, dataset and input ids
and the registry's "now" timestamps — so every id is deterministic and every time falls in the
sample period. See docs/sample-data.md, "MLflow store".
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import random
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path

import httpx

from mlreport.sample_data.org import AS_OF, CREDIT_RISK, FRAUD_DETECTOR, PERIOD_START, Team

STORE_NAME = "mlflow.db"
STORE_DIR = "mlflow"  # under the package and under the demo folder
ALIASES = {"production": ["champion"], "staging": ["challenger"]}
APPROVAL_TAG = "approved"
BUILD = "python -m mlreport.sample_data.mlflow_store --build"

# -- what the demo uses (no mlflow needed) ---------------------------------------------------


def packaged_store() -> Path:
    """The committed store file as a real path (copied out if the package is zipped)."""
    item = resources.files("mlreport.sample_data").joinpath(STORE_DIR, STORE_NAME)
    if isinstance(item, Path):
        return item
    tmp = Path(tempfile.mkdtemp(prefix="mlreport-mlflow-")) / STORE_NAME
    tmp.write_bytes(item.read_bytes())
    return tmp


def write_store(out_dir: Path) -> Path:
    """Copy the committed store to ``out_dir/mlflow/mlflow.db`` (only when its bytes differ)."""
    target = Path(out_dir) / STORE_DIR / STORE_NAME
    data = packaged_store().read_bytes()
    if target.exists() and target.read_bytes() == data:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(target)
    return target


def mlflow_source_config(out_dir: Path) -> str:
    """The demo config's ``[[sources]]`` block for the store (path relative to the config)."""
    del out_dir  # the config lives in out_dir, so the relative path is the same everywhere
    aliases = ", ".join(f"{k} = {json.dumps(v)}" for k, v in ALIASES.items())
    return (
        "[[sources]]\n"
        'name = "mlflow"\n'
        'type = "mlflow"\n'
        f'store = "{STORE_DIR}/{STORE_NAME}"\n'
        f"aliases = {{ {aliases} }}\n"
        f'approval_tag = "{APPROVAL_TAG}"\n'
    )


# -- a real mlflow server, for the builder and the tests -------------------------------------


def free_port() -> int:
    """A loopback port nobody listens on right now (the server binds it a moment later)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def mlflow_server(db: Path, timeout: float = 180.0, workers: int = 1) -> Iterator[str]:
    """Run ``mlflow server`` on ``db`` at a free loopback port; yield its base URL.

    Runs in its own process group (the server forks uvicorn workers) and ends that group only.
    One worker by default, light for tests; ``mlflow server`` itself defaults to 4.
    Background job execution is switched off: it forks consumers that would outlive the server.
    """
    port = free_port()
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    log = (db.parent / f"{db.name}.server.log").open("wb")
    cmd = [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", f"sqlite:///{db}"]
    cmd += ["--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    cmd += ["--default-artifact-root", "mlflow-artifacts:/"]
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=log, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(proc, url, timeout, Path(log.name))
        yield url
    finally:
        stop_server(proc)
        log.close()


def wait_healthy(proc: subprocess.Popen, url: str, timeout: float, log: Path) -> None:
    """Wait until the server at ``url`` answers /health; its output is in ``log``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"mlflow server exited ({proc.returncode}); see {log}")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    raise RuntimeError(f"mlflow server not healthy after {timeout:.0f} s; see {log}")


def stop_server(proc: subprocess.Popen) -> None:
    """End the server's process group (it was started in a new session), workers too."""
    if proc.poll() is not None:
        return
    with suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


# -- the story ------------------------------------------------------------------------------


def ms(t: datetime) -> int:
    return int(t.timestamp() * 1000)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def stable_id(*parts: object) -> str:
    """A 32-hex id (the shape of an MLflow run id) from names, so rebuilding gives the same."""
    return hashlib.sha256(":".join(map(str, parts)).encode()).hexdigest()[:32]


@dataclass
class Run:
    experiment: str
    name: str
    user: str
    start: datetime
    end: datetime | None  # None: still RUNNING at as_of
    status: str = "FINISHED"
    commit: str | None = None
    source: str = "train.py"
    source_type: str = "JOB"
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    metrics: list[tuple[str, float, int, int]] = field(default_factory=list)  # key, v, ms, step
    dataset: dict | None = None
    deleted: bool = False


@dataclass
class Version:
    model: str
    version: int
    run: str  # run name
    created: datetime
    updated: datetime
    description: str | None = None
    tags: dict[str, str] = field(default_factory=dict)


@dataclass
class RegisteredModel:
    name: str
    created: datetime
    description: str | None
    tags: dict[str, str]
    first_version: int  # versions below it existed before the period and are deleted
    aliases: dict[str, int] = field(default_factory=dict)


@dataclass
class Story:
    experiments: dict[str, tuple[datetime, dict[str, str], bool]]  # name -> created, tags, del
    runs: list[Run]
    models: list[RegisteredModel]
    versions: list[Version]


@dataclass
class Repo:
    """First-parent history of ``main``: (committed_at, sha), oldest first."""

    commits: list[tuple[datetime, str]]

    def time_of(self, sha: str) -> datetime:
        return next(t for t, s in self.commits if s == sha)

    def at_or_before(self, t: datetime) -> tuple[datetime, str]:
        return [c for c in self.commits if c[0] <= t][-1]


def first_deployments(entity: str, events: Path) -> dict[tuple[str, str], dict]:
    """The first deployment of each (model_version, environment): the first success, else the
    first attempt (credit-risk's model 23 only ever failed staging)."""
    rows = sorted(_deployment_rows(entity, events), key=lambda r: r["started_at"])
    first: dict[tuple[str, str], dict] = {}
    for row in rows:
        if row["status"] != "failure":
            first.setdefault((row["model_version"], row["environment"]), row)
    for row in rows:
        first.setdefault((row["model_version"], row["environment"]), row)
    return first


def _deployment_rows(entity: str, events: Path) -> list[dict]:
    folder = events / entity
    if (folder / "deployments.csv").exists():
        with (folder / "deployments.csv").open(encoding="utf-8", newline="") as f:
            return list(csv.DictReader(f))
    rows = []
    for line in (folder / "cdevents.jsonl").read_text(encoding="utf-8").splitlines():
        event = json.loads(line)
        if ".service.deployed." not in event["context"]["type"]:
            continue
        custom = event["customData"]
        rows.append(
            {
                "environment": event["subject"]["content"]["environment"]["id"],
                "commit_sha": custom["commit_sha"],
                "model_version": custom["model_version"],
                "started_at": custom["started_at"],
                "finished_at": event["context"]["timestamp"],
                "status": custom.get("status", "success"),
            }
        )
    return rows


def production_at(first: dict, version: int) -> datetime:
    """When ``version`` first reached production successfully (the champion alias moved)."""
    return at(first[(str(version), "production")]["finished_at"])


# metric curves: seeded, rounded, shaped like a training log


def gbm_metrics(rng: random.Random, start: datetime, end: datetime, final_auc: float, steps: int):
    out = []
    span = (end - start) / (steps + 1)
    for step in range(steps):
        t = ms(start + span * (step + 1))
        frac = (step + 1) / steps
        auc = final_auc - 0.09 * (1 - frac) ** 2 + rng.uniform(-0.002, 0.002) * (1 - frac)
        out.append(("val_auc", round(min(auc, final_auc), 4), t, step * 10))
        out.append(
            (
                "train_logloss",
                round(0.62 - 0.3 * frac**0.5 + rng.uniform(0, 0.004), 4),
                t,
                step * 10,
            )
        )
        out.append(
            ("val_logloss", round(0.63 - 0.27 * frac**0.5 + rng.uniform(0, 0.006), 4), t, step * 10)
        )
    return out


def logistic_metrics(rng: random.Random, start: datetime, end: datetime, auc: float, epochs: int):
    out = []
    span = (end - start) / (epochs + 1)
    for epoch in range(epochs):
        t = ms(start + span * (epoch + 1))
        frac = (epoch + 1) / epochs
        out.append(("loss", round(0.45 - 0.33 * frac**0.6 + rng.uniform(0, 0.005), 4), t, epoch))
        out.append(("val_auc", round(auc - 0.05 * (1 - frac) ** 2, 4), t, epoch))
    return out


def finals(end: datetime, **values: float) -> list[tuple[str, float, int, int]]:
    return [(k, round(v, 4), ms(end) - 1000, 0) for k, v in values.items()]


def dataset(name: str, uri: str, rows: int, context: str = "training") -> dict:
    return {
        "tags": [{"key": "mlflow.data.context", "value": context}],
        "dataset": {
            "name": name,
            "digest": hashlib.sha256(f"{name}:{uri}".encode()).hexdigest()[:8],
            "source_type": "s3",
            "source": json.dumps({"uri": uri}),
            "profile": json.dumps({"num_rows": rows}),
        },
    }


def user(team: Team, i: int) -> str:
    return team.people[i].email.split("@")[0]


def repo_url(team: Team) -> str:
    return f"https://git.example.com/{team.team}/{team.repo}.git"


def git_tags(team: Team, commit: str | None) -> dict[str, str]:
    if commit is None:
        return {}
    return {"mlflow.source.git.commit": commit, "mlflow.source.git.repoURL": repo_url(team)}


def credit_story(repo: Repo, events: Path) -> tuple[list[Run], list[Version]]:
    """risk-ml retrains inside the merge pipeline: minutes from commit to a registered version."""
    team, exp = CREDIT_RISK, CREDIT_RISK.entity
    rng = random.Random(team.seed + 1)
    first = first_deployments(team.entity, events)
    runs, versions = [], []
    for n, v in enumerate(range(14, 24 + 1)):
        staging = first[(str(v), "staging")]
        sha = staging["commit_sha"]
        start = repo.time_of(sha) + timedelta(seconds=rng.randint(40, 90))
        end = at(staging["started_at"]) - timedelta(seconds=rng.randint(40, 100))
        assert end - start > timedelta(minutes=1), (v, start, end)
        auc = 0.842 + 0.004 * n + rng.uniform(-0.002, 0.002)
        name = f"retrain-v{v}"
        runs.append(
            Run(
                exp,
                name,
                user(team, n % 5),
                start,
                end,
                commit=sha,
                params=_gbm_params(rng, v),
                tags={"pipeline": "merge", "model_version": str(v), **git_tags(team, sha)},
                metrics=gbm_metrics(rng, start, end, auc, 10)
                + finals(end, val_accuracy=0.80 + 0.003 * n, val_brier=0.14 - 0.002 * n),
                dataset=dataset(
                    "credit-applications",
                    f"s3://risk-ml-data/applications/{start:%Y-%m-%d}/",
                    40_000 + 1500 * n,
                ),
            )
        )
        created = end + timedelta(seconds=20)
        if v == 23:  # failed its staging integration tests; 24 is the same-day retrain
            updated = at(staging["finished_at"])
            tags = {"validation_status": "failed"}
            desc = "Retrain with the islands region; failed staging integration tests."
        else:
            updated = production_at(first, v)
            tags = {"validation_status": "passed", APPROVAL_TAG: "true"}
            desc = (
                None if v < 18 else f"Gradient-boosted PD model, retrain {v}; see the model card."
            )
        versions.append(Version(exp, v, name, created, updated, desc, tags))
    # a candidate trained after the last release, in shadow scoring as the challenger
    t, sha = repo.at_or_before(at("2026-06-24T09:00:00Z"))
    start = max(t, at("2026-06-24T09:00:00Z")) + timedelta(minutes=7)
    end = start + timedelta(minutes=6, seconds=41)
    runs.append(
        Run(
            exp,
            "retrain-v25",
            user(team, 3),
            start,
            end,
            commit=sha,
            params=_gbm_params(rng, 25),
            tags={"pipeline": "scheduled", "model_version": "25", **git_tags(team, sha)},
            metrics=gbm_metrics(rng, start, end, 0.889, 10)
            + finals(end, val_accuracy=0.834, val_brier=0.118),
            dataset=dataset(
                "credit-applications", f"s3://risk-ml-data/applications/{start:%Y-%m-%d}/", 58_200
            ),
        )
    )
    versions.append(
        Version(
            exp,
            25,
            "retrain-v25",
            end + timedelta(seconds=20),
            end + timedelta(hours=2),
            "Candidate: retrain on six months incl. the islands region (shadow scoring).",
            {"validation_status": "passed"},
        )
    )
    runs += _credit_side_runs(repo, rng)
    return runs, versions


def _gbm_params(rng: random.Random, v: int) -> dict[str, str]:
    return {
        "n_estimators": str(50 if v >= 24 else 35),
        "max_depth": str(3),
        "learning_rate": str(rng.choice((0.05, 0.08, 0.1))),
        "subsample": "0.8",
        "random_state": str(20260126 + v),
        "features": "income,debt_ratio,age,utilisation,credit_history_months",
    }


def _credit_side_runs(repo: Repo, rng: random.Random) -> list[Run]:
    team, exp = CREDIT_RISK, CREDIT_RISK.entity
    runs = []
    for i, lr in enumerate((0.03, 0.05, 0.1)):  # a learning-rate sweep in April
        t, sha = repo.at_or_before(at("2026-04-14T08:00:00Z"))
        start = at("2026-04-14T08:10:00Z") + timedelta(minutes=9 * i)
        end = start + timedelta(minutes=8)
        runs.append(
            Run(
                exp,
                f"sweep-lr-{lr}",
                user(team, 1),
                start,
                end,
                commit=sha,
                params={**_gbm_params(rng, 21), "learning_rate": str(lr)},
                tags={"pipeline": "sweep", **git_tags(team, sha)},
                metrics=gbm_metrics(rng, start, end, 0.86 + 0.01 * i, 10),
            )
        )
    t, sha = repo.at_or_before(at("2026-03-02T10:00:00Z"))
    start = at("2026-03-02T10:04:00Z")
    end = start + timedelta(minutes=3, seconds=12)
    runs.append(  # out of memory on the full bureau join
        Run(
            exp,
            "retrain-bureau-join",
            user(team, 2),
            start,
            end,
            status="FAILED",
            commit=sha,
            params=_gbm_params(rng, 19),
            tags={"pipeline": "manual", **git_tags(team, sha)},
            metrics=gbm_metrics(rng, start, end, 0.85, 3),
        )
    )
    start = at("2026-05-18T13:20:00Z")  # exploring the new region from a notebook: no commit
    end = start + timedelta(minutes=14)
    runs.append(
        Run(
            exp,
            "explore-islands-region",
            user(team, 2),
            start,
            end,
            source="notebooks/islands.ipynb",
            source_type="NOTEBOOK",
            params=_gbm_params(rng, 22),
            metrics=gbm_metrics(rng, start, end, 0.871, 5),
        )
    )
    start = at("2026-02-10T15:02:00Z")
    runs.append(
        Run(
            exp,
            "debug-logging",
            user(team, 4),
            start,
            start + timedelta(seconds=48),
            commit=repo.at_or_before(start)[1],
            tags=git_tags(team, repo.at_or_before(start)[1]),
            deleted=True,
        )
    )
    return runs


def fraud_story(repo: Repo, events: Path) -> tuple[list[Run], list[Version]]:
    """fraud-platform trains by hand, weeks before a release train picks the model up."""
    team, exp = FRAUD_DETECTOR, FRAUD_DETECTOR.entity
    rng = random.Random(team.seed + 1)
    first = first_deployments(team.entity, events)
    runs, versions = [], []
    plans = {8: ("2026-01-13T10:30:00Z", 0.931, 1), 9: ("2026-02-18T14:10:00Z", 0.944, 2)}
    for v, (when, auc, who) in plans.items():
        t, sha = repo.at_or_before(at(when))
        start = at(when)
        end = start + timedelta(hours=1, minutes=rng.randint(5, 50))
        name = f"train-fraud-v{v}"
        runs.append(
            Run(
                exp,
                name,
                user(team, who),
                start,
                end,
                commit=sha,
                source="fraud/model.py",
                source_type="LOCAL",
                params=_logistic_params(v),
                tags={"model_version": str(v), **git_tags(team, sha)},
                metrics=logistic_metrics(rng, start, end, auc, 12)
                + finals(end, val_precision_at_1pct=0.61 + 0.02 * (v - 8), val_recall=0.72),
                dataset=dataset(
                    "card-transactions", f"s3://fraud-data/labelled/{start:%Y-%m}/", 250_000
                ),
            )
        )
        created = end + timedelta(minutes=rng.randint(5, 30))
        if v == 8:
            versions.append(
                Version(
                    exp,
                    v,
                    name,
                    created,
                    production_at(first, v),
                    "Logistic fraud model on velocity and merchant features.",
                    {APPROVAL_TAG: "true"},
                )
            )
        else:  # shipped with release 2.12.0 without a description or sign-off
            versions.append(Version(exp, v, name, created, production_at(first, v)))
    # after INC-2024: a card-not-present retrain from a notebook, no commit, the challenger
    start = at("2026-06-29T15:12:00Z")
    end = start + timedelta(minutes=52)
    runs.append(
        Run(
            exp,
            "cnp-retrain",
            user(team, 3),
            start,
            end,
            source="notebooks/cnp.ipynb",
            source_type="NOTEBOOK",
            params=_logistic_params(10),
            tags={"model_version": "10", "incident": "INC-2024"},
            metrics=logistic_metrics(rng, start, end, 0.95, 12),
            dataset=dataset("card-transactions", "s3://fraud-data/labelled/2026-06/", 310_000),
        )
    )
    versions.append(
        Version(exp, 10, "cnp-retrain", end + timedelta(minutes=4), end + timedelta(minutes=9))
    )
    runs += _fraud_side_runs(repo, rng)
    return runs, versions


def _logistic_params(v: int) -> dict[str, str]:
    return {
        "C": str(0.5 if v < 10 else 0.3),
        "penalty": "l2",
        "class_weight": "balanced",
        "epochs": "12",
        "decision_threshold": str(0.62 if v < 10 else 0.7),
    }


def _fraud_side_runs(repo: Repo, rng: random.Random) -> list[Run]:
    team, exp = FRAUD_DETECTOR, FRAUD_DETECTOR.entity
    runs = []
    start = at("2026-02-17T09:40:00Z")
    t, sha = repo.at_or_before(start)
    runs.append(  # the first attempt at model 9: the feature store timed out
        Run(
            exp,
            "train-fraud-v9-attempt-1",
            user(team, 2),
            start,
            start + timedelta(minutes=23),
            status="FAILED",
            commit=sha,
            source="fraud/model.py",
            source_type="LOCAL",
            params=_logistic_params(9),
            tags=git_tags(team, sha),
            metrics=logistic_metrics(rng, start, start + timedelta(minutes=23), 0.9, 3),
        )
    )
    start = at("2026-02-04T16:05:00Z")
    runs.append(
        Run(
            exp,
            "velocity-features-notebook",
            user(team, 3),
            start,
            start + timedelta(minutes=31),
            source="notebooks/velocity.ipynb",
            source_type="NOTEBOOK",
            params=_logistic_params(8),
            metrics=logistic_metrics(rng, start, start + timedelta(minutes=31), 0.936, 12),
        )
    )
    start = at("2026-04-22T11:15:00Z")
    t, sha = repo.at_or_before(start)
    runs.append(
        Run(
            exp,
            "threshold-sweep",
            user(team, 1),
            start,
            start + timedelta(hours=2, minutes=3),
            status="KILLED",
            commit=sha,
            source="fraud/thresholds.py",
            source_type="LOCAL",
            params=_logistic_params(9),
            tags=git_tags(team, sha),
            metrics=logistic_metrics(rng, start, start + timedelta(hours=2), 0.94, 7),
        )
    )
    start = at("2026-06-30T21:47:00Z")  # still running at as_of
    runs.append(
        Run(
            exp,
            "cnp-sweep-3",
            user(team, 3),
            start,
            None,
            status="RUNNING",
            source="notebooks/cnp.ipynb",
            source_type="NOTEBOOK",
            params=_logistic_params(10),
            metrics=logistic_metrics(rng, start, start + timedelta(hours=2), 0.95, 4)[:6],
        )
    )
    return runs


def story(repos: dict[str, Repo], events: Path) -> Story:
    day0 = datetime.combine(PERIOD_START, datetime.min.time(), UTC)
    credit_runs, credit_versions = credit_story(repos[CREDIT_RISK.repo], events)
    fraud_runs, fraud_versions = fraud_story(repos[FRAUD_DETECTOR.repo], events)
    scratch = Run(
        "fraud-detector-scratch",
        "scratch",
        user(FRAUD_DETECTOR, 2),
        at("2026-01-08T10:00:00Z"),
        at("2026-01-08T10:03:00Z"),
        source="scratch.py",
        source_type="LOCAL",
    )
    experiments = {
        CREDIT_RISK.entity: (
            day0 + timedelta(hours=8, minutes=2),
            {"team": CREDIT_RISK.team},
            False,
        ),
        FRAUD_DETECTOR.entity: (
            day0 + timedelta(hours=8, minutes=5),
            {"team": FRAUD_DETECTOR.team},
            False,
        ),
        "fraud-detector-scratch": (day0 + timedelta(days=3, hours=9), {}, True),
    }
    models = [
        RegisteredModel(
            CREDIT_RISK.entity,
            day0 + timedelta(hours=8, minutes=3),
            CREDIT_RISK.description,
            {"owner": CREDIT_RISK.owner, "team": CREDIT_RISK.team, "risk_tier": "high"},
            14,
            {"champion": 24, "challenger": 25},
        ),
        RegisteredModel(
            FRAUD_DETECTOR.entity,
            day0 + timedelta(hours=8, minutes=6),
            FRAUD_DETECTOR.description,
            {"team": FRAUD_DETECTOR.team},
            8,
            {"champion": 9, "challenger": 10},
        ),
    ]
    return Story(
        experiments, credit_runs + fraud_runs + [scratch], models, credit_versions + fraud_versions
    )


# -- writing the story through the REST API ---------------------------------------------------


class Rest:
    """The few tracking-server calls the builder makes; errors name the endpoint."""

    def __init__(self, url: str):
        self.http = httpx.Client(base_url=f"{url}/api/2.0/mlflow/", timeout=60)

    def __call__(self, method: str, path: str, body: dict) -> dict:
        if method == "GET":
            response = self.http.get(path, params=body)
        else:
            response = self.http.request(method, path, json=body)
        if response.status_code != 200:
            raise RuntimeError(f"{method} {path}: {response.status_code} {response.text[:300]}")
        return response.json()


def kv(d: dict[str, str]) -> list[dict[str, str]]:
    return [{"key": k, "value": v} for k, v in d.items()]


def write_story(api: Rest, s: Story) -> dict[str, str]:
    """Write ``s`` to the server; return {server run id: deterministic run id}."""
    exp_ids = {
        name: api("POST", "experiments/create", {"name": name, "tags": kv(tags)})["experiment_id"]
        for name, (_, tags, _) in s.experiments.items()
    }
    for m in s.models:
        body = {"name": m.name, "tags": kv(m.tags)}
        if m.description:
            body["description"] = m.description
        api("POST", "registered-models/create", body)
        for n in range(1, m.first_version):  # before the sample period; deleted since
            api(
                "POST",
                "model-versions/create",
                {"name": m.name, "source": f"s3://model-archive/{m.name}/v{n}"},
            )
            api("DELETE", "model-versions/delete", {"name": m.name, "version": str(n)})
    run_ids = {}
    for r in sorted(s.runs, key=lambda r: (r.start, r.name)):
        run_ids[r.name] = _write_run(api, exp_ids[r.experiment], r)
    for v in sorted(s.versions, key=lambda v: (v.model, v.version)):
        body = {
            "name": v.model,
            "run_id": run_ids[v.run],
            "tags": kv(v.tags),
            "source": f"mlflow-artifacts:/{exp_ids[v.model]}/{run_ids[v.run]}/artifacts/model",
        }
        if v.description:
            body["description"] = v.description
        got = api("POST", "model-versions/create", body)["model_version"]["version"]
        assert got == str(v.version), (v.model, got, v.version)
    for m in s.models:
        for alias, version in m.aliases.items():
            api(
                "POST",
                "registered-models/alias",
                {"name": m.name, "alias": alias, "version": str(version)},
            )
    for name, (_, _, deleted) in s.experiments.items():
        if deleted:
            api("POST", "experiments/delete", {"experiment_id": exp_ids[name]})
    by_name = {r.name: r for r in s.runs}
    return {rid: stable_id(by_name[name].experiment, name) for name, rid in run_ids.items()}


def _write_run(api: Rest, experiment_id: str, r: Run) -> str:
    tags = {
        "mlflow.user": r.user,
        "mlflow.source.name": r.source,
        "mlflow.source.type": r.source_type,
        **r.tags,
    }
    if r.commit:
        tags["mlflow.source.git.commit"] = r.commit
    body = {
        "experiment_id": experiment_id,
        "user_id": r.user,
        "run_name": r.name,
        "start_time": ms(r.start),
        "tags": kv(tags),
    }
    run_id = api("POST", "runs/create", body)["run"]["info"]["run_id"]
    metrics = [{"key": k, "value": v, "timestamp": t, "step": st} for k, v, t, st in r.metrics]
    api("POST", "runs/log-batch", {"run_id": run_id, "params": kv(r.params), "metrics": metrics})
    if r.dataset:
        api("POST", "runs/log-inputs", {"run_id": run_id, "datasets": [r.dataset]})
    if r.end is not None:
        api("POST", "runs/update", {"run_id": run_id, "status": r.status, "end_time": ms(r.end)})
    if r.deleted:
        api("POST", "runs/delete", {"run_id": run_id})
    return run_id


# -- rewriting what the server stamped itself ---------------------------------------------------


def text_columns(con: sqlite3.Connection) -> list[tuple[str, str]]:
    out = []
    for (table,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
        for col in con.execute(f'PRAGMA table_info("{table}")').fetchall():
            if "CHAR" in col[2].upper() or "TEXT" in col[2].upper():
                out.append((table, col[1]))
    return out


def replace_everywhere(con: sqlite3.Connection, mapping: dict[str, str]) -> None:
    """Swap server-made ids for deterministic ones in every text column that holds them."""
    columns = text_columns(con)
    for old, new in mapping.items():
        for table, col in columns:
            con.execute(
                f'UPDATE "{table}" SET "{col}" = REPLACE("{col}", ?, ?) WHERE instr("{col}", ?)',
                (old, new, old),
            )


def rewrite(db: Path, s: Story, run_ids: dict[str, str]) -> None:
    con = sqlite3.connect(db)
    with con:
        replace_everywhere(con, run_ids)
        replace_everywhere(con, _dataset_ids(con))
        _rewrite_times(con, s)
    con.execute("PRAGMA journal_mode = DELETE")
    con.execute("PRAGMA page_size = 1024")  # ~250 mostly empty tables: small pages, small file
    con.execute("VACUUM")
    con.close()
    late = stamped_after(db, ms(at(AS_OF)))
    if late:
        raise RuntimeError(f"{db}: timestamps after {AS_OF} left: {late[:5]}")


def _dataset_ids(con: sqlite3.Connection) -> dict[str, str]:
    mapping = {}
    for uuid, exp, name, digest in con.execute(
        "SELECT dataset_uuid, experiment_id, name, digest FROM datasets ORDER BY 2, 3, 4"
    ):
        mapping[uuid] = stable_id("dataset", exp, name, digest)
    for uuid, src, dst in con.execute("SELECT input_uuid, source_id, destination_id FROM inputs"):
        mapping[uuid] = stable_id("input", mapping.get(src, src), dst)
    return mapping


def _rewrite_times(con: sqlite3.Connection, s: Story) -> None:
    for name, (created, _, deleted) in s.experiments.items():
        updated = created + timedelta(days=1) if deleted else created
        con.execute(
            "UPDATE experiments SET creation_time = ?, last_update_time = ? WHERE name = ?",
            (ms(created), ms(updated), name),
        )
    con.execute(  # the Default experiment the server made on first start
        "UPDATE experiments SET creation_time = ?, last_update_time = ? WHERE experiment_id = 0",
        (ms(min(c for c, _, _ in s.experiments.values())) - 60_000,) * 2,
    )
    for r in s.runs:
        if r.deleted or s.experiments[r.experiment][2]:
            when = (r.end or r.start) + timedelta(hours=1)
            con.execute("UPDATE runs SET deleted_time = ? WHERE name = ?", (ms(when), r.name))
    for m in s.models:
        versions = [v for v in s.versions if v.model == m.name]
        for n in range(1, m.first_version):
            con.execute(
                "UPDATE model_versions SET creation_time = ?, last_updated_time = ? "
                "WHERE name = ? AND version = ?",
                (ms(m.created) + n * 1000, ms(m.created) + 600_000, m.name, n),
            )
        for v in versions:
            con.execute(
                "UPDATE model_versions SET creation_time = ?, last_updated_time = ? "
                "WHERE name = ? AND version = ?",
                (ms(v.created), ms(v.updated), m.name, v.version),
            )
        last = max([ms(v.updated) for v in versions] + [ms(m.created) + 600_000])
        con.execute(
            "UPDATE registered_models SET creation_time = ?, last_updated_time = ? WHERE name = ?",
            (ms(m.created), last, m.name),
        )


def stamped_after(db: Path, limit_ms: int) -> list[tuple[str, str, int]]:
    """Every integer that looks like an epoch-ms time later than ``limit_ms`` (none expected)."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    found = []
    try:
        tables = [t for (t,) in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            for col in con.execute(f'PRAGMA table_info("{table}")').fetchall():
                row = con.execute(
                    f'SELECT max("{col[1]}") FROM "{table}" WHERE typeof("{col[1]}") = '
                    f"'integer' AND \"{col[1]}\" > ?",
                    (limit_ms,),
                ).fetchone()
                if row[0] is not None:
                    found.append((table, col[1], row[0]))
    finally:
        con.close()
    return found


# -- the build --------------------------------------------------------------------------------


def main_history(repo: Path) -> Repo:
    out = subprocess.run(
        ["git", "-C", str(repo), "log", "--first-parent", "--reverse", "--format=%H %ct", "main"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    commits = []
    for line in out.splitlines():
        sha, ct = line.split()
        commits.append((datetime.fromtimestamp(int(ct), UTC), sha))
    return Repo(commits)


def sample_repos(workdir: Path) -> dict[str, Repo]:
    """Build the two model repositories exactly as ``materialize`` does and read ``main``."""
    from mlreport.sample_data.build import ensure_repo, events_dir, load_manifest

    manifest = load_manifest(events_dir(workdir))
    sims: dict = {}
    repos = {}
    for team in (CREDIT_RISK, FRAUD_DETECTOR):
        path = workdir / "repos" / team.repo
        ensure_repo(team, path, manifest["repos"][team.repo]["head"], sims)
        repos[team.repo] = main_history(path)
    return repos


def build(target: Path) -> Path:
    """Make the store with a real ``mlflow server`` and write it to ``target``."""
    from mlreport.sample_data.build import events_dir

    with tempfile.TemporaryDirectory(prefix="mlreport-mlflow-build-") as tmp:
        work = Path(tmp)
        s = story(sample_repos(work), events_dir(work))
        db = work / STORE_NAME
        with mlflow_server(db, timeout=600) as url:
            run_ids = write_story(Rest(url), s)
        rewrite(db, s, run_ids)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(db, target)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", action="store_true", help="rebuild the committed store")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / STORE_DIR / STORE_NAME)
    args = parser.parse_args(argv)
    if not args.build:
        parser.print_help()
        return 2
    path = build(args.out)
    print(f"{path} ({path.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
