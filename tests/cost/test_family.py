"""Every ``cost`` figure equals the plain pandas computation over the same export files:
per entity, window and currency (never added across currencies), per service category,
unattributed amounts and shares, shared costs split evenly or by predictions, and cost per
1,000 predictions from a prediction log or ``requests`` usage."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import polars as pl
import pytest

from mlreport.config import load_config
from mlreport.metrics import Window, compute_metrics
from mlreport.warehouse import Warehouse
from tests.cost import reference as ref
from tests.focus.builder import FocusWorld, aws_delivery, charge, write_csv

JAN = Window(datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC))
FEB = Window(datetime(2026, 2, 1, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC))


def rows_for(period: str) -> list[dict]:
    day = f"{period}-05 10:00:00"
    return [
        charge("10.5", tags={"ml-model": "fraud"}, start=day, period=period, list_cost="12"),
        charge("4.25", tags={" ml-model ": "fraud"}, start=day, period=period, category="Storage"),
        charge("-1.5", tags={"ml-model": "fraud"}, start=day, period=period, billed="0"),  # credit
        charge("7", tags={"team": "churn"}, start=day, period=period),  # second key
        charge(
            "3",
            tags={"ml-model": "gpu-pool-a"},
            start=day,
            period=period,
            category="AI and Machine Learning",
        ),
        charge("6", tags={"ml-model": "platform"}, start=day, period=period, category="Networking"),
        charge("2.75", tags=None, start=day, period=period),  # untagged
        charge("1", tags={"other": "x"}, start=day, period=period, category="Storage"),
    ]


@pytest.fixture
def world(tmp_path):
    w = FocusWorld(tmp_path)
    export = tmp_path / "exports/focus"
    w.files = []
    w.files += aws_delivery(
        export, "2026-01", [rows_for("2026-01")[:4], rows_for("2026-01")[4:]], "e1"
    )
    w.files += aws_delivery(export, "2026-02", [rows_for("2026-02")], "e2")
    eur = [charge("100", tags={"ml-model": "fraud"}, currency="EUR", start="2026-01-09 00:00:00")]
    w.files.append(write_csv(tmp_path / "eur/bill.csv.gz", eur))
    return w


def configure(world, split: str = "none", extra: str = "") -> None:
    mapping = '[sources.entity_map]\n"gpu-pool-*" = "recsys"\n"platform" = "shared"\n'
    world.config(
        extra=mapping + extra,
        path=["exports/focus", "eur/*.csv.gz"],
        entity_tag=["ml-model", "team"],
        shared_split=split,
    )
    world.sync()


def metrics(world, windows=(JAN, FEB)) -> pl.DataFrame:
    config = load_config(world.root / "mlreport.toml")
    with Warehouse(config.warehouse.path) as wh:
        return compute_metrics(wh, config, list(windows), "cost.*", store=False)


def value(frame: pl.DataFrame, metric: str, entity: str, window: Window, **dims) -> float | None:
    dims_text = json.dumps(dims, sort_keys=True, separators=(",", ":"))
    hit = frame.filter(
        (pl.col("metric") == metric)
        & (pl.col("entity") == entity)
        & (pl.col("window_start") == window.start)
        & (pl.col("dimensions") == dims_text)
    )
    assert hit.height <= 1
    return hit["value"].item() if hit.height else None


def reference(world):
    df = ref.read_exports(world.files)
    return ref.attribute(df, ["ml-model", "team"], {"gpu-pool-*": "recsys", "platform": "shared"})


def test_direct_figures_equal_pandas_per_entity_window_currency_and_category(world):
    configure(world)
    got = metrics(world)
    df = reference(world)
    for window in (JAN, FEB):
        part = ref.in_window(df, window.start, window.end)
        for (entity, currency), s in ref.sums(
            part[part.entity.notna() & (part.entity != "shared")], ["entity", "BillingCurrency"]
        ).items():
            assert value(got, "cost.total", entity, window, currency=currency) == s["effective"]
            assert value(got, "cost.billed", entity, window, currency=currency) == s["billed"]
            assert value(got, "cost.list", entity, window, currency=currency) == s["list"]
            assert value(got, "cost.savings", entity, window, currency=currency) == pytest.approx(
                s["list"] - s["effective"], abs=1e-9
            )
        cats = ref.sums(
            part[part.entity.notna() & (part.entity != "shared")],
            ["entity", "BillingCurrency", "ServiceCategory"],
        )
        for (entity, currency, cat), s in cats.items():
            got_v = value(
                got, "cost.total", entity, window, currency=currency, service_category=cat
            )
            assert got_v == s["effective"]
    # never summed across currencies: fraud has a USD and a EUR figure in January
    fraud = got.filter(
        (pl.col("metric") == "cost.total")
        & (pl.col("entity") == "fraud")
        & (pl.col("window_start") == JAN.start)
    )
    assert sorted(json.loads(d).get("currency") for d in fraud["dimensions"]) == [
        "EUR",
        "EUR",
        "USD",
        "USD",
        "USD",
    ]
    assert value(got, "cost.total", "fraud", JAN, currency="USD") == 13.25
    assert value(got, "cost.total", "recsys", JAN, currency="USD") == 3.0
    assert value(got, "cost.total", "churn", FEB, currency="USD") == 7.0


def test_unattributed_amount_and_share_equal_pandas(world):
    configure(world)  # shared_split none: the platform row stays unattributed
    got = metrics(world)
    df = reference(world)
    for window in (JAN, FEB):
        part = ref.in_window(df, window.start, window.end)
        for currency, g in part.groupby("BillingCurrency"):
            orphan = g[g.entity.isna() | (g.entity == "shared")]
            amount = float(sum(orphan.EffectiveCost, start=0))
            whole = float(sum(g.EffectiveCost, start=0))
            assert value(
                got, "cost.unattributed", "(all)", window, currency=currency
            ) == pytest.approx(amount, abs=1e-12)
            assert value(
                got, "cost.unattributed_share", "(all)", window, currency=currency
            ) == pytest.approx(amount / whole, rel=1e-12)
    assert value(got, "cost.unattributed", "(all)", JAN, currency="USD") == 9.75
    assert value(got, "cost.unattributed", "(all)", JAN, currency="EUR") == 0.0


def test_shared_costs_split_evenly_among_entities_with_direct_costs(world):
    configure(world, "even")
    got = metrics(world)
    # January USD: platform (6, Networking) over fraud, churn, recsys
    for entity in ("fraud", "churn", "recsys"):
        assert value(got, "cost.shared", entity, JAN, currency="USD") == pytest.approx(2.0)
        assert value(
            got, "cost.shared", entity, JAN, currency="USD", service_category="Networking"
        ) == pytest.approx(2.0)
    assert value(got, "cost.total", "fraud", JAN, currency="USD") == pytest.approx(15.25)
    assert value(got, "cost.unattributed", "(all)", JAN, currency="USD") == pytest.approx(3.75)
    # the EUR bill has no shared row: nothing moves between currencies
    assert value(got, "cost.shared", "fraud", JAN, currency="EUR") == 0.0


def test_shared_costs_split_by_predictions_and_cost_per_1k(world, tmp_path):
    log = tmp_path / "logs/fraud.parquet"
    log.parent.mkdir()
    ts = [datetime(2026, 1, 3, tzinfo=UTC)] * 3000 + [datetime(2026, 2, 3, tzinfo=UTC)] * 1000
    pl.DataFrame({"ts": ts, "p": [1] * len(ts)}).write_parquet(log)
    extra = (
        '\n[[sources]]\nname = "fraud-log"\ntype = "predictions"\npath = "logs/fraud.parquet"\n'
        'entity = "fraud"\n[sources.columns]\ntimestamp = "ts"\nprediction = "p"\n'
    )
    configure(world, "predictions", extra=extra)
    # churn serves no logged model: its `requests` usage (as a Prometheus source writes it)
    with Warehouse(tmp_path / "wh.duckdb") as wh:
        usage = pl.DataFrame(
            {
                "source": ["prom"] * 2,
                "entity": ["churn"] * 2,
                "metric": ["requests"] * 2,
                "ts": [datetime(2026, 1, 2, tzinfo=UTC), datetime(2026, 1, 20, tzinfo=UTC)],
                "value": [500.0, 500.0],
            }
        )
        wh.upsert("usage", usage, ("source", "entity", "metric", "ts"))
    got = metrics(world)
    # January: fraud 3000 predictions, churn 1000 requests -> shared 6 split 4.5 / 1.5
    assert value(got, "cost.shared", "fraud", JAN, currency="USD") == pytest.approx(4.5)
    assert value(got, "cost.shared", "churn", JAN, currency="USD") == pytest.approx(1.5)
    assert value(got, "cost.shared", "recsys", JAN, currency="USD") == 0.0
    fraud_total = 13.25 + 4.5
    assert value(got, "cost.per_1k_predictions", "fraud", JAN, currency="USD") == pytest.approx(
        fraud_total / 3000 * 1000
    )
    assert value(got, "cost.per_1k_predictions", "fraud", JAN, currency="EUR") == pytest.approx(
        100 / 3000 * 1000
    )
    assert value(got, "cost.per_1k_predictions", "churn", JAN, currency="USD") == pytest.approx(
        (7 + 1.5) / 1000 * 1000
    )
    assert (
        value(got, "cost.per_1k_predictions", "recsys", JAN, currency="USD") is None
    )  # no predictions
    # February: only fraud predicted, so it carries all of the shared cost
    assert value(got, "cost.shared", "fraud", FEB, currency="USD") == pytest.approx(6.0)


def test_a_file_changed_since_the_sync_is_refused(world):
    configure(world)
    path = world.files[-1]
    path.write_bytes(path.read_bytes() + b"\n")
    with pytest.raises(ValueError, match=r"since the last sync; run `mlreport sync billing`"):
        metrics(world)


def test_details_table_holds_amounts_per_service_category(world):
    from mlreport.metrics import MetricRequest, run_metrics

    configure(world, "even")
    config = load_config(world.root / "mlreport.toml")
    with Warehouse(config.warehouse.path) as wh:
        run = run_metrics(wh, config, [MetricRequest("cost.*", (JAN,), details=True)])
    details = run.details["cost_by_service"]
    assert set(details.columns) >= {
        "entity",
        "currency",
        "service_category",
        "effective_cost",
        "shared_cost",
    }
    usd = details.filter(pl.col("currency") == "USD")
    assert usd["effective_cost"].sum() == pytest.approx(33.0)  # all of January's USD rows
