"""Seed a real MLflow server with the real client: experiments, runs, metric history, a
registry with versions, aliases and tags. Returns the ids the tests check against."""

from __future__ import annotations

from dataclasses import dataclass, field

SHA = {
    "r1": "1111111111111111111111111111111111111111",
    "r2": "2222222222222222222222222222222222222222",
    "r3": "3333333333333333333333333333333333333333",
}
T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z in ms


@dataclass
class Seeded:
    experiments: dict[str, str] = field(default_factory=dict)  # name -> id
    runs: dict[str, str] = field(default_factory=dict)  # label -> run id
    model: str = "credit-risk"
    other_model: str = "fraud"


def seed(client) -> Seeded:
    from mlflow.entities import Metric, Param, RunTag

    out = Seeded()
    for name in ("credit-train", "credit-eval", "scratch"):
        out.experiments[name] = client.create_experiment(name, tags={"team": "risk"})

    def run(label, exp, start, sha, params, metrics, finish=True):
        r = client.create_run(
            out.experiments[exp], start_time=start, tags={"mlflow.source.git.commit": sha}
            if sha else {}, run_name=label,
        )  # fmt: skip
        run_id = r.info.run_id
        client.log_batch(
            run_id,
            metrics=[Metric(k, v, ts, step) for k, v, ts, step in metrics],
            params=[Param(k, v) for k, v in params.items()],
            tags=[RunTag("stage", "train")],
        )
        if finish:
            client.set_terminated(run_id, "FINISHED", end_time=start + 60_000)
        out.runs[label] = run_id
        return run_id

    loss = [("loss", 1.0 / (s + 1), T0 + 1000 * s, s) for s in range(5)]
    run("r1", "credit-train", T0, SHA["r1"], {"lr": "0.1", "depth": "4"},
        loss + [("acc", 0.5 + s / 10, T0 + 1000 * s, s) for s in range(3)])  # fmt: skip
    run("r2", "credit-train", T0 + 10_000, SHA["r2"], {"lr": "0.01"},
        [("loss", 0.9 - s / 10, T0 + 20_000 + s, s) for s in range(3)], finish=False)  # fmt: skip
    # the same step twice (two timestamps) and a NaN
    run("r3", "credit-eval", T0 + 20_000, SHA["r3"], {"lr": "0.2"},
        [("auc", 0.7, T0 + 30_000, 0), ("auc", 0.75, T0 + 30_001, 0),
         ("nan_metric", float("nan"), T0 + 30_000, 0)])  # fmt: skip
    run("r4", "scratch", T0 + 30_000, None, {}, [])

    client.create_registered_model(
        out.model, tags={"owner": "risk-ml@example.com"}, description="Default risk"
    )
    for label in ("r1", "r3"):
        info = client.get_run(out.runs[label]).info
        client.create_model_version(
            out.model, f"{info.artifact_uri}/model", run_id=info.run_id, await_creation_for=0
        )
    client.set_model_version_tag(out.model, "1", "approved", "true")
    client.set_registered_model_alias(out.model, "champion", "1")
    client.set_registered_model_alias(out.model, "challenger", "2")
    client.create_registered_model(out.other_model)
    info = client.get_run(out.runs["r4"]).info
    client.create_model_version(
        out.other_model, f"{info.artifact_uri}/model", run_id=info.run_id, await_creation_for=0
    )
    return out
