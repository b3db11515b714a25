"""Model performance as aggregate SQL: DuckDB reduces a prediction log to sufficient statistics,
Python finishes on the small result so each value equals scikit-learn's on the raw rows.

- Threshold metrics (accuracy, precision, recall, f1): DuckDB counts (label, prediction) per
  window and model version; ``sklearn.metrics`` gets the counts as ``sample_weight``.
- Score metrics (roc_auc, log_loss, brier): DuckDB groups labelled rows by distinct score; the
  ROC area is the Mann-Whitney sum over those groups in exact integers, log loss and Brier are
  scikit-learn's per-row formulas summed with ``fsum`` (compensated).
- Regression (mae, rmse, r2, mape): compensated sums and DuckDB's stable ``var_pop``.

Rows are bucketed into windows by one CASE over the window bounds, so a set of contiguous
windows costs one scan. The core knows nothing of entities or the warehouse schema: it takes a
relation ``(sql, params)`` with the view contract's columns (``ts``, ``model_version``,
``label``, ``prediction``, ``score``).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import duckdb
import numpy as np
import sklearn.metrics as skm
from sklearn.exceptions import UndefinedMetricWarning

from mlreport.metrics import Window

Relation = tuple[str, list[Any]]


class _AllVersions:
    """The version key of the all-versions aggregate (None is a real key: no version)."""

    def __repr__(self) -> str:
        return "ALL"


ALL: Any = _AllVersions()
EPS = float(np.finfo(np.float64).eps)  # scikit-learn's clip for log_loss and floor for mape

THRESHOLD_METRICS = ("accuracy", "precision", "recall", "f1")
SCORE_METRICS = ("roc_auc", "log_loss", "brier")
REGRESSION_METRICS = ("mae", "rmse", "r2", "mape")


class PerformanceError(ValueError):
    """Prediction log content the metrics cannot use; the message names the log and column."""


# -- windows -------------------------------------------------------------------------------


def window_layers(windows: Sequence[Window]) -> list[list[int]]:
    """Indices of ``windows`` grouped into runs of contiguous windows (each starts where the
    previous ends), so each run is bucketed by one CASE in one scan. Overlapping or separated
    windows start another run."""
    order = sorted(range(len(windows)), key=lambda i: (windows[i].start, windows[i].end))
    layers: list[list[int]] = []
    for i in order:
        for layer in layers:
            if windows[layer[-1]].end == windows[i].start:
                layer.append(i)
                break
        else:
            layers.append([i])
    return layers


def bucket(windows: Sequence[Window] | None) -> tuple[str, list[Any]]:
    """SQL giving each row its position in ``windows`` (contiguous, sorted), for rows already
    limited to ``[windows[0].start, windows[-1].end)``; ``0`` when there is one bucket.

    A binary search of nested CASEs: about log2(len(windows)) comparisons per row, so a year
    of weeks costs six comparisons, not fifty.
    """
    if not windows:
        return "0", []
    params: list[Any] = []
    return _search(windows, 0, len(windows) - 1, params), params


def _search(windows: Sequence[Window], lo: int, hi: int, params: list[Any]) -> str:
    if lo == hi:
        return str(lo)
    mid = (lo + hi) // 2
    params.append(windows[mid].end)
    below = _search(windows, lo, mid, params)
    above = _search(windows, mid + 1, hi, params)
    return f"CASE WHEN ts < ? THEN {below} ELSE {above} END"


def bucketed(relation: Relation, windows: Sequence[Window] | None) -> Relation:
    """``relation`` with a leading column ``w`` (the bucket)."""
    expr, params = bucket(windows)
    sql, rel_params = relation
    return f"SELECT {expr} AS w, * FROM ({sql})", params + list(rel_params)


def _fetch(con: duckdb.DuckDBPyConnection, what: str, sql: str, params: list[Any]) -> list[tuple]:
    try:
        return con.execute(sql, params).fetchall()
    except duckdb.Error as exc:
        raise PerformanceError(f"performance: cannot compute {what}: {exc}") from exc


# -- classification: threshold metrics -----------------------------------------------------


@dataclass
class Counts:
    """Rows of one (window, version) by label and prediction; what every threshold metric,
    the labelled share and the excluded rows are computed from."""

    rows: int = 0
    labelled: int = 0
    pairs: dict[tuple[int, int], int] = field(default_factory=dict)  # (label, pred) -> rows

    @property
    def used(self) -> int:
        return sum(self.pairs.values())

    def add(self, label: float | None, prediction: float | None, n: int) -> None:
        self.rows += n
        if label is None or math.isnan(label):
            return  # not labelled (yet)
        self.labelled += n
        if prediction is None or math.isnan(prediction):
            return  # labelled but no prediction: excluded, counted
        key = (int(label), int(prediction))
        self.pairs[key] = self.pairs.get(key, 0) + n


def threshold_count_sql(
    relation: Relation, windows: Sequence[Window] | None, extra: Sequence[str] = ()
) -> Relation:
    """The lean scan: one GROUP BY over the columns it needs, nothing cast. ``extra`` columns
    (quoted identifiers) are grouped too, after ``prediction``, so other families can roll
    their own counts up from the same scan (fairness adds the sensitive features)."""
    sql, params = bucketed(relation, windows)
    columns = ", ".join(["w", "model_version", "label", "prediction", *extra])
    return f"SELECT {columns}, count(*) AS n FROM ({sql}) GROUP BY ALL", params


def count_rows(
    con: duckdb.DuckDBPyConnection,
    relation: Relation,
    windows: Sequence[Window] | None = None,
    name: str = "log",
    extra: Sequence[str] = (),
) -> list[tuple]:
    """Rows ``(w, model_version, label, prediction, *extra, n)`` of :func:`threshold_count_sql`."""
    sql, params = threshold_count_sql(relation, windows, extra)
    return _fetch(con, f"threshold counts of {name}", sql, params)


def threshold_counts(
    con: duckdb.DuckDBPyConnection,
    relation: Relation,
    windows: Sequence[Window] | None = None,
    name: str = "log",
) -> dict[tuple[int, str | None], Counts]:
    """Counts per (bucket, model_version), plus (bucket, ALL) for every version together."""
    return counts_from_rows(count_rows(con, relation, windows, name), name)


def counts_from_rows(rows: list[tuple], name: str = "log") -> dict[tuple[int, str | None], Counts]:
    """Counts per (bucket, model_version) and (bucket, ALL) from :func:`count_rows` rows.

    Labels and predictions must be 0/1 once missing ones (NULL or NaN) are set aside.
    """
    for column, index in (("label", 2), ("prediction", 3)):
        bad = sorted({r[index] for r in rows if _present(r[index]) and r[index] not in (0, 1)})
        if bad:
            raise PerformanceError(
                f"performance: {name}: {column} must be 0 or 1 for classification, found {bad[:5]}"
            )
    out: dict[tuple[int, str | None], Counts] = {}
    for r in rows:
        w, version, label, prediction, n = r[0], r[1], r[2], r[3], r[-1]
        for key in ((w, version), (w, ALL)):
            out.setdefault(key, Counts()).add(label, prediction, n)
    return out


def _present(value: float | None) -> bool:
    return value is not None and not math.isnan(value)


def threshold_metrics(counts: Counts) -> dict[str, float]:
    """scikit-learn's accuracy, precision, recall and f1 (binary, positive label 1, default
    zero_division: 0.0 where undefined) on the count rows weighted by their counts."""
    keys = sorted(counts.pairs)
    y_true = np.array([k[0] for k in keys], dtype=np.int64)
    y_pred = np.array([k[1] for k in keys], dtype=np.int64)
    weight = np.array([counts.pairs[k] for k in keys], dtype=np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        precision, recall, f1, _ = skm.precision_recall_fscore_support(
            y_true, y_pred, average="binary", sample_weight=weight
        )
        accuracy = skm.accuracy_score(y_true, y_pred, sample_weight=weight)
    return {
        "accuracy": float(accuracy),
        "precision": float(precision),
        "recall": float(recall),
        "f1": float(f1),
    }


# -- classification: score metrics ---------------------------------------------------------


@dataclass(frozen=True)
class ScoreStats:
    """Sufficient statistics of the score metrics for one (window, version)."""

    positives: int  # labelled rows with a usable score, label 1
    negatives: int  # ... label 0
    auc2: int  # 2 × Σ over positives of (negatives scored lower + ½ negatives tied)
    log_loss_sum: float  # Σ −log(clip(p)) over label 1, −log(clip(1 − p)) over label 0
    brier_sum: float  # Σ ((1 − y) − (1 − p))² + (y − p)²  (scikit-learn's two columns)
    excluded: int  # labelled rows whose score is NaN, infinite or outside [0, 1]

    @property
    def n(self) -> int:
        return self.positives + self.negatives


def score_sql(relation: Relation, windows: Sequence[Window] | None, by_version: bool) -> Relation:
    """Group labelled rows by distinct score (all versions, and per version on request), then
    one pass over the ordered groups: negatives below each score, loss sums, excluded rows."""
    sql, params = bucketed(relation, windows)
    # scikit-learn clips to [eps, 1 - eps] after forming 1 - p, so both columns are clipped.
    lo, hi = f"{EPS!r}", f"(1 - {EPS!r})"
    version = "model_version" if by_version else "NULL::VARCHAR"
    # Per version, the all-versions groups come from re-adding the per-version groups (fewer
    # than the rows); GROUPING SETS would hash every row twice.
    # The running sum below orders by an integer version id: ordering by the VARCHAR itself
    # makes that window several times slower.
    every = (
        "SELECT g0.w, i.vid, g0.v, 0 AS gid, g0.s, g0.missing, g0.pos, g0.neg FROM g0 JOIN ("
        "  SELECT v, row_number() OVER (ORDER BY v NULLS LAST) AS vid"
        "  FROM (SELECT DISTINCT v FROM g0)) AS i ON g0.v IS NOT DISTINCT FROM i.v "
        "UNION ALL SELECT w, 0, NULL, 1, s, missing, pos, neg FROM ("
        "  SELECT w, s, missing, sum(pos) AS pos, sum(neg) AS neg FROM g0 GROUP BY w, s, missing)"
        if by_version
        else "SELECT w, 0 AS vid, v, 1 AS gid, s, missing, pos, neg FROM g0"
    )
    query = f"""
