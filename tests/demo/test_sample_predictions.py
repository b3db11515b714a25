"""The sample prediction logs and model: the files the predictions source, the metric families
and the quality report run on in the demo. Checked here on the raw files, without mlreport's
own metric code: plain numpy for PSI and selection rates, DuckDB only to apply the config's
column mappings."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pytest

from mlreport.config import load_config
from mlreport.sample_data import AS_OF, materialize
from mlreport.sample_data import predictions as P

AS_OF_DT = datetime.fromisoformat(AS_OF.replace("Z", "+00:00"))
WINDOW_START = AS_OF_DT - timedelta(days=90)  # the demo's default metrics window
LOGS = {"credit-risk-predictions": P.CREDIT_DIR, "fraud-detector-predictions": P.FRAUD_DIR}


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("org")
    materialize(out)
    return out


@pytest.fixture(scope="module")
def sources(demo) -> dict[str, dict]:
    config = load_config(demo / "mlreport.toml")
    return {s.name: s.options for s in config.sources if s.type == "predictions"}


def mapped(demo: Path, options: dict, path: str | None = None) -> pl.DataFrame:
    """The log as the view contract describes it, by applying the config's mappings in DuckDB."""
    cols = options["columns"]
    feats = options["features"]
    select = [
        f"{cols['timestamp']} AS ts",
        f"CAST({cols['prediction']} AS DOUBLE) AS prediction",
        f"CAST({cols['score']} AS DOUBLE) AS score",
        f"CAST({cols['label']} AS DOUBLE) AS label",
        f"CAST({cols['model_version']} AS VARCHAR) AS model_version",
    ]
    select += [f'CAST("{f}" AS DOUBLE) AS "{f}"' for f in feats["numeric"]]
    select += [
        f'CAST("{f}" AS VARCHAR) AS "{f}"' for f in feats["categorical"] + feats["sensitive"]
    ]
    prefix = options.get("explain", {}).get("shap_prefix")
    if prefix:
        select += [f'"{prefix}{f}" AS "shap__{f}"' for f in options["explain"]["features"]]
    glob = str(demo / (path or options["path"]))
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    return con.sql(f"SELECT {', '.join(select)} FROM read_parquet(?)", params=[glob]).pl()


def window(frame: pl.DataFrame, start: datetime, end: datetime) -> pl.DataFrame:
    return frame.filter((pl.col("ts") >= start) & (pl.col("ts") < end))


def psi(ref: np.ndarray, cur: np.ndarray) -> float:
    """DESIGN.md's PSI: reference deciles, searchsorted left, proportions floored at 1e-4."""
    edges = np.unique(np.quantile(ref, np.arange(1, 10) / 10))
    r = np.bincount(np.searchsorted(edges, ref, "left"), minlength=edges.size + 1) / ref.size
    c = np.bincount(np.searchsorted(edges, cur, "left"), minlength=edges.size + 1) / cur.size
    r, c = np.maximum(r, 1e-4), np.maximum(c, 1e-4)
    return float(np.sum((c - r) * np.log(c / r)))


def selection_rates(frame: pl.DataFrame, feature: str) -> dict[str, float]:
    rows = frame.group_by(feature).agg(pl.col("prediction").mean()).iter_rows()
    return dict(rows)


@pytest.fixture(scope="module")
def credit(demo, sources) -> pl.DataFrame:
    return mapped(demo, sources["credit-risk-predictions"])


@pytest.fixture(scope="module")
def fraud(demo, sources) -> pl.DataFrame:
    return mapped(demo, sources["fraud-detector-predictions"])


def test_logs_are_monthly_parquet_files_of_tens_of_thousands_of_rows(demo):
    for folder in LOGS.values():
        files = sorted(p.name for p in (demo / folder).iterdir())
        assert files == [f"2026-0{m}.parquet" for m in range(1, 7)]
        rows = [pl.read_parquet(demo / folder / f).height for f in files]
        assert all(r > 4000 for r in rows), rows
        assert 20_000 <= sum(rows) <= 80_000, rows


