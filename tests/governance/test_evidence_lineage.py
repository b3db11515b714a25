"""Lineage, logged-model and test-metric evidence on hand-built warehouses: present, partial,
missing, and "not recorded" before the run_inputs / logged_models tables exist."""

from __future__ import annotations

import pytest

from mlreport.warehouse import Warehouse

from .world import World, ago, config, evidence, future_schema


@pytest.fixture
def wh(tmp_path):
    with Warehouse(tmp_path / "wh.duckdb") as w:
        yield w


def production(wh, future=True) -> World:
    """Version 2 (run r2) is the champion since 30 days ago."""
    if future:
        future_schema(wh)
    w = World(wh).entity(risk_tier="high")
    w.version("1", "r1").version("2", "r2").run("r1").run("r2")
    return w.alias("2", ago(30))


def test_traced_version_is_met(wh, tmp_path):
    production(wh).dataset("r2", "loans-2025", "training")
    e = evidence(wh, config(tmp_path), "credit", "lineage.run_commit_dataset")
    assert e.status == "met"
    (row,) = e.rows
    assert row == {
        "version": "2",
        "alias": "champion",
        "run_id": "r2",
        "commit": "a" * 40,
        "datasets": "loans-2025 (training)",
        "traced": True,
    }
    assert {f.label: f.value for f in e.facts}["Traced to run, commit and datasets"] == 1


def test_a_run_without_datasets_is_partial(wh, tmp_path):
    production(wh)
    e = evidence(wh, config(tmp_path), "credit", "lineage.run_commit_dataset")
    assert e.status == "partial"
    assert e.summary.startswith("0 of 1 production versions are traced")


def test_a_run_without_commit_is_partial(wh, tmp_path):
    w = production(wh)
    wh.con.execute("UPDATE runs SET git_sha = NULL WHERE run_id = 'r2'")
    w.dataset("r2", "loans", "training")
    e = evidence(wh, config(tmp_path), "credit", "lineage.run_commit_dataset")
    assert e.status == "partial" and e.rows[0]["commit"] is None


def test_no_production_version_is_missing(wh, tmp_path):
    future_schema(wh)
    World(wh).entity().version("1", "r1").run("r1")
    e = evidence(wh, config(tmp_path), "credit", "lineage.run_commit_dataset")
    assert e.status == "missing" and "No version of this model is in production" in e.summary


def test_version_without_run_is_missing(wh, tmp_path):
    future_schema(wh)
    World(wh).entity().version("1").alias("1", ago(10))
    e = evidence(wh, config(tmp_path), "credit", "lineage.run_commit_dataset")
    assert e.status == "missing" and e.rows[0]["run_id"] is None


def test_a_run_without_logged_inputs_is_not_traced(wh, tmp_path):
    production(wh)
    e = evidence(wh, config(tmp_path), "credit", "lineage.run_commit_dataset")
    assert e.status == "partial"
    assert e.rows[0]["datasets"] is None and e.rows[0]["traced"] is False
    assert "0 of 1 production versions are traced" in e.summary


def test_logged_model_with_params_is_met(wh, tmp_path):
    w = production(wh)
    wh.con.execute("UPDATE model_versions SET model_id = 'm-2' WHERE version = '2'")
    w.insert(
        "logged_models",
        source="reg",
        model_id="m-2",
        name="xgb",
        model_type="xgboost",
        params={"max_depth": 4},
        artifact_location="s3://a/m-2",
    )
    e = evidence(wh, config(tmp_path), "credit", "lineage.logged_model")
    assert e.status == "met"
    assert e.rows[0]["logged_model"] == "xgb" and e.rows[0]["params_recorded"] is True


def test_logged_model_without_params_is_partial(wh, tmp_path):
    w = production(wh)
    wh.con.execute("UPDATE model_versions SET model_id = 'm-2' WHERE version = '2'")
    w.insert("logged_models", source="reg", model_id="m-2", name="xgb")
    e = evidence(wh, config(tmp_path), "credit", "lineage.logged_model")
    assert e.status == "partial" and e.rows[0]["params_recorded"] is False


def test_logged_model_unlinked_is_missing(wh, tmp_path):
    production(wh)
    e = evidence(wh, config(tmp_path), "credit", "lineage.logged_model")
    assert e.status == "missing" and e.rows[0]["model_id"] is None


def test_a_version_without_a_logged_model_is_missing(wh, tmp_path):
    production(wh)
    e = evidence(wh, config(tmp_path), "credit", "lineage.logged_model")
    assert e.status == "missing"
    assert "0 of 1 production versions come from a logged model" in e.summary
    assert e.rows[0]["model_id"] is None and e.rows[0]["params_recorded"] is False


def test_test_metrics_and_test_data_are_met(wh, tmp_path):
    production(wh).run_metric("r2", "test_auc", 0.91).dataset("r2", "holdout", "testing", "h9")
    e = evidence(wh, config(tmp_path), "credit", "validation.test_metrics")
    assert e.status == "met"
    assert e.rows[0]["metrics"] == "test_auc" and e.rows[0]["test_data"] == "holdout (h9)"


def test_test_metrics_without_test_data_are_partial(wh, tmp_path):
    production(wh).run_metric("r2", "test_auc", 0.91).dataset("r2", "train", "training")
    e = evidence(wh, config(tmp_path), "credit", "validation.test_metrics")
    assert e.status == "partial" and e.rows[0]["test_data"] is None


def test_no_test_metrics_is_missing(wh, tmp_path):
    production(wh)
    e = evidence(wh, config(tmp_path), "credit", "validation.test_metrics")
    assert e.status == "missing"
