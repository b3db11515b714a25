"""Hand-computed scenarios, one rule at a time (docs/metrics-dora.md)."""

from __future__ import annotations

import json

import polars as pl
import pytest

from mlreport.metrics import Window, split_window
from mlreport.warehouse import Warehouse

from .builder import Data, compute, compute_all, config, t, value
from .details import attributed_incidents, deployment_changes

WEEK = Window(t(days=0), t(days=7))
MONTH = Window(t(days=0), t(days=28))


@pytest.fixture
def wh(tmp_path):
    with Warehouse(tmp_path / "w.duckdb") as w:
        yield w


def lead(frame, stat="p50", **kw):
    return value(frame, "dora.lead_time", stat=stat, **kw)


# -- lead time -------------------------------------------------------------------------------


def test_first_deployment_ships_nothing_and_the_next_ships_the_commits_since(wh):
    d = Data()
    c = d.chain("c", 4, start=t(hours=0))  # c1..c4 authored at 0h, 1h, 2h, 3h
    d.deploy("d1", c[1], t(hours=10))  # first deployment: no P, no changes
    d.deploy("d2", c[3], t(hours=20))  # ships c3 (2h) and c4 (3h): 18h and 17h
    f = compute(d.write(wh), [WEEK])
    assert lead(f, "p50") == (17.5, 2)
    assert lead(f, "p90") == (pytest.approx(17.9), 2)
    assert value(f, "dora.deployment_frequency") == (2.0, 2)


def test_only_the_first_deployment_gives_no_lead_time(wh):
    d = Data()
    d.chain("c", 2)
    d.deploy("d1", "c2", t(hours=5))
    f = compute(d.write(wh), [WEEK])
    assert lead(f) == (None, 0)
    assert value(f, "dora.unlinked_deployments") == (0.0, 1)


def test_a_merge_ships_each_side_commit_once(wh):
    d = Data()
    d.commit("a", (), authored=t(hours=0))
    d.commit("b", ("a",), authored=t(hours=1))  # main
    d.commit("s1", ("a",), authored=t(hours=2))  # side branch from a
    d.commit("s2", ("s1",), authored=t(hours=3))
    d.commit("m", ("b", "s2"), authored=t(hours=4))  # merge
    d.deploy("d1", "a", t(hours=10))
    d.deploy("d2", "m", t(hours=10 + 24))
    f = compute(d.write(wh), [WEEK])
    # b, s1, s2, m: 33h, 32h, 31h, 30h
    assert lead(f, "p50") == (31.5, 4)
    changes = deployment_changes(wh, config(), WEEK)
    assert sorted(changes["sha"].to_list()) == ["b", "m", "s1", "s2"]
    assert changes["deployment_id"].unique().to_list() == ["d2"]


def test_a_rollback_and_the_redeploy_ship_each_commit_once(wh):
    d = Data()
    c = d.chain("c", 3)
    d.deploy("d1", c[0], t(hours=10))
    d.deploy("d2", c[2], t(hours=11))  # ships c2, c3
    d.deploy("d3", c[0], t(hours=12), kind="rollback")  # back to c1: ships nothing
    d.deploy("d4", c[2], t(hours=13))  # c2, c3 were in production already: nothing new
    changes = deployment_changes(d.write(wh), config(), WEEK)
    assert changes.group_by("deployment_id").len().sort("deployment_id").rows() == [("d2", 2)]


def test_interleaved_release_lines_ship_each_commit_at_its_first_production_deployment(wh):
    """Feature line 2.3.x and maintenance line 2.2.x deploy in turns (2.3.2, then 2.2.5,
    then 2.3.3): each commit counts once, when it first reached production."""
    d = Data()
    base = d.chain("b", 3)  # b1..b3: history before the lines split
    m = d.chain("m", 2, parent=base[-1])  # 2.2 backports m1, m2
    f = d.chain("f", 3, parent=base[-1])  # 2.3 features f1..f3
    d.deploy("v2.3.1", f[0], t(hours=1))  # baseline: ships nothing
    d.deploy("v2.2.4", m[0], t(hours=2))  # m1 only (b1..b3 were in production with 2.3.1)
    d.deploy("v2.3.2", f[1], t(hours=3))  # f2
    d.deploy("v2.2.5", m[1], t(hours=4))  # m2, not m1 again
    d.deploy("v2.3.3", f[2], t(hours=5))  # f3, nothing of the 2.2 line (not reachable)
    changes = deployment_changes(d.write(wh), config(), WEEK)
    got = changes.group_by("deployment_id").agg(pl.col("sha").sort()).sort("deployment_id")
    assert got.rows() == [
        ("v2.2.4", ["m1"]),
        ("v2.2.5", ["m2"]),
        ("v2.3.2", ["f2"]),
        ("v2.3.3", ["f3"]),
    ]
    assert changes["sha"].n_unique() == changes.height  # no commit counted twice


