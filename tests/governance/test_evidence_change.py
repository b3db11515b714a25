"""Change control (approvals, incidents) and signed-records evidence on hand-built
warehouses: present, partial, missing."""

from __future__ import annotations

import pytest

from mlreport.signing import generate_key_pair
from mlreport.warehouse import Warehouse

from .world import AS_OF, World, ago, config, evidence, future_schema

APPROVAL = (
    '[[entities]]\nkind = "model"\nname = "credit"\n[entities.governance]\n'
    'approval_tags = ["risk_approved=yes"]\n'
)


@pytest.fixture
def wh(tmp_path):
    with Warehouse(tmp_path / "wh.duckdb") as w:
        future_schema(w)
        yield w


def promoted(wh, tags2, tags3=None) -> World:
    """Version 1 champion before the window; 2 promoted 40 days ago, 3 (if tagged) 10."""
    w = World(wh).entity()
    w.version("1").version("2", tags=tags2).alias("1", ago(120)).alias("2", ago(40), "1")
    if tags3 is not None:
        w.version("3", tags=tags3).alias("3", ago(10), "2")
    return w


def test_approved_promotions_are_met(wh, tmp_path):
    promoted(wh, {"risk_approved": "yes"}, {"risk_approved": "yes"})
    e = evidence(wh, config(tmp_path, APPROVAL), "credit", "change.approved_promotions")
    assert e.status == "met"
    assert [(r["version"], r["approved"]) for r in e.rows] == [("2", True), ("3", True)]


def test_a_promotion_without_approval_is_partial(wh, tmp_path):
    promoted(wh, {"risk_approved": "yes"}, {"risk_approved": "no"})  # key=value: exact
    e = evidence(wh, config(tmp_path, APPROVAL), "credit", "change.approved_promotions")
    assert e.status == "partial"
    assert e.rows[1]["note"] == "no approval tag"
    assert {f.label: f.value for f in e.facts}["Without approval"] == 1


def test_an_approval_given_after_the_promotion_does_not_count(wh, tmp_path):
    w = promoted(wh, {"risk_approved": "yes"})
    w.tag_event("2", ago(30), "risk_approved", key="risk_approved")
    e = evidence(wh, config(tmp_path, APPROVAL), "credit", "change.approved_promotions")
    assert e.status == "missing"
    assert e.rows[0]["note"] == "approval tag set after the promotion"


def test_no_approval_at_all_is_missing(wh, tmp_path):
    promoted(wh, {})
    e = evidence(wh, config(tmp_path, APPROVAL), "credit", "change.approved_promotions")
    assert e.status == "missing" and e.summary.startswith("0 of 1")


def test_without_settings_the_registry_approval_tag_counts(wh, tmp_path):
    # the mlflow source's approval tag, as the lifecycle family publishes it
    from mlreport.sources import default_options

    tag = default_options("mlflow").approval_tag
    promoted(wh, {tag: "true"}, {"risk_approved": "yes"})
    e = evidence(wh, config(tmp_path), "credit", "change.approved_promotions")
    assert e.status == "partial"
    assert [r["approved"] for r in e.rows] == [True, False]


def test_no_promotion_in_the_window_needs_no_approval(wh, tmp_path):
    World(wh).entity().version("1").alias("1", ago(120))
    e = evidence(wh, config(tmp_path, APPROVAL), "credit", "change.approved_promotions")
    assert e.status == "met" and "No version was promoted" in e.summary


@pytest.mark.parametrize(
    ("resolved", "status"),
    [((ago(9.5), ago(4)), "met"), ((ago(9.5), None), "partial"), ((None, None), "missing")],
)
def test_incident_recovery(wh, tmp_path, resolved, status):
    w = World(wh).entity()
    w.incident("i1", ago(10), resolved[0]).incident("i2", ago(5), resolved[1])
    e = evidence(wh, config(tmp_path), "credit", "change.incident_recovery")
    assert e.status == status
    hours = [r["hours_to_restore"] for r in e.rows]
    assert hours[0] == (12.0 if resolved[0] else None)
    if status == "met":
        assert {f.label: f.value for f in e.facts}["Longest time to restore"] == 24.0


def test_no_incident_is_met(wh, tmp_path):
    World(wh).entity().incident("old", ago(200), ago(199))
    e = evidence(wh, config(tmp_path), "credit", "change.incident_recovery")
    assert e.status == "met" and e.rows == ()


def signing(tmp_path) -> str:
    secret, _, _ = generate_key_pair(tmp_path / "keys", False, None)
    return f'[signing]\nkey_file = "{secret}"\nsigner = "Ada <ada@example.com>"\n'


def test_signed_runs_are_met(wh, tmp_path):
    World(wh).entity().report_run("old", ago(30), signed=True)
    e = evidence(wh, config(tmp_path, signing(tmp_path)), "credit", "records.signed_report_runs")
    assert e.status == "met" and "signed by Ada <ada@example.com>" in e.summary
    assert e.rows[0]["signer"] == "Ada <ada@example.com>"


def test_signed_now_but_not_before_is_partial(wh, tmp_path):
    w = World(wh).entity().report_run("old", ago(30), signed=False)
    w.report_run("same-as-of", AS_OF, signed=True)  # a run of the same as-of is not "previous"
    e = evidence(wh, config(tmp_path, signing(tmp_path)), "credit", "records.signed_report_runs")
    assert e.status == "partial" and e.summary.endswith("was not signed.")


def test_unsigned_is_missing(wh, tmp_path):
    World(wh).entity()
    e = evidence(wh, config(tmp_path), "credit", "records.signed_report_runs")
    assert e.status == "missing" and "[signing] key_file" in e.summary


def test_production_deployments_are_promotions_too(wh, tmp_path):
    """A version deployed to production counts once, at its first deployment; a version the
    registry does not know cannot carry an approval."""
    w = World(wh).entity().version("1").version("2", tags={"risk_approved": "yes"})
    w.alias("1", ago(200))
    w.deployment("p2", "production", "2", ago(30)).deployment("p2b", "production", "2", ago(20))
    w.deployment("p3", "production", "3", ago(10))
    w.deployment("r2", "production", "2", ago(5), kind="rollback")
    e = evidence(wh, config(tmp_path, APPROVAL), "credit", "change.approved_promotions")
    assert e.status == "partial"
    assert [(r["version"], r["via"], r["approved"], r["note"]) for r in e.rows] == [
        ("2", "deployment p2", True, None),
        ("3", "deployment p3", False, "version not in the registry"),
    ]
