"""Hypothesis: small samples with ties, constants and NULL/NaN/inf equal the references."""

from __future__ import annotations

import duckdb
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlreport.plugins.drift import categorical
from tests.drift import one_column
from tests.drift.reference import js_ref, ks_ref, load, psi_ref, usable, wasserstein_ref

RTOL = 1e-9
# A small pool of values makes ties likely; arbitrary floats cover the rest.
tied = st.integers(-6, 6).map(lambda i: i / 4)
# Magnitudes below 1e-9 are left out: their squares underflow and the std is then meaningless.
wide = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False).filter(
    lambda x: x == 0 or abs(x) > 1e-9
)
missing = st.sampled_from([None, float("nan"), float("inf"), float("-inf")])
value = st.one_of(tied, tied, wide, missing)
column = st.one_of(
    st.lists(value, min_size=1, max_size=40),
    st.builds(lambda v, n: [v] * n, tied, st.integers(1, 10)),  # constant columns
)
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


CON = duckdb.connect()  # one in-memory database for all examples: connecting costs ~30 ms


def connect(ref: list, cur: list) -> duckdb.DuckDBPyConnection:
    """A cursor on the shared database with fresh ``ref`` and ``cur`` tables."""
    con = CON.cursor()
    load(con, "ref", ref)
    load(con, "cur", cur)
    return con


@SETTINGS
@given(ref=column, cur=column)
def test_numeric_functions_equal_references(ref: list, cur: list) -> None:
    a, b = usable(ref), usable(cur)
    with connect(ref, cur) as con:
        got_psi = one_column.psi(con, "ref", "cur", "x")
        got_ks = one_column.ks(con, "ref", "cur", "x")
        got_w = one_column.wasserstein(con, "ref", "cur", "x")
    if len(a) == 0 or len(b) == 0:
        assert got_psi is None and got_ks is None and got_w is None
        return
    assert got_psi == pytest.approx(psi_ref(a, b), rel=RTOL)
    stat, pvalue = ks_ref(a, b)
    assert got_ks.statistic == pytest.approx(stat, rel=RTOL)
    if np.isnan(pvalue):  # scipy: both samples of size 1
        assert got_ks.pvalue is None and len(a) == len(b) == 1
    else:
        assert got_ks.pvalue == pytest.approx(pvalue, rel=RTOL)
    assert got_w == pytest.approx(wasserstein_ref(a, b), rel=RTOL)
    assert got_psi >= 0 and 0 <= got_ks.statistic <= 1 and got_w >= 0


@SETTINGS
@given(
    ref=st.lists(st.one_of(st.none(), st.sampled_from("abcde")), min_size=1, max_size=30),
    cur=st.lists(st.one_of(st.none(), st.sampled_from("abcdef")), min_size=1, max_size=30),
)
def test_categorical_functions_equal_references(ref: list, cur: list) -> None:
    with connect(ref, cur) as con:
        got = categorical.jensen_shannon(con, "ref", "cur", "x")
        unseen = categorical.unseen_categories(con, "ref", "cur", "x")
        share = one_column.missing_share(con, "cur", "x")
    a, b = [v for v in ref if v is not None], [v for v in cur if v is not None]
    if not a or not b:
        assert got is None
    else:
        assert got == pytest.approx(js_ref(a, b), rel=RTOL, abs=1e-15)
        assert 0 <= got <= 1
    assert unseen == sorted(set(b) - set(a))
    assert share == sum(v is None for v in cur) / len(cur)


@SETTINGS
@given(values=st.lists(value, min_size=0, max_size=30))
def test_numeric_missing_share_counts_null_nan_and_inf(values: list) -> None:
    with connect(values, values) as con:
        got = one_column.missing_share(con, "cur", "x", numeric=True)
    if not values:
        assert got is None
    else:
        assert got == (len(values) - len(usable(values))) / len(values)
        assert np.isfinite(got)