def test_unlinked_shas_are_counted_and_ship_nothing(wh):
    d = Data()
    d.chain("c", 2)
    d.deploy("d1", "c1", t(hours=5))
    d.deploy("d2", None, t(hours=6))
    d.deploy("d3", "not-a-commit", t(hours=7))
    d.deploy("d4", "c2", t(hours=8))  # c2 is new since d1 (d2, d3 are unlinked): ships c2
    d.deploy("d5", "c2", t(hours=9), status="failure")  # not successful: not counted
    f = compute(d.write(wh), [WEEK])
    assert value(f, "dora.unlinked_deployments") == (2.0, 4)
    assert lead(f) == (7.0, 1)  # c2 authored at 01:00 (T0 + 1 h), d4 at 08:00


def test_null_generations_are_computed(wh):
    d = Data()
    d.commit("a", (), authored=t(hours=0), generation=None)
    d.commit("b", ("a",), authored=t(hours=1), generation=None)
    d.commit("c", ("b",), authored=t(hours=2), generation=None)
    d.deploy("d1", "a", t(hours=10))
    d.deploy("d2", "c", t(hours=12))
    f = compute(d.write(wh), [WEEK])
    assert lead(f) == (10.5, 2)


def test_repositories_come_from_the_mapping_then_from_any_repository(wh):
    d = Data()
    for repo, hour in (("aaa", 0), ("zzz", 5)):
        d.commit("x", (), authored=t(hours=hour), repo=repo)
        d.commit("y", ("x",), authored=t(hours=hour + 1), repo=repo)
    d.deploy("m1", "x", t(hours=20), entity="mapped")
    d.deploy("m2", "y", t(hours=30), entity="mapped")
    d.deploy("u1", "x", t(hours=20), entity="free")
    d.deploy("u2", "y", t(hours=30), entity="free")
    d.map("zzz", "mapped")
    f = compute(d.write(wh), [WEEK])
    assert lead(f, entity="mapped") == (24.0, 1)  # y in zzz: authored 6h
    assert lead(f, entity="free") == (29.0, 1)  # first repository by name: aaa, 1h


# -- change failure rate, recovery, open failures ------------------------------------------------


def test_a_rollback_without_incidents_fails_and_recovers_at_the_next_success(wh):
    d = Data()
    d.chain("c", 1)
    d.deploy("d1", "c1", t(hours=1))
    d.deploy("d2", "c1", t(hours=2), status="rolled_back")
    d.deploy("d3", "c1", t(hours=5), status="failure")  # not counted, not a recovery
    d.deploy("d4", "c1", t(hours=8))  # next success: recovery after 6h
    f = compute(d.write(wh), [WEEK])
    assert value(f, "dora.change_failure_rate") == (pytest.approx(1 / 3), 3)
    assert value(f, "dora.recovery_time", stat="p50") == (6.0, 1)
    assert value(f, "dora.open_failures") == (0.0, 3)


def test_a_rollback_without_a_later_success_stays_open(wh):
    d = Data()
    d.deploy("d1", None, t(hours=1), status="rolled_back")
    f = compute(d.write(wh), [WEEK])
    assert value(f, "dora.change_failure_rate") == (1.0, 1)
    assert value(f, "dora.recovery_time", stat="p50") == (None, 0)
    assert value(f, "dora.open_failures") == (1.0, 1)


@pytest.mark.parametrize(
    ("after", "attributed"),
    [(0, True), (24 * 7, True), (24 * 7 + 1 / 3600, False), (-1, False)],
)
def test_the_attribution_window_is_seven_days_inclusive(wh, after, attributed):
    d = Data()
    d.deploy("d1", None, t(hours=10))
    d.incident("i1", t(hours=10 + after), t(hours=10 + after + 2))
    f = compute(d.write(wh), [MONTH])
    cfr = value(f, "dora.change_failure_rate")
    assert cfr == ((1.0, 1) if attributed else (0.0, 1))
    detect = value(f, "ops.time_to_detect", stat="p50")
    assert detect == ((pytest.approx(after), 1) if attributed else (None, 0))