WITH g0 AS MATERIALIZED (
    SELECT w, v, s, missing,
           count(*) FILTER (WHERE label = 1) AS pos, count(*) FILTER (WHERE label = 0) AS neg
    FROM (
        SELECT w, {version} AS v, label, score IS NULL AS missing,
               CASE WHEN isfinite(score) AND score >= 0 AND score <= 1 THEN score END AS s
        FROM ({sql}) WHERE label = 0 OR label = 1
    )
    GROUP BY ALL
), g AS (
    {every}
), r AS (
    -- One running sum in one global order (a partitioned window is several times slower);
    -- each partition's start is subtracted below from the partition totals.
    SELECT *, sum(neg) OVER (ORDER BY w, vid, s NULLS LAST ROWS UNBOUNDED PRECEDING)
              - neg AS cum
    FROM g
), agg AS (
    SELECT w, vid, v, gid, sum(neg) AS neg_all,
           coalesce(sum(pos) FILTER (WHERE s IS NOT NULL), 0) AS pos,
           coalesce(sum(neg) FILTER (WHERE s IS NOT NULL), 0) AS neg,
           coalesce(sum(pos::HUGEINT * (2 * cum::HUGEINT + neg)) FILTER (WHERE s IS NOT NULL), 0)
               AS auc2_raw,
           fsum(pos * -ln(least(greatest(s, {lo}), {hi}))
                + neg * -ln(least(greatest(1 - s, {lo}), {hi}))) FILTER (WHERE s IS NOT NULL)
               AS log_loss,
           fsum(pos * ({_sq("0 - (1 - s)")} + {_sq("1 - s")})
                + neg * ({_sq("1 - (1 - s)")} + {_sq("0 - s")})) FILTER (WHERE s IS NOT NULL)
               AS brier,
           coalesce(sum(pos + neg) FILTER (WHERE s IS NULL AND NOT missing), 0) AS excluded
    FROM r GROUP BY w, vid, v, gid
)
SELECT w, v, gid, pos, neg,
       auc2_raw - 2 * pos::HUGEINT * (
           sum(neg_all) OVER (ORDER BY w, vid ROWS UNBOUNDED PRECEDING) - neg_all
       ),
       log_loss, brier, excluded
