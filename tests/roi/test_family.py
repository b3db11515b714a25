"""``roi`` figures against hand-computed cases over a real warehouse: cloud cost from FOCUS
files (the cost family's allocation), predictions from a prediction log or ``requests`` usage,
true and false positives from the log's labels; payback and NPV month by month."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import numpy_financial as npf
import polars as pl
import pytest

from mlreport.config import ConfigError, load_config
from mlreport.metrics import MetricRequest, Window, compute_metrics, run_metrics
from mlreport.warehouse import Warehouse
from tests.focus.builder import FocusWorld, charge, write_csv
from tests.performance.builder import add_log

MONTH = 365.25 / 12


def at(y: int, m: int, d: int = 1) -> datetime:
    return datetime(y, m, d, tzinfo=UTC)


JAN, FEB, MAR = (Window(at(2026, m), at(2026, m + 1)) for m in (1, 2, 3))
Q1 = Window(at(2026, 1), at(2026, 4))


def days(w: Window) -> float:
    return (w.end - w.start).days


BILLS = {
    "2026-01": [("fraud", "300"), ("fraud", "-20"), ("costly", "50"), ("search", "10")],
    "2026-02": [("fraud", "280"), ("costly", "50"), ("search", "10")],
    "2026-03": [("fraud", "310"), ("costly", "50"), ("search", "10")],
}
FRAUD_CLOUD = {JAN: 280.0, FEB: 280.0, MAR: 310.0}

# Fraud log per month: (TP, FP, FN, TN)
CONFUSION = {JAN: (30, 10, 5, 55), FEB: (12, 28, 3, 57), MAR: (40, 2, 1, 7)}

ENTITIES = """
[[entities]]
name = "fraud"
kind = "model"
value_per_true_positive = 50
cost_per_false_positive = 5
people_cost_per_month = 200
tooling_cost_per_month = 100
roi_start = 2026-01-01
discount_rate = 0.1
currency = "USD"

[[entities]]
name = "costly"
value_per_month = 100
people_cost_per_month = 1000
roi_start = 2026-01-01
discount_rate = 0.05

[[entities]]
name = "free"
value_per_prediction = 0.01

