"""mean |SHAP| from a model file equals shap called directly on the same sample."""

from __future__ import annotations

import joblib
import numpy as np
import pytest
import shap

from mlreport.metrics import Window, compute_metrics
from mlreport.plugin_manager import get_plugins
from mlreport.plugins import explain
from mlreport.plugins.explain import ExplainError, ExplainMetrics, sample_rows
from tests.explain.builder import (
    END,
    FEATURES,
    NUMERIC,
    REF_UNTIL,
    START,
    build_log,
    log_frame,
    shap_by_feature,
)

RTOL = 1e-9


@pytest.fixture
def log(tmp_path):
    return build_log(tmp_path, log_frame())


def values(ctx) -> dict[str, tuple[float, int]]:
    rows = list(ExplainMetrics().compute(ctx))
    assert all(r["metric"] == "explain.mean_abs_shap" and r["unit"] == "abs shap" for r in rows)
    assert all(r["entity"] == "credit-risk" for r in rows)
    return {r["dimensions"]["feature"]: (r["value"], r["n"]) for r in rows}


def reference_sample(log, features, size=1000, seed=0):
    rel = ("SELECT * FROM predictions_reference__credit", [])
    return sample_rows(log.warehouse.con, rel, list(features), size, seed)


def background(x, seed=0):
    return shap.utils.sample(x, 100, random_state=seed)


def assert_means(got, per_feature, n):
    assert set(got) == set(per_feature)
    for feature, phi in per_feature.items():
        value, count = got[feature]
        assert count == n
        np.testing.assert_allclose(value, np.abs(phi).mean(), rtol=RTOL)


def test_gradient_boosting_pipeline_skops(log, models):
    ctx = log.context(f'model = "{models.folder}/gb.skops"\ntrusted = true\nsample = 150\n')
    got = values(ctx)
    sample = reference_sample(log, FEATURES, 150)
    pre, gb = models.gb[:-1], models.gb[-1]
    xt = pre.transform(sample)
    phi = shap.TreeExplainer(gb)
    per_feature = shap_by_feature(phi.shap_values(xt), list(pre.get_feature_names_out()))
    assert_means(got, per_feature, 150)


def test_logistic_regression_pipeline_matches_shap_and_the_formula(log, models):
    ctx = log.context(f'model = "{models.folder}/lr.skops"\ntrusted = true\n')
    got = values(ctx)
    sample = reference_sample(log, FEATURES)
    rows_in_reference = int(((log.frame.ts >= START) & (log.frame.ts < REF_UNTIL)).sum())
    assert len(sample) == rows_in_reference < 1000  # the whole reference window
    pre, lr = models.lr[:-1], models.lr[-1]
    xt = pre.transform(sample)
    bg = background(xt)
    direct = shap.LinearExplainer(lr, shap.maskers.Independent(bg, len(bg))).shap_values(xt)
    names = list(pre.get_feature_names_out())
    assert_means(got, shap_by_feature(direct, names), rows_in_reference)
    # Interventional linear SHAP is coef * (x - mean of the background): the log-odds margin.
    formula = lr.coef_[0] * (xt - bg.mean(axis=0))
    assert_means(got, shap_by_feature(formula, names), rows_in_reference)


def test_random_forest_joblib_without_pipeline(log, models):
    toml = (
        f'model = "{models.folder}/rf.joblib"\ntrusted = true\nsample = 120\nseed = 3\n'
        'features = ["x3", "x1", "x2"]\n'
    )
    got = values(log.context(toml))
    sample = reference_sample(log, NUMERIC, 120, seed=3)  # the model's own column order
    x = sample.to_numpy(dtype=float)
    explainer = shap.TreeExplainer(models.rf)
    phi = explainer.shap_values(x)[:, :, 1]  # probability of class 1
    assert_means(got, {f: phi[:, i] for i, f in enumerate(NUMERIC)}, 120)


