"""Every number the models report shows, against the hand-computed scenario."""

from __future__ import annotations

import json

from mlreport.metrics import compute_metrics, split_window
from mlreport.reports.models_data import dataset_digests

from .conftest import WINDOW, config, install, render, seed


def _doc(wh, tmp_path, **kw) -> dict:
    out = render(wh, config(tmp_path), tmp_path / "out", ("json",), **kw)
    return json.loads(out["json"].read_text(encoding="utf-8"))


def _model(doc: dict, name: str) -> dict:
    (m,) = [m for m in doc["sections"]["models"]["models"] if m["name"] == name]
    return m


def test_inventory(wh, tmp_path):
    install()
    seed(wh)
    doc = _doc(wh, tmp_path)
    inv = doc["sections"]["inventory"]
    assert [m["name"] for m in inv["models"]] == ["credit", "fraud", "idle"]
    credit, fraud, idle = inv["models"]
    assert credit["owner"] == "risk@example.com"  # declared entity: the registry has none
    assert credit["risk_tier"] == "high"
    assert credit["production"] == [
        {
            "alias": "champion",
            "source": "mlflow",
            "version": "3",
            "since": "2026-02-20T00:00:00Z",
            "since_kind": "sync_time",
        }
    ]
    assert (credit["versions"], credit["latest_version"]) == (3, "3")
    assert fraud["production"][0]["version"] == "2" and fraud["latest_version"] == "10"
    assert fraud["description"] == "Flags card fraud"
    assert idle["production"] == [] and idle["versions"] == 0
    assert inv["totals"] == {
        "models": 3,
        "in_production": 2,
        "production_versions": 2,
        "promotions": 7,
        "rollbacks": 2,
        "findings": 6,
    }
    assert list(doc["manifest"]["inputs"]) == sorted(
        ["registered_models", "model_versions", "model_events", "runs", "deployments", "entities"]
    )


def test_lifecycle_kpis_and_monthly_trends(wh, tmp_path):
    install()
    seed(wh)
    doc = _doc(wh, tmp_path)
    credit = _model(doc, "credit")
    kpi = {k["key"]: (k["value"], k["n"]) for k in credit["kpis"]}
    assert kpi == {
        "promotions": (3, 3),
        "rollbacks": (1, 1),
        "days_since_promotion": (40.0, 1),  # 20 Feb -> 1 Apr
        # v1 72 h, v2 60 h, v3 (run r4 5 Feb -> 20 Feb) 360 h
        "model_lead_time": (72.0, 3),
        "run_success_rate": (0.5, 4),  # r1, r2 finished; r3 failed; r4 killed
        "governed_share": (0.0, 1),  # v3 has no description
        "versions_created": (3, 3),
    }
    months = split_window(WINDOW, "month")
    ref = compute_metrics(wh, config(tmp_path), months, "lifecycle.*", ["credit"], store=False)
    for trend in credit["trends"]:
        for s in trend["series"]:
            dims = json.dumps({"stat": s["stat"]} if s["stat"] else {}, separators=(",", ":"))
            want = (
                ref.filter((ref["metric"] == s["metric"]) & (ref["dimensions"] == dims))
                .sort("window_start")["value"]
                .to_list()
            )
            assert [p["value"] for p in s["points"]] == want, (trend["key"], s["name"])
    moves = credit["trends"][0]["series"]
    assert [p["value"] for p in moves[0]["points"]] == [2, 1, 0]  # promotions
    assert [p["value"] for p in moves[1]["points"]] == [0, 1, 0]  # rollbacks


def test_lineage_of_the_production_version(wh, tmp_path):
    install()
    seed(wh)
    lin = _model(_doc(wh, tmp_path), "credit")["lineage"][0]
    assert (lin["version"], lin["run_id"], lin["run"]["git_sha"]) == ("3", "r4", "b" * 40)
    assert lin["governance"] == {"owner": True, "description": False, "approval": True}
    assert lin["run"]["params"] == [{"key": "depth", "value": "6"}, {"key": "lr", "value": "0.05"}]
    metrics = {m["key"]: m for m in lin["metrics"]}
    # highest step wins, not the latest-logged point (step 1 was logged after step 2)
    assert (metrics["auc"]["value"], metrics["auc"]["step"], metrics["auc"]["points"]) == (
        0.85,
        2,
        4,
    )
    assert metrics["nan_metric"]["value"] is None
    assert lin["run"]["datasets"] == [
        {
            "name": "train",
            "digest": "abc123",
            "source": "s3://bucket/train.parquet",
            "tag": "mlflow.datasets",
        },
        {
            "name": "holdout",
            "digest": "def456",
            "source": "file:///data/holdout.csv",
            "tag": "dataset.holdout.digest",
        },
    ]
    assert [d["deployment_id"] for d in lin["deployments"]] == ["credit:champion:3:1771545600000"]


