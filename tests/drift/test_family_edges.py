"""Family edge cases: constant and all-missing features, empty windows, NaN/inf only."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

from mlreport.metrics import Window
from tests.drift.builder import CUR, compute, pick, write_log
from tests.drift.reference import ks_ref, psi_ref, wasserstein_ref

NAN, INF = float("nan"), float("inf")


def test_constant_all_missing_and_unseen(tmp_path: Path) -> None:
    ref = {
        "const": [1.5] * 6,
        "nulls": [None] * 6,
        "bad": [NAN, INF, -INF, None, NAN, INF],
        "x": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
        "cat": ["a", "a", "b", None, "b", "a"],
        "empty_cat": [None] * 6,
    }
    cur = {
        "const": [1.5, 1.5, 2.5, 1.5],
        "nulls": [None] * 4,
        "bad": [1.0, 2.0, NAN, None],
        "x": [NAN, 2.0, INF, 9.0],
        "cat": ["c", "a", "d", "d"],
        "empty_cat": ["z", None, None, None],
    }
    numeric = ("const", "nulls", "bad", "x")
    wh = write_log(
        tmp_path / "wh.duckdb", ref, cur, numeric=numeric, categorical=("cat", "empty_cat")
    )
    rows = compute(wh, [CUR])
    wh.close()
    a, b = np.full(6, 1.5), np.array([1.5, 1.5, 2.5, 1.5])
    assert pick(rows, "drift.psi", "const")["value"] == pytest.approx(psi_ref(a, b), rel=1e-12)
    assert pick(rows, "drift.wasserstein", "const")["value"] == pytest.approx(
        wasserstein_ref(a, b)  # unnormalised: the reference is constant
    )
    assert pick(rows, "drift.ks", "const")["value"] == pytest.approx(ks_ref(a, b)[0])
    for f in ("nulls", "bad"):  # no usable reference (or current) values: no comparison
        for m in ("drift.psi", "drift.ks", "drift.ks_pvalue", "drift.wasserstein"):
            assert pick(rows, m, f)["value"] is None
    assert pick(rows, "drift.missing_share", "nulls")["value"] == 1.0
    assert pick(rows, "drift.missing_share", "bad")["value"] == 0.5
    assert pick(rows, "drift.psi", "bad")["n"] == 2
    xa, xb = np.arange(1.0, 7.0), np.array([2.0, 9.0])
    assert pick(rows, "drift.ks", "x")["value"] == pytest.approx(ks_ref(xa, xb)[0])
    assert pick(rows, "drift.missing_share", "x")["value"] == 0.5
    assert pick(rows, "drift.unseen_categories", "cat")["value"] == 2.0  # c, d
    assert pick(rows, "drift.jensen_shannon", "empty_cat")["value"] is None  # empty reference
    assert pick(rows, "drift.unseen_categories", "empty_cat")["value"] == 1.0
    # default policies: psi > 0.2 or js > 0.1; features without a value are not judged
    judged = [
        pick(rows, "drift.psi", "const")["value"] > 0.2,
        pick(rows, "drift.psi", "x")["value"] > 0.2,
        pick(rows, "drift.jensen_shannon", "cat")["value"] > 0.1,
    ]
    assert pick(rows, "drift.share")["value"] == pytest.approx(sum(judged) / 3)


def test_empty_window_reports_nulls_with_zero_n(tmp_path: Path) -> None:
    ref = {"x": [1.0, 2.0, 3.0], "cat": ["a", "b", "b"]}
    cur = {"x": [2.0], "cat": ["a"]}
    wh = write_log(tmp_path / "wh.duckdb", ref, cur, numeric=("x",), categorical=("cat",))
    later = Window(CUR.end + timedelta(days=1), CUR.end + timedelta(days=2))
    rows = compute(wh, [later])
    wh.close()
    assert {r["metric"] for r in rows} == {
        "drift.psi",
        "drift.ks",
        "drift.ks_pvalue",
        "drift.wasserstein",
        "drift.jensen_shannon",
        "drift.unseen_categories",
        "drift.missing_share",
        "drift.share",
    }
    assert all(r["value"] is None and r["n"] == 0 for r in rows)
    assert all(r["window_start"] == later.start for r in rows)


def test_quoted_feature_names_and_entities_filter(tmp_path: Path) -> None:
    ref = {'a "b"': [1.0, 2.0, 3.0, 4.0]}
    cur = {'a "b"': [3.0, 4.0, 5.0]}
    wh = write_log(tmp_path / "wh.duckdb", ref, cur, numeric=('a "b"',))
    rows = compute(wh, [CUR])
    a, b = np.array([1.0, 2.0, 3.0, 4.0]), np.array([3.0, 4.0, 5.0])
    assert pick(rows, "drift.wasserstein", 'a "b"')["value"] == pytest.approx(wasserstein_ref(a, b))
    from mlreport.config import parse_config
    from mlreport.metrics import MetricContext
    from mlreport.plugins.drift.family import DriftMetrics

    ctx = MetricContext(wh, parse_config("", None, Path(".")), [CUR], entities=["other"])
    assert list(DriftMetrics().compute(ctx)) == []
    wh.close()