FROM agg
"""
    return query, params


def _sq(expr: str) -> str:
    """A square as one multiplication, the way numpy's ``** 2`` computes it."""
    return f"(({expr}) * ({expr}))"


def score_stats(
    con: duckdb.DuckDBPyConnection,
    relation: Relation,
    windows: Sequence[Window] | None = None,
    by_version: bool = True,
    name: str = "log",
) -> dict[tuple[int, str | None], ScoreStats]:
    """Score statistics per (bucket, version) and (bucket, ALL). Labels must already be known
    to be 0/1 (``threshold_counts`` checks them)."""
    sql, params = score_sql(relation, windows, by_version)
    out = {}
    for w, v, gid, pos, neg, auc2, ll, brier, excluded in _fetch(
        con, f"score metrics of {name}", sql, params
    ):
        key = (w, ALL if gid else v)
        out[key] = ScoreStats(int(pos), int(neg), int(auc2), ll or 0.0, brier or 0.0, excluded)
    return out


def score_metrics(stats: ScoreStats) -> dict[str, float | None]:
    """roc_auc (None with one class: scikit-learn's is undefined), log_loss (as scikit-learn's
    with ``labels=[0, 1]``, so one class is fine) and brier. Empty when no score is usable."""
    if stats.n == 0:
        return {}
    p, q = stats.positives, stats.negatives
    return {
        # Python int / int is correctly rounded; scikit-learn's trapezoid equals it to ~1e-15.
        "roc_auc": stats.auc2 / (2 * p * q) if p and q else None,
        "log_loss": stats.log_loss_sum / stats.n,
        "brier": 0.5 * (stats.brier_sum / stats.n),
    }


