"""The fairness and explanation parts of one model: per-group values with parity bands,
the fairlearn summaries, and mean |SHAP| per feature."""

from __future__ import annotations

import json
from typing import Any

from mlreport.config import ConfigError
from mlreport.plugin_manager import PluginError
from mlreport.prediction_logs import PredictionLog
from mlreport.reports.charts.numbers import finite
from mlreport.reports.quality.facts import Facts, _entity_rows, _no_values, cell
from mlreport.reports.quality.labels import (
    DEFAULT_PARITY_RATIO,
    GROUP_METRICS,
    MAX_SHAP,
    PARITY,
    SUMMARIES,
    label_of,
)
from mlreport.sources import source_options
from mlreport.times import iso


def fairness(f: Facts, log: PredictionLog) -> dict[str, Any]:
    rows = _entity_rows(f, "fairness.", log.entity)
    if not rows and (log.sensitive or log.intersections):
        _no_values(f, log, "fairness", " (are labels present?)")
    order = list(log.sensitive) + [" & ".join(i) for i in log.intersections]
    seen = {str(d["feature"]) for _, d, _ in rows if "feature" in d}
    features = [x for x in order if x in seen] + sorted(seen - set(order))
    emitted = {m.removeprefix("fairness.") for m, d, _ in rows if "group" in d}
    return {
        "available": bool(rows),
        "min_group_size": f.ctx.config.metrics.min_group_size,
        "columns": [
            {"key": m, "label": label_of(f"fairness.{m}")} for m in GROUP_METRICS if m in emitted
        ],
        "features": [_fair_feature(f, log, feat, rows) for feat in features],
    }


def _fair_feature(f: Facts, log: PredictionLog, feature: str, rows) -> dict[str, Any]:
    groups: dict[str, dict[str, Any]] = {}
    for metric, dims, row in rows:
        if str(dims.get("feature")) != feature or "group" not in dims:
            continue
        g = groups.setdefault(str(dims["group"]), {"values": {}, "small": False})
        g["small"] = g["small"] or bool(dims.get("small"))
        g["values"][metric.removeprefix("fairness.")] = finite(row["value"])
    group_rows = [{"group": k, **groups[k]} for k in sorted(groups)]
    summaries = [
        c
        for c in (cell(f, f"fairness.{s}", log.entity, {"feature": feature}) for s in SUMMARIES)
        if c is not None
    ]
    return {
        "feature": feature,
        "groups": group_rows,
        "summaries": summaries,
        "small_groups": [g["group"] for g in group_rows if g["small"]],
        "disparity": [
            _panel(f, log.entity, "selection_rate", group_rows),
            _panel(f, log.entity, "tpr", group_rows),
        ],
    }


def _panel(f: Facts, entity: str, metric: str, groups: list[dict]) -> dict[str, Any]:
    """Per-group values of ``metric`` and the parity band its policy implies."""
    values = [g["values"].get(metric) for g in groups]
    known = [v for v in values if v is not None]
    band = None
    if known:
        top = max(known)
        kind, bound, source = _parity_rule(f, entity, metric)
        lo = top * bound if kind == "ratio" else top - bound
        band = {"lo": max(lo, 0.0), "hi": top, "rule": kind, "bound": bound, "source": source}
    return {
        "metric": metric,
        "label": label_of(f"fairness.{metric}"),
        "band": band,
        "groups": [
            {
                "group": g["group"],
                "small": g["small"],
                "value": v,
                "outside": band is not None and v is not None and v < band["lo"] - 1e-12,
            }
            for g, v in zip(groups, values, strict=True)
        ],
    }


def _parity_rule(f: Facts, entity: str, metric: str) -> tuple[str, float, str]:
    for kind, name in PARITY[metric]:
        p = f.ctx.config.policies.get(name)
        if p is None or p.entity not in (None, entity):
            continue
        if kind == "ratio" and p.min is not None:
            return kind, p.min, name
        if kind == "difference" and p.max is not None:
            return kind, p.max, name
    return "ratio", DEFAULT_PARITY_RATIO, "four-fifths rule"


def _explain_configured(f: Facts, log: PredictionLog) -> bool:
    """Whether the log's source asks for explanations (its ``[sources.explain]`` table, read
    through the kernel as the predictions source validated it)."""
    try:
        options = source_options(f.ctx.config, "predictions").get(log.log)
    except (ConfigError, PluginError):  # the source type is gone: say nothing of explain
        return False
    return getattr(options, "explain", None) is not None


def explain(f: Facts, log: PredictionLog) -> dict[str, Any]:
    rows = [r for m, d, r in _entity_rows(f, "explain.mean_abs_shap", log.entity) if "feature" in d]
    configured = _explain_configured(f, log)
    if not rows:
        if configured:  # not configured is a choice, not a problem to note
            _no_values(f, log, "explain", "")
        return {
            "available": False,
            "configured": configured,
            "features": [],
            "window": None,
            "hidden": 0,
        }
    latest = max(r["window_end"] for r in rows)
    rows = [r for r in rows if r["window_end"] == latest]
    items = [
        {
            "feature": str(json.loads(r["dimensions"])["feature"]),
            "value": finite(r["value"]),
            "n": r["n"],
        }
        for r in rows
    ]
    items.sort(key=lambda i: (-(i["value"] or 0.0), i["feature"]))
    return {
        "available": True,
        "configured": configured,
        "features": items[:MAX_SHAP],
        "hidden": max(len(items) - MAX_SHAP, 0),
        "window": {"since": iso(rows[0]["window_start"]), "until": iso(latest)},
    }
