"""The family's scans go through ``scan_connection``: a log whose source names another engine
is scanned there (an engine plugin registered through ``register_engines``), with the same
values; an entity whose label-time logs sit on such engines gets no pooled label lag."""

from __future__ import annotations

import logging
import types

import pytest

from mlreport import hookimpl
from mlreport.config import parse_config
from mlreport.engines import ArrowResult
from mlreport.metrics import MetricContext, Window
from mlreport.plugin_manager import get_plugins
from mlreport.plugins.monitoring import MonitoringMetrics
from mlreport.warehouse import Warehouse

from .builder import add_log, assert_equal, day, expected, values
from .test_reference import row


class Recorder:
    """An engine that runs the SQL on the warehouse's DuckDB and records it."""

    name = "recorder"
    queries: list[str] = []

    def __init__(self, con):
        self.con = con

    def execute(self, sql, params=()):
        Recorder.queries.append(sql)
        return ArrowResult(self.con.execute(sql, list(params)).to_arrow_table())

    def cursor(self):
        return self

    def close(self):
        pass

    def materializes(self):
        return False


@pytest.fixture
def recorder_engine():
    Recorder.queries = []
    plugin = types.SimpleNamespace(
        register_engines=hookimpl(
            lambda register: register("recorder", lambda log, opts, wh: Recorder(wh.con))
        )
    )
    get_plugins().register_module(plugin, "recorder-engine")
    return Recorder


def config(*engines: str):
    text = ""
    for i, engine in enumerate(engines):
        text += f'[[sources]]\nname = "log{i}"\ntype = "predictions"\nengine = "{engine}"\n'
    return parse_config(text, None, None)


def test_a_log_on_another_engine_is_scanned_there_with_equal_values(tmp_path, recorder_engine):
    rows = [row(0.5, lag_hours=1), row(2.5, lag_hours=30), row(2.6, 0.0, None)]
    w = Window(day(0), day(4))
    with Warehouse(tmp_path / "wh.duckdb") as wh:
        add_log(wh, "log0", rows)
        ctx = MetricContext(wh, config("recorder"), [w])
        found = values(MonitoringMetrics().compute(ctx))
    assert_equal(found, expected(rows, [w]))
    assert len(recorder_engine.queries) == 2  # the day scan and the lag scan
    assert "quantile_disc" in recorder_engine.queries[1]


def test_label_time_logs_of_one_entity_on_other_engines_give_no_pooled_lag(
    tmp_path, recorder_engine, caplog
):
    a, b = [row(0.5, lag_hours=1)], [row(1.5, lag_hours=5)]
    w = Window(day(0), day(4))
    with Warehouse(tmp_path / "wh.duckdb") as wh:
        add_log(wh, "log0", a)
        add_log(wh, "log1", b)
        ctx = MetricContext(wh, config("recorder", "duckdb"), [w])
        with caplog.at_level(logging.WARNING, "mlreport.monitoring"):
            found = values(MonitoringMetrics().compute(ctx))
    assert not [k for k in found if k[0] == "label_lag_hours"]
    assert "label_lag_hours not written" in caplog.text and "log0, log1" in caplog.text
    wanted = {k: v for k, v in expected(a + b, [w]).items() if k[0] != "label_lag_hours"}
    assert_equal(found, wanted)