[[entities]]
name = "search"
value_per_prediction = 0.002
tooling_cost_per_month = 20
roi_start = 2026-01-15
"""

REQUESTS = {"free": {JAN: 1000.0, FEB: 500.0}, "search": {JAN: 2000.0, FEB: 8000.0, MAR: 30000.0}}


def log_rows(window: Window, tp: int, fp: int, fn: int, tn: int) -> list[dict]:
    ts = window.start.replace(day=10)
    pairs = [(1, 1)] * tp + [(0, 1)] * fp + [(1, 0)] * fn + [(0, 0)] * tn
    return [
        {"model_version": "3", "ts": ts, "prediction": float(p), "score": None, "label": float(y)}
        for y, p in pairs
    ]


def build(tmp_path, entities: str = ENTITIES, bills=BILLS) -> FocusWorld:
    world = FocusWorld(tmp_path)
    for period, rows in bills.items():
        charges = [
            charge(cost, tags={"ml-model": e}, start=f"{period}-05 10:00:00", period=period)
            for e, cost in rows
        ]
        write_csv(tmp_path / f"bills/{period}.csv", charges)
    world.config(extra=entities, path="bills/*.csv", entity_tag="ml-model")
    world.sync()
    with Warehouse(tmp_path / "wh.duckdb") as wh:
        rows = [r for w, c in CONFUSION.items() for r in log_rows(w, *c)]
        add_log(wh, "fraud-log", rows, entity="fraud")
        for entity, months in REQUESTS.items():
            for w, n in months.items():
                wh.con.execute(
                    "INSERT INTO usage (source, entity, metric, ts, value) "
                    "VALUES ('gateway', ?, 'requests', ?, ?)",
                    [entity, w.start.replace(day=3), n],
                )
    return world


def compute(world: FocusWorld, windows, pattern="roi.*") -> pl.DataFrame:
    config = load_config(world.root / "mlreport.toml")
    with Warehouse(config.warehouse.path) as wh:
        return compute_metrics(wh, config, list(windows), pattern, store=False)


def value(frame: pl.DataFrame, metric: str, entity: str, window: Window) -> float | None:
    hit = frame.filter(
        (pl.col("metric") == metric)
        & (pl.col("entity") == entity)
        & (pl.col("window_start") == window.start)
        & (pl.col("window_end") == window.end)
    )
    assert hit.height == 1, (metric, entity, window, hit)
    return hit["value"].item()


def fraud_flow(w: Window) -> tuple[float, float]:
    tp, fp, _, _ = CONFUSION[w]
    return tp * 50 - fp * 5, FRAUD_CLOUD[w] + 300 * days(w) / MONTH


@pytest.fixture
def world(tmp_path):
    return build(tmp_path)


def test_fraud_value_follows_measured_precision(world):
    got = compute(world, [JAN, FEB, MAR, Q1], ["roi.*", "performance.precision"])
    for w in (JAN, FEB, MAR):
        tp, fp, _, _ = CONFUSION[w]
        overall = got.filter(pl.col("dimensions") == "{}")
        precision = value(overall, "performance.precision", "fraud", w)
        assert precision == tp / (tp + fp)
        flagged = tp + fp
        assert value(got, "roi.value", "fraud", w) == pytest.approx(
            flagged * (precision * 50 - (1 - precision) * 5), abs=1e-9
        )
        v, c = fraud_flow(w)
        assert value(got, "roi.tco", "fraud", w) == pytest.approx(c, abs=1e-9)
        assert value(got, "roi.net", "fraud", w) == pytest.approx(v - c, abs=1e-9)
        assert value(got, "roi.roi", "fraud", w) == pytest.approx((v - c) / c, abs=1e-12)
    # February: precision 0.3, so 12 × 50 − 28 × 5 = 460 against 280 + 300 × 28/30.4375
    assert value(got, "roi.value", "fraud", FEB) == 460.0
    q1_value = sum(fraud_flow(w)[0] for w in (JAN, FEB, MAR))
    assert value(got, "roi.value", "fraud", Q1) == pytest.approx(q1_value, abs=1e-9)
    dims = got.filter(pl.col("metric").str.starts_with("roi.") & (pl.col("entity") == "fraud"))
    assert set(dims["dimensions"]) == {json.dumps({"currency": "USD"}, separators=(",", ":"))}


def test_payback_month_and_npv_against_numpy_financial(world):
    got = compute(world, [JAN, FEB, MAR, Q1])
    flows = [fraud_flow(w) for w in (JAN, FEB, MAR)]
    nets = [v - c for v, c in flows]
    # by hand: January 1450 − (280 + 300·31/30.4375) > 0, so it pays back in month 1
    cumulative = [sum(nets[: i + 1]) for i in range(3)]
    expected = next(i + 1 for i, c in enumerate(cumulative) if c >= 0)
    assert expected == 1 and nets[0] > 0
    assert value(got, "roi.payback_months", "fraud", Q1) == 1
    rate = 1.1 ** (1 / 12) - 1
    assert value(got, "roi.npv", "fraud", Q1) == pytest.approx(npf.npv(rate, nets), rel=1e-12)
    manual = sum(n / 1.1 ** (m / 12) for m, n in enumerate(nets))
    assert value(got, "roi.npv", "fraud", Q1) == pytest.approx(manual, rel=1e-12)
    # each window's payback and NPV run from roi_start to the window's end
    assert value(got, "roi.npv", "fraud", FEB) == pytest.approx(npf.npv(rate, nets[:2]), rel=1e-12)


def test_payback_exact_month_from_a_mid_month_start(world):
    """search: 0.002 per request, tooling 20 a month, cloud 10 a month, from 15 January.
    Requests land on the 3rd and bills on the 5th of each month, so January's fall before
    the start; month 1 = [15 Jan, 15 Feb) holds February's, month 3 = [15 Mar, 1 Apr) none."""
    got = compute(world, [Q1])
    months = [
        Window(at(2026, 1, 15), at(2026, 2, 15)),
        Window(at(2026, 2, 15), at(2026, 3, 15)),
        Window(at(2026, 3, 15), at(2026, 4, 1)),
    ]
    value_m = [8000 * 0.002, 30000 * 0.002, 0.0]
    cost_m = [10 + 20 * days(months[0]) / MONTH, 10 + 20 * days(months[1]) / MONTH]
    cost_m.append(20 * days(months[2]) / MONTH)
    cumulative = [sum(value_m[: i + 1]) - sum(cost_m[: i + 1]) for i in range(3)]
    assert [c >= 0 for c in cumulative] == [False, True, True]
    assert value(got, "roi.payback_months", "search", Q1) == 2
    assert value(got, "roi.value", "search", Q1) == pytest.approx(40000 * 0.002, abs=1e-12)


