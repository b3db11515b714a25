"""The ``quality`` report: per model (prediction log), is it still accurate, has its input
moved, does it treat groups fairly, and what drives it.

Numbers come from the ``performance``, ``drift``, ``fairness`` and ``explain`` metric families
(computed with ``store=False``: a report never writes metric history) and from aggregate SQL
over the log's views (:mod:`mlreport.reports.quality_data`): confusion counts, calibration bins
and reference-vs-current histograms. Everything is computed once per report into
``ctx.cache`` and ordered deterministically, so the same warehouse, config and ``as_of`` give
byte-identical HTML, JSON and Markdown. A family that is missing, fails or emits nothing for a
model leaves a note, never a crash.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import duckdb
import polars as pl

from mlreport import hookimpl
from mlreport.metrics import Window, canonical_dimensions, compute_metrics, iso, split_window
from mlreport.plugins.drift import DEFAULT_POLICIES, feature_policies, violates
from mlreport.plugins.prediction_logs import PredictionLog, prediction_logs
from mlreport.policies import PolicyResult, chart_bound, evaluate, outcome
from mlreport.reporting import ReportContext, ReportType, Section
from mlreport.reports import quality_data as qd
from mlreport.reports.charts import finite, week_points
from mlreport.reports.quality_charts import CHARTS

FAMILIES = ("performance", "drift", "fairness", "explain")

# Metric -> (label, display unit). Units follow ``format_value``: "ratio" shows a percentage,
# None a plain number.
LABELS: dict[str, tuple[str, str | None]] = {
    "performance.accuracy": ("Accuracy", "ratio"),
    "performance.precision": ("Precision", "ratio"),
    "performance.recall": ("Recall", "ratio"),
    "performance.f1": ("F1", "ratio"),
    "performance.roc_auc": ("ROC AUC", None),
    "performance.log_loss": ("Log loss", None),
    "performance.brier": ("Brier score", None),
    "performance.mae": ("MAE", None),
    "performance.rmse": ("RMSE", None),
    "performance.r2": ("R²", None),
    "performance.mape": ("MAPE", "ratio"),
    "performance.labelled_share": ("Labelled share", "ratio"),
    "performance.degradation": ("Degradation", "ratio"),
    "drift.psi": ("PSI", None),
    "drift.ks": ("KS", None),
    "drift.ks_pvalue": ("KS p-value", None),
    "drift.wasserstein": ("Wasserstein (norm.)", None),
    "drift.jensen_shannon": ("Jensen–Shannon", None),
    "drift.unseen_categories": ("Unseen categories", "ratio"),
    "drift.missing_share": ("Missing", "ratio"),
    "drift.share": ("Drifted features", "ratio"),
    "fairness.count": ("Rows", "count"),
    "fairness.selection_rate": ("Selection rate", "ratio"),
    "fairness.accuracy": ("Accuracy", "ratio"),
    "fairness.tpr": ("TPR", "ratio"),
    "fairness.fpr": ("FPR", "ratio"),
    "fairness.fnr": ("FNR", "ratio"),
    "fairness.precision": ("Precision", "ratio"),
    "fairness.demographic_parity_difference": ("Demographic parity difference", "ratio"),
    "fairness.demographic_parity_ratio": ("Demographic parity ratio", None),
    "fairness.equalized_odds_difference": ("Equalized odds difference", "ratio"),
    "fairness.equalized_odds_ratio": ("Equalized odds ratio", None),
    "fairness.equal_opportunity_difference": ("Equal opportunity difference", "ratio"),
    "explain.mean_abs_shap": ("Mean |SHAP|", None),
}

HEADLINE = {
    "classification": ("accuracy", "precision", "recall", "f1", "roc_auc", "log_loss", "brier"),
    "regression": ("mae", "rmse", "r2", "mape"),
}
TRENDS = {
    "classification": ("accuracy", "f1", "roc_auc", "labelled_share"),
    "regression": ("mae", "rmse", "r2", "labelled_share"),
}
DRIFT_METRICS = (
    "psi",
    "ks",
    "ks_pvalue",
    "wasserstein",
    "jensen_shannon",
    "unseen_categories",
    "missing_share",
)
GROUP_METRICS = ("count", "selection_rate", "accuracy", "tpr", "fpr", "fnr", "precision")
SUMMARIES = (
    "demographic_parity_difference",
    "demographic_parity_ratio",
    "equalized_odds_difference",
    "equalized_odds_ratio",
    "equal_opportunity_difference",
)
# Parity band per disparity panel: policies tried in order, ("ratio"|"difference", metric).
PARITY = {
    "selection_rate": (
        ("ratio", "fairness.demographic_parity_ratio"),
        ("difference", "fairness.demographic_parity_difference"),
    ),
    "tpr": (
        ("difference", "fairness.equal_opportunity_difference"),
        ("difference", "fairness.equalized_odds_difference"),
        ("ratio", "fairness.equalized_odds_ratio"),
    ),
}
DEFAULT_PARITY_RATIO = 0.8  # the four-fifths rule, when no policy sets a band
MAX_SHAP = 20
NO_METRIC = "(no metric)"  # a pattern no family matches

NOTE_KINDS = {
    "no_logs": "No prediction logs",
    "family_missing": "Metric families not installed",
    "family_failed": "Metric families that failed",
    "no_values": "No values from a metric family",
    "sql_failed": "Prediction-log queries that failed",
    "no_reference": "No reference data",
    "no_labels": "No labels yet",
    "scores": "Scores left out of the calibration curve",
    "confusion": "Labels or predictions that are not 0/1",
    "shared_entity": "Logs sharing an entity",
    "no_drift_policy": "Drift without a policy",
}

Key = tuple[str, str, str]  # metric, entity, canonical dimensions


class SectionData(dict):
    """A section's JSON data that templates can also draw charts from.

    JSON sees only the dict; ``chart`` is a method, so an SVG is drawn at render time from the
    numbers in the data and never stored in it. (The renderers' own chart functions are
    globals; a report plugin has no hook to add globals, so its charts travel this way.)
    """

    def chart(self, kind: str, *args: Any) -> Any:
        return CHARTS[kind](*args)


# -- shared facts -----------------------------------------------------------------------------


@dataclass
class Facts:
    ctx: ReportContext
    weeks: list[Window]
    logs: list[PredictionLog]
    rows: dict[Key, dict[str, Any]] = field(default_factory=dict)
    weekly: dict[Key, dict[Any, dict[str, Any]]] = field(default_factory=dict)
    policies: dict[Key, PolicyResult] = field(default_factory=dict)
    installed: dict[str, bool] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    info: dict[str, dict[str, Any]] = field(default_factory=dict)
    models: list[dict[str, Any]] = field(default_factory=list)
    notes: list[dict[str, Any]] = field(default_factory=list)

    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        return self.ctx.warehouse.con


def facts(ctx: ReportContext) -> Facts:
    """The facts for ``ctx``, cached on it so the sections share one computation."""
    if "quality_facts" not in ctx.cache:
        ctx.cache["quality_facts"] = _collect(ctx)
    return ctx.cache["quality_facts"]


def _collect(ctx: ReportContext) -> Facts:
    f = Facts(ctx, split_window(ctx.window, "week"), prediction_logs(ctx.warehouse, ctx.entities))
    f.installed = _installed()
    current = _metrics(f, [ctx.window], FAMILIES)
    weekly = _metrics(f, f.weeks, ("performance",))
    f.rows = {_key(r): r for r in current.iter_rows(named=True)}
    for r in weekly.iter_rows(named=True):
        f.weekly.setdefault(_key(r), {})[r["window_start"]] = r
    f.policies = {
        (p.metric, p.entity, canonical_dimensions(p.dimensions)): p
        for p in evaluate(ctx.config, current)
    }
    f.info = _entity_info(ctx)
    _family_notes(f)
    if not f.logs:
        f.notes.append(
            _note(
                "no_logs",
                None,
                "No prediction log is synced for these entities; "
                "add a `predictions` source and run `mlreport sync`.",
            )
        )
    shared = _shared_entities(f.logs)
    for log in f.logs:
        f.models.append(model(f, log))
        if log.entity in shared:
            f.notes.append(
                _note(
                    "shared_entity",
                    log,
                    f"{log.entity} is the entity of several "
                    f"logs ({', '.join(shared[log.entity])}); metric rows carry the "
                    "entity only, so each log shows the same metric values.",
                )
            )
    order = list(NOTE_KINDS)
    f.notes.sort(key=lambda n: (order.index(n["kind"]), n["log"] or "", n["message"]))
    return f


def _installed() -> dict[str, bool]:
    from mlreport.plugin_manager import get_plugins

    registry = get_plugins().metrics()
    fams = [registry.get(n) for n in registry.names()]
    return {
        fam: any(
            getattr(c, "name", None) == fam
            or any(m.name.startswith(fam + ".") for m in getattr(c, "metrics", ()))
            for c in fams
        )
        for fam in FAMILIES
    }


def _metrics(f: Facts, windows: list[Window], families: tuple[str, ...]) -> pl.DataFrame:
    """Rows of the installed ``families`` for ``windows``; a family that raises is noted."""
    frames = []
    for fam in families:
        if not f.installed.get(fam) or fam in f.failed:
            continue
        try:
            frame = compute_metrics(
                f.ctx.warehouse, f.ctx.config, windows, f"{fam}*", f.ctx.entities, store=False
            )
        except Exception as exc:  # a broken plugin must not take the report down
            f.failed[fam] = f"{type(exc).__name__}: {exc}"
            continue
        frames.append(frame.filter(pl.col("metric").str.starts_with(fam + ".")))
    if not frames:  # no family ran: an empty frame of the kernel's shape
        return compute_metrics(f.ctx.warehouse, f.ctx.config, windows, NO_METRIC, store=False)
    return pl.concat(frames, how="vertical_relaxed")


def _key(row: dict[str, Any]) -> Key:
    return (row["metric"], row["entity"], canonical_dimensions(row["dimensions"]))


def _entity_info(ctx: ReportContext) -> dict[str, dict[str, Any]]:
    frame = ctx.warehouse.query(
        "SELECT name, kind, owner, team, risk_tier FROM entities ORDER BY name, kind"
    )
    info: dict[str, dict[str, Any]] = {}
    for r in frame.iter_rows(named=True):
        info.setdefault(r["name"], {k: r[k] for k in ("kind", "owner", "team", "risk_tier")})
    return info


def _shared_entities(logs: list[PredictionLog]) -> dict[str, list[str]]:
    by: dict[str, list[str]] = {}
    for log in logs:
        by.setdefault(log.entity, []).append(log.log)
    return {e: names for e, names in by.items() if len(names) > 1}


def _note(kind: str, log: PredictionLog | None, message: str) -> dict[str, Any]:
    return {
        "kind": kind,
        "log": log.log if log else None,
        "entity": log.entity if log else None,
        "message": message,
    }


def _family_notes(f: Facts) -> None:
    for fam in FAMILIES:
        if not f.installed[fam]:
            f.notes.append(
                _note(
                    "family_missing",
                    None,
                    f"No plugin provides {fam}.* metrics; "
                    f"the {fam} parts of this report are empty.",
                )
            )
    for fam, error in sorted(f.failed.items()):
        f.notes.append(
            _note(
                "family_failed",
                None,
                f"The {fam} metrics failed, so their parts of this report are empty: {error}",
            )
        )


# -- helpers ----------------------------------------------------------------------------------


def label_of(metric: str) -> str:
    return LABELS.get(metric, (metric.split(".", 1)[-1].replace("_", " ").capitalize(), None))[0]


def unit_of(metric: str) -> str | None:
    return LABELS.get(metric, ("", None))[1]


def cell(f: Facts, metric: str, entity: str, dims: dict[str, Any]) -> dict[str, Any] | None:
    """One metric value with its sample size and policy outcome, or None when not emitted."""
    key = (metric, entity, canonical_dimensions(dims))
    row = f.rows.get(key)
    if row is None:
        return None
    return {
        "metric": metric,
        "label": label_of(metric),
        "unit": unit_of(metric),
        "value": finite(row["value"]),
        "n": row["n"],
        "policy": outcome(f.policies.get(key)),
    }


def _entity_rows(f: Facts, prefix: str, entity: str) -> list[tuple[str, dict[str, Any], dict]]:
    """(metric, dimensions, row) of one family for one entity, in key order."""
    out = []
    for (metric, ent, dims), row in sorted(f.rows.items(), key=lambda kv: kv[0]):
        if ent == entity and metric.startswith(prefix):
            out.append((metric, json.loads(dims), row))
    return out


# -- one model --------------------------------------------------------------------------------


def model(f: Facts, log: PredictionLog) -> dict[str, Any]:
    """Everything the report shows about one prediction log."""
    info = f.info.get(log.entity, {})
    m: dict[str, Any] = {
        "log": log.log,
        "entity": log.entity,
        "task": log.task,
        "owner": info.get("owner"),
        "team": info.get("team"),
        "risk_tier": info.get("risk_tier"),
        "reference": _reference(log),
    }
    m["counts"] = _sql(f, log, "row counts", lambda: qd.row_counts(f.con, log.window(f.ctx.window)))
    m["performance"] = performance(f, log, m["counts"])
    m["confusion"] = confusion(f, log)
    m["calibration"] = calibration(f, log)
    m["drift"] = drift(f, log)
    m["fairness"] = fairness(f, log)
    m["explain"] = explain(f, log)
    m["findings"] = findings(f, log, m)
    return m


def _reference(log: PredictionLog) -> dict[str, Any]:
    window = log.reference_window()
    return {
        "kind": log.reference_kind,
        "since": iso(window.start) if window else None,
        "until": iso(window.end) if window else None,
        "files": len(log.reference_files),
    }


def _sql(f: Facts, log: PredictionLog, what: str, run):
    """Run one prediction-log query; a failure (files moved, bad mapping) becomes a note."""
    try:
        return run()
    except duckdb.Error as exc:
        f.notes.append(
            _note(
                "sql_failed", log, f"{log.log}: the {what} query failed: {str(exc).splitlines()[0]}"
            )
        )
        return None


def _no_values(f: Facts, log: PredictionLog, fam: str, why: str) -> None:
    if f.installed.get(fam) and fam not in f.failed:
        f.notes.append(
            _note(
                "no_values",
                log,
                f"{log.log}: the {fam} metrics gave no values "
                f"for {log.entity} in this window{why}.",
            )
        )


# performance ---------------------------------------------------------------------------------


def performance(f: Facts, log: PredictionLog, counts: dict[str, int] | None) -> dict[str, Any]:
    entity = log.entity
    names = HEADLINE.get(log.task, HEADLINE["classification"])
    headline = [
        c for c in (cell(f, f"performance.{n}", entity, {}) for n in names) if c is not None
    ]
    share = cell(f, "performance.labelled_share", entity, {})
    if share is None and counts and counts["rows"]:
        share = {
            "metric": "performance.labelled_share",
            "label": "Labelled share",
            "unit": "ratio",
            "value": counts["labelled"] / counts["rows"],
            "n": counts["rows"],
            "policy": None,
        }
    rows = _entity_rows(f, "performance.", entity)
    if not rows:
        _no_values(f, log, "performance", " (are labels present?)")
    if counts is not None and counts["rows"] and not counts["labelled"]:
        f.notes.append(
            _note(
                "no_labels",
                log,
                f"{log.log}: none of its {counts['rows']:,} rows "
                "in this window has a label yet; performance cannot be measured.",
            )
        )
    return {
        "available": bool(rows),
        "headline": headline,
        "labelled_share": share,
        "degradation": _degradation(f, rows),
        "versions": _versions(rows, names),
        "trends": [_trend(f, entity, f"performance.{n}") for n in _trend_metrics(f, log)],
    }


def _degradation(f: Facts, rows) -> list[dict[str, Any]]:
    out = []
    for metric, dims, row in rows:
        if metric == "performance.degradation" and set(dims) == {"metric"}:
            key = (metric, row["entity"], canonical_dimensions(dims))
            out.append(
                {
                    "of": dims["metric"],
                    "label": label_of("performance." + str(dims["metric"])),
                    "value": finite(row["value"]),
                    "n": row["n"],
                    "policy": outcome(f.policies.get(key)),
                }
            )
    return out


def _versions(rows, names: tuple[str, ...]) -> dict[str, Any]:
    """Headline metrics per model version (rows with a ``model_version`` dimension)."""
    by: dict[str, dict[str, Any]] = {}
    for metric, dims, row in rows:
        if set(dims) != {"model_version"}:
            continue
        v = by.setdefault(str(dims["model_version"]), {"values": {}, "n": None})
        short = metric.removeprefix("performance.")
        if short in names:
            v["values"][short] = finite(row["value"])
            v["n"] = row["n"] if v["n"] is None else max(v["n"], row["n"] or 0)
    columns = [n for n in names if any(n in v["values"] for v in by.values())]
    return {
        "columns": [
            {"key": n, "label": label_of(f"performance.{n}"), "unit": unit_of(f"performance.{n}")}
            for n in columns
        ],
        "rows": [{"model_version": k, **by[k]} for k in sorted(by)],
    }


def _trend_metrics(f: Facts, log: PredictionLog) -> list[str]:
    names = list(TRENDS.get(log.task, TRENDS["classification"]))
    for metric in sorted(f.ctx.config.policies):
        short = metric.removeprefix("performance.")
        if metric.startswith("performance.") and short not in names and short != "degradation":
            names.append(short)
    return names


def _trend(f: Facts, entity: str, metric: str) -> dict[str, Any]:
    by_week = f.weekly.get((metric, entity, "{}"), {})
    points = week_points(f.weeks, by_week, f.ctx.config.metrics.small_sample)
    return {
        "metric": metric,
        "label": label_of(metric),
        "unit": unit_of(metric),
        "policy": chart_bound(f.ctx.config, metric, entity),
        "points": points,
    }


# confusion and calibration --------------------------------------------------------------------


def confusion(f: Facts, log: PredictionLog) -> dict[str, Any] | None:
    if log.task != "classification":
        return None
    counts = _sql(f, log, "confusion matrix", lambda: qd.confusion(f.con, log.window(f.ctx.window)))
    if counts is None:
        return None
    total = counts["tn"] + counts["fp"] + counts["fn"] + counts["tp"]
    if counts["other"]:
        f.notes.append(
            _note(
                "confusion",
                log,
                f"{log.log}: {counts['other']:,} labelled rows "
                "have a label or prediction other than 0 or 1 and are left out of "
                "the confusion matrix.",
            )
        )
    shares = {k: counts[k] / total if total else None for k in ("tn", "fp", "fn", "tp")}
    return {**counts, "total": total, "shares": shares}


def calibration(f: Facts, log: PredictionLog) -> dict[str, Any] | None:
    if log.task != "classification":
        return None
    cal = _sql(f, log, "calibration", lambda: qd.calibration(f.con, log.window(f.ctx.window)))
    if cal and cal["excluded"]:
        f.notes.append(
            _note(
                "scores",
                log,
                f"{log.log}: {cal['excluded']:,} labelled rows have "
                "no score, or one that is not a number in [0, 1]; the calibration "
                "curve leaves them out.",
            )
        )
    return cal


# drift --------------------------------------------------------------------------------------


def drift(f: Facts, log: PredictionLog) -> dict[str, Any]:
    entity = log.entity
    rows = _entity_rows(f, "drift.", entity)
    if not rows:
        _no_values(f, log, "drift", "" if log.reference_view else " (no reference configured)")
    named = [dims.get("feature") for _, dims, _ in rows if dims.get("feature") is not None]
    features = list(log.features) + sorted(set(map(str, named)) - set(log.features))
    judged = feature_policies(f.ctx.config, entity)
    policies = sorted(judged)
    table = [_drift_feature(f, log, feat, judged) for feat in features]
    table = [t for t in table if t["metrics"] or t["feature"] in log.features]
    if rows and judged == DEFAULT_POLICIES:
        f.notes.append(
            _note(
                "no_drift_policy",
                log,
                f"{log.log}: no per-feature drift.* policy is configured, so features are "
                "judged by the drift family's defaults (PSI above 0.2, Jensen–Shannon above 0.1).",
            )
        )
    drifted = [t["feature"] for t in table if t["drifted"]]
    ref = log.reference()
    if drifted and ref is None:
        f.notes.append(
            _note(
                "no_reference",
                log,
                f"{log.log}: no reference is configured, so "
                "drifted features have no reference-vs-current histograms.",
            )
        )
    histograms = []
    for t in table:
        if t["drifted"] and ref is not None:
            hist = _sql(f, log, f"histogram of {t['feature']}", lambda t=t: _histogram(f, log, t))
            histograms.append({"feature": t["feature"], "kind": t["kind"], "histogram": hist})
    return {
        "available": bool(rows),
        "metrics": [
            {"key": m, "label": label_of(f"drift.{m}")}
            for m in DRIFT_METRICS
            if any(m in t["metrics"] for t in table)
        ],
        "features": table,
        "drifted": drifted,
        "share": cell(f, "drift.share", entity, {}),
        "policies": [{"metric": p, "label": label_of(p)} for p in policies],
        "histograms": histograms,
    }


def _drift_feature(
    f: Facts, log: PredictionLog, feature: str, judged: dict[str, Any]
) -> dict[str, Any]:
    """One feature's drift values; it is drifted exactly when the drift family flags it
    (the same policies, or the family's defaults), so the table agrees with drift.share."""
    metrics, n, failed = {}, None, []
    for m in DRIFT_METRICS:
        c = cell(f, f"drift.{m}", log.entity, {"feature": feature})
        if c is None:
            continue
        metrics[m] = {"value": c["value"], "policy": c["policy"]}
        n = c["n"] if n is None else max(n, c["n"] or 0)
        policy = judged.get(f"drift.{m}")
        if policy is not None and violates(policy, c["value"]):
            failed.append(m)
    kind = "numeric" if feature in log.numeric else "categorical"
    if feature not in log.numeric and feature not in log.categorical:
        kind = "numeric" if "ks" in metrics or "psi" in metrics else "categorical"
    return {
        "feature": feature,
        "kind": kind,
        "metrics": metrics,
        "n": n,
        "drifted": bool(failed),
        "failed": failed,
    }


def _histogram(f: Facts, log: PredictionLog, t: dict[str, Any]) -> dict[str, Any]:
    ref, cur = log.reference(), log.window(f.ctx.window)
    if t["kind"] == "numeric":
        return qd.numeric_histogram(f.con, ref, cur, t["feature"])
    return qd.categorical_histogram(f.con, ref, cur, t["feature"])


# fairness -----------------------------------------------------------------------------------


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


# explain ------------------------------------------------------------------------------------


def explain(f: Facts, log: PredictionLog) -> dict[str, Any]:
    rows = [r for m, d, r in _entity_rows(f, "explain.mean_abs_shap", log.entity) if "feature" in d]
    if not rows:
        _no_values(f, log, "explain", "")
        return {"available": False, "features": [], "window": None, "hidden": 0}
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
        "features": items[:MAX_SHAP],
        "hidden": max(len(items) - MAX_SHAP, 0),
        "window": {"since": iso(rows[0]["window_start"]), "until": iso(latest)},
    }


