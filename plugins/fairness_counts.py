"""Fairness metrics from aggregated counts: DuckDB counts (group, label, prediction) once, then
fairlearn computes every value from those counts passed as sample weights.

Why counts: a prediction log can hold millions of rows but only a few hundred distinct
``(group, label, prediction)`` triples. Weighted by their counts, fairlearn's own metric and
summary functions return exactly the numbers they return on the raw rows, without loading them.

This is the computational core of the future ``fairness`` metric family; it knows nothing of
windows, entities or the warehouse schema. The caller passes a relation (a table or view name, or
a parenthesised subquery) and DuckDB expressions written by the config author.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import sklearn
import sklearn.metrics as skm
from fairlearn.metrics import (
    MetricFrame,
    false_negative_rate,
    false_positive_rate,
    selection_rate,
    true_positive_rate,
)
from sklearn.exceptions import UndefinedMetricWarning

MISSING = "(missing)"
INTERSECTION = " & "

GROUP_METRICS = ("count", "selection_rate", "accuracy", "tpr", "fpr", "fnr", "precision")
SUMMARY_METRICS = (
    "demographic_parity_difference",
    "demographic_parity_ratio",
    "equalized_odds_difference",
    "equalized_odds_ratio",
    "equal_opportunity_difference",
)


class FairnessError(ValueError):
    """Bad fairness input; the message names the expression or feature at fault."""


def weighted_count(y_true: Any, y_pred: Any, sample_weight: Any) -> float:
    """fairlearn's ``count`` ignores weights; with count rows the group size is their sum."""
    return float(np.sum(sample_weight))


# Name -> (function, takes sample_weight). Functions are fairlearn's or scikit-learn's, with their
# defaults, so a value equals what a MetricFrame over the raw rows reports.
METRIC_FUNCTIONS = {
    "count": weighted_count,
    "selection_rate": selection_rate,
    "accuracy": skm.accuracy_score,
    "tpr": true_positive_rate,
    "fpr": false_positive_rate,
    "fnr": false_negative_rate,
    "precision": skm.precision_score,
}


@dataclass(frozen=True)
class FairnessSpec:
    """What to measure.

    ``features`` maps a sensitive feature's name to a DuckDB expression over ``relation``.
    ``groupings`` lists the feature names to group by: one name alone, several names for their
    intersection. By default each feature is measured alone.
    """

    relation: str
    features: Mapping[str, str]
    label: str = "label"
    prediction: str = "prediction"
    groupings: Sequence[Sequence[str]] | None = None
    min_group_size: int = 30
    where: str | None = None
    params: Sequence[Any] = ()  # values for ``?`` placeholders in ``relation``

    def resolved_groupings(self) -> list[tuple[str, ...]]:
        """The groupings to compute, checked against ``features``."""
        if not self.features:
            raise FairnessError("fairness: no sensitive features given")
        groupings = self.groupings or [(name,) for name in self.features]
        resolved = []
        for grouping in groupings:
            names = (grouping,) if isinstance(grouping, str) else tuple(grouping)
            if not names:
                raise FairnessError("fairness: an empty grouping was given")
            unknown = [n for n in names if n not in self.features]
            if unknown:
                raise FairnessError(f"fairness: grouping names unknown feature(s) {unknown}")
            resolved.append(names)
        return resolved


@dataclass(frozen=True)
class Counts:
    """One row per distinct (group…, label, prediction) with its count."""

    names: tuple[str, ...]
    groups: pd.DataFrame  # one string column per feature name
    label: np.ndarray  # int 0/1
    prediction: np.ndarray  # int 0/1
    weight: np.ndarray  # float counts

    @property
    def feature(self) -> str:
        return INTERSECTION.join(self.names)


def counts_sql(spec: FairnessSpec, names: tuple[str, ...]) -> str:
    """One scan for every grouping: counts per distinct (feature values…, label, prediction)
    over all the features any grouping names; groupings are rolled up from it in Python.

    The raw values are grouped and cast afterwards, on the few result rows, which keeps the
    scan as cheap as a bare ``GROUP BY … count(*)``. Expressions are the config author's, on
    purpose; nothing supplied at run time is interpolated.
    """
    raw = ", ".join(f"({spec.features[n]}) AS g{i}" for i, n in enumerate(names))
    cast = ", ".join(f"coalesce(CAST(g{i} AS VARCHAR), '{MISSING}')" for i in range(len(names)))
    where = f"WHERE ({spec.where})" if spec.where else ""
    return (
        f"SELECT {cast}, CAST(y_true AS INTEGER), CAST(y_pred AS INTEGER), sum(n) FROM ("
        f"SELECT {raw}, ({spec.label}) AS y_true, ({spec.prediction}) AS y_pred, count(*) AS n "
        f"FROM {spec.relation} {where} GROUP BY ALL) GROUP BY ALL ORDER BY ALL"
    )


