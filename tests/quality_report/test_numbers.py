"""The JSON carries every number, equal to plain references; missing families degrade."""

from __future__ import annotations

import json
import math

import numpy as np
import polars as pl
import pytest
from sklearn.calibration import calibration_curve

from mlreport.metrics import Window
from mlreport.plugins.drift.histograms import categorical_histogram, numeric_histogram
from mlreport.plugins.performance_details import calibration
from mlreport.reporting import ReportContext, render_report

from . import fakes
from .conftest import context, install, render


def _window(data: pl.DataFrame) -> pl.DataFrame:
    return data.filter((pl.col("ts") >= fakes.WINDOW_START) & (pl.col("ts") < fakes.AS_OF))


def _load(out) -> dict:
    return json.loads(out["json"].read_text(encoding="utf-8"))


@pytest.fixture
def report(seeded, tmp_path):
    install(fakes.AllFamilies())
    wh, cfg = seeded()
    data = fakes.frame(fakes.names(False))
    return _load(render(wh, cfg, tmp_path / "out", ("json",))), data


def test_headline_confusion_and_trend_numbers(report):
    doc, data = report
    m = doc["sections"]["models"]["models"][0]
    cur = _window(data)
    lab = cur.filter(pl.col("label").is_not_null())
    y, p = lab["label"].to_numpy(), lab["prediction"].to_numpy()
    acc = next(c for c in m["performance"]["headline"] if c["metric"] == "performance.accuracy")
    assert acc["value"] == pytest.approx(float((y == p).mean()), rel=1e-12)
    assert acc["n"] == lab.height
    assert acc["policy"] == {"min": 0.9, "max": None, "severity": "error", "passed": False}
    assert m["performance"]["labelled_share"]["value"] == pytest.approx(lab.height / cur.height)
    c = m["confusion"]
    assert (c["tn"], c["fp"], c["fn"], c["tp"]) == (
        int(((y == 0) & (p == 0)).sum()),
        int(((y == 0) & (p == 1)).sum()),
        int(((y == 1) & (p == 0)).sum()),
        int(((y == 1) & (p == 1)).sum()),
    )
    assert c["total"] == lab.height and c["other"] == 0
    assert sum(c["shares"].values()) == pytest.approx(1.0)
    acc_trend = next(t for t in m["performance"]["trends"] if t["metric"] == "performance.accuracy")
    assert acc_trend["policy"] == {"kind": "min", "value": 0.9}
    assert len(acc_trend["points"]) == len(doc["sections"]["models"]["weeks"]) == 14
    first = acc_trend["points"][0]
    week = lab.filter(pl.col("ts") < first_end(first))
    assert first["value"] == pytest.approx(float((week["label"] == week["prediction"]).mean()))
    versions = {r["model_version"]: r for r in m["performance"]["versions"]["rows"]}
    assert set(versions) == {"v1", "v2"}
    assert versions["v1"]["n"] + versions["v2"]["n"] == lab.height


def first_end(point: dict):
    from mlreport.times import parse_time

    return parse_time(point["end"])


def test_calibration_equals_sklearn(report):
    doc, data = report
    cal = doc["sections"]["models"]["models"][0]["calibration"]
    lab = _window(data).filter(pl.col("label").is_not_null())
    prob_true, prob_pred = calibration_curve(
        lab["label"].to_numpy(), lab["score"].to_numpy(), n_bins=10, strategy="uniform"
    )
    bins = [b for b in cal["bins"] if b["count"]]
    np.testing.assert_allclose([b["fraction_positive"] for b in bins], prob_true, rtol=1e-12)
    np.testing.assert_allclose([b["mean_score"] for b in bins], prob_pred, rtol=1e-12)
    assert cal["n"] == lab.height and cal["excluded"] == 0


def test_calibration_edges_ties_and_bad_scores(tmp_path):
    """Scores exactly on sklearn's float edges, at 0 and 1, and NaN/NULL/out-of-range ones."""
    import duckdb

    edges = list(np.linspace(0, 1, 11))
    rng = np.random.default_rng(3)
    score = np.concatenate([edges, edges, rng.random(300)])
    y = (rng.random(score.size) < score).astype(float)
    con = duckdb.connect()
    bad = [float("nan"), None, 1.5, -0.1, float("inf")]
    table = pl.DataFrame(
        {"score": list(score) + bad, "label": list(y) + [1.0] * len(bad)},
        schema={"score": pl.Float64, "label": pl.Float64},
    )
    con.register("t", table.to_arrow())
    got = calibration(con, ("SELECT * FROM t", []))
    prob_true, prob_pred = calibration_curve(y, score, n_bins=10, strategy="uniform")
    bins = [b for b in got["bins"] if b["count"]]
    np.testing.assert_allclose([b["fraction_positive"] for b in bins], prob_true, rtol=1e-12)
    np.testing.assert_allclose([b["mean_score"] for b in bins], prob_pred, rtol=1e-12)
    assert got["excluded"] == len(bad)


