"""The committed MLflow store of the sample organisation: readable offline, tells the stories,
names real commits, and is still served by a real ``mlflow server``."""

from __future__ import annotations

import importlib.util
import json
import shutil
import sqlite3
import subprocess
import tomllib
from pathlib import Path

import pytest

from mlreport.sample_data import mlflow_store as ms
from mlreport.sample_data.build import ensure_repo, events_dir, load_manifest
from mlreport.sample_data.org import AS_OF, CREDIT_RISK, FRAUD_DETECTOR, PERIOD_START
from mlreport.sample_data.predictions import CREDIT_SWITCH, FRAUD_SWITCH

STORE = ms.packaged_store()


@pytest.fixture(scope="module")
def con():
    con = sqlite3.connect(f"file:{STORE}?mode=ro", uri=True)
    yield con
    con.close()


def one(con: sqlite3.Connection, sql: str, *params):
    return con.execute(sql, params).fetchone()


def aliases(con, model: str) -> dict[str, int]:
    rows = con.execute(
        "SELECT alias, version FROM registered_model_aliases WHERE name = ?", (model,)
    )
    return dict(rows.fetchall())


def version_tags(con, model: str, version: int) -> dict[str, str]:
    rows = con.execute(
        "SELECT key, value FROM model_version_tags WHERE name = ? AND version = ?", (model, version)
    )
    return dict(rows.fetchall())


def test_the_store_is_a_small_read_only_sqlite_file(con):
    assert STORE.stat().st_size < 1_000_000
    assert one(con, "PRAGMA integrity_check") == ("ok",)
    assert one(con, "SELECT count(*) FROM alembic_version")[0] == 1
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        con.execute("UPDATE runs SET name = 'x'")


def test_every_time_falls_in_the_sample_period(con):
    assert ms.stamped_after(STORE, ms.ms(ms.at(AS_OF))) == []
    start = ms.ms(ms.at(f"{PERIOD_START.isoformat()}T00:00:00Z"))
    for table, col in [
        ("experiments", "creation_time"),
        ("runs", "start_time"),
        ("metrics", "timestamp"),
        ("registered_models", "creation_time"),
        ("model_versions", "creation_time"),
    ]:
        assert one(con, f"SELECT min({col}) FROM {table}")[0] >= start, (table, col)


def test_ids_are_deterministic(con):
    runs = con.execute(
        "SELECT r.run_uuid, e.name, r.name FROM runs r JOIN experiments e USING (experiment_id)"
    ).fetchall()
    assert len(runs) > 20
    for run_id, experiment, name in runs:
        assert run_id == ms.stable_id(experiment, name)


def test_champions_are_the_models_in_production_since_the_logged_switch(con):
    assert aliases(con, "credit-risk") == {"champion": 24, "challenger": 25}
    assert aliases(con, "fraud-detector") == {"champion": 9, "challenger": 10}
    for model, version, switch in [
        ("credit-risk", 24, CREDIT_SWITCH),
        ("fraud-detector", 9, FRAUD_SWITCH),
    ]:
        updated = one(
            con,
            "SELECT last_updated_time FROM model_versions WHERE name = ? AND version = ?",
            model,
            version,
        )[0]
        assert updated == ms.ms(switch)
    live = con.execute(
        "SELECT name, min(version), max(version) FROM model_versions "
        "WHERE current_stage != 'Deleted_Internal' GROUP BY name ORDER BY name"
    ).fetchall()
    assert live == [("credit-risk", 14, 25), ("fraud-detector", 8, 10)]
    assert version_tags(con, "credit-risk", 23) == {"validation_status": "failed"}


def test_hygiene_gaps_are_there_on_purpose(con):
    model_tags = dict(
        con.execute(
            "SELECT key, value FROM registered_model_tags WHERE name = 'credit-risk'"
        ).fetchall()
    )
    assert model_tags["owner"] == CREDIT_RISK.owner
    assert (
        one(
            con,
            "SELECT count(*) FROM registered_model_tags WHERE name = 'fraud-detector' "
            "AND key = 'owner'",
        )[0]
        == 0
    )
    assert version_tags(con, "credit-risk", 24)[ms.APPROVAL_TAG] == "true"
    assert ms.APPROVAL_TAG not in version_tags(con, "fraud-detector", 9)
    assert version_tags(con, "fraud-detector", 8)[ms.APPROVAL_TAG] == "true"
    desc = dict(
        con.execute(
            "SELECT name || ':' || version, coalesce(description, '') "
            "FROM model_versions WHERE version IN (9, 24)"
        ).fetchall()
    )
    assert desc["credit-risk:24"] and desc["fraud-detector:9"] == ""
    no_commit = con.execute(
        "SELECT e.name, count(*) FROM runs r JOIN experiments e USING (experiment_id) "
        "WHERE r.lifecycle_stage = 'active' AND NOT EXISTS (SELECT 1 FROM tags t WHERE "
        "t.run_uuid = r.run_uuid AND t.key = 'mlflow.source.git.commit') GROUP BY 1 ORDER BY 1"
    ).fetchall()
    assert no_commit == [("credit-risk", 1), ("fraud-detector", 3)]
    statuses = {s for (s,) in con.execute("SELECT DISTINCT status FROM runs")}
    assert statuses == {"FINISHED", "FAILED", "KILLED", "RUNNING"}
    assert one(con, "SELECT count(*) FROM runs WHERE lifecycle_stage = 'deleted'")[0] == 2
    assert one(
        con, "SELECT lifecycle_stage FROM experiments WHERE name = 'fraud-detector-scratch'"
    ) == ("deleted",)