def scan_counts(con: duckdb.DuckDBPyConnection, spec: FairnessSpec) -> tuple[tuple[str, ...], list]:
    """The finest counts (see :func:`counts_sql`) and the feature names they are grouped by."""
    names = tuple(dict.fromkeys(n for g in spec.resolved_groupings() for n in g))
    try:
        rows = con.execute(counts_sql(spec, names), list(spec.params)).fetchall()
    except duckdb.Error as exc:
        raise FairnessError(
            f"fairness: cannot count {spec.relation} by {list(names)} "
            f"(label={spec.label!r}, prediction={spec.prediction!r}): {exc}"
        ) from exc
    return names, rows


def read_counts(
    con: duckdb.DuckDBPyConnection, spec: FairnessSpec, names: tuple[str, ...]
) -> tuple[Counts, int]:
    """Counts for one grouping (one scan); see :func:`roll_up`."""
    scanned, rows = scan_counts(con, spec)
    return roll_up(spec, scanned, rows, names)


def roll_up(
    spec: FairnessSpec, scanned: tuple[str, ...], rows: list, names: tuple[str, ...]
) -> tuple[Counts, int]:
    """Counts for one grouping, summed from the finest counts; also returns how many rows
    lacked a label or prediction (they are excluded: a label that has not arrived yet is not
    a negative). Sums of integer counts are exact, so rolling up changes no value."""
    k = len(scanned)
    cols = [scanned.index(n) for n in names]
    totals: dict[tuple, int] = {}
    skipped = 0
    for r in rows:
        if r[k] is None or r[k + 1] is None:
            skipped += r[k + 2]
            continue
        key = (*(r[c] for c in cols), r[k], r[k + 1])
        totals[key] = totals.get(key, 0) + r[k + 2]
    for column, index, expr in (("label", -2, spec.label), ("prediction", -1, spec.prediction)):
        bad = sorted({key[index] for key in totals} - {0, 1})
        if bad:
            raise FairnessError(
                f"fairness: {column} {expr!r} must be boolean or 0/1, found {bad[:5]}"
            )
    keys = sorted(totals)
    groups = pd.DataFrame({n: [key[i] for key in keys] for i, n in enumerate(names)}, dtype=object)
    counts = Counts(
        names=names,
        groups=groups,
        label=np.array([key[-2] for key in keys], dtype=np.int64),
        prediction=np.array([key[-1] for key in keys], dtype=np.int64),
        weight=np.array([totals[key] for key in keys], dtype=np.float64),
    )
    return counts, skipped


def metric_frame(counts: Counts) -> MetricFrame:
    """fairlearn's MetricFrame over the count rows, each metric weighted by the counts."""
    weights = {"sample_weight": counts.weight}
    return MetricFrame(
        metrics=METRIC_FUNCTIONS,
        y_true=counts.label,
        y_pred=counts.prediction,
        sensitive_features=counts.groups,
        sample_params={name: weights for name in METRIC_FUNCTIONS},
    )


def summaries(frame: MetricFrame) -> dict[str, float]:
    """fairlearn's summaries (between groups, worst case) from the weighted frame.

    fairlearn's own functions (``demographic_parity_difference(..., sample_weight=w)`` and the
    rest) build a MetricFrame of selection_rate / tpr / fpr with ``sample_params`` and take
    ``.difference()`` / ``.ratio()``; equalized odds takes the worse of tpr and fpr. Doing the
    same on the one frame already built avoids five more frames per grouping; the tests check
    the values against the summary functions themselves.
    """
    diff, ratio = frame.difference(), frame.ratio()
    return {
        "demographic_parity_difference": float(diff["selection_rate"]),
        "demographic_parity_ratio": float(ratio["selection_rate"]),
        "equalized_odds_difference": float(max(diff["tpr"], diff["fpr"])),
        "equalized_odds_ratio": float(min(ratio["tpr"], ratio["fpr"])),
        "equal_opportunity_difference": float(diff["tpr"]),
    }