def test_history_newest_first_with_kinds(wh, tmp_path):
    install()
    seed(wh)
    h = _model(_doc(wh, tmp_path), "credit")["history"]
    assert [(r["version"], r["alias"], r["kind"], r["previous"]) for r in h["rows"]] == [
        ("2", "production", "other alias", None),
        ("3", "champion", "promotion", "1"),
        ("3", "challenger", "other alias", None),
        ("1", "champion", "rollback", "2"),
        ("2", "champion", "promotion", "1"),
        ("1", "champion", "promotion", None),
    ]
    fraud = _model(_doc(wh, tmp_path), "fraud")["history"]
    kinds = [r["kind"] for r in fraud["rows"]]
    assert kinds == ["rollback", "promotion", "promotion", "removed", "promotion", "promotion"]
    assert fraud["rows"][0]["previous"] == "10"  # from the alias history, not the event


def test_hygiene_findings(wh, tmp_path):
    install()
    seed(wh)
    hy = _doc(wh, tmp_path)["sections"]["hygiene"]
    assert [(x["kind"], x["model"], x.get("version")) for x in hy["findings"]] == [
        ("ungoverned", "credit", "3"),
        ("no_commit", "fraud", "1"),
        ("no_commit", "fraud", "2"),
        ("no_commit", "fraud", "10"),
        ("no_production", "idle", None),
        ("dataset_tag", "fraud", None),
    ]
    assert hy["findings"][0]["missing"] == ["description"]
    assert hy["counts"] == {"ungoverned": 1, "no_commit": 3, "no_production": 1, "dataset_tag": 1}


def test_missing_run_and_unknown_promotion(wh, tmp_path):
    """A version whose run is gone, held by an alias with no recorded history."""
    from tests.lifecycle.builder import Registry, d

    install()
    r = Registry()
    r.model("solo", owner="o", description="x", aliases={"champion": "1"})
    r.version("solo", "1", "vanished", d("2026-01-02"), tags={"signed-off": "yes"})
    r.write(wh)
    doc = _doc(wh, tmp_path)
    solo = _model(doc, "solo")
    assert solo["production"][0]["since"] is None  # from the snapshot
    assert solo["lineage"][0]["run"] is None
    kinds = [x["kind"] for x in doc["sections"]["hygiene"]["findings"]]
    assert kinds == ["missing_run", "unknown_since"]


def test_without_the_lifecycle_family(wh, tmp_path):
    install(lifecycle=False)
    seed(wh)
    doc = _doc(wh, tmp_path)
    # The registry history (which aliases are production, rollbacks, governance) is the
    # lifecycle family's, published with its values: without it the report says so.
    assert [x["kind"] for x in doc["sections"]["hygiene"]["findings"]] == ["no_metrics"]
    assert doc["sections"]["models"]["models"] == []


def test_empty_warehouse_and_entity_filter(wh, tmp_path):
    install()
    doc = _doc(wh, tmp_path)
    assert doc["sections"]["inventory"]["models"] == []
    seed(wh)
    doc = _doc(wh, tmp_path, entities=["fraud"])
    assert [m["name"] for m in doc["sections"]["models"]["models"]] == ["fraud"]
    assert {x["model"] for x in doc["sections"]["hygiene"]["findings"]} == {"fraud"}


def test_dataset_tag_shapes():
    found, problems = dataset_digests(
        {
            "mlflow.datasets": '[{"name": "a", "digest": "d1", "source": "s"}, 3]',
            "dataset_digest": "d2",
            "dataset.x.digest": "d3",
        }
    )
    assert [(x["name"], x["digest"]) for x in found] == [("a", "d1"), ("x", "d3"), (None, "d2")]
    assert problems == []
    assert dataset_digests({"mlflow.datasets": '{"name": "a"}'}) == (
        [],
        ["the mlflow.datasets tag is not a JSON list"],
    )
