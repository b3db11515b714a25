"""A stand-in for the performance, drift, fairness and explain families, emitting rows of the
issue-4 metric-row contract, and a seeded prediction log as real DuckDB views.

The families compute honest values from the views (accuracy, PSI, group rates ...) so the
report's numbers can be checked against plain-Python references; they are not the catalogue's
implementations, only the shape the report reads.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import polars as pl

from mlreport import hookimpl
from mlreport.metrics import MetricContext, MetricFamily, MetricInfo, Window
from mlreport.plugins import performance_details
from mlreport.plugins.drift import categorical
from mlreport.plugins.drift import details as drift_details
from mlreport.plugins.drift.policies import feature_policies
from mlreport.prediction_logs import prediction_logs
from mlreport.sql import quote_identifier
from mlreport.warehouse import Warehouse, registered
from tests.drift import one_column

AS_OF = datetime(2026, 6, 30, tzinfo=UTC)
WINDOW_START = AS_OF - timedelta(days=90)
REF_SINCE = WINDOW_START - timedelta(days=60)
DRIFT_FROM = AS_OF - timedelta(days=45)  # income shifts upward from here on
HOSTILE = '<script>alert("x")</script>'
FILE_URL = "file:///etc/passwd"


def names(hostile: bool) -> dict[str, str]:
    """Entity, feature and group names; hostile ones carry markup and a file:// URL."""
    if not hostile:
        return {
            "entity": "credit-risk",
            "income": "income",
            "region": "region",
            "sex": "sex",
            "group_f": "F",
            "group_m": "M",
            "group_x": "X",
            "log": "credit",
        }
    return {
        "entity": f"credit {HOSTILE}",
        "income": f"income {HOSTILE}",
        "region": f"region <b>{FILE_URL}</b>",
        "sex": f"sex {HOSTILE}",
        "group_f": f"F {HOSTILE}",
        "group_m": f'M <img src="{FILE_URL}">',
        "group_x": "X",
        "log": "credit",
    }


def frame(n: dict[str, str], rows: int = 3000, seed: int = 7) -> pl.DataFrame:
    """Rows from REF_SINCE to AS_OF: income drifts after DRIFT_FROM, group F is selected less,
    group X is small, a tenth of recent rows has no label yet."""
    rng = np.random.default_rng(seed)
    span = (AS_OF - REF_SINCE).total_seconds()
    offsets = np.sort(rng.uniform(0, span, rows))
    ts = [REF_SINCE + timedelta(seconds=float(s)) for s in offsets]
    late = np.array([t >= DRIFT_FROM for t in ts])
    sex = rng.choice([n["group_f"], n["group_m"]], rows, p=[0.45, 0.55]).astype(object)
    sex[rng.random(rows) < 0.006] = n["group_x"]
    income = rng.normal(50, 10, rows) + np.where(late, 12.0, 0.0)
    debt = rng.gamma(2.0, 0.2, rows)
    region = rng.choice(["north", "south", "east", "west"], rows, p=[0.4, 0.3, 0.2, 0.1])
    logit = (income - 55) / 8 + 1.5 * debt - 1 + np.where(sex == n["group_f"], -0.8, 0.0)
    score = 1 / (1 + np.exp(-logit))
    label = (rng.random(rows) < score).astype(float)
    unlabelled = (rng.random(rows) < 0.1) & np.array([t >= AS_OF - timedelta(days=14) for t in ts])
    return pl.DataFrame(
        {
            "ts": ts,
            "model_version": np.where(late, "v2", "v1"),
            "prediction": (score >= 0.5).astype(float),
            "score": score,
            "label": [None if u else float(v) for u, v in zip(unlabelled, label, strict=True)],
            n["income"]: income,
            "debt_ratio": debt,
            n["region"]: region,
            n["sex"]: sex.astype(str),
        }
    ).with_columns(pl.col("ts").cast(pl.Datetime("us", "UTC")))


