"""Rollback and delivery evidence on hand-built warehouses: present, partial, missing."""

from __future__ import annotations

import pytest

from mlreport.warehouse import Warehouse

from .world import World, ago, config, evidence, future_schema


@pytest.fixture
def wh(tmp_path):
    with Warehouse(tmp_path / "wh.duckdb") as w:
        future_schema(w)
        yield w


def two_champions(wh) -> World:
    """Version 1 was champion 60 days ago; version 2 replaced it 20 days ago."""
    w = World(wh).entity()
    w.version("1", "r1").version("2", "r2")
    return w.alias("1", ago(60)).alias("2", ago(20), previous="1")


@pytest.mark.parametrize(
    ("present", "status", "words"),
    [
        (True, "met", "still registered and its artifacts are present"),
        (None, "partial", "its artifacts have not been checked"),
        (False, "missing", "its artifacts are gone"),
    ],
)
def test_previous_version_by_its_artifacts(wh, tmp_path, present, status, words):
    two_champions(wh)
    wh.con.execute("UPDATE model_versions SET artifacts_present = ? WHERE version = '1'", [present])
    e = evidence(wh, config(tmp_path), "credit", "rollback.previous_version_loadable")
    assert (e.status, e.rows[0]["version"], e.rows[0]["replaced_by"]) == (status, "1", "2")
    assert words in e.summary


def test_previous_version_deleted_is_missing(wh, tmp_path):
    two_champions(wh)
    wh.con.execute("DELETE FROM model_versions WHERE version = '1'")
    e = evidence(wh, config(tmp_path), "credit", "rollback.previous_version_loadable")
    assert e.status == "missing" and "no longer registered" in e.summary


def test_only_one_production_version_ever_is_missing(wh, tmp_path):
    World(wh).entity().version("1").alias("1", ago(60))
    e = evidence(wh, config(tmp_path), "credit", "rollback.previous_version_loadable")
    assert e.status == "missing" and "no version to roll back to" in e.summary


def test_timed_rollback_deployment_is_met(wh, tmp_path):
    two_champions(wh).deployment(
        "d9", "production", "1", ago(5), kind="rollback", started_at=ago(5.01)
    )
    e = evidence(wh, config(tmp_path), "credit", "rollback.last_drill")
    assert e.status == "met"
    (row,) = e.rows
    assert row["minutes_to_restore"] == pytest.approx(0.01 * 24 * 60)
    assert {f.label: f.value for f in e.facts}["Rollbacks in the window"] == 1


def test_registry_rollback_without_time_is_partial(wh, tmp_path):
    two_champions(wh).alias("1", ago(10), previous="2")
    e = evidence(wh, config(tmp_path), "credit", "rollback.last_drill")
    assert e.status == "partial" and e.rows[0]["kind"] == "registry alias"
    assert "time to restore is not known" in e.summary


def test_no_rollback_is_missing(wh, tmp_path):
    two_champions(wh)
    e = evidence(wh, config(tmp_path), "credit", "rollback.last_drill")
    assert e.status == "missing" and "untested" in e.summary


def test_a_rollback_before_the_window_does_not_count(wh, tmp_path):
    two_champions(wh).deployment(
        "d0", "production", "1", ago(120), kind="rollback", started_at=ago(120.1)
    )
    e = evidence(wh, config(tmp_path), "credit", "rollback.last_drill")
    assert e.status == "missing"


def test_all_production_deployments_staged_is_met(wh, tmp_path):
    w = World(wh).entity()
    w.deployment("s2", "staging", "2", ago(25)).deployment("p2", "production", "2", ago(20))
    e = evidence(wh, config(tmp_path), "credit", "delivery.staged_before_production")
    assert e.status == "met" and e.rows[0]["staged"] is True
    assert {f.label: f.value for f in e.facts}["Share staged first"] == 1.0


def test_some_production_deployments_staged_is_partial(wh, tmp_path):
    w = World(wh).entity()
    w.deployment("s2", "staging", "2", ago(25)).deployment("p2", "production", "2", ago(20))
    w.deployment("p3", "production", "3", ago(5))
    # staged after production does not count
    w.deployment("s3", "staging", "3", ago(4))
    e = evidence(wh, config(tmp_path), "credit", "delivery.staged_before_production")
    assert e.status == "partial"
    assert [r["staged"] for r in e.rows] == [True, False]
    assert {f.label: f.value for f in e.facts}["Share staged first"] == 0.5


def test_no_staging_is_missing(wh, tmp_path):
    World(wh).entity().deployment("p2", "production", "2", ago(20))
    e = evidence(wh, config(tmp_path), "credit", "delivery.staged_before_production")
    assert e.status == "missing" and e.summary.startswith("0 of 1")


def test_no_production_deployment_is_missing(wh, tmp_path):
    World(wh).entity()
    e = evidence(wh, config(tmp_path), "credit", "delivery.staged_before_production")
    assert e.status == "missing" and "No production deployment" in e.summary


@pytest.mark.parametrize(
    ("strategies", "status"),
    [(["canary", "blue_green"], "met"), (["canary", "rolling"], "partial"), ([None], "missing")],
)
def test_progressive_share(wh, tmp_path, strategies, status):
    w = World(wh).entity()
    for i, s in enumerate(strategies):
        w.deployment(f"p{i}", "production", str(i), ago(10 - i), strategy=s)
    e = evidence(wh, config(tmp_path), "credit", "delivery.progressive")
    assert e.status == status
    if None in strategies:
        assert "did not record a strategy" in e.summary
        assert e.rows[0]["strategy"] == "not recorded"


def test_progressive_without_a_recorded_strategy_is_missing(tmp_path):
    with Warehouse(tmp_path / "wh.duckdb") as wh:
        World(wh).entity().deployment("p0", "production", "1", ago(5))
        e = evidence(wh, config(tmp_path), "credit", "delivery.progressive")
    assert e.status == "missing"
    assert "1 did not record a strategy" in e.summary


def test_previous_version_from_production_deployments(wh, tmp_path):
    """A registry synced once knows only the current alias: the deployments say which
    version production ran before."""
    w = World(wh).entity().version("7").version("8").alias("8", ago(200))
    w.deployment("p7", "production", "7", ago(50)).deployment("p8", "production", "8", ago(10))
    w.deployment("p8b", "production", "8", ago(5))
    wh.con.execute("UPDATE model_versions SET artifacts_present = true WHERE version = '7'")
    e = evidence(wh, config(tmp_path), "credit", "rollback.previous_version_loadable")
    assert e.status == "met"
    assert (e.rows[0]["version"], e.rows[0]["replaced_by"]) == ("7", "8")
    assert e.rows[0]["replaced_at"] == ago(10).strftime("%Y-%m-%dT%H:%M:%SZ")