# findings -----------------------------------------------------------------------------------


def findings(f: Facts, log: PredictionLog, m: dict[str, Any]) -> dict[str, Any]:
    failures = []
    for (metric, entity, dims), p in sorted(f.policies.items()):
        if entity != log.entity or p.passed or metric.split(".")[0] not in FAMILIES:
            continue
        failures.append(
            {
                "metric": metric,
                "label": label_of(metric),
                "unit": unit_of(metric),
                "dimensions": json.loads(dims),
                "value": finite(p.value),
                "min": p.min,
                "max": p.max,
                "severity": p.severity,
            }
        )
    worst = _worst_disparity(m["fairness"])
    result = {
        "policy_failures": failures,
        "errors": sum(1 for x in failures if x["severity"] == "error"),
        "warnings": sum(1 for x in failures if x["severity"] == "warn"),
        "drifted": m["drift"]["drifted"],
        "worst_disparity": worst,
        "small_groups": sum(len(x["small_groups"]) for x in m["fairness"]["features"]),
        "top_feature": m["explain"]["features"][0]["feature"] if m["explain"]["features"] else None,
    }
    result["headline"] = headline(result, m)
    return result


def _worst_disparity(fair: dict[str, Any]) -> dict[str, Any] | None:
    """The lowest demographic parity ratio over features, else the largest equalized odds
    difference: the single number a reader should look at first."""
    for metric, pick in (
        ("fairness.demographic_parity_ratio", min),
        ("fairness.equalized_odds_difference", max),
    ):
        found = [
            (s["value"], feat["feature"], s)
            for feat in fair["features"]
            for s in feat["summaries"]
            if s["metric"] == metric and s["value"] is not None
        ]
        if found:
            value, feature, s = pick(found, key=lambda t: (t[0], t[1]))
            return {
                "metric": metric,
                "label": s["label"],
                "unit": s["unit"],
                "feature": feature,
                "value": value,
                "policy": s["policy"],
            }
    return None