def test_histograms_count_every_value(tmp_path):
    import duckdb

    con = duckdb.connect()
    rng = np.random.default_rng(1)
    ref = pl.DataFrame({"x": rng.normal(0, 1, 500), "c": rng.choice(list("abcdefghijklmn"), 500)})
    cur = pl.DataFrame({"x": rng.normal(1, 1, 400), "c": rng.choice(list("abc"), 400)})
    ref = ref.vstack(pl.DataFrame({"x": [float("nan")], "c": [None]}, schema=ref.schema))
    con.register("r", ref.to_arrow())
    con.register("k", cur.to_arrow())
    h = numeric_histogram(con, ("SELECT * FROM r", []), ("SELECT * FROM k", []), "x")
    assert h["totals"] == [500, 400] and h["missing"] == [1, 0]
    assert sum(b["reference"] for b in h["bins"]) == 500
    lo = min(ref["x"].drop_nans().min(), cur["x"].min())
    hi = max(ref["x"].drop_nans().max(), cur["x"].max())
    assert h["bins"][0]["lo"] == lo and h["bins"][-1]["hi"] == pytest.approx(hi)
    counts, _ = np.histogram(cur["x"].to_numpy(), bins=12, range=(lo, hi))
    assert [b["current"] for b in h["bins"]] == counts.tolist()
    c = categorical_histogram(con, ("SELECT * FROM r", []), ("SELECT * FROM k", []), "c")
    assert c["missing"] == [1, 0] and len(c["bins"]) == 11  # top 10 and the pooled rest
    assert c["bins"][-1]["pooled"] and c["bins"][-1]["categories"] == 4
    assert sum(b["reference"] for b in c["bins"]) == 500
    assert math.isclose(sum(b["current_share"] for b in c["bins"]), 1.0)


def test_drift_fairness_explain_and_findings(report):
    doc, data = report
    m = doc["sections"]["models"]["models"][0]
    d = m["drift"]
    assert [t["feature"] for t in d["features"]] == ["income", "debt_ratio", "region"]
    assert d["drifted"] == ["income"]
    income = d["features"][0]
    assert income["metrics"]["psi"]["policy"]["passed"] is False and income["failed"] == ["psi"]
    (hist,) = d["histograms"]
    ref = data.filter(pl.col("ts") < fakes.WINDOW_START)
    assert hist["feature"] == "income" and hist["histogram"]["totals"] == [
        ref.height,
        _window(data).height,
    ]
    fair = m["fairness"]
    (sex,) = fair["features"]
    assert [g["group"] for g in sex["groups"]] == ["F", "M", "X"]
    assert sex["small_groups"] == ["X"]
    lab = _window(data).filter(pl.col("label").is_not_null())
    rate_f = lab.filter(pl.col("sex") == "F")["prediction"].mean()
    assert sex["groups"][0]["values"]["selection_rate"] == pytest.approx(rate_f)
    sel = sex["disparity"][0]
    assert sel["band"]["source"] == "fairness.demographic_parity_ratio"
    top = max(g["values"]["selection_rate"] for g in sex["groups"])
    assert sel["band"]["lo"] == pytest.approx(0.8 * top) and sel["band"]["hi"] == top
    assert [g["outside"] for g in sel["groups"]] == [True, False, False]
    assert sex["disparity"][1]["band"]["source"] == "four-fifths rule"
    assert [i["feature"] for i in m["explain"]["features"]] == ["income", "debt_ratio"]
    fi = doc["sections"]["summary"]["models"][0]["findings"]
    assert fi["drifted"] == ["income"]
    assert fi["worst_disparity"]["feature"] == "sex"
    assert {x["metric"] for x in fi["policy_failures"]} == {
        "drift.psi",
        "fairness.demographic_parity_ratio",
        "performance.accuracy",
    }
    assert fi["warnings"] == 1 and fi["errors"] == len(fi["policy_failures"]) - 1
    assert doc["sections"]["notes"]["notes"] == []
    assert doc["manifest"]["inputs"]["prediction_logs"]["rows"] == 1


def test_missing_families_leave_notes_not_crashes(seeded, tmp_path):
    install()  # no metric families at all
    wh, cfg = seeded()
    out = render(wh, cfg, tmp_path / "out", ("html", "json", "md"))
    doc = _load(out)
    kinds = [n["kind"] for n in doc["sections"]["notes"]["notes"]]
    assert kinds == ["family_missing"] * 4
    m = doc["sections"]["models"]["models"][0]
    # Confusion counts, calibration bins and row counts are the performance family's detail
    # rows: without it they are absent, not computed by the report.
    assert m["confusion"] is None and m["calibration"] is None and m["counts"] is None
    assert not m["drift"]["available"] and not m["fairness"]["available"]
    assert m["performance"]["labelled_share"] is None
    html = out["html"].read_text(encoding="utf-8")
    assert "No plugin provides performance.* metrics" in html
    assert "Explanations are not configured for this log" in html  # no explain table


