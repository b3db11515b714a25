"""The ``cost`` family: what each entity's cloud cost was, per window and currency.

Every amount is per currency (``dimensions.currency``): no figure adds two currencies. Each
metric comes once per entity, window and currency, and once more per service category
(``dimensions.service_category``). Allocations (OpenCost, Kubecost) of spend a bill also
holds are never added to the bill: their figures carry ``dimensions.basis = "allocation"``.
Definitions: docs/metrics-cost.md.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import polars as pl

from mlreport import hookimpl
from mlreport.metrics import MetricContext, MetricFamily, MetricInfo, Window
from mlreport.plugins.cost import allocation, sql
from mlreport.plugins.cost.credits import credits

ALL = "(all)"  # the entity of figures about the whole bill (unattributed cost)


class CostMetrics(MetricFamily):
    name = "cost"
    metrics = (
        MetricInfo(
            "cost.total",
            "currency",
            "Effective cost (FOCUS EffectiveCost), with the entity's share of shared costs",
            higher_is_better=False,
        ),
        MetricInfo(
            "cost.billed", "currency", "Billed cost (FOCUS BilledCost)", higher_is_better=False
        ),
        MetricInfo("cost.list", "currency", "List cost (FOCUS ListCost)", higher_is_better=False),
        MetricInfo(
            "cost.savings", "currency", "List cost minus effective cost", higher_is_better=True
        ),
        MetricInfo(
            "cost.shared",
            "currency",
            "The part of cost.total allocated from shared costs",
            higher_is_better=False,
        ),
        MetricInfo(
            "cost.unattributed",
            "currency",
            "Effective cost of rows no entity pays for",
            higher_is_better=False,
        ),
        MetricInfo(
            "cost.unattributed_share",
            "ratio",
            "Unattributed effective cost / all effective cost",
            higher_is_better=False,
        ),
        MetricInfo(
            "cost.per_1k_predictions",
            "currency",
            "cost.total / predictions x 1000",
            higher_is_better=False,
        ),
    )

    def compute(self, ctx: MetricContext) -> list[dict[str, Any]]:
        windows = ctx.windows
        sql.check_files(ctx.warehouse)
        sums = sql.cost_sums(ctx.warehouse, windows, sql.engine_scans(ctx), sql.file_sums(ctx))
        if sums.height == 0:
            return []
        predictions = sql.prediction_counts(ctx.warehouse, windows)
        attributed, unattributed = allocation.split(sums, predictions)
        rows: list[dict[str, Any]] = []
        for by_category in (False, True):
            keys = ["i", "currency", "basis"] + (["service_category"] if by_category else [])
            ent = _total(attributed, keys + ["entity"])
            una = _total(unattributed, keys)
            rows += _entity_rows(ent, windows, by_category)
            rows += _unattributed_rows(ent, una, keys, windows, by_category)
        rows += _per_prediction_rows(
            _total(attributed, ["i", "currency", "basis", "entity"]), predictions, windows
        )
        if ctx.detail_windows:
            ctx.publish("cost_by_service", _details(attributed, unattributed, windows, ctx))
            ctx.publish("cost_credits", credits(ctx.warehouse, ctx.detail_windows))
        return rows


def _total(frame: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    cols = [c for c in ("effective", "billed", "list", "shared", "n") if c in frame.columns]
    return frame.group_by(keys).agg(pl.col(c).sum() for c in cols)


def _dims(row: dict[str, Any], by_category: bool) -> dict[str, Any]:
    """Currency, the category when asked, and ``basis`` on allocation figures only (a bill's
    figures keep the dimensions they always had)."""
    dims = {"currency": row["currency"]}
    if by_category:
        dims["service_category"] = row["service_category"]
    if row["basis"] == "allocation":
        dims["basis"] = "allocation"
    return dims


def _row(
    metric: str, entity: str, window: Window, dims: dict, value: float, unit: str, n: int | None
) -> dict[str, Any]:
    return {
        "metric": metric,
        "entity": entity,
        "window_start": window.start,
        "window_end": window.end,
        "dimensions": dims,
        "value": value,
        "unit": unit,
        "n": n,
    }


def _entity_rows(ent: pl.DataFrame, windows: list[Window], by_category: bool) -> list[dict]:
    rows = []
    values: dict[str, Callable[[dict], float]] = {
        "cost.total": lambda r: r["effective"],
        "cost.billed": lambda r: r["billed"],
        "cost.list": lambda r: r["list"],
        "cost.savings": lambda r: r["list"] - r["effective"],
        "cost.shared": lambda r: r["shared"],
    }
    for r in ent.iter_rows(named=True):
        dims = _dims(r, by_category)
        for metric, value in values.items():
            rows.append(
                _row(metric, r["entity"], windows[r["i"]], dims, value(r), r["currency"], r["n"])
            )
    return rows


def _unattributed_rows(
    ent: pl.DataFrame, una: pl.DataFrame, keys: list[str], windows: list[Window], by_category: bool
) -> list[dict]:
    """Unattributed amounts and their share of everything, for every key that has costs."""
    attributed = ent.group_by(keys).agg(pl.col("effective").sum().alias("attributed"))
    both = attributed.join(una, on=keys, how="full", coalesce=True, nulls_equal=True)
    rows = []
    for r in both.iter_rows(named=True):
        amount = r["effective"] or 0.0
        whole = amount + (r["attributed"] or 0.0)
        dims = _dims(r, by_category)
        window = windows[r["i"]]
        n = r["n"] or 0
        rows.append(_row("cost.unattributed", ALL, window, dims, amount, r["currency"], n))
        share = amount / whole if whole else None
        rows.append(_row("cost.unattributed_share", ALL, window, dims, share, "ratio", n))
    return rows


def _per_prediction_rows(
    ent: pl.DataFrame, predictions: pl.DataFrame, windows: list[Window]
) -> list[dict]:
    joined = ent.join(predictions, on=["i", "entity"], how="inner")
    rows = []
    for r in joined.filter(pl.col("predictions") > 0).iter_rows(named=True):
        value = r["effective"] / r["predictions"] * 1000
        rows.append(
            _row(
                "cost.per_1k_predictions",
                r["entity"],
                windows[r["i"]],
                _dims(r, False),
                value,
                r["currency"],
                int(r["predictions"]),
            )
        )
    return rows


def _details(
    attributed: pl.DataFrame, unattributed: pl.DataFrame, windows: list[Window], ctx: MetricContext
) -> pl.DataFrame:
    """``details.cost_by_service``: amounts per window, entity (null: unattributed),
    currency and service category, for the windows a report reads."""
    wanted = [i for i, w in enumerate(windows) if w in ctx.detail_windows]
    frame = pl.concat([attributed, unattributed], how="diagonal_relaxed")
    frame = frame.filter(pl.col("i").is_in(wanted))
    starts = pl.Series([w.start for w in windows], dtype=pl.Datetime("us", "UTC"))
    ends = pl.Series([w.end for w in windows], dtype=pl.Datetime("us", "UTC"))
    return frame.select(
        pl.col("i")
        .map_elements(lambda i: starts[i], pl.Datetime("us", "UTC"))
        .alias("window_start"),
        pl.col("i").map_elements(lambda i: ends[i], pl.Datetime("us", "UTC")).alias("window_end"),
        "entity",
        "currency",
        "service_category",
        "basis",
        pl.col("effective").alias("effective_cost"),
        pl.col("billed").alias("billed_cost"),
        pl.col("list").alias("list_cost"),
        pl.col("shared").fill_null(0.0).alias("shared_cost"),
        pl.col("n").alias("rows"),
    ).sort(["window_start", "entity", "currency", "service_category", "basis"], nulls_last=True)


@hookimpl
def register_metrics(register: Callable[[str, type[MetricFamily]], None]) -> None:
    register("cost", CostMetrics)