def test_the_latest_deployment_before_detection_gets_the_incident(wh):
    d = Data()
    d.deploy("d1", None, t(hours=1))
    d.deploy("d2", None, t(hours=2), status="failure")  # failures are never blamed
    d.deploy("d3", None, t(hours=3))
    d.deploy("d4", None, t(hours=4), environment="staging")  # nor other environments
    d.deploy("d5", None, t(hours=9))  # after detection
    d.incident("i1", t(hours=5), t(hours=15))
    f = compute(d.write(wh), [WEEK])
    rows = attributed_incidents(wh, config(), WEEK)
    assert rows["deployment_id"].to_list() == ["d3"]
    assert value(f, "dora.change_failure_rate") == (pytest.approx(1 / 3), 3)
    assert value(f, "dora.recovery_time", stat="p50") == (12.0, 1)  # 3h -> 15h


def test_an_explicit_cause_wins_even_outside_the_window(wh):
    d = Data()
    d.deploy("d1", None, t(days=0))
    d.deploy("d2", None, t(days=1))
    d.incident("i1", t(days=20), t(days=21), cause="d1")
    d.incident("i2", t(days=2), cause="  ")  # blank: implicit, goes to d2, unresolved
    d.incident("i3", t(days=3), t(days=4), cause="nope")  # unknown: nobody
    f = compute(d.write(wh), [MONTH])
    assert value(f, "dora.change_failure_rate") == (1.0, 2)
    assert value(f, "dora.open_failures") == (1.0, 2)  # d2's incident is unresolved
    assert value(f, "dora.recovery_time", stat="p50") == (21 * 24.0, 1)
    rows = attributed_incidents(wh, config(), MONTH).sort("incident_id")
    assert rows["deployment_id"].to_list() == ["d1", "d2", None]


def test_an_incident_without_environment_goes_to_any_production_environment(wh):
    d = Data()
    d.deploy("d1", None, t(hours=1), environment="production")
    d.deploy("d2", None, t(hours=2), environment="prod")
    d.incident("i1", t(hours=3), t(hours=4), environment=None)
    d.incident("i2", t(hours=3), t(hours=6), environment="staging")  # not production
    f = compute(d.write(wh), [WEEK])
    assert value(f, "dora.change_failure_rate", environment="prod") == (1.0, 1)
    assert value(f, "dora.change_failure_rate", environment="production") == (0.0, 1)
    # time to restore counts production and environment-less incidents only
    assert value(f, "ops.time_to_restore", stat="p50") == (1.0, 1)


def test_recovery_waits_for_every_attributed_incident(wh):
    d = Data()
    d.deploy("d1", None, t(hours=0))
    d.incident("i1", t(hours=1), t(hours=3))
    d.incident("i2", t(hours=2), t(hours=9))
    f = compute(d.write(wh), [WEEK])
    assert value(f, "dora.recovery_time", stat="p50") == (9.0, 1)
    d.incident("i3", t(hours=4))  # unresolved: the failure is open
    f = compute(d.write(wh), [WEEK])
    assert value(f, "dora.recovery_time", stat="p50") == (None, 0)
    assert value(f, "dora.open_failures") == (1.0, 1)


# -- rework ------------------------------------------------------------------------------------


def test_rework_by_kind_and_by_open_incident(wh):
    d = Data()
    d.deploy("d1", None, t(hours=1))
    d.deploy("d2", None, t(hours=2), kind="hotfix")
    d.deploy("d3", None, t(hours=3), kind="rollback")
    d.deploy("d4", None, t(hours=10))  # during i1
    d.deploy("d5", None, t(hours=20))  # exactly at i1's resolution: inside
    d.deploy("d6", None, t(hours=21))  # after i1
    d.deploy("d7", None, t(days=30))  # during the unresolved i2, a month later
    d.deploy("d8", None, t(hours=40), status="rolled_back")  # not successful
    d.incident("i1", t(hours=10), t(hours=20), environment="staging")  # any environment
    d.incident("i2", t(days=29))
    f = compute(d.write(wh), [Window(t(), t(days=31))])
    assert value(f, "dora.rework_rate") == (pytest.approx(5 / 7), 7)


# -- windows ---------------------------------------------------------------------------------------


def test_windows_are_half_open(wh):
    d = Data()
    d.deploy("at-start", None, WEEK.start)
    d.deploy("at-end", None, WEEK.end)
    f = compute(d.write(wh), [WEEK])
    assert value(f, "dora.deployment_frequency") == (1.0, 1)
    assert value(f, "ops.automation_rate") == (1.0, 1)


