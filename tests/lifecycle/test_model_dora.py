"""Model-level DORA for free: the dora family over the deployments rows the mlflow source
writes for production alias moves (entity = registered model, version = model version)."""

from __future__ import annotations

import importlib
import math

import polars as pl

from mlreport import plugin_manager
from mlreport.metrics import Window, canonical_dimensions, compute_metrics
from mlreport.warehouse import Warehouse

from .builder import Registry, config, d

WINDOW = Window(d("2026-01-01"), d("2026-03-01"))  # 59 days


def _install() -> None:
    p = plugin_manager.Plugins()
    for name in ("mlreport.plugins.dora", "mlreport.plugins.lifecycle"):
        p.register_module(importlib.import_module(name), name)
    plugin_manager._plugins = p


def value(frame: pl.DataFrame, metric: str, entity: str, stat: str | None = None):
    dims = {"environment": "production", **({"stat": stat} if stat else {})}
    rows = frame.filter(
        (pl.col("metric") == metric)
        & (pl.col("entity") == entity)
        & (pl.col("dimensions") == canonical_dimensions(dims))
    )
    assert rows.height == 1, (metric, entity, rows)
    return rows["value"][0], rows["n"][0]


def test_dora_on_alias_move_deployments(tmp_path):
    _install()
    r = Registry()
    r.commit("c0", d("2025-12-30"))
    r.commit("c1", d("2026-01-01"), parents=("c0",), generation=2)
    r.commit("c2", d("2026-01-10"), parents=("c1",), generation=3)
    r.repo("repo", "credit")
    r.deployment("credit", "1", d("2026-01-05"), sha="c1")
    r.deployment("credit", "2", d("2026-01-12"), sha="c2")
    r.deployment("credit", "1", d("2026-02-01"), sha="c1", kind="rollback")
    r.deployment("credit", "3", d("2026-02-02"), alias="challenger", environment="staging")
    r.deployment("fraud", "4", d("2026-02-03"), sha="f" * 40)  # commit never synced
    r.repo("repo", "fraud")
    with Warehouse(tmp_path / "wh.duckdb") as wh:
        r.write(wh)
        frame = compute_metrics(wh, config(), [WINDOW], "dora.*", store=False)
        freq, n = value(frame, "dora.deployment_frequency", "credit")
        assert n == 3 and math.isclose(freq, 3 / 59 * 7, rel_tol=1e-12)
        # v2 ships c2 (authored 10 Jan, promoted 12 Jan); v1's first promotion has no
        # previous deployment, and the rollback to v1 ships nothing new.
        assert value(frame, "dora.lead_time", "credit", "p50") == (48.0, 1)
        assert value(frame, "dora.rework_rate", "credit") == (1 / 3, 3)
        assert value(frame, "dora.change_failure_rate", "credit") == (0.0, 3)
        assert value(frame, "dora.unlinked_deployments", "fraud")[0] == 1
        assert frame.filter(pl.col("dimensions").str.contains("staging")).height == 0