def test_metric_history_has_many_steps(con):
    steps = con.execute(
        "SELECT count(*) FROM metrics m JOIN runs r USING (run_uuid) "
        "WHERE r.name = 'retrain-v24' AND m.key = 'val_auc'"
    ).fetchone()[0]
    assert steps == 10


@pytest.fixture(scope="module")
def repos(tmp_path_factory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("mlflow-repos")
    manifest = load_manifest(events_dir(out))
    sims: dict = {}
    paths = {}
    for team in (CREDIT_RISK, FRAUD_DETECTOR):
        path = out / "repos" / team.repo
        ensure_repo(team, path, manifest["repos"][team.repo]["head"], sims)
        paths[team.entity] = path
    return paths


def test_run_commits_are_commits_of_the_sample_repositories(con, repos):
    rows = con.execute(
        "SELECT e.name, t.value FROM tags t JOIN runs r USING (run_uuid) "
        "JOIN experiments e USING (experiment_id) WHERE t.key = 'mlflow.source.git.commit' "
        "AND e.name IN ('credit-risk', 'fraud-detector')"
    ).fetchall()
    assert len(rows) > 15
    for entity, sha in rows:
        kind = subprocess.run(
            ["git", "-C", str(repos[entity]), "cat-file", "-t", sha], capture_output=True, text=True
        )
        assert kind.stdout.strip() == "commit", (entity, sha)


def test_credit_risk_runs_trained_the_commit_that_shipped(con):
    """Lineage: version 24 -> its run -> the commit of its production deployment."""
    sha = one(
        con,
        "SELECT t.value FROM model_versions v JOIN tags t ON t.run_uuid = v.run_id "
        "WHERE v.name = 'credit-risk' AND v.version = 24 AND t.key = 'mlflow.source.git.commit'",
    )[0]
    first = ms.first_deployments("credit-risk", events_dir(Path(".")))
    assert first[("24", "production")]["commit_sha"] == sha


def test_write_store_and_source_config(tmp_path):
    path = ms.write_store(tmp_path)
    assert path == tmp_path / "mlflow" / "mlflow.db"
    assert path.read_bytes() == STORE.read_bytes()
    mtime = path.stat().st_mtime_ns
    ms.write_store(tmp_path)
    assert path.stat().st_mtime_ns == mtime  # unchanged bytes are not rewritten
    block = tomllib.loads(ms.mlflow_source_config(tmp_path))["sources"][0]
    assert block == {
        "name": "mlflow",
        "type": "mlflow",
        "store": "mlflow/mlflow.db",
        "aliases": {"production": ["champion"], "staging": ["challenger"]},
        "approval_tag": "approved",
    }
    assert (tmp_path / block["store"]).exists()


@pytest.mark.slow
@pytest.mark.skipif(
    importlib.util.find_spec("mlflow") is None, reason="mlflow (a test dependency) not installed"
)
def test_a_real_mlflow_server_serves_the_rewritten_store(con, tmp_path):
    db = tmp_path / "mlflow.db"
    shutil.copyfile(STORE, db)
    run_id = ms.stable_id("credit-risk", "retrain-v24")
    with ms.mlflow_server(db) as url:
        api = ms.Rest(url)
        body = {"experiment_ids": ["1", "2", "3"], "run_view_type": "ALL", "max_results": 1000}
        got = api("POST", "runs/search", body)["runs"]
        models = api("GET", "registered-models/search", {"max_results": 100})
        v24 = api("GET", "model-versions/get", {"name": "credit-risk", "version": "24"})
        history = api("GET", "metrics/get-history", {"run_id": run_id, "metric_key": "val_auc"})
    expected = {
        r: (s, e) for r, s, e in con.execute("SELECT run_uuid, start_time, end_time FROM runs")
    }
    served = {r["info"]["run_id"]: r["info"] for r in got}
    assert set(served) == set(expected)
    for rid, (start, end) in expected.items():
        info = served[rid]
        assert int(info["start_time"]) == start
        assert (int(info["end_time"]) if "end_time" in info else None) == end
    names = {m["name"]: m for m in models["registered_models"]}
    assert set(names) == {"credit-risk", "fraud-detector"}
    assert {a["alias"]: a["version"] for a in names["credit-risk"]["aliases"]} == {
        "champion": "24",
        "challenger": "25",
    }
    assert int(v24["model_version"]["last_updated_timestamp"]) == ms.ms(CREDIT_SWITCH)
    assert v24["model_version"]["run_id"] == run_id
    assert len(history["metrics"]) == 10
    assert json.dumps(got).count("REDACTED") == 0
