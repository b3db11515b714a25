"""The lifecycle family on hand-built registry tables, value by value."""

from __future__ import annotations

import importlib
import math

import polars as pl
import pytest

from mlreport import plugin_manager
from mlreport.metrics import (
    MetricContext,
    Window,
    _as_frame,
    canonical_dimensions,
    compute_metrics,
    split_window,
)
from mlreport.plugins.lifecycle import (
    LifecycleMetrics,
    is_rollback,
    settings,
)
from mlreport.warehouse import Warehouse

from . import scenario as sc
from .builder import MLFLOW_CONFIG, Registry, config, d


@pytest.fixture
def wh(tmp_path):
    with Warehouse(tmp_path / "wh.duckdb") as w:
        yield w


def compute(wh, windows, cfg_text=MLFLOW_CONFIG, entities=None) -> pl.DataFrame:
    ctx = MetricContext(wh, config(cfg_text), windows, entities)
    return _as_frame(LifecycleMetrics().compute(ctx))


def pick(frame: pl.DataFrame, metric, entity, window, stat=None):
    dims = canonical_dimensions({"stat": stat} if stat else {})
    rows = frame.filter(
        (pl.col("metric") == metric)
        & (pl.col("entity") == entity)
        & (pl.col("window_start") == window.start)
    ).to_dicts()
    rows = [r for r in rows if r["dimensions"] == dims]
    assert len(rows) == 1, (metric, entity, window, stat, rows)
    return rows[0]["value"], rows[0]["n"]


def test_hand_computed_scenario(wh):
    r = Registry()
    sc.credit(r)
    sc.fraud(r)
    r.write(wh)
    frame = compute(wh, sc.MONTHS)
    for (metric, entity, window, stat), (value, n) in sc.EXPECTED.items():
        got, got_n = pick(frame, metric, entity, window, stat)
        assert got_n == n, (metric, entity, window.start, stat)
        if value is None:
            assert got is None, (metric, entity, window.start, stat, got)
        else:
            assert math.isclose(got, value, rel_tol=1e-12), (metric, entity, stat, got)


def test_every_metric_every_window_every_model(wh):
    r = Registry()
    sc.credit(r)
    sc.fraud(r)
    r.write(wh)
    frame = compute(wh, sc.MONTHS)
    per_cell = 9  # 6 plain metrics + 3 lead-time stats
    assert frame.height == 2 * 3 * per_cell
    assert set(frame["metric"]) == {m.name for m in LifecycleMetrics.metrics}


def test_one_window_equals_sum_of_months_for_counts(wh):
    r = Registry()
    sc.credit(r)
    r.write(wh)
    whole = Window(sc.JAN.start, sc.MAR.end)
    one = compute(wh, [whole])
    months = compute(wh, split_window(whole, "month"))
    for metric in ("lifecycle.versions_created", "lifecycle.promotions", "lifecycle.rollbacks"):
        total = months.filter(pl.col("metric") == metric)["value"].sum()
        assert pick(one, metric, "credit", whole)[0] == total
    # lead time over the quarter: only v1 and v2 have a known run (v3's is missing).
    assert pick(one, "lifecycle.model_lead_time", "credit", whole, "p50") == (66.0, 2)
    assert pick(one, "lifecycle.run_success_rate", "credit", whole) == (0.5, 4)


def test_defaults_without_an_mlflow_source(wh):
    """No [[sources]] of type mlflow: champion and production are production, tag approved."""
    r = Registry()
    sc.credit(r)
    r.write(wh)
    cfg = settings(config(""))
    assert cfg.production_aliases("mlflow") == ("champion", "production")
    assert cfg.approval_tag("mlflow") == "approved"
    frame = compute(wh, sc.MONTHS, cfg_text="")
    # the 5 Mar move of the `production` alias now counts: its first value, so a promotion
    # (rollbacks compare with what the same alias held, not with other aliases)
    assert pick(frame, "lifecycle.promotions", "credit", sc.MAR) == (1.0, 1)
    assert pick(frame, "lifecycle.rollbacks", "credit", sc.MAR) == (0.0, 0)
    assert pick(frame, "lifecycle.days_since_promotion", "credit", sc.MAR) == (27.0, 1)
    # nothing carries an `approved` tag
    assert pick(frame, "lifecycle.governed_share", "credit", sc.JAN) == (0.0, 1)
    # at March's end champion holds v3 and production v2: two production versions
    assert pick(frame, "lifecycle.governed_share", "credit", sc.MAR) == (0.0, 2)


