"""The prometheus source against a real Prometheus serving samples this suite wrote."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mlreport.config import ConfigError, parse_config, validate_options
from mlreport.connectors.prometheus import source as prom_source
from mlreport.connectors.prometheus.source import PrometheusSource
from mlreport.sample_data.mlflow_store import free_port
from mlreport.sources import SourceError, sync_source
from mlreport.warehouse import Warehouse
from tests.prometheus.server import T0, PrometheusServer, expected, gauge_at, prom_increase

REQ = "nv_inference_request_success_total"
MEM = "container_memory_working_set_bytes"
START = "2026-11-01T00:00:00Z"
NOW = T0 + 14 * 3600  # two hours after the last sample


def config_text(url: str, queries: dict[str, dict], extra: str = "") -> str:
    lines = ["[[sources]]", 'name = "prom"', 'type = "prometheus"', f'url = "{url}"', extra]
    for name, q in queries.items():
        lines.append(f"[sources.queries.{name}]")
        lines += [f"{k} = {json.dumps(v)}" for k, v in q.items()]
    return "\n".join(lines) + "\n"


def requests_query(**over) -> dict:
    return {
        "query": REQ,
        "kind": "counter",
        "entity_label": "ml-model",
        "step": "1h",
        "start": START,
        **over,
    }


def memory_query(**over) -> dict:
    return {
        "query": MEM,
        "kind": "gauge",
        "entity_label": "ml_model",
        "step": "30m",
        "start": START,
        "unit": "bytes",
        **over,
    }


def make_source(tmp_path: Path, text: str) -> PrometheusSource:
    path = tmp_path / "mlreport.toml"
    path.write_text(text, encoding="utf-8")
    config = parse_config(text, path, tmp_path)
    src = config.sources[0]
    options = validate_options(PrometheusSource.Options, src.options, config, ("sources", 0))
    source = PrometheusSource(src.name, options, config)
    source._sleep = lambda s: None
    return source


@pytest.fixture
def at_time(monkeypatch):
    def set_now(seconds: int) -> None:
        monkeypatch.setattr(prom_source, "utcnow", lambda: datetime.fromtimestamp(seconds, UTC))

    set_now(NOW)
    return set_now


@pytest.fixture
def warehouse(tmp_path: Path):
    with Warehouse(tmp_path / "w.duckdb") as wh:
        yield wh


def stored(wh: Warehouse, metric: str) -> dict[tuple[str, int], float]:
    rows = wh.con.execute(
        "SELECT entity, epoch(ts)::BIGINT, value FROM usage WHERE metric = ?", [metric]
    ).fetchall()
    return {(e, t): v for e, t, v in rows}


def test_counter_is_prometheus_increase_per_step(prometheus_server, tmp_path, warehouse, at_time):
    source = make_source(
        tmp_path, config_text(prometheus_server.url, {"requests": requests_query()})
    )
    stats = sync_source(warehouse, source)
    t_values = [T0 + 3600 * k for k in range(1, 15)]
    want = expected(REQ, "ml_model", t_values, lambda s, t: prom_increase(s, t, 3600))
    # a row's ts is the start of the hour whose increase it holds
    got = {(e, t + 3600): v for (e, t), v in stored(warehouse, "requests").items()}
    assert set(got) == set(want)
    for key, value in want.items():
        assert got[key] == pytest.approx(value, rel=1e-9), key
    entities = {e for e, _ in got}
    assert entities == {"credit-risk", "fraud-detector", "__unallocated__"}
    assert stats.streams["usage:requests"].rows == len(want)
    kinds = warehouse.con.execute(
        "SELECT DISTINCT kind, step_seconds, source FROM usage"
    ).fetchall()
    assert kinds == [("counter", 3600.0, "prom")]


def test_gauge_is_summed_per_entity_at_each_step(prometheus_server, tmp_path, warehouse, at_time):
    source = make_source(tmp_path, config_text(prometheus_server.url, {"memory": memory_query()}))
    sync_source(warehouse, source)
    t_values = [T0 + 1800 * k for k in range(0, 29)]
    want = expected(MEM, "ml_model", t_values, gauge_at)
    got = stored(warehouse, "memory")
    assert set(got) == set(want)
    for key, value in want.items():
        assert got[key] == pytest.approx(value, rel=1e-12), key
    (unit,) = warehouse.con.execute("SELECT DISTINCT unit FROM usage").fetchone()
    assert unit == "bytes"


def test_incremental_rereads_only_the_last_steps(prometheus_server, tmp_path, warehouse, at_time):
    text = config_text(
        prometheus_server.url, {"requests": requests_query(reread_steps=2)}, "max_points = 3"
    )
    at_time(T0 + 6 * 3600 + 1200)  # 06:20: hours up to 06:00 have ended
    first = sync_source(warehouse, make_source(tmp_path, text))
    assert warehouse.get_cursor("prom", "usage:requests")["last"] == T0 + 6 * 3600
    assert first.reads["requests"] == 2  # 6 steps, 3 per request
    at_time(NOW)
    second = sync_source(warehouse, make_source(tmp_path, text))
    # re-reads 05:00 and 06:00, then reads 07:00 .. 14:00: 10 steps in 4 requests
    assert second.reads["requests"] == 4
    assert warehouse.get_cursor("prom", "usage:requests")["last"] == NOW
    full = Warehouse(tmp_path / "full.duckdb")
    sync_source(full, make_source(tmp_path, text))
    assert stored(warehouse, "requests") == pytest.approx(stored(full, "requests"))
    full.close()
    third = sync_source(warehouse, make_source(tmp_path, text))
    assert third.reads["requests"] == 1  # only the two re-read steps


def test_changed_query_rereads_from_start(prometheus_server, tmp_path, warehouse, at_time):
    sync_source(
        warehouse,
        make_source(tmp_path, config_text(prometheus_server.url, {"requests": requests_query()})),
    )
    changed = make_source(
        tmp_path, config_text(prometheus_server.url, {"requests": requests_query(aggregate="max")})
    )
    stats = sync_source(warehouse, changed)
    assert stats.streams["usage:requests"].rows == len(stored(warehouse, "requests"))


def test_promql_error_names_source_and_query(prometheus_server, tmp_path, warehouse, at_time):
    bad = requests_query(query="nv_inference_request_success_total{")
    source = make_source(tmp_path, config_text(prometheus_server.url, {"requests": bad}))
    with pytest.raises(SourceError) as err:
        sync_source(warehouse, source)
    message = str(err.value)
    assert "source 'prom'" in message and "query 'requests'" in message
    assert "HTTP 400" in message and "bad_data" in message
    assert warehouse.get_cursor("prom", "usage:requests") is None
    assert stored(warehouse, "requests") == {}


def test_empty_result_stores_nothing_and_says_so(
    prometheus_server, tmp_path, warehouse, at_time, caplog
):
    none = requests_query(query='nv_inference_request_success_total{ml_model="nobody"}')
    source = make_source(tmp_path, config_text(prometheus_server.url, {"requests": none}))
    with caplog.at_level(logging.WARNING):
        stats = sync_source(warehouse, source)
    assert stats.rows == 0
    assert "no series" in caplog.text and "'requests'" in caplog.text


def test_too_many_series_is_refused(prometheus_server, tmp_path, warehouse, at_time):
    wide = requests_query(entity_label="pod")
    text = config_text(prometheus_server.url, {"requests": wide}, "max_series = 3")
    with pytest.raises(SourceError, match=r"query 'requests'.*4 series, more than max_series = 3"):
        sync_source(warehouse, make_source(tmp_path, text))
    assert warehouse.get_cursor("prom", "usage:requests") is None


@pytest.mark.parametrize(
    "credential",
    ['token = "${PROM_SECRET}"', 'username = "reader"\npassword = "${PROM_SECRET}"'],
)
def test_unreachable_server_names_source_and_hides_credentials(
    tmp_path, warehouse, at_time, caplog, monkeypatch, credential
):
    monkeypatch.setenv("PROM_SECRET", "s3cr3t-t0ken")
    url = f"http://127.0.0.1:{free_port()}"
    text = config_text(url, {"requests": requests_query()}, credential)
    with caplog.at_level(logging.DEBUG), pytest.raises(SourceError) as err:
        sync_source(warehouse, make_source(tmp_path, text))
    assert "source 'prom'" in str(err.value) and "connection failed" in str(err.value)
    assert "s3cr3t" not in str(err.value) and "s3cr3t" not in caplog.text
    assert warehouse.get_cursor("prom", "usage:requests") is None


@pytest.mark.parametrize(
    ("query", "problem"),
    [
        ({"kind": "histogram"}, "kind"),
        ({"step": "0m"}, "step"),
        ({"step": "1w"}, "step"),
        ({"start": "yesterday"}, "start"),
    ],
)
def test_bad_query_config_names_the_key(tmp_path, query, problem):
    text = config_text("http://127.0.0.1:9", {"requests": requests_query(**query)})
    with pytest.raises(ConfigError, match=rf"queries\.requests\.{problem}"):
        make_source(tmp_path, text)


def test_bad_query_name_is_refused(tmp_path):
    text = config_text("http://127.0.0.1:9", {"Requests-Total": requests_query()})
    with pytest.raises(ConfigError, match="lowercase"):
        make_source(tmp_path, text)


def test_server_fixture_serves_the_samples(prometheus_server: PrometheusServer):
    import httpx

    answer = httpx.get(
        f"{prometheus_server.url}/api/v1/query",
        params={"query": f"count({REQ})", "time": T0 + 3600},
    ).json()
    assert answer["data"]["result"][0]["value"][1] == "4"


def test_usage_metric_sums_the_synced_increases(prometheus_server, tmp_path, warehouse, at_time):
    from mlreport.metrics import Window, compute_metrics

    text = config_text(prometheus_server.url, {"requests": requests_query()})
    source = make_source(tmp_path, text)
    sync_source(warehouse, source)
    window = Window(datetime.fromtimestamp(T0, UTC), datetime.fromtimestamp(T0 + 6 * 3600, UTC))
    frame = compute_metrics(warehouse, source.config, [window], "usage.requests", store=False)
    got = dict(zip(frame["entity"], frame["value"], strict=True))
    t_values = [T0 + 3600 * k for k in range(1, 7)]  # hours starting 00:00 .. 05:00
    want: dict[str, float] = {}
    for (entity, _), value in expected(
        REQ, "ml_model", t_values, lambda s, t: prom_increase(s, t, 3600)
    ).items():
        want[entity] = want.get(entity, 0.0) + value
    assert got == pytest.approx(want, rel=1e-9)