def test_config_maps_every_contract_column(credit, fraud, sources):
    """Each mapping expression runs on the files and yields the contract's types and values."""
    for frame, name in ((credit, "credit-risk-predictions"), (fraud, "fraud-detector-predictions")):
        opts = sources[name]
        assert opts["task"] == "classification"
        assert frame.schema["ts"] == pl.Datetime("us", "UTC")
        assert frame["ts"].min() >= P.START and frame["ts"].max() < AS_OF_DT
        assert set(frame["prediction"].unique()) == {0.0, 1.0}
        assert set(frame["label"].drop_nulls().unique()) == {0.0, 1.0}
        assert frame["score"].null_count() == 0
        assert frame["score"].min() >= 0 and frame["score"].max() <= 1
        assert frame["prediction"].to_list() == (frame["score"] >= 0.5).cast(pl.Float64).to_list()
        assert frame["model_version"].null_count() == 0
        feats = opts["features"]
        for f in feats["categorical"] + feats["sensitive"]:
            assert frame[f].null_count() == 0, f


def test_fraud_reference_file_maps_the_same_way(demo, sources, fraud):
    opts = sources["fraud-detector-predictions"]
    ref = mapped(demo, opts, opts["reference"]["path"])
    assert ref.schema == fraud.schema
    assert ref.height == P.FRAUD_REFERENCE_ROWS and ref["label"].null_count() == 0
    assert set(ref["model_version"]) == {P.FRAUD_VERSIONS[1]}


def test_labels_arrive_late(credit, fraud):
    """No credit outcome is known for the last 30 days; older rows are mostly labelled."""
    late = window(credit, AS_OF_DT - timedelta(days=30), AS_OF_DT)
    assert late.height > 5000 and late["label"].null_count() == late.height
    early = window(credit, P.START, AS_OF_DT - timedelta(days=120))
    assert early["label"].is_null().mean() < 0.001  # a few outcomes take months
    demo_window = window(credit, WINDOW_START, AS_OF_DT)
    assert 0.3 < demo_window["label"].is_not_null().mean() < 0.8
    last_week = window(fraud, AS_OF_DT - timedelta(days=7), AS_OF_DT)
    assert last_week["label"].null_count() == last_week.height


def test_model_version_changes_once(credit, fraud):
    for frame, versions, at in (
        (credit, P.CREDIT_VERSIONS, P.CREDIT_SWITCH),
        (fraud, P.FRAUD_VERSIONS, P.FRAUD_SWITCH),
    ):
        before, after = window(frame, P.START, at), window(frame, at, AS_OF_DT)
        assert set(before["model_version"]) == {versions[0]}
        assert set(after["model_version"]) == {versions[1]}


def test_the_model_versions_are_the_deployed_ones():
    """The switch times are production deployments of those model versions in the events."""
    from tests.demo.records import records

    deployments, _ = records()["credit-risk"]
    prod = {
        (d["finished_at"], d["model_version"])
        for d in deployments
        if d["environment"] == "production"
    }
    assert (P.CREDIT_SWITCH.strftime("%Y-%m-%dT%H:%M:%SZ"), P.CREDIT_VERSIONS[1]) in prod
    deployments, _ = records()["fraud-detector"]
    first = {}
    for d in sorted(deployments, key=lambda d: d["finished_at"]):
        if d["environment"] == "production" and d["status"] != "failure":
            first.setdefault(d["model_version"], d["finished_at"])
    assert first[P.FRAUD_VERSIONS[1]] == P.FRAUD_SWITCH.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_income_drifts_and_a_new_region_appears_after_mid_may(credit, sources):
    ref_opts = sources["credit-risk-predictions"]["reference"]
    since, until = (
        datetime.fromisoformat(ref_opts[k]).replace(tzinfo=UTC) for k in ("since", "until")
    )
    assert until <= P.DRIFT_AT
    ref = window(credit, since, until)
    current = window(credit, WINDOW_START, AS_OF_DT)
    after = window(credit, P.DRIFT_AT, AS_OF_DT)
    before = window(credit, WINDOW_START, P.DRIFT_AT)
    income = ref["income"].to_numpy()
    assert psi(income, current["income"].to_numpy()) > 0.25
    assert psi(income, after["income"].to_numpy()) > 0.5
    assert psi(income, before["income"].to_numpy()) < 0.05
    for f in ("debt_ratio", "age", "utilisation", "credit_history_months"):
        assert psi(ref[f].to_numpy(), current[f].to_numpy()) < 0.05, f
    assert P.NEW_REGION not in set(ref["region"]) | set(before["region"])
    assert 0.4 < (after["region"] == P.NEW_REGION).mean() < 0.8
    ref_missing = ref["employment_years"].is_null().mean()
    assert 0 < ref_missing < after["employment_years"].is_null().mean()


