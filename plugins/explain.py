"""The built-in ``explain`` metric family: global mean |SHAP| per feature of a prediction log.

A log is explained when its source config has an ``[sources.explain]`` table (read from the
config, never from the warehouse, so trust is always what the config says now). Either the
model file is loaded, only when the config marks it trusted, and explained with shap on a
seeded sample of the reference window; or (``shap_prefix``) SHAP values logged with the
predictions are averaged in DuckDB. Every choice is documented in ``docs/metrics-explain.md``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mlreport import hookimpl
from mlreport.config import CONFIG_NAME, ConfigError
from mlreport.metrics import MetricContext, MetricFamily, MetricInfo, Window
from mlreport.prediction_logs import PredictionLog, Relation, prediction_logs
from mlreport.sources import source_options
from mlreport.sql import quote_identifier

METRIC = "explain.mean_abs_shap"
UNIT = "abs shap"
MODEL_SUFFIXES = {".skops": "skops", ".joblib": "joblib", ".pkl": "joblib", ".pickle": "joblib"}
BACKGROUND_ROWS = 100  # shap's own default size for a background (masker) sample


class ExplainError(ConfigError):
    """A log cannot be explained: the message names the source, the file and what to do."""


@dataclass(frozen=True)
class Target:
    """One log to explain: its options, the rows to explain and the window rows carry."""

    log: PredictionLog
    options: Any  # the predictions source's validated ``explain`` table
    relation: Relation
    window: Window
    where: str  # "[sources.explain] of source 'x' in mlreport.toml", for messages


class ExplainMetrics(MetricFamily):
    """Which features drive each model: mean |SHAP| per feature."""

    name = "explain"
    metrics = (
        MetricInfo(
            METRIC,
            UNIT,
            "Mean absolute SHAP value per feature (the model's positive-class margin or "
            "probability for classifiers, its prediction for regressors)",
        ),
    )

    def compute(self, ctx: MetricContext) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        for target in targets(ctx):
            if target.options.shap_prefix is not None:
                values = logged_mean_abs_shap(ctx, target)
            else:
                values = model_mean_abs_shap(ctx, target)
            rows.extend(_rows(target, values))
        return rows


@hookimpl
def register_metrics(register):
    register("explain", ExplainMetrics)


def _rows(target: Target, values: dict[str, tuple[float | None, int]]) -> Iterator[dict]:
    for feature, (value, n) in values.items():
        yield {
            "metric": METRIC,
            "entity": target.log.entity,
            "window_start": target.window.start,
            "window_end": target.window.end,
            "dimensions": {"feature": feature},
            "value": value,
            "unit": UNIT,
            "n": n,
        }


# -- what to explain -----------------------------------------------------------------------


def targets(ctx: MetricContext) -> Iterator[Target]:
    """Every synced log whose source config (looked up by name) has an explain table."""
    configured = source_options(ctx.config, "predictions")
    for log in prediction_logs(ctx.warehouse, ctx.entities):
        options = getattr(configured.get(log.log), "explain", None)
        if options is None:
            continue
        where = f"[sources.explain] of source {log.log!r} in {ctx.config.file or CONFIG_NAME}"
        relation, window = explained_rows(log, ctx.span)
        yield Target(log, options, relation, window, where)


def explained_rows(log: PredictionLog, span: Window) -> tuple[Relation, Window]:
    """The reference rows (window: the reference window, or the metric span when the
    reference is separate files); without a reference, the log over the metric span."""
    reference = log.reference()
    if reference is None:
        return log.window(span), span
    if log.reference_kind == "window" and log.reference_window() is not None:
        return reference, log.reference_window()
    return reference, span


# -- precomputed SHAP values ---------------------------------------------------------------


def logged_mean_abs_shap(ctx: MetricContext, target: Target) -> dict[str, tuple[float | None, int]]:
    """Mean |SHAP| of the logged values over every row of the window, in DuckDB.

    NULL (not logged) and non-finite values are left out; ``n`` counts the values used."""
    columns = target.log.shap_columns
    features = (
        target.options.features or [f for f in target.log.features if f in columns] or [*columns]
    )
    missing = [f for f in features if f not in columns]
    if not columns or missing:
        raise ExplainError(
            f"{target.where}: shap_prefix is set but the log's view has no SHAP column for "
            f"{', '.join(missing or features) or 'any feature'} (logged: "
            f"{', '.join(columns) or 'none'}); check shap_prefix and the column names, then run "
            "`mlreport sync` again"
        )
    sql, params = target.relation
    parts = []
    for f in features:
        col = quote_identifier(columns[f])
        # A decimal sum is exact, so the mean is the same on every run (a parallel float
        # average can differ in its last bit, and reports must be byte-identical).
        parts.append(
            f"CAST(sum(CASE WHEN isfinite({col}) THEN CAST(abs({col}) AS DECIMAL(38, 18)) END) "
            f"AS DOUBLE) / count({col}) FILTER (WHERE isfinite({col}))"
        )
        parts.append(f"count({col}) FILTER (WHERE isfinite({col}))")
    row = ctx.warehouse.con.execute(f"SELECT {', '.join(parts)} FROM ({sql}) AS r", params)
    values = row.fetchall()[0]
    return {f: (values[2 * i], int(values[2 * i + 1])) for i, f in enumerate(features)}


# -- the sample ----------------------------------------------------------------------------


def sample_rows(
    con: Any, relation: Relation, features: list[str], size: int, seed: int
) -> pd.DataFrame:
    """A seeded sample of ``size`` rows (all rows when fewer), the explained columns only.

    Rows are ordered by ``hash(ts, features..., seed)`` and the first ``size`` kept: the same
    rows for the same seed on any number of threads (DuckDB's ``REPEATABLE`` sampling is
    only repeatable single-threaded), and a row's place does not move when a late label
    arrives, because only ``ts`` and the explained features are hashed.
    """
    sql, params = relation
    cols = [quote_identifier(f) for f in features]
    keyed = ", ".join(["ts", *cols])
    query = (
        f"SELECT {', '.join(cols)} FROM ({sql}) AS r "
        f"ORDER BY hash({keyed}, ?::BIGINT), {keyed} LIMIT ?"
    )
    frame = con.sql(query, params=[*params, seed, size]).df()
    return frame.reset_index(drop=True)


# -- models --------------------------------------------------------------------------------


def load_model(target: Target) -> Any:
    """Load the configured model file, only as far as the config trusts it."""
    path: Path | None = target.options.model
    if path is None:
        raise ExplainError(
            f"{target.where}: set `model` (a .skops or .joblib file, relative to the config "
            "folder) or `shap_prefix` (SHAP values logged with the predictions)"
        )
    kind = MODEL_SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise ExplainError(
            f"{target.where}: model {path}: unknown file type {path.suffix!r}; use a .skops "
            "file (skops.io.dump) or a .joblib/.pkl file"
        )
    if not path.is_file():
        raise ExplainError(
            f"{target.where}: model file {path} does not exist (relative paths are read from "
            "the config file's folder); check `model`"
        )
    trusted = target.options.trusted
    if trusted is None or trusted is False:
        raise ExplainError(
            f"{target.where}: model file {path} is not marked trusted, and loading a model "
            f"runs code from it. If you trust this file, set `trusted = true` in "
            f"{target.where}"
            + (' (or list the types you trust: `trusted = ["..."]`)' if kind == "skops" else "")
        )
    if kind == "skops":
        return _load_skops(target, path, trusted)
    return _load_joblib(target, path, trusted)


def _load_skops(target: Target, path: Path, trusted: bool | list[str]) -> Any:
    import skops.io as sio

    try:
        found = sio.get_untrusted_types(file=path)
        if trusted is True:
            allowed = list(found)
        else:
            allowed = list(trusted)
            refused = [t for t in found if t not in allowed]
            if refused:
                raise ExplainError(
                    f"{target.where}: model file {path} contains types that are not trusted: "
                    f"{', '.join(refused)}. If you trust them, add them to `trusted = [...]` in "
                    f"{target.where}, or set `trusted = true` to trust every type in this file"
                )
        return sio.load(path, trusted=allowed)
    except ExplainError:
        raise
    except Exception as exc:
        raise ExplainError(
            f"{target.where}: model file {path} cannot be read as skops: {exc}"
        ) from None


def _load_joblib(target: Target, path: Path, trusted: bool | list[str]) -> Any:
    if trusted is not True:
        raise ExplainError(
            f"{target.where}: model file {path} is a pickle (joblib), and unpickling runs "
            "arbitrary code, so a list of trusted types cannot make it safe. Set "
            f"`trusted = true` in {target.where} if you trust this file, or save the model "
            "with skops.io.dump and list its types"
        )
    import joblib

    try:
        return joblib.load(path)
    except Exception as exc:
        raise ExplainError(f"{target.where}: model file {path} cannot be loaded: {exc}") from None


# -- shap ----------------------------------------------------------------------------------


def model_mean_abs_shap(ctx: MetricContext, target: Target) -> dict[str, tuple[float | None, int]]:
    """Load the model, sample the rows, explain them: mean |SHAP| per input column."""
    model = load_model(target)
    features = target.options.features or list(target.log.features)
    features = _model_order(target, model, features)
    opts = target.options
    sample = sample_rows(ctx.warehouse.con, target.relation, features, opts.sample, opts.seed)
    if sample.empty:
        return {f: (None, 0) for f in features}
    try:
        values = input_shap_values(model, sample, opts.seed)
    except ExplainError as exc:
        raise ExplainError(f"{target.where}: model file {opts.model}: {exc}") from None
    except Exception as exc:
        raise ExplainError(
            f"{target.where}: model file {opts.model}: shap could not explain the model on "
            f"columns {', '.join(features)}: {type(exc).__name__}: {exc}"
        ) from None
    means = np.abs(values).mean(axis=0)
    return {f: (float(means[i]), len(sample)) for i, f in enumerate(features)}


def _model_order(target: Target, model: Any, features: list[str]) -> list[str]:
    """The model's own input column order when it knows it; the same set is required."""
    known = getattr(model, "feature_names_in_", None)
    if known is None:
        return features
    known = [str(c) for c in known]
    if set(known) != set(features):
        raise ExplainError(
            f"{target.where}: model file {target.options.model} takes columns "
            f"{', '.join(known)} but the explained features are {', '.join(features)}; "
            "set `features` to the model's input columns"
        )
    return known