def test_settings_per_source(wh):
    text = (
        MLFLOW_CONFIG
        + """
[[sources]]
name = "other"
type = "mlflow"
tracking_uri = "http://127.0.0.1:1"
aliases = { production = "live" }

[[sources]]
name = "repo"
type = "git"
path = "."
"""
    )
    cfg = settings(config(text))
    assert cfg.production_aliases("mlflow") == ("champion",)
    assert cfg.production_aliases("other") == ("live",)
    assert cfg.approval_tag("other") == "approved"
    assert cfg.approval_tag("mlflow") == "signed-off"
    assert cfg.production_aliases("unconfigured") == ("champion", "production")
    r = Registry(source="other")
    r.model("m")
    r.version("m", "1", None, d("2026-01-02"))
    r.alias_set("m", "1", "champion", d("2026-01-03"))  # not production for "other"
    r.alias_set("m", "1", "live", d("2026-01-04"))
    r.write(wh)
    frame = compute(wh, [sc.JAN], cfg_text=text)
    assert pick(frame, "lifecycle.promotions", "m", sc.JAN) == (1.0, 1)
    assert pick(frame, "lifecycle.days_since_promotion", "m", sc.JAN) == (28.0, 1)


def test_two_production_aliases_moving_together_count_once(wh):
    r = Registry()
    r.model("m")
    r.version("m", "1", None, d("2026-01-02"))
    # the table's key is (source, name, version, event, at): one row per instant anyway, but
    # two aliases at different instants in the same window are two moves
    r.alias_set("m", "1", "champion", d("2026-01-03"))
    r.alias_set("m", "1", "production", d("2026-01-03", 1))
    r.write(wh)
    frame = compute(wh, [sc.JAN], cfg_text="")
    assert pick(frame, "lifecycle.promotions", "m", sc.JAN) == (2.0, 2)
    frame = compute(wh, [sc.JAN])  # only champion is production
    assert pick(frame, "lifecycle.promotions", "m", sc.JAN) == (1.0, 1)


def test_models_without_activity_get_rows(wh):
    r = Registry()
    r.model("idle")
    r.write(wh)
    frame = compute(wh, [sc.JAN])
    assert pick(frame, "lifecycle.promotions", "idle", sc.JAN) == (0.0, 0)
    assert pick(frame, "lifecycle.days_since_promotion", "idle", sc.JAN) == (None, 0)
    assert pick(frame, "lifecycle.governed_share", "idle", sc.JAN) == (None, 0)
    assert pick(frame, "lifecycle.model_lead_time", "idle", sc.JAN, "p90") == (None, 0)


def test_entity_filter(wh):
    r = Registry()
    sc.credit(r)
    sc.fraud(r)
    r.write(wh)
    frame = compute(wh, [sc.JAN], entities=["fraud"])
    assert set(frame["entity"]) == {"fraud"}
    assert pick(frame, "lifecycle.run_success_rate", "fraud", sc.JAN) == (0.5, 2)


def test_hostile_names_are_data(wh):
    name = '<script>alert("x")</script> \'; DROP TABLE runs; --'
    r = Registry()
    sc.credit(r, name=name)
    r.write(wh)
    frame = compute(wh, sc.MONTHS, entities=[name])
    assert pick(frame, "lifecycle.rollbacks", name, sc.FEB) == (1.0, 1)
    assert wh.query("SELECT count(*) AS n FROM runs")["n"][0] == 7


@pytest.mark.parametrize(
    ("new", "old", "expected"),
    [
        ("1", "2", True),
        ("2", "1", False),
        ("2", "10", True),
        ("10", "2", False),
        ("3", None, False),
        ("x", "2", False),
        ("2", "2", False),
    ],
)
def test_rollback_rule(new, old, expected):
    assert is_rollback(new, old) is expected


def test_through_the_kernel_is_deterministic(wh):
    p = plugin_manager.Plugins()
    # the family and the source whose registry history (and settings) it reads
    for name in ("mlreport.plugins.lifecycle", "mlreport.connectors.mlflow"):
        p.register_module(importlib.import_module(name), name)
    plugin_manager._plugins = p
    r = Registry()
    sc.credit(r)
    r.write(wh)
    cfg = config(MLFLOW_CONFIG)
    a = compute_metrics(wh, cfg, sc.MONTHS, "lifecycle.*", store=False)
    b = compute_metrics(wh, cfg, sc.MONTHS, "lifecycle.*", store=True)
    assert a.equals(b)
    stored = wh.query("SELECT count(*) AS n FROM metric_values")["n"][0]
    assert stored == a.height == 27
    lead = a.filter(pl.col("metric") == "lifecycle.model_lead_time")
    assert set(lead["dimensions"]) == {
        canonical_dimensions({"stat": s}) for s in ("p50", "p75", "p90")
    }
