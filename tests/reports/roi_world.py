"""A small world for the ``roi`` report: FOCUS bills written as CSV, a prediction log synced by
a real ``predictions`` source, ROI settings on the entities, and the hand-computed figures.

Q1 2026, three models:
- ``fraud`` (USD): Compute and Storage, a -20 credit in January, a prediction log; value 1 per
  prediction, 100 people cost a month, from 1 January, 10 % discount rate: pays back in month 2;
- ``ranker <img …>`` (EUR, a hostile name; in March a hostile service category): no
  predictions, 10 value and 1000 people cost a month: never pays back;
- ``batch`` (USD): cost only, no value settings, no predictions;
- ``search``: value settings but no cost, no predictions, no currency and no ``roi_start``.
One untagged USD row (unattributed) in February.
"""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta
from pathlib import Path

from mlreport.config import Config, load_config
from mlreport.metrics import Window
from mlreport.pipeline import sync_all
from mlreport.reporting import ReportContext, render_report
from mlreport.warehouse import Warehouse
from tests.focus.builder import charge, write_csv

HOSTILE = '<img src="file:///etc/passwd">'
HOSTILE_CATEGORY = 'AI <script>alert("x")</script> | *y*'
RANKER = f"ranker {HOSTILE} *x*"
AS_OF = datetime(2026, 4, 1, tzinfo=UTC)
WINDOW = Window(datetime(2026, 1, 1, tzinfo=UTC), AS_OF)
MONTHS = [
    Window(datetime(2026, m, 1, tzinfo=UTC), datetime(2026, m + 1, 1, tzinfo=UTC))
    for m in (1, 2, 3)
]
MONTH_DAYS = 365.25 / 12

# (entity tag or None, amount, category, currency) per month
BILLS = {
    "2026-01": [
        ("fraud", "60", "Compute", "USD"),
        ("fraud", "10", "Storage", "USD"),
        ("fraud", "-20", "Compute", "USD"),
        (RANKER, "40", "Compute", "EUR"),
        ("batch", "30", "Compute", "USD"),
    ],
    "2026-02": [
        ("fraud", "60", "Compute", "USD"),
        ("fraud", "10", "Storage", "USD"),
        (RANKER, "40", "Compute", "EUR"),
        ("batch", "30", "Compute", "USD"),
        (None, "50", "Networking", "USD"),
    ],
    "2026-03": [
        ("fraud", "80", "Compute", "USD"),
        ("fraud", "10", "Storage", "USD"),
        (RANKER, "40", HOSTILE_CATEGORY, "EUR"),
        ("batch", "30", "Compute", "USD"),
    ],
}
PREDICTIONS = {0: 100, 1: 300, 2: 400}  # fraud's prediction-log rows per month

CONFIG = f"""
[warehouse]
path = "wh.duckdb"

[[sources]]
name = "billing"
type = "focus"
path = "bills/*.csv"
entity_tag = "ml-model"

[[sources]]
name = "fraud-log"
type = "predictions"
path = "predictions.csv"
entity = "fraud"
[sources.columns]
timestamp = "ts"
prediction = "prediction"

[[entities]]
name = "fraud"
kind = "model"
owner = "fraud-ml@example.com"
value_per_prediction = 1
people_cost_per_month = 100
roi_start = 2026-01-01
discount_rate = 0.1
currency = "USD"

[[entities]]
name = '{RANKER}'
kind = "model"
value_per_month = 10
people_cost_per_month = 1000
roi_start = 2026-01-01

[[entities]]
name = "batch"
kind = "model"

[[entities]]
name = "search"
kind = "model"
value_per_prediction = 0.01
tooling_cost_per_month = 10
"""


def build(root: Path) -> Config:
    for period, rows in BILLS.items():
        charges = [
            charge(
                amount,
                tags={"ml-model": tag} if tag else {"team": "platform"},
                start=f"{period}-05 10:00:00",
                period=period,
                currency=currency,
                category=category,
                resource=f"r-{i}",
            )
            for i, (tag, amount, category, currency) in enumerate(rows)
        ]
        write_csv(root / f"bills/{period}.csv", charges)
    with (root / "predictions.csv").open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["ts", "prediction"])
        for m, n in PREDICTIONS.items():
            for k in range(n):
                ts = MONTHS[m].start + timedelta(days=2, minutes=k)
                out.writerow([ts.strftime("%Y-%m-%d %H:%M:%S"), k % 2])
    (root / "mlreport.toml").write_text(CONFIG, encoding="utf-8")
    config = load_config(root / "mlreport.toml")
    with Warehouse(config.warehouse.path) as wh:
        sync_all(wh, config, fail_fast=True)
    return config


def render(root: Path, out: Path, formats=("html", "json", "md"), entities=None):
    config = load_config(root / "mlreport.toml")
    with Warehouse(config.warehouse.path) as wh:
        ctx = ReportContext(wh, config, WINDOW, AS_OF, None, entities)
        return render_report(ctx, "roi", list(formats), out)


# -- the hand computation --------------------------------------------------------------------


def days(w: Window) -> float:
    return (w.end - w.start).total_seconds() / 86400


FRAUD_CLOUD = [50.0, 70.0, 90.0]
RANKER_CLOUD = [40.0, 40.0, 40.0]


def fraud_month(i: int) -> tuple[float, float]:
    """(value, TCO) of fraud in month ``i``."""
    return PREDICTIONS[i] * 1.0, FRAUD_CLOUD[i] + 100 * days(MONTHS[i]) / MONTH_DAYS


def ranker_month(i: int) -> tuple[float, float]:
    share = days(MONTHS[i]) / MONTH_DAYS
    return 10 * share, RANKER_CLOUD[i] + 1000 * share