def split_model(model: Any) -> tuple[Any | None, Any]:
    """(preprocessing, final estimator): a Pipeline is explained on its last step."""
    from sklearn.pipeline import Pipeline

    if isinstance(model, Pipeline) and len(model.steps) > 1:
        return model[:-1], model[-1]
    if isinstance(model, Pipeline):
        return None, model[-1]
    return None, model


def input_shap_values(model: Any, sample: pd.DataFrame, seed: int) -> np.ndarray:
    """SHAP values of the sample rows, one column per input column of ``sample``.

    The final estimator is explained on the transformed columns, then each transformed
    column's values are added to the input column it comes from (one-hot columns sum back
    to their categorical feature)."""
    pre, est = split_model(model)
    x = _dense(pre.transform(sample) if pre is not None else sample.to_numpy())
    x = np.asarray(x, dtype=float)
    owners = owner_columns(pre, sample) if pre is not None else list(range(sample.shape[1]))
    phi = estimator_shap_values(est, x, seed)
    out = np.zeros((x.shape[0], sample.shape[1]))
    for j, owner in enumerate(owners):
        if owner is not None:
            out[:, owner] += phi[:, j]
    return out


def _dense(x: Any) -> np.ndarray:
    return x.toarray() if hasattr(x, "toarray") else np.asarray(x)