def test_young_applicants_are_flagged_far_more_often(credit):
    """The age_band selection-rate ratio (min ÷ max) is far under 0.8; sex's is not."""
    current = window(credit, WINDOW_START, AS_OF_DT)
    by_age = selection_rates(current, "age_band")
    assert set(by_age) == set(P.AGE_BANDS)
    assert min(by_age.values()) / max(by_age.values()) < 0.8
    assert max(by_age, key=by_age.get) == "18-25"
    by_sex = selection_rates(current, "sex")
    assert min(by_sex.values()) / max(by_sex.values()) > 0.9
    counts = current.group_by("sex", "age_band").len()["len"]
    assert counts.len() == 8 and counts.min() >= 100  # every intersection is large enough


def test_fraud_scores_jump_for_ecom_after_release_2_20(fraud):
    before = window(fraud, WINDOW_START, P.FRAUD_BUG_AT)
    after = window(fraud, P.FRAUD_BUG_AT, AS_OF_DT)
    rate = {
        name: selection_rates(frame, "channel")["ecom"]
        for name, frame in (("before", before), ("after", after))
    }
    assert rate["after"] > 4 * rate["before"]


def test_the_model_loads_with_skops_and_scored_the_log(demo, sources, credit):
    """The model file is model 24: it reproduces the logged scores from the log's features."""
    import skops.io as sio

    explain = sources["credit-risk-predictions"]["explain"]
    assert explain["trusted"] is True
    path = demo / explain["model"]
    model = sio.load(path, trusted=sio.get_untrusted_types(file=path))
    features = explain["features"]
    numeric = sources["credit-risk-predictions"]["features"]["numeric"]
    assert set(features) <= set(numeric)
    assert list(model.feature_names_in_) == features
    rows = credit.filter(pl.col("model_version") == P.CREDIT_VERSIONS[1])
    assert rows.height > 3000
    scores = model.predict_proba(rows.select(features).to_pandas())[:, 1]
    np.testing.assert_array_equal(np.round(scores, 6), rows["score"].to_numpy())


def test_logged_shap_values_add_up_to_the_fraud_log_odds(fraud, sources):
    """Precomputed SHAP (linear model, log-odds): base value + Σ SHAP = logit(score)."""
    features = sources["fraud-detector-predictions"]["explain"]["features"]
    for version in P.FRAUD_MODELS:
        rows = fraud.filter((pl.col("model_version") == version) & (pl.col("ts") < P.FRAUD_BUG_AT))
        score = rows["score"].to_numpy()
        inner = (score > 1e-4) & (score < 1 - 1e-4)  # rounding to 6 places elsewhere
        total = sum(rows[f"shap__{f}"].to_numpy() for f in features)
        base = np.log(score / (1 - score)) - total
        assert np.ptp(base[inner]) < 0.05, version


def test_the_demo_config_has_the_policies_and_the_quality_report(demo):
    config = load_config(demo / "mlreport.toml")
    policies = config.policies
    assert policies["performance.accuracy"].min == 0.8
    assert (policies["drift.psi"].max, policies["drift.psi"].severity) == (0.2, "warn")
    assert policies["fairness.demographic_parity_ratio"].min == 0.8
    assert ("quality", ["html", "pdf", "json", "md"]) in [
        (r.type, r.formats) for r in config.reports
    ]


def test_writing_again_touches_nothing_and_repairs_a_changed_file(demo):
    assert P.write_outputs(demo) == []
    damaged = demo / P.CREDIT_DIR / "2026-03.parquet"
    damaged.write_bytes(b"not parquet")
    assert P.write_outputs(demo) == [damaged]
    assert pl.read_parquet(damaged).height > 0


def _digests(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.suffix in (".parquet", ".skops")
    }


@pytest.mark.slow
def test_a_fresh_process_writes_the_same_bytes(demo, tmp_path):
    """Determinism across processes, hash seeds and time zones (skops ids, zip times)."""
    env = dict(os.environ, PYTHONHASHSEED="777", TZ="America/Lima")
    code = (
        "import sys, pathlib; from mlreport.sample_data.predictions import write_outputs; "
        "write_outputs(pathlib.Path(sys.argv[1]))"
    )
    subprocess.run([sys.executable, "-c", code, str(tmp_path)], check=True, env=env)
    mine = _digests(tmp_path)
    assert len(mine) == 14
    assert mine == _digests(demo)