def seed_log(wh: Warehouse, hostile: bool = False, task: str = "classification") -> pl.DataFrame:
    """A synced-looking prediction log: a raw table, its views and its ``prediction_logs`` row."""
    n = names(hostile)
    data = frame(n)
    log = n["log"]
    with registered(wh.con, data) as name:
        wh.con.execute(f"CREATE OR REPLACE TABLE raw_{log} AS SELECT * FROM {name}")
    feats = ", ".join(
        quote_identifier(c) for c in (n["income"], "debt_ratio", n["region"], n["sex"])
    )
    entity = "'" + n["entity"].replace("'", "''") + "'"
    wh.con.execute(
        f"CREATE OR REPLACE VIEW predictions__{log} AS SELECT '{log}' AS log, {entity} AS entity, "
        f"model_version, ts, prediction, score, label, {feats} FROM raw_{log}"
    )
    wh.con.execute(
        f"CREATE OR REPLACE VIEW predictions_reference__{log} AS SELECT * FROM predictions__{log} "
        f"WHERE ts >= TIMESTAMPTZ '{REF_SINCE.isoformat()}' "
        f"AND ts < TIMESTAMPTZ '{WINDOW_START.isoformat()}'"
    )
    wh.upsert(
        "entities",
        pl.DataFrame(
            [
                {
                    "kind": "model",
                    "name": n["entity"],
                    "owner": "risk@example.com",
                    "team": "Risk ML",
                    "risk_tier": "high",
                }
            ]
        ),
        ("kind", "name"),
    )
    wh.upsert(
        "prediction_logs",
        pl.DataFrame(
            [
                {
                    "log": log,
                    "entity": n["entity"],
                    "task": task,
                    "view_name": f"predictions__{log}",
                    "reference_view": f"predictions_reference__{log}",
                    "reference_kind": "window",
                    "reference_since": REF_SINCE,
                    "reference_until": WINDOW_START,
                    "numeric_features": [n["income"], "debt_ratio"],
                    "categorical_features": [n["region"]],
                    "sensitive_features": [n["sex"]],
                    "intersections": "[]",
                    "shap_columns": "{}",
                    "files": "[]",
                    "reference_files": "[]",
                    "row_count": data.height,
                    "source": log,
                }
            ]
        ),
        ("log",),
    )
    return data


# -- the fake families --------------------------------------------------------------------------


def _row(metric: str, entity: str, w: Window, dims: dict, value, n: int, unit="ratio") -> dict:
    return {
        "metric": metric,
        "entity": entity,
        "window_start": w.start,
        "window_end": w.end,
        "dimensions": dims,
        "value": value,
        "unit": unit,
        "n": n,
    }


def _labelled(ctx: MetricContext, log, w: Window) -> tuple[pl.DataFrame, int]:
    sql, params = log.window(w)
    rows = ctx.warehouse.query(f"SELECT * FROM ({sql})", params)
    return rows.filter(pl.col("label").is_not_null()), rows.height


def accuracy_of(frame: pl.DataFrame) -> float | None:
    if not frame.height:
        return None
    return float((frame["label"] == frame["prediction"]).sum()) / frame.height


def f1_of(frame: pl.DataFrame) -> float | None:
    tp = int(((frame["label"] == 1) & (frame["prediction"] == 1)).sum())
    fp = int(((frame["label"] == 0) & (frame["prediction"] == 1)).sum())
    fn = int(((frame["label"] == 1) & (frame["prediction"] == 0)).sum())
    return 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else None


class Performance(MetricFamily):
    name = "performance"
    metrics = (
        MetricInfo("performance.accuracy", "ratio", "accuracy"),
        MetricInfo("performance.f1", "ratio", "f1"),
        MetricInfo("performance.labelled_share", "ratio", "labelled share"),
        MetricInfo("performance.degradation", "ratio", "relative change"),
    )

    def compute(self, ctx: MetricContext):
        # The detail rows (counts, confusion, calibration) as the real family publishes them.
        performance_details.publish(ctx, prediction_logs(ctx.warehouse, ctx.entities))
        for log in prediction_logs(ctx.warehouse, ctx.entities):
            ref = ctx.warehouse.query(f"SELECT * FROM ({log.reference()[0]})")
            ref_acc = accuracy_of(ref.filter(pl.col("label").is_not_null()))
            for w in ctx.windows:
                lab, total = _labelled(ctx, log, w)
                acc = accuracy_of(lab)
                for dims, part in [({}, lab)] + [
                    ({"model_version": v}, lab.filter(pl.col("model_version") == v))
                    for v in sorted(set(lab["model_version"].to_list()))
                ]:
                    yield _row(
                        "performance.accuracy", log.entity, w, dims, accuracy_of(part), part.height
                    )
                    yield _row("performance.f1", log.entity, w, dims, f1_of(part), part.height)
                yield _row(
                    "performance.labelled_share",
                    log.entity,
                    w,
                    {},
                    lab.height / total if total else None,
                    total,
                )
                if acc is not None and ref_acc:
                    yield _row(
                        "performance.degradation",
                        log.entity,
                        w,
                        {"metric": "accuracy"},
                        (acc - ref_acc) / ref_acc,
                        lab.height,
                    )