def test_never_paying_back_gives_null_with_a_note(world):
    config = load_config(world.root / "mlreport.toml")
    with Warehouse(config.warehouse.path) as wh:
        run = run_metrics(wh, config, [MetricRequest("roi.*", (Q1,), details=True)])
    got = run.values
    assert value(got, "roi.payback_months", "costly", Q1) is None
    nets = [100 * days(w) / MONTH - 50 - 1000 * days(w) / MONTH for w in (JAN, FEB, MAR)]
    rate = 1.05 ** (1 / 12) - 1
    assert value(got, "roi.npv", "costly", Q1) == pytest.approx(npf.npv(rate, nets), rel=1e-12)
    notes = run.details["roi_notes"].filter(pl.col("entity") == "costly")["note"].to_list()
    assert notes == ["never pays back within the 3 months from 2026-01-01"]
    december = Window(at(2025, 12), at(2026, 1))
    with Warehouse(config.warehouse.path) as wh:
        run = run_metrics(wh, config, [MetricRequest("roi.*", (december,), details=True)])
    assert run.values.filter(pl.col("metric") == "roi.payback_months").is_empty()
    notes = run.details["roi_notes"].filter(pl.col("entity") == "costly")["note"].to_list()
    assert notes == ["roi_start 2026-01-01 is not before the window's end: no payback, NPV"]


def test_zero_cost_gives_null_roi_and_a_note(world):
    config = load_config(world.root / "mlreport.toml")
    with Warehouse(config.warehouse.path) as wh:
        run = run_metrics(wh, config, [MetricRequest("roi.*", (JAN,), details=True)])
    got = run.values
    assert value(got, "roi.value", "free", JAN) == pytest.approx(10.0, abs=1e-12)
    assert value(got, "roi.tco", "free", JAN) == 0.0
    assert value(got, "roi.net", "free", JAN) == pytest.approx(10.0, abs=1e-12)
    assert value(got, "roi.roi", "free", JAN) is None
    notes = run.details["roi_notes"].filter(pl.col("entity") == "free")["note"].to_list()
    assert notes == ["TCO is 0: roi.roi is undefined (null)"]
    with Warehouse(config.warehouse.path) as wh:
        run = run_metrics(wh, config, [MetricRequest("roi.*", (MAR,), details=True)])
    assert value(run.values, "roi.value", "free", MAR) == 0.0
    notes = run.details["roi_notes"].filter(pl.col("entity") == "free")["note"].to_list()
    assert notes == [
        "no predictions in the window (prediction log or requests usage)",
        "TCO is 0: roi.roi is undefined (null)",
    ]
    # no roi_start: no payback or NPV rows
    assert got.filter(
        (pl.col("entity") == "free") & pl.col("metric").is_in(["roi.npv", "roi.payback_months"])
    ).is_empty()


def test_negative_value_when_false_positives_cost_more(tmp_path):
    entities = ENTITIES.replace("cost_per_false_positive = 5", "cost_per_false_positive = 40")
    got = compute(build(tmp_path, entities), [FEB])
    v = 12 * 50 - 28 * 40  # −520
    c = 280 + 300 * 28 / MONTH
    assert value(got, "roi.value", "fraud", FEB) == v
    assert value(got, "roi.net", "fraud", FEB) == pytest.approx(v - c, abs=1e-9)
    assert value(got, "roi.roi", "fraud", FEB) == pytest.approx((v - c) / c, abs=1e-12)
    assert value(got, "roi.roi", "fraud", FEB) < -1


