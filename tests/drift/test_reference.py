"""Each drift function equals its numpy/scipy reference on generated data."""

from __future__ import annotations

import duckdb
import numpy as np
import pytest

from mlreport.plugins.drift import categorical
from tests.drift import one_column
from tests.drift.reference import js_ref, ks_ref, load, psi_ref, wasserstein_ref

RTOL = 1e-9


def samples(seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Pairs of reference/current samples: continuous, shifted, rounded (ties), integer, skewed."""
    rng = np.random.default_rng(seed)
    return [
        (rng.normal(size=2000), rng.normal(size=1500)),
        (rng.normal(size=1000), rng.normal(0.5, 1.3, size=3000)),
        (np.round(rng.normal(size=5000), 1), np.round(rng.normal(0.2, 1, size=4000), 1)),
        (rng.integers(0, 5, size=800).astype(float), rng.integers(0, 7, size=900).astype(float)),
        (rng.lognormal(size=3000), rng.lognormal(0.1, 1.1, size=2500)),
        (rng.exponential(size=37), rng.exponential(2.0, size=11)),
    ]


@pytest.fixture(params=range(6), ids=["normal", "shift", "ties", "ints", "lognormal", "small"])
def case(request: pytest.FixtureRequest):
    ref, cur = samples(20260101)[request.param]
    con = duckdb.connect()
    load(con, "ref", ref.tolist())
    load(con, "cur", cur.tolist())
    yield con, ref, cur
    con.close()


def test_psi_equals_numpy_reference(case) -> None:
    con, ref, cur = case
    assert one_column.psi(con, "ref", "cur", "x") == pytest.approx(psi_ref(ref, cur), rel=RTOL)


def test_ks_equals_scipy(case) -> None:
    con, ref, cur = case
    stat, pvalue = one_column.ks(con, "ref", "cur", "x")
    want_stat, want_p = ks_ref(ref, cur)
    assert stat == pytest.approx(want_stat, rel=RTOL)
    assert pvalue == pytest.approx(want_p, rel=RTOL)


def test_wasserstein_equals_scipy(case) -> None:
    con, ref, cur = case
    got = one_column.wasserstein(con, "ref", "cur", "x")
    assert got == pytest.approx(wasserstein_ref(ref, cur), rel=RTOL)


def test_jensen_shannon_equals_scipy() -> None:
    rng = np.random.default_rng(7)
    ref = rng.choice(["a", "b", "c", "d"], p=[0.4, 0.3, 0.2, 0.1], size=3000).tolist()
    cur = rng.choice(["a", "b", "c", "e"], p=[0.25, 0.25, 0.25, 0.25], size=2000).tolist()
    con = duckdb.connect()
    load(con, "ref", ref, column="region")
    load(con, "cur", cur, column="region")
    got = categorical.jensen_shannon(con, "ref", "cur", "region")
    assert got == pytest.approx(js_ref(ref, cur), rel=RTOL)
    assert categorical.unseen_categories(con, "ref", "cur", "region") == ["e"]


def test_same_sample_has_no_drift(case) -> None:
    con, ref, _ = case
    assert one_column.psi(con, "ref", "ref", "x") == 0.0
    assert one_column.ks(con, "ref", "ref", "x") == (0.0, 1.0)
    assert one_column.wasserstein(con, "ref", "ref", "x") == 0.0
