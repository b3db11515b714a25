"""Detail rows the ``drift`` family publishes for reports, for each detail window:

- ``details.drift_policies``: the per-feature policies that judged each log (``defaulted``:
  no policy names a per-feature drift metric for the entity, so the family's defaults did);
- ``details.drift_features``: each feature's verdict in every computed window, detail windows
  and their periods alike (``failed``: the metrics whose policy flags it, in catalogue order;
  ``drifted``: any), the same rule as ``drift.share``;
- ``details.drift_histograms``: reference-vs-current histograms of drifted features in the
  detail windows (JSON, see :mod:`~mlreport.plugins.drift.histograms`);
- ``details.drift_query_errors``: a histogram query that failed (files moved, bad mapping).
"""

from __future__ import annotations

import json
from typing import Any

import duckdb
import polars as pl

from mlreport.config import PolicyConfig
from mlreport.engines import EngineError
from mlreport.metrics import MetricContext, Window
from mlreport.plugins.drift import histograms
from mlreport.plugins.drift.policies import DEFAULT_POLICIES, failed_metrics
from mlreport.prediction_logs import PredictionLog

TIME = pl.Datetime("us", "UTC")
KEY = {"log": pl.String, "entity": pl.String, "window_start": TIME, "window_end": TIME}
SCHEMAS = {
    "drift_policies": {
        "log": pl.String,
        "entity": pl.String,
        "metric": pl.String,
        "defaulted": pl.Boolean,
    },
    "drift_features": {
        **KEY,
        "feature": pl.String,
        "kind": pl.String,
        "drifted": pl.Boolean,
        "failed": pl.List(pl.String),
    },
    "drift_histograms": {**KEY, "feature": pl.String, "kind": pl.String, "histogram": pl.String},
    "drift_query_errors": {**KEY, "query": pl.String, "error": pl.String},
}


class Details:
    """Collects the detail rows while the family computes, then publishes them."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        self.rows: dict[str, list[dict[str, Any]]] = {name: [] for name in SCHEMAS}

    def add_policies(self, log: PredictionLog, policies: dict[str, PolicyConfig]) -> None:
        defaulted = policies == DEFAULT_POLICIES
        for metric in sorted(policies):
            self.rows["drift_policies"].append(
                {"log": log.log, "entity": log.entity, "metric": metric, "defaulted": defaulted}
            )

    def add_window(
        self,
        log: PredictionLog,
        window: Window,
        values: dict[str, dict[str, float | None]],
        policies: dict[str, PolicyConfig],
        histograms: bool = True,
    ) -> None:
        """Each feature's verdict in ``window``; the histograms of drifted ones if asked."""
        key = {
            "log": log.log,
            "entity": log.entity,
            "window_start": window.start,
            "window_end": window.end,
        }
        for feature, metrics in values.items():
            failed = [m.removeprefix("drift.") for m in failed_metrics(metrics, policies)]
            kind = "numeric" if feature in log.numeric else "categorical"
            self.rows["drift_features"].append(
                {**key, "feature": feature, "kind": kind, "drifted": bool(failed), "failed": failed}
            )
            if failed and histograms:
                self._histogram(log, window, key, feature, kind)

    def _histogram(self, log, window, key, feature: str, kind: str) -> None:
        ref, cur = log.reference(), log.window(window)
        draw = (
            histograms.numeric_histogram
            if kind == "numeric"
            else (histograms.categorical_histogram)
        )
        try:
            hist = draw(self.con, ref, cur, feature)
        except (duckdb.Error, EngineError) as exc:
            self.rows["drift_query_errors"].append(
                {**key, "query": f"histogram of {feature}", "error": str(exc).splitlines()[0]}
            )
            return
        self.rows["drift_histograms"].append(
            {**key, "feature": feature, "kind": kind, "histogram": json.dumps(hist)}
        )

    def publish(self, ctx: MetricContext) -> None:
        for name, schema in SCHEMAS.items():
            ctx.publish(name, pl.DataFrame(self.rows[name], schema=schema))
