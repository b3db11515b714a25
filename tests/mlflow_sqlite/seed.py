"""Seed a real MLflow tracking server with the real client: every shape the backend reads.

Imported only by the tests (mlflow is a test dependency); ``seed`` returns what it made.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

T0 = 1_700_000_000_000  # epoch ms; explicit timestamps keep the metric order deterministic


@dataclass
class Seeded:
    experiment_ids: list[str] = field(default_factory=list)
    run_ids: list[str] = field(default_factory=list)
    metric_keys: dict[str, list[str]] = field(default_factory=dict)  # run_id -> keys
    model_names: list[str] = field(default_factory=list)


def _metric(key: str, value: float, step: int, ts: int):
    from mlflow.entities import Metric

    return Metric(key, value, ts, step)


def _log_history(client, run_id: str) -> None:
    """Multi-step history with ties on (timestamp, step), NaN and infinities."""
    metrics = [_metric("loss", 1.0 / (step + 1), step, T0 + 10 * step) for step in range(6)]
    metrics += [
        _metric("loss", 0.25, 6, T0 + 100),  # same (ts, step) as the next: ordered by value
        _metric("loss", 0.125, 6, T0 + 100),
        _metric("loss", 0.5, 2, T0 + 5),  # an older timestamp at a later step
        _metric("auc", 0.71, 0, T0),
        _metric("auc", 0.74, 1, T0 + 1),
        _metric("auc", 0.73, 1, T0 + 2),
        _metric("weird", math.nan, 0, T0),
        _metric("weird", math.inf, 1, T0 + 1),
        _metric("weird", -math.inf, 2, T0 + 2),
        _metric("weird", -0.0, 3, T0 + 3),
        _metric("big", 2.0**53 + 1, 0, T0),
    ]
    client.log_batch(run_id, metrics=metrics)


def _seed_runs(client, seeded: Seeded, exp_credit: str, exp_fraud: str) -> dict[str, str]:
    from mlflow.entities import Param, RunTag

    runs: dict[str, str] = {}
    r1 = client.create_run(exp_credit, start_time=T0, run_name="train-1", tags={"team": "risk"})
    client.log_batch(
        r1.info.run_id,
        params=[Param("lr", "0.01"), Param("depth", "6"), Param("note", "naïve ✓")],
        tags=[RunTag("mlflow.source.git.commit", "a" * 40), RunTag("empty", "")],
    )
    _log_history(client, r1.info.run_id)
    client.set_terminated(r1.info.run_id, "FINISHED", end_time=T0 + 60_000)
    runs["finished"] = r1.info.run_id

    r2 = client.create_run(exp_credit, start_time=T0 + 1_000, run_name="train-2")
    client.log_param(r2.info.run_id, "lr", "0.02")
    client.log_metric(r2.info.run_id, "loss", 0.3, timestamp=T0 + 2_000, step=0)
    runs["running"] = r2.info.run_id  # never terminated: RUNNING, no end_time

    # same start time as r2: ordered by run_id
    r3 = client.create_run(exp_credit, start_time=T0 + 1_000, run_name="to-delete")
    client.set_terminated(r3.info.run_id, "FAILED", end_time=T0 + 3_000)
    client.delete_run(r3.info.run_id)
    runs["deleted"] = r3.info.run_id

    r4 = client.create_run(exp_fraud, start_time=T0 + 500)  # no name given: generated
    client.set_terminated(r4.info.run_id, "KILLED")
    runs["killed"] = r4.info.run_id

    r5 = client.create_run(exp_fraud, start_time=T0 - 500, run_name="bare")  # nothing logged
    runs["bare"] = r5.info.run_id

    seeded.run_ids = list(runs.values())
    seeded.metric_keys = {
        runs["finished"]: ["loss", "auc", "weird", "big", "val_auc"],
        runs["running"]: ["loss"],
    }
    return runs


def _link_logged_model(client, runs: dict[str, str], model_id: str) -> None:
    """Datasets a run read, the logged model it wrote, and a metric logged against both."""
    from mlflow.entities import Dataset, DatasetInput, InputTag, LoggedModelOutput

    train = Dataset("train", "d1g35t", "local", '{"uri": "/data/train.parquet"}', '{"cols": 3}')
    evals = Dataset("eval", "e2v4l", "local", '{"uri": "/data/eval.parquet"}')
    client.log_inputs(
        runs["finished"],
        datasets=[
            DatasetInput(train, [InputTag("mlflow.data.context", "training")]),
            DatasetInput(evals, [InputTag("mlflow.data.context", "eval"), InputTag("k", "v")]),
        ],
    )
    client.log_inputs(runs["killed"], datasets=[DatasetInput(train, [])])
    client.log_outputs(runs["finished"], [LoggedModelOutput(model_id, step=3)])
    client.log_metric(
        runs["finished"], "val_auc", 0.8, timestamp=T0 + 7, step=3,
        dataset_name="eval", dataset_digest="e2v4l", model_id=model_id,
    )  # fmt: skip


def _seed_registry(client, seeded: Seeded, runs: dict[str, str], exp_credit: str) -> None:
    logged = client.create_logged_model(
        exp_credit,
        name="credit-lm",
        source_run_id=runs["finished"],
        tags={"flavor": "sklearn"},
        params={"alpha": "0.5"},
        model_type="classifier",
    )
    client.finalize_logged_model(logged.model_id, "READY")
    _link_logged_model(client, runs, logged.model_id)
    client.create_logged_model(exp_credit, name="pending-lm")

    name = "credit-model"
    client.create_registered_model(name, tags={"risk_tier": "high"}, description="Scores credit.")
    for i in range(1, 5):
        run_id = runs["finished"] if i != 2 else runs["running"]
        source = f"{client.get_run(run_id).info.artifact_uri}/model-{i}"
        client.create_model_version(
            name,
            source=f"models:/{logged.model_id}" if i == 4 else source,
            run_id=run_id,
            tags={"approved": "true"} if i == 2 else None,
            description=f"version {i}" if i != 3 else None,
            model_id=logged.model_id if i == 4 else None,
        )
    client.set_model_version_tag(name, "3", "approved", "false")
    client.set_registered_model_alias(name, "champion", "2")
    client.set_registered_model_alias(name, "challenger", "3")
    client.set_registered_model_alias(name, "shadow", "3")
    with warnings.catch_warnings():  # stages are deprecated, yet still in latest_versions
        warnings.simplefilter("ignore", FutureWarning)
        client.transition_model_version_stage(name, "1", "Archived")
    client.delete_model_version(name, "4")

    client.create_registered_model("fraud-model")  # no tags, description or versions
    client.create_registered_model("other-model", description="")
    client.create_model_version("other-model", source="s3://bucket/models/other/1")
    seeded.model_names = [name, "fraud-model", "other-model"]


def seed(url: str) -> Seeded:
    """Experiments (one deleted), runs in every status, history, registry and logged models."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=url, registry_uri=url)
    seeded = Seeded()
    exp_credit = client.create_experiment(
        "credit-scoring", tags={"owner": "risk-team", "mlflow.note.content": "line1\nline2"}
    )
    exp_fraud = client.create_experiment("fraud")
    exp_gone = client.create_experiment("abandoned", tags={"x": "1"})
    client.delete_experiment(exp_gone)
    seeded.experiment_ids = ["0", exp_credit, exp_fraud, exp_gone]
    runs = _seed_runs(client, seeded, exp_credit, exp_fraud)
    _seed_registry(client, seeded, runs, exp_credit)
    return seeded
