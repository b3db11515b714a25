"""The ``drift`` family through real views: rows equal numpy/scipy, drift.share by policy."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mlreport.plugin_manager import get_plugins
from tests.drift.builder import CUR, REF, compute, pick, with_missing, write_log
from tests.drift.reference import js_ref, ks_ref, psi_ref, usable, wasserstein_ref

RTOL = 1e-9
NUMERIC = ("income", "debt ratio", "age")
CATEGORICAL = ("region",)


@pytest.fixture(scope="module")
def data() -> tuple[dict, dict]:
    rng = np.random.default_rng(42)
    n_ref, n_cur = 3000, 2000
    ref = {
        "income": with_missing(rng.lognormal(10, 0.5, n_ref), rng, 0.03),
        "debt ratio": np.round(rng.beta(2, 5, n_ref), 2).tolist(),
        "age": rng.integers(18, 80, n_ref).astype(float).tolist(),
        "region": rng.choice(["n", "s", "e", "w", None], n_ref, p=[0.4, 0.3, 0.2, 0.05, 0.05]),
    }
    cur = {
        "income": with_missing(rng.lognormal(10.2, 0.6, n_cur), rng, 0.1),
        "debt ratio": np.round(rng.beta(2, 4, n_cur), 2).tolist(),
        "age": rng.integers(18, 80, n_cur).astype(float).tolist(),
        "region": rng.choice(["n", "s", "e", "x", None], n_cur, p=[0.2, 0.3, 0.2, 0.2, 0.1]),
    }
    ref["region"], cur["region"] = list(ref["region"]), list(cur["region"])
    return ref, cur


@pytest.fixture(scope="module")
def rows(tmp_path_factory: pytest.TempPathFactory, data) -> list[dict]:
    path = tmp_path_factory.mktemp("drift") / "wh.duckdb"
    wh = write_log(path, *data, numeric=NUMERIC, categorical=CATEGORICAL)
    yield compute(wh, [CUR, REF])
    wh.close()


def test_numeric_rows_equal_numpy_scipy(rows, data) -> None:
    ref, cur = data
    for f in NUMERIC:
        a, b = usable(ref[f]), usable(cur[f])
        stat, pvalue = ks_ref(a, b)
        want = {
            "drift.psi": psi_ref(a, b),
            "drift.ks": stat,
            "drift.ks_pvalue": pvalue,
            "drift.wasserstein": wasserstein_ref(a, b),
            "drift.missing_share": 1 - len(b) / len(cur[f]),
        }
        for metric, value in want.items():
            row = pick([r for r in rows if r["window_start"] == CUR.start], metric, f)
            assert row["value"] == pytest.approx(value, rel=RTOL, abs=1e-15), (metric, f)
            assert row["entity"] == "credit-risk" and row["window_end"] == CUR.end
            n = len(cur[f]) if metric == "drift.missing_share" else len(b)
            assert row["n"] == n


def test_categorical_rows_equal_scipy(rows, data) -> None:
    ref, cur = data
    current = [r for r in rows if r["window_start"] == CUR.start]
    js = pick(current, "drift.jensen_shannon", "region")
    assert js["value"] == pytest.approx(js_ref(ref["region"], cur["region"]), rel=RTOL)
    assert js["n"] == sum(v is not None for v in cur["region"])
    assert pick(current, "drift.unseen_categories", "region")["value"] == 1.0  # "x"
    share = sum(v is None for v in cur["region"]) / len(cur["region"])
    assert pick(current, "drift.missing_share", "region")["value"] == pytest.approx(share)
    assert not [r for r in current if r["metric"] == "drift.psi" and "region" in str(r)]


def test_reference_window_against_itself_has_no_drift(rows) -> None:
    same = [r for r in rows if r["window_start"] == REF.start]
    for f in NUMERIC:
        assert pick(same, "drift.psi", f)["value"] == 0.0
        assert pick(same, "drift.ks", f)["value"] == 0.0
        assert pick(same, "drift.wasserstein", f)["value"] == 0.0
    assert pick(same, "drift.jensen_shannon", "region")["value"] == 0.0
    assert pick(same, "drift.unseen_categories", "region")["value"] == 0.0
    assert pick(same, "drift.share")["value"] == 0.0


def test_share_with_default_policies(rows, data) -> None:
    ref, cur = data
    current = [r for r in rows if r["window_start"] == CUR.start]
    flagged = [psi_ref(usable(ref[f]), usable(cur[f])) > 0.2 for f in NUMERIC]
    flagged.append(js_ref(ref["region"], cur["region"]) > 0.1)
    share = pick(current, "drift.share")
    assert share["value"] == pytest.approx(sum(flagged) / 4)
    assert 0 < share["value"] < 1  # the data flags some features, not all
    assert share["n"] == 2000 and share["unit"] == "share"


def test_share_with_configured_policies(tmp_path: Path, data) -> None:
    ref, cur = data
    wh = write_log(tmp_path / "wh.duckdb", ref, cur, numeric=NUMERIC, categorical=CATEGORICAL)
    policies = """
[policies]
"drift.ks" = { max = 0.05 }
"drift.missing_share" = { max = 0.08, severity = "warn" }
"drift.psi" = { max = 100.0, entity = "another-model" }
"drift.share" = { max = 0.5 }
"""
    rows = compute(wh, [CUR], policies)
    flagged = []
    for f in NUMERIC:
        a, b = usable(ref[f]), usable(cur[f])
        flagged.append(ks_ref(a, b)[0] > 0.05 or 1 - len(b) / len(cur[f]) > 0.08)
    region_missing = sum(v is None for v in cur["region"]) / len(cur["region"])
    flagged.append(region_missing > 0.08)  # region has no KS; its missing share decides
    assert pick(rows, "drift.share")["value"] == pytest.approx(sum(flagged) / 4)
    wh.close()


def test_logs_without_reference_give_no_rows(tmp_path: Path, data) -> None:
    wh = write_log(tmp_path / "wh.duckdb", *data, numeric=NUMERIC, reference=False)
    assert compute(wh, [CUR]) == []
    wh.close()


def test_registered_as_the_drift_family() -> None:
    from mlreport.plugins import drift
    from mlreport.plugins.drift.family import DriftMetrics

    pm = get_plugins()
    if "drift" not in pm.metrics().names():  # until the lead lists it in DEFAULT_PLUGINS
        pm.register_module(drift)
    assert pm.metrics().get("drift") is DriftMetrics
