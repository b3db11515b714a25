"""Lineage against the real `mlflow server`: datasets logged with ``mlflow.log_input``, MLflow 3
logged models registered as versions, two aliases set in one sync, and a production version
whose artifacts are deleted — over REST and from the offline store, which must agree.

This file sorts after test_server.py on purpose: the server is shared per session, and that
file compares the whole server with the warehouse, so it must run before these add to it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from mlreport.warehouse import Warehouse
from tests.mlflow.helpers import sync, table, write_config
from tests.mlflow.server import MlflowServer

pytestmark = pytest.mark.slow

MODEL = "lineage-model"


class Lineage:
    """What ``seed`` made: run ids, logged model ids, the artifact directories to delete."""

    def __init__(self) -> None:
        self.runs: dict[str, str] = {}
        self.models: dict[str, str] = {}  # label -> logged model id
        self.experiment = ""
        self.extra_dir = Path()  # the run artifacts version 3 was registered from


def _seed(server: MlflowServer) -> Lineage:
    import mlflow
    import pandas as pd

    class Echo(mlflow.pyfunc.PythonModel):
        def predict(self, context, model_input, params=None):
            return model_input

    out = Lineage()
    client = server.client()
    out.experiment = client.create_experiment("lineage-train")
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(server.url)
    try:
        train = pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": [0, 1, 0]})
        test = pd.DataFrame({"x": [4.0, 5.0], "y": [1, 1]})
        for label in ("first", "second"):
            with mlflow.start_run(experiment_id=out.experiment, run_name=label) as run:
                mlflow.log_input(
                    mlflow.data.from_pandas(train, source="/data/train.csv", name="credit-train"),
                    context="training",
                )
                mlflow.log_input(
                    mlflow.data.from_pandas(test, source="/data/test.csv", name="credit-test"),
                    context="testing",
                )
                info = mlflow.pyfunc.log_model(
                    name="model",
                    python_model=Echo(),
                    pip_requirements=["mlflow"],
                    registered_model_name=MODEL,
                    params={"alpha": "0.5"},
                    model_type="echo",
                )
                out.runs[label] = run.info.run_id
                out.models[label] = info.model_id
        # a dataset input with no context tag
        from mlflow.entities import Dataset, DatasetInput

        bare = Dataset("bare", "0123abcd", "local", '{"uri": "/data/bare.csv"}')
        client.log_inputs(out.runs["first"], datasets=[DatasetInput(bare, [])])
        # version 3: classic registration from a run's artifacts (no logged model)
        with mlflow.start_run(experiment_id=out.experiment, run_name="classic") as run:
            mlflow.log_text("weights", "extra/weights.txt")
            out.runs["classic"] = run.info.run_id
        run = client.get_run(out.runs["classic"])
        client.create_model_version(
            MODEL, f"{run.info.artifact_uri}/extra", run_id=run.info.run_id, await_creation_for=0
        )
        out.extra_dir = Path(run.info.artifact_uri) / "extra"
    finally:
        mlflow.set_tracking_uri(previous)
    # two aliases set on one version between two syncs
    client.set_registered_model_alias(MODEL, "champion", "1")
    client.set_registered_model_alias(MODEL, "challenger", "1")
    return out


@pytest.fixture(scope="module")
def lineage(mlflow_server: MlflowServer) -> Lineage:
    return _seed(mlflow_server)


def _versions(wh: Warehouse) -> dict[str, tuple]:
    rows = table(
        wh,
        "SELECT version, model_id, artifacts_present, run_id FROM model_versions WHERE name = ?",
        [MODEL],
    )
    return {r[0]: r[1:] for r in rows}


def test_logged_models_inputs_and_artifacts(
    mlflow_server: MlflowServer, lineage: Lineage, tmp_path: Path
) -> None:
    client = mlflow_server.client()
    config = write_config(tmp_path, tracking_uri=mlflow_server.url, experiments=["lineage-*"])
    with Warehouse(tmp_path / "wh.duckdb") as wh:
        sync(wh, config)

        # logged models: exactly what the client reads back
        stored = table(
            wh,
            "SELECT model_id, experiment_id, name, source_run_id, status, artifact_location, "
            "model_type, epoch_ms(created_at), params, tags FROM logged_models ORDER BY model_id",
        )
        expected = sorted(
            client.search_logged_models(experiment_ids=[lineage.experiment]),
            key=lambda m: m.model_id,
        )
        assert [r[0] for r in stored] == [m.model_id for m in expected]
        for row, m in zip(stored, expected, strict=True):
            assert row[1:8] == (
                m.experiment_id, m.name, m.source_run_id, str(m.status),
                m.artifact_location, m.model_type, m.creation_timestamp,
            )  # fmt: skip
            assert json.loads(row[8]) == m.params == {"alpha": "0.5"}
            assert json.loads(row[9]) == m.tags
        assert {r[4] for r in stored} == {"READY"}

        # run inputs: each dataset with its digest, source and context, as MLflow holds them
        got = set(
            table(
                wh,
                "SELECT run_id, dataset_name, dataset_digest, dataset_source_type, "
                "dataset_source, context FROM run_inputs",
            )
        )
        want = set()
        for run_id in lineage.runs.values():
            for item in client.get_run(run_id).inputs.dataset_inputs:
                ctx = {t.key: t.value for t in item.tags}.get("mlflow.data.context", "")
                d = item.dataset
                want.add((run_id, d.name, d.digest, d.source_type, d.source, ctx))
        assert got == want
        first = sorted(
            (name, ctx) for run, name, _, _, _, ctx in got if run == lineage.runs["first"]
        )
        assert first == [("bare", ""), ("credit-test", "testing"), ("credit-train", "training")]
        assert json.loads(next(r[4] for r in got if r[1] == "credit-train")) == {
            "uri": "/data/train.csv"
        }

        # versions: the logged model each came from; only the production one checked
        versions = _versions(wh)
        assert versions["1"] == (lineage.models["first"], True, lineage.runs["first"])
        assert versions["2"] == (lineage.models["second"], None, lineage.runs["second"])
        assert versions["3"] == (None, None, lineage.runs["classic"])

        # two aliases set on version 1 in one sync: two events told apart by their key
        events = table(
            wh,
            "SELECT key, \"at\", detail FROM model_events WHERE name = ? AND version = '1' "
            "AND event = 'alias_set' ORDER BY key",
            [MODEL],
        )
        assert [e[0] for e in events] == ["challenger", "champion"]
        assert events[0][1] == events[1][1]  # the same moment, no microsecond nudge
        assert [json.loads(e[2])["alias"] for e in events] == ["challenger", "champion"]
        created = table(
            wh, "SELECT key FROM model_events WHERE name = ? AND event = 'version_created'",
            [MODEL],
        )  # fmt: skip
        assert created == [("",)] * 3

        # production moves to 2, and 3 gets the `production` alias: both now checked
        client.set_registered_model_alias(MODEL, "champion", "2")
        client.set_registered_model_alias(MODEL, "production", "3")
        sync(wh, config)
        assert {v: r[1] for v, r in _versions(wh).items()} == {"1": True, "2": True, "3": True}

        # the artifacts of 1 (a logged model) and 3 (a run's folder) are deleted
        shutil.rmtree(client.get_logged_model(lineage.models["first"]).artifact_location)
        shutil.rmtree(lineage.extra_dir)
        sync(wh, config)
        assert {v: r[1] for v, r in _versions(wh).items()} == {"1": False, "2": True, "3": False}

    # a fresh warehouse over REST and one from the offline store (same database, artifacts on
    # this machine) agree; `production` now on 1, whose logged model's files are gone. 3 never
    # held a production alias in these warehouses: not checked.
    client.set_registered_model_alias(MODEL, "production", "1")
    (tmp_path / "rest").mkdir()
    (tmp_path / "offline").mkdir()
    online = write_config(
        tmp_path / "rest", tracking_uri=mlflow_server.url, experiments=["lineage-*"]
    )
    offline = write_config(
        tmp_path / "offline", store=str(mlflow_server.db), experiments=["lineage-*"]
    )
    with Warehouse(tmp_path / "rest.duckdb") as a, Warehouse(tmp_path / "offline.duckdb") as b:
        sync(a, online)
        sync(b, offline)
        assert _tables(b) == _tables(a)
        assert {v: r[1] for v, r in _versions(b).items()} == {"1": False, "2": True, "3": None}
        assert len(_tables(b)["run_inputs"]) == 5 and len(_tables(b)["logged_models"]) == 2


def _tables(wh: Warehouse) -> dict[str, list[tuple]]:
    return {
        "logged_models": table(
            wh, "SELECT * EXCLUDE (synced_at) FROM logged_models ORDER BY model_id"
        ),
        "run_inputs": table(wh, "SELECT * EXCLUDE (synced_at) FROM run_inputs ORDER BY ALL"),
        "versions": table(
            wh,
            "SELECT version, run_id, model_id, artifacts_present FROM model_versions "
            "WHERE name = ? ORDER BY version",
            [MODEL],
        ),
    }


def test_mlflow_rejects_offline_options_online(tmp_path: Path) -> None:
    from mlreport.config import ConfigError
    from tests.mlflow.helpers import make_source

    config = write_config(tmp_path, tracking_uri="http://x.test", artifacts_destination="a")
    with pytest.raises(ConfigError, match="artifacts_destination is read with store only"):
        make_source(config)
