"""Recorded responses for what a local server will not do: auth failures, MLflow 2 servers,
rate limits, outages, timeouts and broken JSON — and the token never leaks."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest

from mlreport.config import ConfigError
from mlreport.connectors.mlflow import rest
from mlreport.sources import SourceError
from mlreport.warehouse import Warehouse
from tests.mlflow.fake import FakeMlflow, latest, ok, points, run, world
from tests.mlflow.helpers import make_source, sync, table, write_config

TOKEN = "s3cr3t-t0ken-value-xyz"
URL = "http://mlflow.test"


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", TOKEN)
    return write_config(tmp_path, tracking_uri=URL, token="${MLFLOW_TRACKING_TOKEN}")


@pytest.fixture
def wh(tmp_path: Path):
    with Warehouse(tmp_path / "wh.duckdb") as warehouse:
        yield warehouse


def snapshot_of(wh: Warehouse) -> dict:
    """Every canonical table this source writes, and its cursors."""
    out = {}
    for name in ("experiments", "runs", "run_metrics", "registered_models", "model_versions",
                 "model_events", "deployments"):  # fmt: skip
        out[name] = table(wh, f"SELECT * EXCLUDE (synced_at) FROM {name} ORDER BY ALL")
    out["_sync_state"] = table(wh, "SELECT source, stream, cursor FROM _sync_state ORDER BY ALL")
    return out


def everything_as_text(wh: Warehouse) -> str:
    text = []
    for (name,) in table(wh, "SELECT table_name FROM information_schema.tables"):
        text.append(repr(table(wh, f'SELECT * FROM "{name}"')))
    return "\n".join(text)


@pytest.mark.parametrize("status", [401, 403])
def test_auth_failure_names_the_key_and_variable_never_the_value(
    status, config, wh, caplog
) -> None:
    fake = world()
    fake.faults["experiments/search"] = lambda r: httpx.Response(
        status, json={"error_code": "UNAUTHENTICATED", "message": "bad credentials"}
    )
    caplog.set_level(logging.DEBUG)
    with pytest.raises(SourceError) as err:
        sync(wh, config, fake.transport())
    message = str(err.value)
    assert "sources[0].token" in message and "MLFLOW_TRACKING_TOKEN" in message
    assert f"HTTP {status}" in message and "experiments/search" in message
    assert TOKEN not in message and TOKEN not in caplog.text
    assert len(fake.seen) == 1  # 4xx are not retried
    assert fake.seen[0].headers["Authorization"] == f"Bearer {TOKEN}"
    assert table(wh, "SELECT count(*) FROM _sync_state") == [(0,)]


def test_the_token_never_reaches_the_warehouse_or_logs(config, wh, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    fake = world()
    fake.faults["runs/search"] = _once(httpx.Response(503, headers={"Retry-After": "1"}))
    sync(wh, config, fake.transport())
    assert table(wh, "SELECT count(*) FROM runs") == [(2,)]
    assert TOKEN not in everything_as_text(wh)
    assert TOKEN not in caplog.text
    source = make_source(config)
    assert TOKEN not in repr(source.options) and TOKEN not in str(source.options)


def test_basic_auth_and_a_missing_credential(tmp_path, wh, monkeypatch) -> None:
    monkeypatch.setenv("MLFLOW_PASSWORD", "pw-secret-123")
    config = write_config(tmp_path, tracking_uri=URL, username="bob", password="${MLFLOW_PASSWORD}")
    fake = world()
    sync(wh, config, fake.transport())
    assert (
        fake.seen[0].headers["Authorization"]
        == httpx.BasicAuth("bob", "pw-secret-123")._auth_header
    )
    # no credential configured, the server wants one: say which key to set
    config = write_config(tmp_path, tracking_uri=URL)
    fake.faults["experiments/search"] = lambda r: httpx.Response(401)
    with pytest.raises(SourceError, match=r"set sources\[0\]\.token"):
        sync(wh, config, fake.transport())


def test_logged_models_404_falls_back_cleanly(config, wh) -> None:
    fake = world()
    # an MLflow 3 version that names only its logged model
    fake.versions["credit-risk"][0].pop("run_id")
    fake.versions["credit-risk"][0]["model_id"] = "m-123"
    sync(wh, config, fake.transport())
    assert "logged-models/search" in fake.paths()
    assert table(wh, "SELECT version, run_id FROM model_versions") == [("1", None)]
    assert table(wh, "SELECT commit_sha FROM deployments") == [(None,)]
    # a server that has logged models: the version's run comes from its logged model
    fake.logged_models = [{"info": {"model_id": "m-123", "source_run_id": "run0"}}]
    sync(wh, config, fake.transport(), full=True)
    assert table(wh, "SELECT version, run_id FROM model_versions") == [("1", "run0")]


@pytest.mark.parametrize(
    "retry_after", ["2", "Wed, 21 Oct 2015 07:28:00 GMT"], ids=["seconds", "http-date"]
)
@pytest.mark.parametrize("status", [429, 503])
def test_rate_limits_and_outages_are_retried(status, retry_after, config, wh) -> None:
    fake = world()
    waits: list[float] = []
    busy = httpx.Response(status, headers={"Retry-After": retry_after})
    fake.faults["runs/search"] = _times(2, busy)
    source = make_source(config, fake.transport())
    source._sleep = waits.append
    from mlreport.sources import sync_source

    stats = sync_source(wh, source)
    assert table(wh, "SELECT count(*) FROM runs") == [(2,)]
    assert fake.paths().count("runs/search") == 3
    # seconds are honoured; a date in the past means "now"
    assert waits == ([2.0, 2.0] if retry_after == "2" else [0.0, 0.0])
    assert stats.reads["requests"] == len(fake.seen)


def test_retries_give_up_with_a_clear_error(config, wh) -> None:
    fake = world()
    fake.faults["runs/search"] = lambda r: httpx.Response(503, text="down")
    with pytest.raises(SourceError, match=r"runs/search: HTTP 503 after 6 attempts"):
        sync(wh, config, fake.transport())


def test_timeouts_are_retried_then_reported(config, wh) -> None:
    fake = world()

    def timeout(request):
        raise httpx.ReadTimeout("slow", request=request)

    fake.faults["experiments/search"] = _times(2, timeout)
    sync(wh, config, fake.transport())
    assert table(wh, "SELECT count(*) FROM experiments") == [(1,)]
    fake.faults["experiments/search"] = timeout
    with pytest.raises(SourceError, match=r"experiments/search: timed out \(gave up after 6"):
        sync(wh, config, fake.transport())


@pytest.mark.parametrize(
    "body",
    [b'{"runs": [{"info": {"run_id": "x"', b"<html>proxy error</html>", b"[1, 2]"],
    ids=["truncated", "html", "not-an-object"],
)
def test_broken_json_fails_the_sync_and_keeps_what_is_stored(body, config, wh) -> None:
    fake = world()
    sync(wh, config, fake.transport())
    before = snapshot_of(wh)
    # something changed on the server, but its answer arrives broken
    fake.runs[0]["info"]["status"] = "FAILED"
    fake.faults["runs/search"] = lambda r: httpx.Response(200, content=body)
    with pytest.raises(SourceError, match="runs/search"):
        sync(wh, config, fake.transport())
    assert snapshot_of(wh) == before
    # once the server answers again, the change arrives
    del fake.faults["runs/search"]
    sync(wh, config, fake.transport())
    assert table(wh, "SELECT status FROM runs WHERE run_id = 'run0'") == [("FAILED",)]


def test_a_broken_history_answer_does_not_move_the_metrics_cursor(config, wh) -> None:
    fake = world()
    sync(wh, config, fake.transport())
    fake.history[("run0", "loss")] += points("loss", 2, start=3)
    key, value, ts, step = latest("loss", fake.history[("run0", "loss")])
    fake.runs[0]["data"]["metrics"] = [{"key": key, "value": value, "timestamp": ts, "step": step}]
    fake.faults["metrics/get-history-bulk"] = lambda r: httpx.Response(200, content=b'{"metr')
    with pytest.raises(SourceError, match="get-history-bulk"):
        sync(wh, config, fake.transport())
    assert table(wh, "SELECT count(*) FROM run_metrics WHERE run_id = 'run0'") == [(3,)]
    del fake.faults["metrics/get-history-bulk"]
    sync(wh, config, fake.transport())
    assert table(wh, "SELECT count(*) FROM run_metrics WHERE run_id = 'run0'") == [(5,)]


def test_history_without_the_bulk_endpoint_uses_paged_get_history(config, wh) -> None:
    fake = world(n_runs=3)
    fake.bulk = False
    fake.faults["metrics/get-history"] = _paged(fake, 2)
    sync(wh, config, fake.transport())
    assert table(wh, "SELECT count(*) FROM run_metrics") == [(9,)]
    paths = fake.paths()
    assert paths.count("metrics/get-history-bulk") == 1  # tried once, then not again
    assert paths.count("metrics/get-history") == 6  # 3 runs x 2 pages of 2 points


def test_bulk_history_answers_capped_by_the_server_are_completed(config, wh, monkeypatch) -> None:
    monkeypatch.setattr(rest, "BULK_POINTS", 4)
    fake = FakeMlflow()
    sizes = {"a": 3, "b": 6, "c": 2, "d": 1}  # b alone has more points than an answer holds
    for run_id, n in sizes.items():
        fake.history[(run_id, "loss")] = points("loss", n)
        fake.runs.append(run(run_id, metrics=[latest("loss", fake.history[(run_id, "loss")])]))
    sync(wh, config, fake.transport())
    got = dict(table(wh, "SELECT run_id, count(*) FROM run_metrics GROUP BY run_id"))
    assert got == sizes


def test_options_are_checked(tmp_path) -> None:
    with pytest.raises(ConfigError, match=r"sources\[0\].*exactly one of tracking_uri"):
        make_source(write_config(tmp_path, tracking_uri=URL, store="mlflow.db"))
    with pytest.raises(ConfigError, match="exactly one"):
        make_source(write_config(tmp_path))
    with pytest.raises(ConfigError, match=r"sources\[0\]\.page_size"):
        make_source(write_config(tmp_path, tracking_uri=URL, page_size=50_001))
    with pytest.raises(ConfigError, match=r"sources\[0\]\.colour: unknown key"):
        make_source(write_config(tmp_path, tracking_uri=URL, colour="red"))
    source = make_source(write_config(tmp_path, tracking_uri=URL, ca_bundle="missing.pem"))
    with pytest.raises(SourceError, match="ca_bundle: .*missing.pem: CA bundle not found"):
        source.check()
    (tmp_path / "bad.pem").write_text("not a certificate")
    source = make_source(write_config(tmp_path, tracking_uri=URL, ca_bundle="bad.pem"))
    with pytest.raises(SourceError, match="bad.pem: not a usable CA bundle"):
        source.check()


def test_no_change_sync_request_count_with_recorded_responses(config, wh) -> None:
    fake = world(n_runs=3)
    sync(wh, config, fake.transport())
    fake.seen.clear()
    stats = sync(wh, config, fake.transport())
    assert fake.paths() == [
        "experiments/search",
        "runs/search",
        "logged-models/search",  # 404 here: an MLflow 2 server has no logged models
        "registered-models/search",
        "model-versions/search",
        "artifacts/list",  # the production version's artifacts (runs:/run0/model)
    ]
    assert stats.reads["requests"] == 6 and stats.rows == 0


# -- helpers ------------------------------------------------------------------------------------


def _once(response):
    return _times(1, response)


def _times(n, answer):
    """Answer (or raise) ``n`` times, then let the fake answer normally."""
    left = [n]

    def fault(request):
        if left[0] <= 0:
            return None
        left[0] -= 1
        return answer(request) if callable(answer) else answer

    return fault


def _paged(fake: FakeMlflow, size: int):
    """metrics/get-history in pages of ``size`` points, with page tokens."""

    def page(request):
        q = request.url.params
        stored = fake.history.get((q["run_id"], q["metric_key"]), [])
        offset = int(q.get("page_token") or 0)
        body = {"metrics": stored[offset : offset + size]}
        if offset + size < len(stored):
            body["next_page_token"] = str(offset + size)
        return ok(body)

    return page


def test_experiment_globs_select_and_purges_are_marked(tmp_path, wh) -> None:
    fake = world()
    fake.experiments.append(dict(fake.experiments[0], experiment_id="2", name="scratch"))
    fake.runs.append(run("other", exp="2"))
    config = write_config(tmp_path, tracking_uri=URL, experiments=["cred*"])
    sync(wh, config, fake.transport())
    assert table(wh, "SELECT experiment_id FROM experiments") == [("1",)]
    assert table(wh, "SELECT run_id FROM runs ORDER BY 1") == [("run0",), ("run1",)]
    # narrowing the globs does not mark anything deleted; a purge (gone from MLflow) does
    config = write_config(tmp_path, tracking_uri=URL, experiments=["nothing*"])
    sync(wh, config, fake.transport())
    assert table(wh, "SELECT lifecycle_stage FROM experiments") == [("active",)]
    config = write_config(tmp_path, tracking_uri=URL, experiments=["cred*"])
    sync(wh, config, fake.transport())
    fake.runs = [r for r in fake.runs if r["info"]["run_id"] != "run1"]
    sync(wh, config, fake.transport())
    assert table(wh, "SELECT run_id, lifecycle_stage FROM runs ORDER BY 1") == [
        ("run0", "active"),
        ("run1", "deleted"),
    ]
    fake.experiments = fake.experiments[1:]
    fake.runs = []
    sync(wh, config, fake.transport())
    assert table(wh, "SELECT lifecycle_stage FROM experiments") == [("deleted",)]
    assert table(wh, "SELECT DISTINCT lifecycle_stage FROM runs") == [("deleted",)]


@pytest.mark.parametrize("bulk", [True, False], ids=["bulk", "per-run"])
def test_history_of_many_keys_read_concurrently_equals_one_at_a_time(
    bulk, tmp_path, monkeypatch
) -> None:
    fake = FakeMlflow(bulk=bulk)
    for i in range(7):
        run_id = f"r{i}"
        metrics = []
        for k in range(6):
            fake.history[(run_id, f"m{k}")] = pts = points(f"m{k}", 2 + (i + k) % 4)
            metrics.append(latest(f"m{k}", pts))
        fake.runs.append(run(run_id, metrics=metrics))
    results = []
    for concurrency in (1, 4):
        root = tmp_path / str(concurrency)
        root.mkdir()
        config = write_config(root, tracking_uri=URL, concurrency=concurrency)
        with Warehouse(root / "wh.duckdb") as wh:
            sync(wh, config, fake.transport())
            results.append(
                table(wh, "SELECT run_id, key, step, ts, value FROM run_metrics ORDER BY ALL")
            )
    expected = sorted(
        (r, k, p["step"], p["timestamp"], p["value"])
        for (r, k), pts in fake.history.items()
        for p in pts
    )
    assert [(r, k, s, round(ts.timestamp() * 1000), v) for r, k, s, ts, v in results[0]] == expected
    assert results[0] == results[1]


def test_doctor_check_says_what_it_reached(config) -> None:
    fake = world()
    source = make_source(config, fake.transport())
    assert source.check() == f"ok: {URL} (1 experiments)"
    fake.faults["experiments/search"] = lambda r: httpx.Response(403)
    with pytest.raises(SourceError, match=r"HTTP 403 \(forbidden\).*sources\[0\]\.token"):
        source.check()


def test_a_failed_history_read_in_a_later_chunk_keeps_every_chunk_out(
    tmp_path, wh, monkeypatch
) -> None:
    """History is read ahead across chunks; a failure in chunk 3 of 4 leaves the metrics and
    their cursor as they were (nothing half-written), and the next sync reads them all."""
    from mlreport.connectors.mlflow import source as mlflow_source

    monkeypatch.setattr(mlflow_source, "METRIC_RUNS", 2)
    monkeypatch.setattr(rest.RestBackend, "bulk_runs", 1)
    config = write_config(tmp_path, tracking_uri=URL, concurrency=3)
    fake = world(n_runs=8)
    broken = {"run5"}

    def fail_for_run5(request):
        if set(request.url.params.get_list("run_id")) & broken:
            return httpx.Response(400, json={"error_code": "BAD", "message": "no"})
        return None

    fake.faults["metrics/get-history-bulk"] = fail_for_run5
    with pytest.raises(SourceError, match="get-history-bulk"):
        sync(wh, config, fake.transport())
    assert table(wh, "SELECT count(*) FROM run_metrics") == [(0,)]
    del fake.faults["metrics/get-history-bulk"]
    stats = sync(wh, config, fake.transport())
    assert table(wh, "SELECT count(*) FROM run_metrics") == [(24,)]  # 8 runs x 3 points
    assert stats.streams["run_metrics"].batches == 4
    assert stats.reads["history_chunks_read_ahead"] == 4  # read while the runs were listed


def test_history_read_ahead_from_another_cursor_is_dropped_and_read_again(tmp_path, wh) -> None:
    """The runs stream has no cursor (so it reads ahead as for a first sync) while run_metrics
    has one: the read-ahead does not fit and the changed history is read again, exactly."""
    config = write_config(tmp_path, tracking_uri=URL, concurrency=2)
    fake = world(n_runs=3)
    sync(wh, config, fake.transport())
    wh.con.execute("DELETE FROM _sync_state WHERE stream = 'runs'")
    fake.history[("run1", "loss")] += points("loss", 2, start=3)
    key, value, ts, step = latest("loss", fake.history[("run1", "loss")])
    fake.runs[1]["data"]["metrics"] = [{"key": key, "value": value, "timestamp": ts, "step": step}]
    stats = sync(wh, config, fake.transport())
    assert "history_chunks_read_ahead" not in stats.reads
    assert table(wh, "SELECT run_id, count(*) FROM run_metrics GROUP BY 1 ORDER BY 1") == [
        ("run0", 3), ("run1", 5), ("run2", 3)
    ]  # fmt: skip
    assert stats.streams["run_metrics"].rows == 5  # only run1's history was read again


def test_without_a_writable_temp_directory_history_is_read_afterwards(
    tmp_path, wh, monkeypatch
) -> None:
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "no-such-dir"))
    config = write_config(tmp_path, tracking_uri=URL)
    stats = sync(wh, config, world(n_runs=3).transport())
    assert "history_chunks_read_ahead" not in stats.reads
    assert table(wh, "SELECT count(*) FROM run_metrics") == [(9,)]


def test_a_full_disk_while_reading_ahead_fails_clearly_and_keeps_what_is_stored(
    tmp_path, wh, monkeypatch
) -> None:
    import polars as pl

    config = write_config(tmp_path, tracking_uri=URL)
    fake = world(n_runs=3)
    sync(wh, config, fake.transport())
    fake.history[("run1", "loss")] += points("loss", 2, start=3)
    key, value, ts, step = latest("loss", fake.history[("run1", "loss")])
    fake.runs[1]["data"]["metrics"] = [{"key": key, "value": value, "timestamp": ts, "step": step}]

    def full_disk(self, *args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pl.DataFrame, "write_parquet", full_disk)
    with pytest.raises(SourceError, match="No space left on device.*TMPDIR"):
        sync(wh, config, fake.transport())
    assert table(wh, "SELECT count(*) FROM run_metrics") == [(9,)]
    monkeypatch.undo()
    sync(wh, config, fake.transport())
    assert table(wh, "SELECT count(*) FROM run_metrics") == [(11,)]