def headline(r: dict[str, Any], m: dict[str, Any]) -> str:
    """One line a reader can act on."""
    parts = []
    if r["policy_failures"]:
        names = ", ".join(
            dict.fromkeys(
                x["label"]
                + (f" ({x['dimensions']['feature']})" if "feature" in x["dimensions"] else "")
                for x in r["policy_failures"]
            )
        )
        n = len(r["policy_failures"])
        parts.append(f"{n} policy {'failure' if n == 1 else 'failures'}: {names}.")
    else:
        parts.append("Every policy passes.")
    if r["drifted"]:
        parts.append(f"Drifted: {', '.join(r['drifted'])}.")
    elif m["drift"]["available"]:
        parts.append("No feature drifted.")
    w = r["worst_disparity"]
    if w:
        from mlreport.reports.charts import format_value

        parts.append(
            f"Worst disparity: {w['label'].lower()} {format_value(w['value'], w['unit'])} "
            f"by {w['feature']}."
        )
    return " ".join(parts)


# -- sections ---------------------------------------------------------------------------------


def _window(ctx: ReportContext) -> dict[str, Any]:
    return {"since": iso(ctx.window.start), "until": iso(ctx.window.end)}


def scorecard_row(m: dict[str, Any]) -> dict[str, Any]:
    perf = m["performance"]
    first = perf["headline"][0] if perf["headline"] else None
    return {
        "log": m["log"],
        "entity": m["entity"],
        "task": m["task"],
        "owner": m["owner"],
        "team": m["team"],
        "risk_tier": m["risk_tier"],
        "rows": m["counts"]["rows"] if m["counts"] else None,
        "labelled_share": perf["labelled_share"],
        "primary": first,
        "findings": m["findings"],
    }