@pytest.mark.slow  # shap's masker code is compiled by numba on first use (10-40 s)
def test_other_models_use_a_seeded_permutation_explainer(log, models):
    toml = f'model = "{models.folder}/nb.skops"\ntrusted = true\nsample = 8\nseed = 5\n'
    got = values(log.context(toml))
    sample = reference_sample(log, FEATURES, 8, seed=5)
    pre, nb = models.nb[:-1], models.nb[-1]
    xt = pre.transform(sample)
    bg = background(xt, 5)

    def proba(rows):
        return nb.predict_proba(rows)[:, 1]

    explainer = shap.Explainer(
        proba, shap.maskers.Independent(bg, len(bg)), algorithm="permutation", seed=5
    )
    phi = explainer(xt, max_evals=500, silent=True).values
    assert_means(got, shap_by_feature(phi, list(pre.get_feature_names_out())), 8)


def test_same_seed_same_values_any_thread_count(log, models):
    toml = f'model = "{models.folder}/gb.skops"\ntrusted = true\nsample = 100\nseed = 42\n'
    first = values(log.context(toml))
    log.warehouse.con.execute("SET threads = 1")
    second = values(log.context(toml))
    assert first == second
    other = values(log.context(toml.replace("seed = 42", "seed = 43")))
    assert other != first


def test_the_sample_is_seeded_and_stays_in_the_window(log):
    a = reference_sample(log, FEATURES, 50, seed=1)
    log.warehouse.con.execute("SET threads = 1")
    b = reference_sample(log, FEATURES, 50, seed=1)
    c = reference_sample(log, FEATURES, 50, seed=2)
    assert a.equals(b) and len(a) == 50
    assert not a.equals(c)
    window = log.frame[(log.frame.ts >= START) & (log.frame.ts < REF_UNTIL)]
    keys = {tuple(r) for r in window[list(FEATURES)].itertuples(index=False)}
    assert {tuple(r) for r in a.itertuples(index=False)} <= keys


def test_rows_carry_the_reference_window(log, models):
    toml = f'model = "{models.folder}/lr.skops"\ntrusted = true\n'
    rows = list(ExplainMetrics().compute(log.context(toml)))
    assert {(r["window_start"], r["window_end"]) for r in rows} == {(START, REF_UNTIL)}


@pytest.mark.parametrize("reference", [None, "files"])
def test_without_a_reference_window_rows_carry_the_metric_window(tmp_path, models, reference):
    log = build_log(tmp_path, log_frame(), reference=reference)
    span = [Window(START, START.replace(day=20)), Window(START.replace(day=20), END)]
    toml = f'model = "{models.folder}/lr.skops"\ntrusted = true\n'
    rows = list(ExplainMetrics().compute(log.context(toml, span)))
    assert {(r["window_start"], r["window_end"]) for r in rows} == {(START, END)}
    frame = log.frame if reference is None else log.frame[log.frame.x3 < 5]
    assert {r["n"] for r in rows} == {len(frame)}


def test_logs_without_an_explain_table_are_skipped(log):
    assert list(ExplainMetrics().compute(log.context(""))) == []


def test_through_the_plugin_manager(log, models):
    get_plugins().register_module(explain)
    config = log.config(f'model = "{models.folder}/lr.skops"\ntrusted = true\n')
    frame = compute_metrics(
        log.warehouse, config, [Window(START, END)], pattern="explain.*", store=False
    )
    assert sorted(frame["dimensions"].to_list()) == sorted(f'{{"feature":"{f}"}}' for f in FEATURES)


def test_an_empty_window_gives_no_value(tmp_path, models):
    frame = log_frame()
    log = build_log(tmp_path, frame[frame.ts >= REF_UNTIL])
    rows = list(
        ExplainMetrics().compute(
            log.context(f'model = "{models.folder}/lr.skops"\ntrusted = true\n')
        )
    )
    assert {r["dimensions"]["feature"]: (r["value"], r["n"]) for r in rows} == {
        f: (None, 0) for f in FEATURES
    }


def test_a_transformed_column_of_two_inputs_is_refused(log, tmp_path):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import PolynomialFeatures

    model = make_pipeline(PolynomialFeatures(2), LogisticRegression(max_iter=1000))
    model.fit(log.frame[list(NUMERIC)], log.frame["label"])
    joblib.dump(model, tmp_path / "poly.joblib")
    toml = 'model = "poly.joblib"\ntrusted = true\nfeatures = ["x1", "x2", "x3"]\n'
    with pytest.raises(ExplainError, match="depends on both 'x1' and 'x2'") as info:
        list(ExplainMetrics().compute(log.context(toml)))
    assert "[sources.explain] of source 'credit'" in str(info.value)
    assert "poly.joblib" in str(info.value)