def test_currencies_are_never_added(tmp_path):
    bills = {**BILLS, "2026-02": BILLS["2026-02"]}
    world = build(tmp_path, bills=bills)
    eur = [
        charge(
            "99",
            tags={"ml-model": "fraud"},
            currency="EUR",
            start="2026-02-07 00:00:00",
            period="2026-02",
        )
    ]
    write_csv(tmp_path / "bills/eur.csv", eur)
    world.sync()
    got = compute(world, [JAN, FEB, Q1])
    # fraud is in USD: January's TCO stands; February's cannot add the EUR bill, so no TCO,
    # and no payback or NPV over a span that includes February
    assert value(got, "roi.tco", "fraud", JAN) == pytest.approx(fraud_flow(JAN)[1], abs=1e-9)
    fraud = got.filter(pl.col("entity") == "fraud")
    assert fraud.filter(pl.col("window_start") == FEB.start)["metric"].to_list() == ["roi.value"]
    assert (
        fraud.filter(pl.col("metric").is_in(["roi.npv", "roi.payback_months"]))
        .filter(pl.col("window_end") >= FEB.end)
        .is_empty()
    )


def test_entity_without_a_currency_and_two_billing_currencies_is_left_out(tmp_path):
    entities = ENTITIES.replace('currency = "USD"\n', "")
    world = build(tmp_path, entities)
    eur = [charge("9", tags={"ml-model": "fraud"}, currency="EUR", start="2026-01-07 00:00:00")]
    write_csv(tmp_path / "bills/eur.csv", eur)
    world.sync()
    got = compute(world, [JAN])
    assert got.filter(pl.col("entity") == "fraud").is_empty()
    assert not got.filter(pl.col("entity") == "costly").is_empty()


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('value_per_prediction = "lots"', "value_per_prediction: Value error, must be a number"),
        ("people_cost_per_month = -5", "people_cost_per_month: Input should be greater than or"),
        ('currency = "usd"', "currency: String should match pattern"),
        ("roi_start = 2026-01-01T00:00:00", "roi_start: Value error, must be a date (YYYY-MM-DD)"),
        ("discount_rate = -1", "discount_rate: Input should be greater than -1"),
        ("value_per_month = inf", "value_per_month: Value error, must be a finite number"),
        ("value_per_predicton = 2", "value_per_predicton: unknown key (did you mean"),
    ],
)
def test_bad_settings_name_entity_and_key_when_the_config_loads(tmp_path, line, message):
    path = tmp_path / "mlreport.toml"
    path.write_text(f'[[entities]]\nname = "ok"\n\n[[entities]]\nname = "m"\n{line}\n')
    with pytest.raises(ConfigError) as err:
        load_config(path)
    text = str(err.value)
    assert text.startswith(f"{path}: entities[1].{message}") and "\n" not in text


def test_metrics_command_by_month_and_a_bad_setting(world):
    from click.testing import CliRunner

    from mlreport.cli import cli

    config = str(world.root / "mlreport.toml")
    args = ["--config", config, "metrics", "--metric", "roi.*", "--entity", "fraud"]
    args += ["--since", "2026-01-01", "--until", "2026-04-01", "--by", "month"]
    result = CliRunner().invoke(cli, [*args, "--format", "json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    nets = {r["window_start"][:7]: r["value"] for r in rows if r["metric"] == "roi.net"}
    expected = {f"2026-0{i}": v - c for i, (v, c) in enumerate(map(fraud_flow, (JAN, FEB, MAR)), 1)}
    assert nets == pytest.approx(expected, abs=1e-9)
    assert {r["dimensions"]["currency"] for r in rows} == {"USD"}

    text = (world.root / "mlreport.toml").read_text(encoding="utf-8")
    (world.root / "mlreport.toml").write_text(text.replace("= 0.1\n", '= "ten"\n'))
    result = CliRunner().invoke(cli, args)
    assert result.exit_code != 0
    assert re.search(
        r"entities\[\d+\]\.discount_rate: Value error, must be a number", result.output
    )
