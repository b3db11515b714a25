"""The sample cloud bill: the FOCUS export the demo's ``billing`` source reads, and the ``cost``
and ``roi`` figures the demo computes from it. Every figure is compared with a plain DuckDB
computation over the export files (the files its manifests list, so the re-delivered June
replaces the earlier delivery), and ROI with a hand computation from the prediction logs."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import polars as pl
import pytest

from mlreport.config import load_config
from mlreport.metrics import Window, compute_metrics
from mlreport.pipeline import sync_all
from mlreport.sample_data import AS_OF, materialize
from mlreport.sample_data import costs as C
from mlreport.sample_data import predictions as P
from mlreport.warehouse import Warehouse

MONTH_DAYS = 365.25 / 12
AS_OF_DT = datetime.fromisoformat(AS_OF.replace("Z", "+00:00"))
DEMO = Window(AS_OF_DT - timedelta(days=90), AS_OF_DT)  # the demo's default window


def at(y: int, m: int, d: int = 1) -> datetime:
    return datetime(y, m, d, tzinfo=UTC)


MONTHS = [Window(at(2026, m), at(2026, m + 1)) for m in range(1, 7)]
WINDOWS = MONTHS + [DEMO]
SOURCES = ["billing", "credit-risk-predictions", "fraud-detector-predictions"]
# Each model's log: (file glob, time column, prediction, label) in plain SQL.
LOGS = {
    "credit-risk": (P.CREDIT_DIR, "ts", "CAST(p_default >= 0.5 AS INTEGER)", "defaulted"),
    "fraud-detector": (
        P.FRAUD_DIR,
        "event_time",
        "CAST(decision = 'decline' AS INTEGER)",
        "CAST(chargeback AS INTEGER)",
    ),
}


@pytest.fixture(scope="module")
def org(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("org")
    config, _ = materialize(out)
    with Warehouse(config.warehouse.path) as wh:
        stats = sync_all(wh, config, SOURCES, fail_fast=True)
    assert [s.error for s in stats] == [None] * 3
    return out


@pytest.fixture(scope="module")
def figures(org) -> pl.DataFrame:
    config = load_config(org / "mlreport.toml")
    with Warehouse(config.warehouse.path) as wh:
        return compute_metrics(wh, config, WINDOWS, ["cost.*", "roi.*"], store=False)


def value(frame: pl.DataFrame, metric: str, entity: str, w: Window) -> float | None:
    hit = frame.filter(
        (pl.col("metric") == metric)
        & (pl.col("entity") == entity)
        & (pl.col("window_start") == w.start)
        & (pl.col("window_end") == w.end)
        & ~pl.col("dimensions").str.contains("service_category")
    )
    assert hit.height == 1, (metric, entity, w, hit)
    return hit["value"][0]


# -- the reference: plain DuckDB over the files ----------------------------------------------


def current_files(org: Path) -> list[Path]:
    """The data files the manifests list (an S3 URI's part after /data/ under data/)."""
    export = org / C.EXPORT_DIR
    files = []
    for m in sorted((export / "metadata").rglob("*Manifest.json")):
        for uri in json.loads(m.read_text())["dataFiles"]:
            files.append(export / "data" / uri.split("/data/", 1)[1])
    return files


def read(files: list[Path]) -> pl.DataFrame:
    listed = "[" + ", ".join(f"'{f}'" for f in files) + "]"
    return (
        duckdb.connect()
        .sql(
            f"""SELECT CAST(ChargePeriodStart AS TIMESTAMP) AS start, ChargeCategory, ChargeClass,
                   ResourceId, Tags, json_extract_string(Tags, '$."user:ml-model"') AS tag,
                   CAST(EffectiveCost AS DECIMAL(38, 10)) AS effective,
                   CAST(BilledCost AS DECIMAL(38, 10)) AS billed,
                   CAST(ListCost AS DECIMAL(38, 10)) AS list, filename
            FROM read_csv({listed}, all_varchar = true, nullstr = 'NULL', filename = true)"""
        )
        .pl()
        .with_columns(
            pl.col("start").dt.replace_time_zone("UTC"),
            pl.col("tag")
            .replace({"platform": "shared"})
            .str.replace(r"^fraud-detector-.*$", "fraud-detector")
            .alias("payer"),
        )
    )


@pytest.fixture(scope="module")
def bill(org) -> pl.DataFrame:
    return read(current_files(org))


def in_window(frame: pl.DataFrame, w: Window, col: str = "start") -> pl.DataFrame:
    return frame.filter((pl.col(col) >= w.start) & (pl.col(col) < w.end))


def total(frame: pl.DataFrame, col: str = "effective") -> float:
    return float(frame[col].sum()) if frame.height else 0.0


@pytest.fixture(scope="module")
def logs(org) -> dict[str, pl.DataFrame]:
    out = {}
    for entity, (folder, ts, pred, label) in LOGS.items():
        out[entity] = (
            duckdb.connect()
            .sql(
                f"SELECT {ts} AS ts, {pred} AS prediction, {label} AS label "
                f"FROM '{org / folder}/*.parquet'"
            )
            .pl()
            .with_columns(pl.col("ts").dt.convert_time_zone("UTC"))
        )
    return out


def predictions(logs: dict[str, pl.DataFrame], entity: str, w: Window) -> int:
    return in_window(logs[entity], w, "ts").height


def allocated(bill, logs, entity: str, w: Window, col: str = "effective") -> float:
    """Direct rows plus the share of shared rows by the window's predictions (both models
    have logs; recsys-api has none, so gets no share)."""
    rows = in_window(bill, w)
    direct = total(rows.filter(pl.col("payer") == entity), col)
    if entity not in logs:
        return direct
    counts = {e: predictions(logs, e, w) for e in logs}
    shared = total(rows.filter(pl.col("payer") == "shared"), col)
    if not shared:
        return direct
    return direct + shared * counts[entity] / sum(counts.values())


# -- the files --------------------------------------------------------------------------------


def test_the_export_is_laid_out_as_aws_data_exports_writes_it(org):
    export = org / C.EXPORT_DIR
    periods = [f"2026-0{m}" for m in range(1, 7)]
    for p in periods:
        manifest = export / "metadata" / f"BILLING_PERIOD={p}" / f"{C.EXPORT}-Manifest.json"
        doc = json.loads(manifest.read_text())
        assert set(doc) == {
            "executionId",
            "exportArn",
            "columns",
            "dataFiles",
            "additionalOutputFiles",
        }
        assert doc["dataFiles"] == [
            f"s3://sample-org-billing/exports/{C.EXPORT}/data/BILLING_PERIOD={p}/"
            f"{C.EXPORT}-00001.csv.gz"
        ]
        assert [c["name"] for c in doc["columns"]] == list(C.COLUMNS)
    data = sorted(p.relative_to(export).as_posix() for p in (export / "data").rglob("*.csv.gz"))
    assert len(data) == 7  # one part per period, and the stale June part
    first = (export / "data/BILLING_PERIOD=2026-01" / f"{C.EXPORT}-00001.csv.gz").read_bytes()
    assert first[4:8] == b"\0\0\0\0"  # gzip header without a time: reproducible bytes
    total_rows = sum(len(r) for r in C.periods().values())
    assert 1000 < total_rows < 3000


def test_the_stale_june_part_is_listed_by_no_manifest_and_the_sync_leaves_it_out(org, bill):
    stale = org / C.EXPORT_DIR / "data/BILLING_PERIOD=2026-06" / f"{C.EXPORT}-00002.csv.gz"
    assert stale.is_file() and stale not in current_files(org)
    june = MONTHS[5]
    naive = read(sorted((org / C.EXPORT_DIR / "data").rglob("*.csv.gz")))
    extra = total(in_window(naive, june)) - total(in_window(bill, june))
    assert extra > 100  # a plain glob would count 10-17 June twice
    with Warehouse(org / "mlreport.duckdb", read_only=True) as wh:
        superseded, files = wh.con.execute(
            "SELECT superseded, files FROM cost_exports WHERE export = 'billing'"
        ).fetchone()
        in_view = wh.con.execute(
            "SELECT sum(effective_cost) FROM cost_rows WHERE source = 'billing' "
            "AND charge_period_start >= ? AND charge_period_start < ?",
            [june.start, june.end],
        ).fetchone()[0]
    assert json.loads(superseded) == [str(stale)]
    assert sorted(f["path"] for f in json.loads(files)) == sorted(map(str, current_files(org)))
    assert float(in_view) == total(in_window(bill, june))


def test_the_bill_has_a_negative_credit_a_correction_and_an_untagged_resource(org, bill):
    credit = bill.filter(pl.col("ChargeCategory") == "Credit")
    assert credit.height == 1 and float(credit["effective"][0]) == -250.0
    assert credit["payer"][0] == "fraud-detector"
    correction = bill.filter(pl.col("ChargeClass") == "Correction")
    assert correction.height == 1
    assert Path(correction["filename"][0]).parent.name == "BILLING_PERIOD=2026-06"
    assert correction["start"][0] == at(2026, 5)  # delivered in June, counts in May
    untagged = bill.filter(pl.col("Tags").is_null())
    assert untagged["ResourceId"].unique().to_list() == [
        "arn:aws:sagemaker:eu-west-1:210987654321:notebook-instance/gpu-scratch"
    ]
    with Warehouse(org / "mlreport.duckdb", read_only=True) as wh:
        rows = wh.con.execute(
            "SELECT charge_category, charge_class, effective_cost, entity FROM cost_rows "
            "WHERE charge_category = 'Credit' OR charge_class = 'Correction' ORDER BY 1"
        ).fetchall()
    assert [(r[0], r[1], float(r[2]), r[3]) for r in rows] == [
        ("Credit", None, -250.0, "fraud-detector"),
        ("Usage", "Correction", 41.6, "credit-risk"),
    ]


def test_a_fresh_process_writes_the_same_bytes():
    code = (
        "import hashlib, json; from mlreport.sample_data import costs; "
        "print(json.dumps({k: hashlib.sha256(v).hexdigest() "
        "for k, v in costs.outputs().items()}))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "123"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    here = {k: hashlib.sha256(v).hexdigest() for k, v in C.outputs().items()}
    assert json.loads(out.stdout) == here


def test_a_second_materialize_rewrites_no_export_file(org):
    before = {p: p.stat().st_mtime_ns for p in (org / C.EXPORT_DIR).rglob("*") if p.is_file()}
    assert C.write_outputs(org) == []
    after = {p: p.stat().st_mtime_ns for p in (org / C.EXPORT_DIR).rglob("*") if p.is_file()}
    assert after == before


# -- the cost figures -------------------------------------------------------------------------


@pytest.mark.parametrize("w", WINDOWS, ids=lambda w: f"{w.start:%m-%d}")
def test_cost_figures_equal_plain_duckdb_over_the_manifest_files(figures, bill, logs, w):
    for entity in ("credit-risk", "fraud-detector", "recsys-api"):
        for metric, col in (("cost.total", "effective"), ("cost.billed", "billed")):
            want = allocated(bill, logs, entity, w, col)
            assert value(figures, metric, entity, w) == pytest.approx(want, rel=1e-12)
        want_list = allocated(bill, logs, entity, w, "list")
        assert value(figures, "cost.list", entity, w) == pytest.approx(want_list, rel=1e-12)
    for entity in logs:
        per_1k = allocated(bill, logs, entity, w) / predictions(logs, entity, w) * 1000
        got = value(figures, "cost.per_1k_predictions", entity, w)
        assert got == pytest.approx(per_1k, rel=1e-12)
    rows = in_window(bill, w)
    untagged = total(rows.filter(pl.col("Tags").is_null()))
    assert value(figures, "cost.unattributed", "(all)", w) == pytest.approx(untagged, abs=1e-9)
    everything = total(rows)
    share = value(figures, "cost.unattributed_share", "(all)", w)
    assert share == pytest.approx(untagged / everything, abs=1e-12)


def test_the_credit_lowers_april_and_the_correction_raises_may(figures, bill, logs):
    apr, may = MONTHS[3], MONTHS[4]
    without_credit = bill.filter(pl.col("ChargeCategory") != "Credit")
    gap = allocated(bill, logs, "fraud-detector", apr) - allocated(
        without_credit, logs, "fraud-detector", apr
    )
    assert gap == pytest.approx(-250.0, abs=1e-9)
    assert value(figures, "cost.savings", "fraud-detector", apr) == pytest.approx(250.0)
    without_fix = bill.filter(pl.col("ChargeClass").is_null())
    fix = allocated(bill, logs, "credit-risk", may) - allocated(
        without_fix, logs, "credit-risk", may
    )
    assert fix == pytest.approx(41.6, abs=1e-9)


def test_the_gpu_models_cost_per_1k_predictions_rises_after_the_bigger_instances(figures):
    per_1k = {
        w.start.month: value(figures, "cost.per_1k_predictions", "fraud-detector", w)
        for w in MONTHS
    }
    before = max(per_1k[1], per_1k[2])  # g4dn.xlarge all month
    after = min(per_1k[4], per_1k[5], per_1k[6])  # g5.2xlarge all month
    assert after > 1.8 * before
    steady = {
        w.start.month: value(figures, "cost.per_1k_predictions", "credit-risk", w) for w in MONTHS
    }
    assert max(steady.values()) < 1.3 * min(steady.values())  # no change there


# -- ROI --------------------------------------------------------------------------------------


def month_windows(start: datetime, end: datetime) -> list[Window]:
    out, a = [], start
    while a < end:
        b = at(a.year + a.month // 12, a.month % 12 + 1)
        out.append(Window(a, min(b, end)))
        a = b
    return out


def hand_flow(bill, logs, entity: str, w: Window) -> tuple[float, float]:
    """(value, TCO) of one window from the settings in sample_data/costs.py."""
    s = C.ROI[entity]
    share = (w.end - w.start).total_seconds() / 86400 / MONTH_DAYS
    log = in_window(logs[entity], w, "ts")
    tp = log.filter((pl.col("prediction") == 1) & (pl.col("label") == 1)).height
    fp = log.filter((pl.col("prediction") == 1) & (pl.col("label") == 0)).height
    value = (
        log.height * s.get("value_per_prediction", 0)
        + tp * s.get("value_per_true_positive", 0)
        - fp * s.get("cost_per_false_positive", 0)
    )
    monthly = s["people_cost_per_month"] + s["tooling_cost_per_month"]
    return value, allocated(bill, logs, entity, w) + monthly * share


@pytest.mark.parametrize("entity", ["credit-risk", "fraud-detector"])
def test_roi_figures_match_a_hand_computation(figures, bill, logs, entity):
    val, tco = hand_flow(bill, logs, entity, DEMO)
    assert value(figures, "roi.value", entity, DEMO) == pytest.approx(val, rel=1e-12)
    assert value(figures, "roi.tco", entity, DEMO) == pytest.approx(tco, rel=1e-12)
    assert value(figures, "roi.net", entity, DEMO) == pytest.approx(val - tco, rel=1e-12)
    assert value(figures, "roi.roi", entity, DEMO) == pytest.approx((val - tco) / tco, rel=1e-12)
    start = C.ROI[entity]["roi_start"]
    months = month_windows(at(start.year, start.month, start.day), DEMO.end)
    flows = [v - t for v, t in (hand_flow(bill, logs, entity, m) for m in months)]
    cumulative, payback = 0.0, None
    for k, f in enumerate(flows, start=1):
        cumulative += f
        if cumulative >= 0:
            payback = k
            break
    r = C.ROI[entity]["discount_rate"]
    npv = sum(f / (1 + r) ** (m / 12) for m, f in enumerate(flows))
    assert value(figures, "roi.payback_months", entity, DEMO) == payback
    assert value(figures, "roi.npv", entity, DEMO) == pytest.approx(npv, rel=1e-9)


def test_one_model_pays_back_and_the_other_does_not(figures):
    assert value(figures, "roi.payback_months", "fraud-detector", DEMO) == 5  # March 2026
    assert value(figures, "roi.payback_months", "credit-risk", DEMO) is None
    assert value(figures, "roi.roi", "fraud-detector", DEMO) > 1
    assert value(figures, "roi.roi", "credit-risk", DEMO) < 0
    assert date(2025, 11, 1) == C.ROI["fraud-detector"]["roi_start"]  # built before it served