def owner_columns(pre: Any, sample: pd.DataFrame) -> list[int | None]:
    """For each transformed column, the index of the single input column it depends on.

    Found by rolling one input column at a time by one row: the transformed columns that
    change depend on it. A column no roll changes is constant over the sample, so its SHAP
    values are zero (the background is part of the sample) and it belongs to no input. A
    column that depends on two inputs cannot be attributed: refused."""
    base = _dense(pre.transform(sample))
    owners: list[int | None] = [None] * base.shape[1]
    for i, name in enumerate(sample.columns):
        rolled = sample.copy()
        rolled[name] = np.roll(sample[name].to_numpy(), 1)
        changed = ~np.all(_same(base, _dense(pre.transform(rolled))), axis=0)
        for j in np.flatnonzero(changed):
            if owners[j] is not None:
                raise ExplainError(
                    f"transformed column {j} depends on both {sample.columns[owners[j]]!r} "
                    f"and {name!r}, so its SHAP values cannot be given to one input column"
                )
            owners[j] = i
    return owners


def _same(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    return (a == b) | (np.isnan(a) & np.isnan(b))


def estimator_kind(est: Any) -> str:
    """ "tree", "linear" or "other": which shap explainer fits the estimator."""
    module = type(est).__module__
    name = type(est).__name__
    if module.split(".")[0] in ("xgboost", "lightgbm", "catboost"):
        return "tree"
    if module.startswith(("sklearn.tree", "sklearn.ensemble")) and any(
        k in name for k in ("Tree", "Forest", "Boosting")
    ):
        return "tree"
    linear = module.startswith("sklearn.linear_model") or name in ("LinearSVC", "LinearSVR")
    if linear and hasattr(est, "coef_"):
        return "linear"
    return "other"


def estimator_shap_values(est: Any, x: np.ndarray, seed: int) -> np.ndarray:
    """SHAP values (rows × columns) of ``est`` on ``x`` with a background drawn from ``x``.

    Classifiers are explained for class 1: tree models in their raw output (log-odds for
    gradient boosting, probability for forests), linear models in their margin (log-odds),
    any other model in ``predict_proba[:, 1]``."""
    import shap
    from sklearn.base import is_classifier

    classes = getattr(est, "classes_", None)
    if is_classifier(est) and classes is not None and len(classes) != 2:
        raise ExplainError(f"{len(classes)} classes; explain supports binary classifiers")
    background = shap.utils.sample(x, BACKGROUND_ROWS, random_state=seed)
    kind = estimator_kind(est)
    if kind == "tree":
        # Path-dependent (shap's default for trees): the trees' own training cover is the
        # background. The interventional variant failed shap's additivity check on a sample
        # gradient-boosting model (sum of SHAP values 0.47 away from the model output).
        phi = shap.TreeExplainer(est).shap_values(x)
    elif kind == "linear":
        explainer = shap.LinearExplainer(est, shap.maskers.Independent(background, len(background)))
        phi = explainer.shap_values(x)
    else:
        phi = _permutation_values(est, x, background, seed)
    return positive_class(np.asarray(phi), x.shape)


def _permutation_values(est: Any, x: np.ndarray, background: np.ndarray, seed: int) -> Any:
    import shap
    from sklearn.base import is_classifier

    if is_classifier(est) and hasattr(est, "predict_proba"):

        def f(rows: np.ndarray) -> np.ndarray:
            return est.predict_proba(rows)[:, 1]
    else:
        f = est.predict
    masker = shap.maskers.Independent(background, len(background))
    explainer = shap.Explainer(f, masker, algorithm="permutation", seed=seed)
    return explainer(x, max_evals=max(500, 2 * x.shape[1] + 1), silent=True).values


def positive_class(phi: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Class 1's values when shap returns one set per class (rows × columns × classes)."""
    if phi.ndim == 3:
        return phi[:, :, 1]
    if phi.shape != shape:
        raise ExplainError(f"shap returned values of shape {phi.shape}, expected {shape}")
    return phi