def test_failing_family_is_noted(seeded, tmp_path):
    install(fakes.BrokenDrift())
    wh, cfg = seeded()
    doc = _load(render(wh, cfg, tmp_path / "out", ("json", "md")))
    notes = doc["sections"]["notes"]["notes"]
    failed = [n for n in notes if n["kind"] == "family_failed"]
    assert len(failed) == 1 and "reference view is gone" in failed[0]["message"]
    assert doc["sections"]["models"]["models"][0]["performance"]["available"]
    (row,) = doc["sections"]["summary"]["models"]
    assert row["findings"]["failed_families"] == ["drift"]
    assert row["findings"]["headline"].startswith("Not assessed: the drift metrics failed")
    assert "Every policy passes" not in row["findings"]["headline"]
    assert doc["status"]["failed_families"] == {"drift": "RuntimeError: reference view is gone"}


def test_no_logs_and_regression(seeded, tmp_path):
    from mlreport.warehouse import Warehouse

    from .conftest import config

    install(fakes.AllFamilies())
    with Warehouse(tmp_path / "empty.duckdb") as wh:
        doc = _load(render(wh, config(tmp_path), tmp_path / "o1", ("json", "md", "html")))
    assert doc["sections"]["summary"]["models"] == []
    assert doc["sections"]["notes"]["notes"][0]["kind"] == "no_logs"
    wh, cfg = seeded(task="regression")
    doc = _load(render(wh, cfg, tmp_path / "o2", ("json", "html")))
    m = doc["sections"]["models"]["models"][0]
    assert m["confusion"] is None and m["calibration"] is None


def test_unseen_categories_are_a_count_not_a_percentage(seeded, tmp_path):
    import re

    install(fakes.AllFamilies())
    wh, cfg = seeded()
    out = render(wh, cfg, tmp_path / "out", ("json", "html"))
    drift = _load(out)["sections"]["models"]["models"][0]["drift"]
    (col,) = [c for c in drift["metrics"] if c["key"] == "unseen_categories"]
    assert col["unit"] == "count"
    html = out["html"].read_text(encoding="utf-8")
    table = html[
        html.index('<table class="data drift">') : html.index(
            "</table>", html.index('<table class="data drift">')
        )
    ]
    index = [c["key"] for c in drift["metrics"]].index("unseen_categories")
    for t in drift["features"]:
        value = t["metrics"].get("unseen_categories")
        if value is None:
            continue
        row = table[table.index(f'<td class="wrap">{t["feature"]}</td>') :]
        cells = re.findall(r'<td class="num">(.*?)</td>', row)
        assert cells[index].split(" <")[0] == f"{value['value']:,.0f}"  # e.g. "1", never "100%"


def test_a_shift_in_the_latest_week_is_flagged_when_the_window_hides_it(
    seeded, tmp_path, monkeypatch
):
    from datetime import timedelta

    monkeypatch.setattr(fakes, "DRIFT_FROM", fakes.AS_OF - timedelta(days=4))
    install(fakes.AllFamilies())
    wh, cfg = seeded()
    doc = _load(render(wh, cfg, tmp_path / "out", ("json",)))
    drift = doc["sections"]["models"]["models"][0]["drift"]
    assert drift["drifted"] == []  # over the whole window the shift is diluted
    assert drift["drifted_latest"] == ["income"]
    (trend,) = drift["trends"]
    assert trend["feature"] == "income" and trend["metric"] == "drift.psi"
    assert trend["points"][-1]["value"] > 0.2 > trend["points"][0]["value"]
    headline = doc["sections"]["summary"]["models"][0]["findings"]["headline"]
    assert "Drifted in the latest week: income." in headline
    assert "No feature drifted" not in headline


def test_a_window_overlapping_the_reference_is_noted(seeded, tmp_path):
    install(fakes.AllFamilies())
    wh, cfg = seeded()
    ctx = context(wh, cfg)
    early = ReportContext(wh, cfg, Window(fakes.REF_SINCE, fakes.AS_OF), fakes.AS_OF)
    out = render_report(early, "quality", ["json"], tmp_path / "out")
    notes = _load(out)["sections"]["notes"]["notes"]
    assert [n["kind"] for n in notes if n["kind"] == "reference_overlap"] == ["reference_overlap"]
    assert ctx.window.start >= fakes.WINDOW_START  # the default window does not overlap
