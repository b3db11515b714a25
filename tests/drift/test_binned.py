"""The binned path of the numeric drift core, forced onto small data: tiny grids so values
share bins, refinement and fetching on every example, and the exact fallbacks. Every result
must equal numpy/scipy at rtol 1e-9."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType

import duckdb
import numpy as np
import pytest
import scipy.special
import scipy.stats
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlreport.plugins.drift import binned, ks, numeric, sql
from tests.drift.reference import ks_ref, load, psi_ref, usable, wasserstein_ref

RTOL = 1e-9
CON = duckdb.connect()


@contextmanager
def tuned(module: ModuleType = binned, **values: int) -> Iterator[None]:
    """Temporarily set tuning constants of ``module``: the binned engine's bins, refinement
    and fetch limits by default (every module reads them from there)."""
    old = {name: getattr(module, name) for name in values}
    for name, value in values.items():
        setattr(module, name, value)
    try:
        yield
    finally:
        for name, value in old.items():
            setattr(module, name, value)


# Few bins and a zero fetch budget: every needed bin is split (REFINE_BITS levels at a
# time) before its values are fetched.
TINY = {"MIN_BINS": 3, "MAX_BINS": 7, "BINS_PER_STD": 2, "FETCH_ROWS": 0}


def check(ref: list, cur: list, con: duckdb.DuckDBPyConnection | None = None) -> None:
    con = con or CON.cursor()
    load(con, "ref", ref)
    load(con, "cur", cur)
    got = numeric.numeric_drift(con, "ref", "cur", ["x"], workers=1)["x"]
    a, b = usable(ref), usable(cur)
    if len(a) == 0 or len(b) == 0:
        assert got is None
        return
    assert got.psi == pytest.approx(psi_ref(a, b), rel=RTOL)
    stat, pvalue = ks_ref(a, b)
    assert got.ks.statistic == pytest.approx(stat, rel=RTOL)
    if np.isnan(pvalue):
        assert got.ks.pvalue is None
    else:
        assert got.ks.pvalue == pytest.approx(pvalue, rel=RTOL)
    assert got.wasserstein == pytest.approx(wasserstein_ref(a, b), rel=RTOL, abs=1e-300)
    assert (got.n_ref, got.n_cur) == (len(a), len(b))


tied = st.integers(-8, 8).map(lambda i: i / 8)
wide = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False).filter(
    lambda x: x == 0 or abs(x) > 1e-9
)
missing = st.sampled_from([None, float("nan"), float("inf")])
column = st.lists(st.one_of(tied, tied, wide, missing), min_size=1, max_size=60)
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(ref=column, cur=column)
def test_tiny_grids_with_refinement_equal_references(ref: list, cur: list) -> None:
    with tuned(**TINY):
        check(ref, cur)


@SETTINGS
@given(ref=column, cur=column)
def test_fetch_limit_falls_back_to_the_exact_pass(ref: list, cur: list) -> None:
    with tuned(**TINY, FETCH_LIMIT=0, MAX_REFINEMENTS=0):
        check(ref, cur)


def generated(seed: int) -> list[tuple[str, np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    n = 20_000
    zeros = np.where(rng.random(n) < 0.9, 0.0, rng.normal(size=n))
    return [
        ("normal", rng.normal(size=n), rng.normal(size=n)),
        ("shifted", rng.normal(size=n), rng.normal(0.1, 1.1, size=n)),
        ("lognormal", rng.lognormal(size=n), rng.lognormal(0.05, 1, size=n)),
        ("rounded", np.round(rng.normal(size=n), 2), np.round(rng.normal(0.02, 1, n), 2)),
        ("ints", rng.integers(0, 50, n).astype(float), rng.integers(0, 53, n).astype(float)),
        ("mostly zero", zeros, np.where(rng.random(n) < 0.8, 0.0, rng.normal(size=n))),
        ("outlier", np.append(rng.normal(size=n), 1e12), rng.normal(size=n)),
        ("offset", 1e9 + rng.normal(size=n), 1e9 + rng.normal(0.01, 1, size=n)),
        ("current outside", rng.normal(size=n), rng.normal(0, 3, size=n)),
        ("constant ref", np.full(n, 2.5), np.round(rng.normal(2.5, 1, n), 1)),
        ("both constant", np.full(n, 1.0), np.full(n, 1.0)),
        ("huge span", np.array([-1e308, 0.0, 1e308]), np.array([1.0, 2.0])),
        ("subnormal span", np.array([0.0, 5e-324, 1e-323]), np.array([5e-324, 0.0])),
    ]


CASES = generated(20260402)


@pytest.mark.parametrize("case", CASES, ids=[name for name, _, _ in CASES])
@pytest.mark.parametrize("budget", ["default", "tiny"])
def test_generated_data_equal_references(case, budget: str) -> None:
    _, ref, cur = case
    with tuned(**(TINY if budget == "tiny" else {})):
        check(ref.tolist(), cur.tolist(), duckdb.connect())


def test_many_columns_on_two_cursors_equal_one_at_a_time() -> None:
    con = duckdb.connect()
    rng = np.random.default_rng(3)
    cols = {f"c{i}": rng.normal(0.05 * i, 1, 4000) for i in range(5)}
    con.execute("CREATE TABLE t AS SELECT * FROM (SELECT range AS i FROM range(4000))")
    for name, values in cols.items():
        con.execute(f"ALTER TABLE t ADD COLUMN {name} DOUBLE")
        con.execute(f"UPDATE t SET {name} = (?::DOUBLE[])[i + 1]", [values.tolist()])
    ref = ("SELECT * FROM t WHERE i < ?", [2000])
    cur = ("SELECT * FROM t WHERE i >= ?", [2000])
    both = numeric.numeric_drift(con, ref, cur, list(cols), workers=2)
    for name, values in cols.items():
        a, b = values[:2000], values[2000:]
        assert both[name].ks.statistic == pytest.approx(ks_ref(a, b)[0], rel=RTOL)
        assert both[name].wasserstein == pytest.approx(wasserstein_ref(a, b), rel=RTOL)
        assert both[name].psi == pytest.approx(psi_ref(a, b), rel=RTOL)


def test_scratch_copies_usable_values_and_detaches() -> None:
    con = duckdb.connect()
    load(con, "ref", [1.0, float("nan"), None, 3.0, float("inf")])
    with sql.scratch(con) as scratch:
        table = scratch.usable("ref", ["x"])
        assert table != "ref"
        assert con.execute(f"SELECT count(x), count(*) FROM {table}").fetchone() == (2, 5)
        with tuned(sql, MATERIALIZE_MAX=0):
            assert scratch.usable("ref", ["x"]) == "ref"  # too large: read in place
        scratch.drop(table)
    names = [r[0] for r in con.execute("SELECT database_name FROM duckdb_databases()").fetchall()]
    assert not any(n.startswith("mlreport_drift_") for n in names)


@pytest.mark.parametrize("n", [141, 500, 5_000, 60_000])
def test_smirnov_sum_equals_scipy(n: int) -> None:
    for z in (2.2, 5.0, 40.0, 369.0):
        d = float(np.sqrt(z / n))
        if d >= 0.5:
            continue
        want = scipy.special.smirnov(n, d)
        assert ks.smirnov_sf(n, d) == pytest.approx(want, rel=1e-12, abs=1e-300)


@pytest.mark.parametrize(
    ("x", "n"),
    [
        (0.001, 10),
        (0.3, 100),
        (0.6, 1000),
        (0.004, 1000),
        (0.05, 1000),
        (0.2, 1000),
        (0.002, 300_000),
        (0.0035, 300_000),
        (0.01, 300_000),
        (0.05, 300_000),
        (0.003, 2_000_000),
    ],
)
def test_kstwo_sf_equals_scipy_in_every_branch(x: float, n: int) -> None:
    want = float(scipy.stats.kstwo.sf(x, n))
    assert ks.kstwo_sf(x, n) == pytest.approx(want, rel=1e-12, abs=1e-300)