def test_weekly_series_have_a_row_for_every_week(wh):
    d = Data()
    c = d.chain("c", 3)
    d.deploy("d1", c[0], t(days=1))
    d.deploy("d2", c[2], t(days=15), trigger="manual")
    d.incident("i1", t(days=16), t(days=16, hours=3), entity="other")
    windows = split_window(Window(t(days=0), t(days=21)), "week")
    f = compute(d.write(wh), windows)
    freq = [value(f, "dora.deployment_frequency", window=w) for w in windows]
    assert freq == [(1.0, 1), (0.0, 0), (1.0, 1)]
    assert [value(f, "dora.lead_time", stat="p50", window=w)[1] for w in windows] == [0, 0, 2]
    assert [value(f, "ops.automation_rate", window=w) for w in windows] == [
        (1.0, 1),
        (None, 0),
        (0.0, 1),
    ]
    # "other" only has an incident: every metric, every week, in the default environment
    other = f.filter(pl.col("entity") == "other")
    assert other.height == svc_rows_per_window() * 3
    assert value(f, "ops.time_to_restore", entity="other", stat="p90", window=windows[2]) == (
        3.0,
        1,
    )


def svc_rows_per_window() -> int:
    # 7 dora metrics, two with three stats; ops: two with three stats and automation_rate
    return (5 + 2 * 3) + (2 * 3 + 1)


def test_entities_filter_and_environment_dimension(wh):
    d = Data()
    d.deploy("a1", None, t(hours=1), entity="a", environment="prod")
    d.deploy("b1", None, t(hours=1), entity="b")
    d.deploy("s1", None, t(hours=1), entity="s", environment="staging")  # no production
    f = compute(d.write(wh), [WEEK], entities=["a", "s"])
    assert f["entity"].unique().to_list() == ["a"]
    envs = {json.loads(x).get("environment") for x in f["dimensions"].to_list()}
    assert envs == {"prod", None}  # None: ops.time_to_restore has no environment


def test_through_the_kernel_values_are_graded_with_dora_2023(wh):
    d = Data()
    c = d.chain("c", 2, start=t(hours=0))
    for i in range(14):  # twice a day: elite frequency
        d.deploy(f"d{i}", c[min(i, 1)], t(hours=12 * i + 6))
    f = compute_all(d.write(wh), [WEEK])
    row = f.filter(pl.col("metric") == "dora.deployment_frequency").row(0, named=True)
    assert (row["value"], row["band"]) == (14.0, "elite")
    row = f.filter(
        (pl.col("metric") == "dora.lead_time") & pl.col("dimensions").str.contains("p50")
    ).row(0, named=True)
    assert (row["value"], row["n"], row["band"]) == (17.0, 1, "elite")  # c2: 1h -> 18h
    cfr = f.filter(pl.col("metric") == "dora.change_failure_rate").row(0, named=True)
    assert (cfr["value"], cfr["band"]) == (0.0, "elite")
    stored = wh.query("SELECT count(*) AS n FROM metric_values")["n"][0]
    assert stored == f.height


# -- abbreviated shas --------------------------------------------------------------------------

A1 = "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678"
A2 = "a1b2c3d0000000000000000000000000000000aa"  # shares 7 digits with A1
B1 = "b" * 40
B2 = "bc" * 20


def test_abbreviated_shas_link_by_unique_prefix_and_ambiguous_ones_do_not(wh, caplog):
    d = Data()
    d.commit(B1, (), authored=t(hours=0))
    d.commit(A1, (B1,), authored=t(hours=1))
    d.commit(A2, (A1,), authored=t(hours=2))
    d.commit(B2, (A2,), authored=t(hours=3))
    d.deploy("d1", B1[:7], t(hours=10))  # unique prefix: linked, the baseline
    d.deploy("d2", A1[:7].upper(), t(hours=11))  # 'A1B2C3D' matches A1 and A2: ambiguous
    d.deploy("d3", A2[:12], t(hours=12))  # 12 digits: unique, ships A1 and A2
    d.deploy("d4", B2[:9], t(hours=13))  # ships B2
    with caplog.at_level("WARNING", logger="mlreport"):
        f = compute(d.write(wh), [WEEK])
    assert value(f, "dora.unlinked_deployments") == (1.0, 4)  # d2 only
    assert lead(f, stat="p50") == (10.0, 3)  # A1: 11 h, A2: 10 h, B2: 10 h
    assert "deployment d2 of svc names the abbreviated sha 'A1B2C3D', which matches 2" in (
        caplog.text
    )
    changes = deployment_changes(wh, config(), WEEK)
    assert sorted(changes.filter(pl.col("deployment_id") == "d3")["sha"]) == sorted([A1, A2])