class Drift(MetricFamily):
    name = "drift"
    metrics = tuple(
        MetricInfo(f"drift.{m}", "", m)
        for m in (
            "psi",
            "ks",
            "ks_pvalue",
            "jensen_shannon",
            "unseen_categories",
            "missing_share",
            "share",
        )
    )

    def compute(self, ctx: MetricContext):
        con = ctx.warehouse.con
        published = drift_details.Details(con)  # verdicts and histograms, as the real family
        for log in prediction_logs(ctx.warehouse, ctx.entities):
            policies = feature_policies(ctx.config, log.entity)
            published.add_policies(log, policies)
            for w in ctx.windows:
                cur, ref = log.window(w), log.reference()
                (n,) = con.execute(f"SELECT count(*) FROM ({cur[0]})", cur[1]).fetchone()
                flagged = 0
                values: dict[str, dict[str, float | None]] = {f: {} for f in log.features}
                for f in log.numeric:
                    psi = one_column.psi(con, ref, cur, f)
                    ks = one_column.ks(con, ref, cur, f)
                    flagged += psi is not None and psi > 0.2
                    values[f].update({"drift.psi": psi, "drift.ks": ks.statistic})
                    values[f]["drift.ks_pvalue"] = ks.pvalue
                    yield _row("drift.psi", log.entity, w, {"feature": f}, psi, n, "")
                    yield _row("drift.ks", log.entity, w, {"feature": f}, ks.statistic, n, "")
                    yield _row("drift.ks_pvalue", log.entity, w, {"feature": f}, ks.pvalue, n, "")
                for f in log.categorical:
                    js = categorical.jensen_shannon(con, ref, cur, f)
                    values[f]["drift.jensen_shannon"] = js
                    yield _row("drift.jensen_shannon", log.entity, w, {"feature": f}, js, n, "")
                    unseen = float(len(categorical.unseen_categories(con, ref, cur, f)))
                    yield _row("drift.unseen_categories", log.entity, w, {"feature": f}, unseen, n)
                for f in log.features:
                    share = one_column.missing_share(con, cur, f, numeric=f in log.numeric)
                    values[f]["drift.missing_share"] = share
                    yield _row("drift.missing_share", log.entity, w, {"feature": f}, share, n)
                yield _row("drift.share", log.entity, w, {}, flagged / len(log.features), n)
                detailed = w in ctx.detail_windows
                published.add_window(log, w, values, policies, histograms=detailed)
        published.publish(ctx)


class Fairness(MetricFamily):
    name = "fairness"
    metrics = tuple(
        MetricInfo(f"fairness.{m}", "ratio", m)
        for m in (
            "count",
            "selection_rate",
            "tpr",
            "demographic_parity_ratio",
            "equalized_odds_difference",
        )
    )

    def compute(self, ctx: MetricContext):
        small = ctx.config.metrics.min_group_size
        for log in prediction_logs(ctx.warehouse, ctx.entities):
            for w in ctx.windows:
                lab, _ = _labelled(ctx, log, w)
                for f in log.sensitive:
                    rates = {}
                    for g in sorted(set(lab[f].to_list())):
                        part = lab.filter(pl.col(f) == g)
                        pos = part.filter(pl.col("label") == 1)
                        sel = float(part["prediction"].mean())
                        tpr = float(pos["prediction"].mean()) if pos.height else None
                        rates[g] = (sel, tpr)
                        dims = {"feature": f, "group": g}
                        if part.height < small:
                            dims["small"] = True
                        yield _row(
                            "fairness.count", log.entity, w, dims, part.height, part.height, "count"
                        )
                        yield _row("fairness.selection_rate", log.entity, w, dims, sel, part.height)
                        yield _row("fairness.tpr", log.entity, w, dims, tpr, pos.height)
                    sels = [s for s, _ in rates.values()]
                    tprs = [t for _, t in rates.values() if t is not None]
                    yield _row(
                        "fairness.demographic_parity_ratio",
                        log.entity,
                        w,
                        {"feature": f},
                        min(sels) / max(sels),
                        lab.height,
                        "",
                    )
                    yield _row(
                        "fairness.equalized_odds_difference",
                        log.entity,
                        w,
                        {"feature": f},
                        max(tprs) - min(tprs),
                        lab.height,
                    )


SHAP = {"debt_ratio": 0.31, "region": 0.05}


class Explain(MetricFamily):
    name = "explain"
    metrics = (MetricInfo("explain.mean_abs_shap", "", "mean |SHAP|"),)

    def compute(self, ctx: MetricContext):
        for log in prediction_logs(ctx.warehouse, ctx.entities):
            w = log.reference_window()
            values = {log.numeric[0]: 0.42, **SHAP, log.categorical[0]: 0.05}
            values.pop("region", None)
            for f, v in values.items():
                yield _row("explain.mean_abs_shap", log.entity, w, {"feature": f}, v, 500, "")


class Broken(MetricFamily):
    name = "drift"
    metrics = (MetricInfo("drift.psi", "", "psi"),)

    def compute(self, ctx: MetricContext):
        raise RuntimeError("reference view is gone")


class AllFamilies:
    @hookimpl
    def register_metrics(self, register):
        for fam in (Performance, Drift, Fairness, Explain):
            register(fam.name, fam)


class BrokenDrift:
    @hookimpl
    def register_metrics(self, register):
        register("performance", Performance)
        register("drift", Broken)


def dims_key(d: dict[str, Any]) -> str:
    return json.dumps(d, sort_keys=True)