class Summary(Section):
    name = "summary"
    title = "Scorecard"
    template = "quality/summary.html.j2"
    markdown = "quality/summary.md.j2"

    def data(self, ctx: ReportContext) -> dict[str, Any]:
        f = facts(ctx)
        rows = [scorecard_row(m) for m in f.models]
        return SectionData(
            window=_window(ctx),
            families=dict(f.installed),
            failed_families=dict(sorted(f.failed.items())),
            models=rows,
            totals={
                "models": len(rows),
                "policy_failures": sum(len(r["findings"]["policy_failures"]) for r in rows),
                "drifted_features": sum(len(r["findings"]["drifted"]) for r in rows),
                "models_with_failures": sum(1 for r in rows if r["findings"]["policy_failures"]),
            },
            note_count=len(f.notes),
        )


class Models(Section):
    name = "models"
    title = "Per model"
    template = "quality/models.html.j2"

    def data(self, ctx: ReportContext) -> dict[str, Any]:
        f = facts(ctx)
        return SectionData(
            weeks=[{"start": iso(w.start), "end": iso(w.end)} for w in f.weeks],
            small_sample=ctx.config.metrics.small_sample,
            min_group_size=ctx.config.metrics.min_group_size,
            models=f.models,
        )


class Notes(Section):
    name = "notes"
    title = "Notes"
    template = "quality/notes.html.j2"
    markdown = "quality/notes.md.j2"

    def data(self, ctx: ReportContext) -> dict[str, Any]:
        f = facts(ctx)
        counts: dict[str, int] = {}
        for n in f.notes:
            counts[n["kind"]] = counts.get(n["kind"], 0) + 1
        return SectionData(notes=f.notes, counts=counts, kinds=NOTE_KINDS)


class QualityReport(ReportType):
    name = "quality"
    title = "Model quality"
    sections = (Summary, Models, Notes)
    inputs = ("prediction_logs", "entities")


@hookimpl
def register_reports(register):
    register("quality", QualityReport)
