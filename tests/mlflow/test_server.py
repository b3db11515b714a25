"""Against a real `mlflow server` seeded with the real client: every table equals what the
server holds, after a first sync, after changes, and a no-change sync costs a few requests."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from mlreport.warehouse import Warehouse
from tests.mlflow.helpers import sync, table, write_config
from tests.mlflow.seed import SHA, Seeded, seed
from tests.mlflow.server import MlflowServer

pytestmark = pytest.mark.slow

ALIASES = {"production": ["champion"], "staging": ["challenger"]}


@pytest.fixture(scope="module")
def seeded(mlflow_server: MlflowServer) -> Seeded:
    return seed(mlflow_server.client())


def all_runs(client, seeded: Seeded):
    from mlflow.entities import ViewType

    ids = list(seeded.experiments.values())
    return client.search_runs(ids, run_view_type=ViewType.ALL, max_results=1000)


def check_tables(wh: Warehouse, client, seeded: Seeded) -> None:
    """Compare experiments, runs, run_metrics, registered_models, model_versions with MLflow."""
    from mlflow.entities import ViewType

    exps = {e.experiment_id: e for e in client.search_experiments(view_type=ViewType.ALL)}
    stored = table(wh, "SELECT experiment_id, name, lifecycle_stage, tags FROM experiments")
    assert {r[0]: (r[1], r[2]) for r in stored} == {
        i: (e.name, e.lifecycle_stage) for i, e in exps.items()
    }
    runs = {r.info.run_id: r for r in all_runs(client, seeded)}
    stored = table(
        wh,
        "SELECT run_id, experiment_id, name, status, lifecycle_stage, user_id, git_sha, "
        "epoch_ms(start_time), epoch_ms(end_time), params, tags FROM runs",
    )
    assert {r[0] for r in stored} == set(runs)
    for row in stored:
        run = runs[row[0]]
        assert row[1:9] == (
            run.info.experiment_id,
            run.info.run_name,
            run.info.status,
            run.info.lifecycle_stage,
            run.info.user_id,
            run.data.tags.get("mlflow.source.git.commit"),
            run.info.start_time,
            run.info.end_time,
        )
        assert json.loads(row[9]) == run.data.params
        assert json.loads(row[10]) == run.data.tags
    # the full history of every metric key
    expected = set()
    for run in runs.values():
        for key in run.data.metrics:
            for m in client.get_metric_history(run.info.run_id, key):
                value = "nan" if math.isnan(m.value) else m.value
                expected.add((run.info.run_id, key, m.step, m.timestamp, value))
    got = {
        (r[0], r[1], r[2], r[3], "nan" if math.isnan(r[4]) else r[4])
        for r in table(wh, "SELECT run_id, key, step, epoch_ms(ts), value FROM run_metrics")
    }
    assert got == expected
    # the registry
    models = {m.name: m for m in client.search_registered_models()}
    stored = table(wh, "SELECT name, owner, description, tags, aliases FROM registered_models")
    assert {r[0] for r in stored} == set(models)
    for name, owner, description, tags, aliases in stored:
        m = models[name]
        assert json.loads(aliases) == {a: str(v) for a, v in m.aliases.items()}
        assert json.loads(tags) == m.tags
        assert owner == m.tags.get("owner")
        assert description == (m.description or None)
    versions = {
        (v.name, v.version): v
        for name in models
        for v in client.search_model_versions(f"name = '{name}'")
    }
    stored = table(
        wh,
        "SELECT name, version, run_id, model_source, status, tags, aliases, "
        "epoch_ms(created_at), epoch_ms(updated_at) FROM model_versions "
        "WHERE status <> 'DELETED'",
    )
    assert {(r[0], r[1]) for r in stored} == set(versions)
    for row in stored:
        v = versions[(row[0], row[1])]
        assert row[2:5] == (v.run_id, v.source, v.status)
        assert json.loads(row[5]) == v.tags
        # search_model_versions leaves aliases out; get_model_version fills them in
        assert sorted(row[6]) == sorted(client.get_model_version(v.name, v.version).aliases)
        assert row[7:] == (v.creation_timestamp, v.last_updated_timestamp)


def test_sync_changes_and_a_cheap_second_sync(
    mlflow_server: MlflowServer,
    seeded: Seeded,
    tmp_path: Path,
) -> None:
    client = mlflow_server.client()
    config = write_config(tmp_path, tracking_uri=mlflow_server.url, aliases=ALIASES)
    name = seeded.model
    with Warehouse(tmp_path / "wh.duckdb") as wh:
        # 1. first sync: everything, and the registry as a baseline
        stats = sync(wh, config)
        check_tables(wh, client, seeded)
        events = table(
            wh,
            "SELECT name, version, event, at_kind, detail FROM model_events ORDER BY ALL",
        )
        assert (name, "1", "alias_set", "last_updated_timestamp") in [e[:4] for e in events]
        assert sorted((e[0], e[1]) for e in events if e[2] == "version_created") == [
            (name, "1"), (name, "2"), (seeded.other_model, "1")
        ]  # fmt: skip
        deps = table(
            wh,
            "SELECT entity, environment, version, commit_sha, kind, status FROM deployments "
            "ORDER BY environment",
        )
        assert deps == [
            (name, "production", "1", SHA["r1"], "planned", "success"),
            (name, "staging", "2", SHA["r3"], "planned", "success"),
        ]
        assert stats.reads["requests"] >= 5

        # 2. nothing changed: a fixed, small number of list requests; no history reads
        stats = sync(wh, config)
        # experiments 1 + runs 1 + logged models 1 + registered models 1 + versions 1 per
        # model (2) + one artifact listing of the version that held the production alias
        assert stats.reads["requests"] == 7
        assert stats.streams["run_metrics"].rows == 0
        assert stats.rows == 0

        # 3. changes: a run finishes with new points, champion moves forward to a new
        # version, a tag changes, a run and an experiment are deleted
        from mlflow.entities import Metric

        r2 = seeded.runs["r2"]
        client.log_batch(
            r2, metrics=[Metric("loss", 0.5, 1_767_225_700_000 + s, s) for s in (3, 4)]
        )
        client.set_terminated(r2, "FINISHED")
        info = client.get_run(r2).info
        client.create_model_version(
            name, f"{info.artifact_uri}/model", run_id=r2, await_creation_for=0
        )
        client.set_registered_model_alias(name, "champion", "3")
        client.set_model_version_tag(name, "2", "approved", "true")
        client.delete_run(seeded.runs["r3"])
        client.delete_experiment(seeded.experiments["scratch"])
        stats = sync(wh, config)
        check_tables(wh, client, seeded)
        # an incremental sync reads the changed run's history while listing runs
        assert stats.reads["history_chunks_read_ahead"] == 1
        assert table(wh, "SELECT status FROM runs WHERE run_id = ?", [r2]) == [("FINISHED",)]
        assert table(wh, "SELECT lifecycle_stage FROM runs WHERE run_id = ?",
                     [seeded.runs["r3"]]) == [("deleted",)]  # fmt: skip
        assert table(wh, "SELECT count(*) FROM run_metrics WHERE run_id = ? AND key = 'loss'",
                     [r2]) == [(5,)]  # fmt: skip
        new = table(
            wh,
            "SELECT version, event, at_kind, detail FROM model_events "
            "WHERE synced_at = (SELECT max(synced_at) FROM model_events) ORDER BY ALL",
        )
        assert [(v, e, json.loads(d)) for v, e, _, d in new] == [
            ("1", "alias_removed", {"alias": "champion", "new_version": "3", "since": _since(new)}),
            ("2", "tag_changed",
             {"tag": "approved", "old": None, "new": "true", "since": _since(new)}),
            ("3", "alias_set", {"alias": "champion", "previous_version": "1"}),
            ("3", "version_created", {"timestamp": "creation_timestamp"}),
        ]  # fmt: skip
        # version 3 was created (and so last updated) since the last sync: its own timestamp
        assert [k for v, e, k, _ in new if e == "alias_set"] == ["last_updated_timestamp"]

        # 4. champion moves back to version 1: a rollback; the deployment of 3 rolled back
        client.set_registered_model_alias(name, "champion", "1")
        stats = sync(wh, config)
        deps = table(
            wh,
            "SELECT version, commit_sha, kind, status, deployment_id FROM deployments "
            "WHERE environment = 'production' ORDER BY finished_at, version",
        )
        assert [d[:4] for d in deps] == [
            ("1", SHA["r1"], "planned", "success"),
            ("3", SHA["r2"], "planned", "rolled_back"),
            ("1", SHA["r1"], "rollback", "success"),
        ]
        assert all(d[4].startswith(f"{name}:champion:") for d in deps)
        moved = table(
            wh,
            "SELECT version, event, at_kind FROM model_events "
            "WHERE synced_at = (SELECT max(synced_at) FROM model_events) ORDER BY ALL",
        )
        assert moved == [("1", "alias_set", "sync_time"), ("3", "alias_removed", "sync_time")]
        check_tables(wh, client, seeded)

        # 5. a sync with --full re-reads everything but invents no events or deployments
        n_events = table(wh, "SELECT count(*) FROM model_events")
        n_deps = table(wh, "SELECT count(*) FROM deployments")
        sync(wh, config, full=True)
        assert table(wh, "SELECT count(*) FROM model_events") == n_events
        assert table(wh, "SELECT count(*) FROM deployments") == n_deps
        check_tables(wh, client, seeded)

        # 6. and again nothing changed: the count of step 2 plus one artifact listing for
        # version 3, which has held champion since
        stats = sync(wh, config)
        assert stats.reads["requests"] == 8
        assert stats.rows == 0


def _since(rows) -> int:
    for _, _, _, d in rows:
        if "since" in json.loads(d):
            return json.loads(d)["since"]
    raise AssertionError("no event carries `since`")


def test_offline_store_gives_the_same_tables_as_the_server(
    mlflow_server: MlflowServer,
    seeded: Seeded,
    tmp_path: Path,
) -> None:
    """`store = mlflow.db` (the sqlite file the server writes) and `tracking_uri` agree."""
    pytest.importorskip("mlreport.connectors.mlflow.sqlite", reason="offline backend not built")
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    online = write_config(tmp_path / "a", tracking_uri=mlflow_server.url, aliases=ALIASES)
    offline = write_config(tmp_path / "b", store=str(mlflow_server.db), aliases=ALIASES)
    tables = {
        "experiments": "experiment_id",
        "runs": "run_id",
        "run_metrics": "run_id, key, step, ts",
        "registered_models": "name",
        "model_versions": "name, version",
    }
    with Warehouse(tmp_path / "a.duckdb") as a, Warehouse(tmp_path / "b.duckdb") as b:
        sync(a, online)
        stats = sync(b, offline)
        assert stats.reads.get("requests", 0) == 0
        for name, order in tables.items():
            sql = f"SELECT * EXCLUDE (synced_at) FROM {name} ORDER BY {order}"
            assert repr(table(a, sql)) == repr(table(b, sql)), name  # repr: NaN equals NaN
        sql = (
            "SELECT * EXCLUDE (synced_at, deployment_id, started_at, finished_at) FROM deployments"
        )
        assert sorted(table(a, sql)) == sorted(table(b, sql))
        check_tables(b, mlflow_server.client(), seeded)


def test_pages_read_ahead_and_small_history_chunks_give_the_same_tables(
    mlflow_server: MlflowServer,
    seeded: Seeded,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Pages of 1 run (the next page asked for while one is written) and history written in
    chunks of 1 run with 3 reads in flight store exactly what one page and one chunk store."""
    from mlreport.connectors.mlflow import source as mlflow_source

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    whole = write_config(tmp_path / "a", tracking_uri=mlflow_server.url, aliases=ALIASES)
    small = write_config(
        tmp_path / "b", tracking_uri=mlflow_server.url, aliases=ALIASES, page_size=1,
        concurrency=3,
    )  # fmt: skip
    with Warehouse(tmp_path / "a.duckdb") as a, Warehouse(tmp_path / "b.duckdb") as b:
        sync(a, whole)
        monkeypatch.setattr(mlflow_source, "METRIC_RUNS", 1)
        stats = sync(b, small)
        assert stats.reads["requests"] > sync(a, whole, full=True).reads["requests"] + 3
        assert stats.streams["run_metrics"].batches >= 3  # a chunk per run with metrics
        assert stats.reads["history_chunks_read_ahead"] >= stats.streams["run_metrics"].batches
        for name, order in (("runs", "run_id"), ("run_metrics", "run_id, key, step, ts")):
            sql = f"SELECT * EXCLUDE (synced_at) FROM {name} ORDER BY {order}"
            assert repr(table(a, sql)) == repr(table(b, sql)), name
        check_tables(b, mlflow_server.client(), seeded)
