"""Who pays for a cost row: its entity (direct), a share of a shared cost, or nobody.

- **direct**: the row's tag named an entity.
- **shared** (``entity_map`` sent the tag value to ``"shared"``): split across entities as the
  row's source says (``shared_split``): ``even`` — equally among the entities with direct
  costs in the same window and currency; ``predictions`` — by each entity's share of the
  window's predictions (its prediction logs, or its ``requests`` usage). With ``none``, or
  when nobody qualifies (no direct costs, no predictions), the shared cost stays unattributed.
- **unattributed**: everything else; never dropped.

Amounts keep their currency and their basis (``bill`` or ``allocation``): no step here adds
two currencies, or an allocation to a bill.
"""

from __future__ import annotations

import polars as pl

MONEY = ("effective", "billed", "list")
KEY = ["i", "currency", "service_category", "basis"]


def split(sums: pl.DataFrame, predictions: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``(attributed, unattributed)``: attributed has ``i, entity, currency,
    service_category, basis, effective, billed, list, shared, n`` (``shared``: the part of
    ``effective`` that came from shared costs); unattributed has the same without entity."""
    money = [pl.col(c).cast(pl.Float64) for c in MONEY]
    sums = sums.with_columns(money)
    is_direct = ((pl.col("allocation") == "direct") & pl.col("entity").is_not_null()).fill_null(
        False
    )
    is_shared = ((pl.col("allocation") == "shared") & (pl.col("shared_split") != "none")).fill_null(
        False
    )
    direct = sums.filter(is_direct)
    shared = sums.filter(is_shared & ~is_direct)
    rest = sums.filter(~is_direct & ~is_shared)
    shares, stranded = _share(shared, direct, predictions)
    attributed = pl.concat(
        [
            direct.select(KEY + ["entity", *MONEY, "n"]).with_columns(pl.lit(0.0).alias("shared")),
            shares,
        ],
        how="diagonal_relaxed",
    )
    attributed = attributed.group_by(KEY + ["entity"]).agg(
        *[pl.col(c).sum() for c in MONEY], pl.col("shared").sum(), pl.col("n").sum()
    )
    unattributed = (
        pl.concat([rest.select(KEY + [*MONEY, "n"]), stranded], how="diagonal_relaxed")
        .group_by(KEY)
        .agg(*[pl.col(c).sum() for c in MONEY], pl.col("n").sum())
    )
    return attributed, unattributed


def _share(
    shared: pl.DataFrame, direct: pl.DataFrame, predictions: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Shared sums spread over their targets, and the shared sums that found none."""
    cols = KEY + ["shared_split", *MONEY, "n"]
    pool = (
        shared.group_by(KEY + ["shared_split"])
        .agg(*[pl.col(c).sum() for c in MONEY], pl.col("n").sum())
        .select(cols)
    )
    even = (
        direct.select("i", "currency", "basis", "entity")
        .unique()
        .with_columns((1.0 / pl.len().over("i", "currency", "basis")).alias("weight"))
        .with_columns(pl.lit("even").alias("shared_split"))
    )
    by_predictions = (
        predictions.filter(pl.col("predictions") > 0)
        .with_columns(
            (pl.col("predictions") / pl.col("predictions").sum().over("i")).alias("weight")
        )
        .select("i", "entity", "weight")
        .with_columns(pl.lit("predictions").alias("shared_split"))
    )
    spread_even = pool.filter(pl.col("shared_split") == "even").join(
        even, on=["i", "currency", "basis", "shared_split"], how="inner", nulls_equal=True
    )
    spread_pred = pool.filter(pl.col("shared_split") == "predictions").join(
        by_predictions, on=["i", "shared_split"], how="inner"
    )
    spread = pl.concat([spread_even, spread_pred], how="diagonal_relaxed")
    shares = spread.select(
        *KEY,
        "entity",
        *[(pl.col(c) * pl.col("weight")).alias(c) for c in MONEY],
        (pl.col("effective") * pl.col("weight")).alias("shared"),
        pl.col("n"),
    )
    found = spread.select(KEY + ["shared_split"]).unique()
    stranded = pool.join(found, on=KEY + ["shared_split"], how="anti", nulls_equal=True).drop(
        "shared_split"
    )
    return shares, stranded
