"""What ROI is computed from, per window and entity: predictions, true and false positives,
and allocated cloud cost per currency.

The kernel gives a family no access to another family's values of the same run, so this reads
through the other families' own functions rather than copying their SQL: the cost family's
``cost_sums`` and ``allocation.split`` (so allocated cost here is exactly ``cost.total``), its
``prediction_counts`` (prediction log rows, else ``requests`` usage, as ``cost.per_1k_predictions``
counts them), and the performance family's shared ``label_counts`` scan (so the counts are the
ones its precision is computed from).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import polars as pl

from mlreport.metrics import MetricContext, Window
from mlreport.plugins import performance_sql as ps
from mlreport.plugins.cost import allocation
from mlreport.plugins.cost import sql as cost_sql
from mlreport.plugins.prediction_counts import label_counts
from mlreport.prediction_logs import prediction_logs


@dataclass
class Inputs:
    """One entity's measured inputs in one window."""

    predictions: float = 0.0
    true_positives: int = 0
    false_positives: int = 0
    labelled: int = 0  # labelled rows with a prediction (what TP/FP were counted over)
    cloud: dict[str, float] = field(default_factory=dict)  # currency -> allocated cost


def gather(
    ctx: MetricContext, windows: Sequence[Window], entities: set[str], confusion: set[str]
) -> dict[tuple[int, str], Inputs]:
    """Inputs per (window index, entity) for ``entities``; confusion counts only for the
    entities in ``confusion`` (the ones valuing true or false positives)."""
    out: dict[tuple[int, str], Inputs] = {}

    def at(i: int, entity: str) -> Inputs:
        return out.setdefault((i, entity), Inputs())

    if not windows or not entities:
        return out
    predictions = cost_sql.prediction_counts(ctx.warehouse, windows)
    for r in predictions.filter(pl.col("entity").is_in(sorted(entities))).iter_rows(named=True):
        at(r["i"], r["entity"]).predictions = float(r["predictions"])
    for r in _cloud(ctx, windows, predictions).iter_rows(named=True):
        if r["entity"] in entities:
            at(r["i"], r["entity"]).cloud[r["currency"]] = r["effective"]
    for log in prediction_logs(ctx.warehouse, sorted(confusion)):
        if log.task == "regression":
            continue
        for layer in ps.window_layers(windows):
            run = [windows[i] for i in layer]
            counts = ps.counts_from_rows(label_counts(ctx, log, run), f"log {log.log!r}")
            for (w, version), c in counts.items():
                if version is ps.ALL:
                    got = at(layer[w], log.entity)
                    got.true_positives += c.pairs.get((1, 1), 0)
                    got.false_positives += c.pairs.get((0, 1), 0)
                    got.labelled += c.used
    return out


def _cloud(ctx: MetricContext, windows: Sequence[Window], predictions: pl.DataFrame):
    """Allocated effective cost per window index, entity and currency: ``cost.total`` of the
    bill, else of the allocation (``dimensions.basis = "allocation"``)."""
    cost_sql.check_files(ctx.warehouse)
    sums = cost_sql.cost_sums(
        ctx.warehouse, windows, cost_sql.engine_scans(ctx), cost_sql.file_sums(ctx)
    )
    if sums.height == 0:
        schema = {"i": pl.Int64, "entity": pl.String, "currency": pl.String}
        return pl.DataFrame(schema={**schema, "effective": pl.Float64})
    attributed, _ = allocation.split(sums, predictions)
    keys = ["i", "entity", "currency"]
    by_basis = attributed.group_by([*keys, "basis"]).agg(pl.col("effective").sum())
    bill = by_basis.filter(pl.col("basis") == "bill")
    # An allocation counts only where no bill says what the entity cost: the two are the same
    # money seen twice (docs/metrics-roi.md).
    allocated = by_basis.filter(pl.col("basis") == "allocation").join(bill, on=keys, how="anti")
    return pl.concat([bill, allocated]).drop("basis")