# -- regression ----------------------------------------------------------------------------


@dataclass(frozen=True)
class RegressionStats:
    rows: int
    labelled: int
    n: int  # labelled rows with finite label and prediction
    abs_err: float | None
    sq_err: float | None
    label_var: float | None  # population variance of the used labels
    ape: float | None  # Σ |e| / max(|y|, eps)

    @property
    def excluded(self) -> int:
        return self.labelled - self.n


def regression_sql(relation: Relation, windows: Sequence[Window] | None) -> Relation:
    sql, params = bucketed(relation, windows)
    ok = "isfinite(label) AND isfinite(prediction)"
    query = f"""
SELECT w, model_version AS v, GROUPING(model_version) AS gid,
       count(*) AS rows,
       count(*) FILTER (WHERE label IS NOT NULL AND NOT isnan(label)) AS labelled,
       count(*) FILTER (WHERE {ok}) AS n,
       fsum(abs(prediction - label)) FILTER (WHERE {ok}),
       fsum({_sq("label - prediction")}) FILTER (WHERE {ok}),
       var_pop(label) FILTER (WHERE {ok}),
       fsum(abs(prediction - label) / greatest(abs(label), {EPS!r})) FILTER (WHERE {ok})
FROM ({sql})
GROUP BY GROUPING SETS ((w, model_version), (w))
"""
    return query, params


def regression_stats(
    con: duckdb.DuckDBPyConnection,
    relation: Relation,
    windows: Sequence[Window] | None = None,
    name: str = "log",
) -> dict[tuple[int, str | None], RegressionStats]:
    sql, params = regression_sql(relation, windows)
    out = {}
    for w, v, gid, *values in _fetch(con, f"regression metrics of {name}", sql, params):
        out[(w, ALL if gid else v)] = RegressionStats(*values)
    return out


def regression_metrics(stats: RegressionStats) -> dict[str, float | None]:
    """scikit-learn's mae, rmse, r2 (force_finite: 1.0 for a perfect fit of constant labels,
    0.0 otherwise; None below two rows, where scikit-learn returns NaN) and mape (a fraction,
    denominator ``max(|y|, eps)``). Empty when no row is usable."""
    n = stats.n
    if n == 0:
        return {}
    total = stats.label_var * n
    if n < 2:
        r2 = None
    elif total == 0:
        r2 = 1.0 if stats.sq_err == 0 else 0.0
    else:
        r2 = 1 - stats.sq_err / total
    return {
        "mae": stats.abs_err / n,
        "rmse": math.sqrt(stats.sq_err / n),
        "r2": r2,
        "mape": stats.ape / n,
    }