def denominators(counts: Counts) -> pd.DataFrame:
    """Per group: rows, actual positives, actual negatives, predicted positives — the ``n``
    behind each rate, so a rate over nobody (reported as 0 by fairlearn) shows ``n = 0``."""
    frame = counts.groups.copy()
    frame["rows"] = counts.weight
    frame["pos"] = counts.weight * (counts.label == 1)
    frame["neg"] = counts.weight * (counts.label == 0)
    frame["pred_pos"] = counts.weight * (counts.prediction == 1)
    return frame.groupby(list(counts.names), sort=True).sum()


METRIC_DENOMINATOR = {
    "count": "rows",
    "selection_rate": "rows",
    "accuracy": "rows",
    "tpr": "pos",
    "fnr": "pos",
    "fpr": "neg",
    "precision": "pred_pos",
}


def group_rows(counts: Counts, frame: MetricFrame, min_group_size: int) -> list[dict[str, Any]]:
    """One row per (group, metric); ``small`` flags groups below ``min_group_size``.

    With several features fairlearn lists every combination, empty ones as NaN; an empty
    intersection is not a group, so it is left out.
    """
    sizes = denominators(counts)
    rows = []
    for key, values in frame.by_group.iterrows():
        if key not in sizes.index:
            continue
        parts = key if isinstance(key, tuple) else (key,)
        size = sizes.loc[key]
        for metric in GROUP_METRICS:
            rows.append(
                {
                    "feature": counts.feature,
                    "group": INTERSECTION.join(str(p) for p in parts),
                    "metric": metric,
                    "value": float(values[metric]),
                    "n": int(size[METRIC_DENOMINATOR[metric]]),
                    "small": bool(size["rows"] < min_group_size),
                }
            )
    return rows


def summary_rows(counts: Counts, frame: MetricFrame, min_group_size: int) -> list[dict[str, Any]]:
    """One row per summary; ``small`` when any group behind it is below ``min_group_size``."""
    sizes = denominators(counts)["rows"]
    small = bool((sizes < min_group_size).any())
    total = int(counts.weight.sum())
    return [
        {
            "feature": counts.feature,
            "group": None,
            "metric": metric,
            "value": value,
            "n": total,
            "small": small,
        }
        for metric, value in summaries(frame).items()
    ]


def fairness_rows(con: duckdb.DuckDBPyConnection, spec: FairnessSpec) -> list[dict[str, Any]]:
    """Every group metric and summary for every grouping, as plain dicts with keys
    feature, group, metric, value, n, small (``group`` is None on summaries).

    Rows without a label or prediction are left out; each grouping also yields an
    ``excluded_rows`` row (group None) counting them, so nothing disappears silently.
    """
    if spec.min_group_size < 0:
        raise FairnessError("fairness: min_group_size must be >= 0")
    scanned, scan = scan_counts(con, spec)
    return rows_from_scan(spec, scanned, scan)


def rows_from_scan(
    spec: FairnessSpec, scanned: tuple[str, ...], scan: list[tuple]
) -> list[dict[str, Any]]:
    """:func:`fairness_rows` from finest counts already scanned: rows of
    ``(*group values of scanned, label, prediction, n)``, group values as text or
    ``MISSING``, label and prediction NULL when missing."""
    out: list[dict[str, Any]] = []
    for names in spec.resolved_groupings():
        counts, skipped = roll_up(spec, scanned, scan, names)
        if len(counts.weight):
            # Validation off: the inputs are ours and already checked; it only costs time
            # (scikit-learn's per-call checks dominate fairlearn on a few count rows).
            with (
                warnings.catch_warnings(),
                sklearn.config_context(skip_parameter_validation=True, assume_finite=True),
            ):
                # Undefined precision is reported as fairlearn/scikit-learn do (0.0); the n = 0
                # on the row says so, which is clearer than a warning in a nightly log.
                warnings.simplefilter("ignore", UndefinedMetricWarning)
                frame = metric_frame(counts)
                out += group_rows(counts, frame, spec.min_group_size)
                out += summary_rows(counts, frame, spec.min_group_size)
        out.append(
            {
                "feature": counts.feature,
                "group": None,
                "metric": "excluded_rows",
                "value": float(skipped),
                "n": skipped,
                "small": False,
            }
        )
    return out
