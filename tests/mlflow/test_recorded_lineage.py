"""Recorded responses for what the local server will not do on the artifact check: a 403 from
the artifact API, a run purged from under a version, a logged model that 404s; and how a
version's logged model is found when the server leaves the version's ``model_id`` out."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import httpx
import pytest

from mlreport.connectors.mlflow.lineage import model_id_of, run_input_rows, version_links
from mlreport.sources import SourceError
from mlreport.warehouse import Warehouse
from tests.mlflow.fake import world
from tests.mlflow.helpers import sync, table, write_config

URL = "http://mlflow.test"


@pytest.fixture
def wh(tmp_path: Path):
    with Warehouse(tmp_path / "wh.duckdb") as warehouse:
        yield warehouse


def _present(wh: Warehouse) -> list:
    return table(wh, "SELECT version, artifacts_present FROM model_versions ORDER BY version")


def test_listed_files_mean_present(tmp_path, wh) -> None:
    fake = world()
    fake.artifacts[("run0", "model")] = [{"path": "model/MLmodel", "is_dir": False}]
    sync(wh, write_config(tmp_path, tracking_uri=URL), fake.transport())
    assert _present(wh) == [("1", True)]


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (404, {"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "Run 'run0' not found"}, False),
        (403, {"error_code": "PERMISSION_DENIED", "message": "no artifact access"}, None),
        (404, {"error_code": "ENDPOINT_NOT_FOUND"}, None),
    ],
)
def test_artifact_answers(tmp_path, wh, caplog, status, body, expected) -> None:
    fake = world()
    fake.faults["artifacts/list"] = lambda r: httpx.Response(status, json=body)
    caplog.set_level(logging.WARNING)
    sync(wh, write_config(tmp_path, tracking_uri=URL), fake.transport())
    assert _present(wh) == [("1", expected)]
    if expected is None:
        assert "cannot list the artifacts of runs:/run0/model" in caplog.text


def test_a_failing_artifact_api_fails_the_sync_and_keeps_what_was_stored(tmp_path, wh) -> None:
    fake = world()
    config = write_config(tmp_path, tracking_uri=URL, retries=0)
    sync(wh, config, fake.transport())
    before = _present(wh)
    fake.faults["artifacts/list"] = lambda r: httpx.Response(503, text="down")
    with pytest.raises(SourceError, match="artifacts/list"):
        sync(wh, config, fake.transport())
    assert _present(wh) == before


def test_versions_link_to_logged_models_and_models_404(tmp_path, wh) -> None:
    fake = world()
    fake.logged_models = [
        {
            "info": {
                "model_id": "m-0a1b", "experiment_id": "1", "name": "model",
                "source_run_id": "run1", "status": "LOGGED_MODEL_READY",
                "creation_timestamp_ms": 1_767_225_600_000,
                "tags": [{"key": "mlflow.modelVersions",
                          "value": json.dumps([{"name": "credit-risk", "version": "2"}])}],
            },
            "data": {"params": [{"key": "alpha", "value": "0.5"}]},
        }
    ]  # fmt: skip
    v1 = fake.versions["credit-risk"][0]
    v2 = dict(v1, version="2", run_id=None, source="s3://bucket/somewhere")
    fake.versions["credit-risk"].append(v2)
    fake.models[0]["aliases"] = [{"alias": "champion", "version": "2"}]
    fake.faults["logged-models/m-0a1b/artifacts/directories"] = lambda r: httpx.Response(
        404, json={"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "gone"}
    )
    sync(wh, write_config(tmp_path, tracking_uri=URL), fake.transport())
    assert table(
        wh, "SELECT version, run_id, model_id, artifacts_present FROM model_versions ORDER BY 1"
    ) == [("1", "run0", None, None), ("2", "run1", "m-0a1b", False)]
    assert table(wh, "SELECT model_id, status, params FROM logged_models") == [
        ("m-0a1b", "READY", '{"alpha": "0.5"}')
    ]


def test_model_id_sources() -> None:
    links = version_links(
        [
            {"info": {"model_id": "m-1", "tags": [
                {"key": "mlflow.modelVersions", "value": '[{"name": "a", "version": "3"}]'}]}},
            {"info": {"model_id": "m-2", "tags": [
                {"key": "mlflow.modelVersions", "value": "not json"}]}},
        ]
    )  # fmt: skip
    assert links == {("a", "3"): "m-1"}
    assert model_id_of({"model_id": "m-9", "source": "models:/m-8"}, links) == "m-9"
    assert model_id_of({"source": "models:/m-0f/"}, links) == "m-0f"
    assert model_id_of({"source": "models:/credit/3", "name": "a", "version": 3}, links) == "m-1"
    assert model_id_of({"source": "runs:/r/model", "name": "a", "version": "4"}, links) is None


def test_bad_dataset_inputs_name_the_run() -> None:
    with pytest.raises(SourceError, match="run r1: inputs.dataset_inputs: field 'digest'"):
        run_input_rows({"inputs": {"dataset_inputs": [{"dataset": {"name": "d"}}]}}, "r1")
    with pytest.raises(SourceError, match="run r1: .*without a dataset object"):
        run_input_rows({"inputs": {"dataset_inputs": [{"tags": []}]}}, "r1")
    same = {"dataset": {"name": "d", "digest": "1"}}
    assert len(run_input_rows({"inputs": {"dataset_inputs": [same, same]}}, "r1")) == 1
