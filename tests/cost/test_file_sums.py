"""The family's one-pass group-by over a focus source's files (connectors/focus/sums.py) gives
exactly the sums of grouping the source's view, on CSV, Parquet with zone-less times and
Parquet with zoned times, rows on window edges, spaced tag keys, a second key and shared
costs; and it is not used when the config's tag options changed since the sync."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from polars.testing import assert_frame_equal

from mlreport.config import load_config
from mlreport.metrics import MetricContext, Window
from mlreport.plugins.cost import sql
from mlreport.warehouse import Warehouse
from tests.focus.builder import (
    FocusWorld,
    aws_delivery,
    charge,
    typed_frame,
    write_csv,
    write_parquet,
)

JAN = Window(datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC))
FEB = Window(datetime(2026, 2, 1, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC))


def rows(period: str, first: str, last: str) -> list[dict]:
    return [
        charge("10.5", tags={"ml-model": "fraud"}, start=first, period=period),
        charge("4.25", tags={" ml-model ": "fraud "}, start=last, period=period, category="X"),
        charge("-1.5", tags={"ml-model": "fraud"}, start=first, period=period, billed="0"),
        charge("7", tags={"team": "churn"}, start=last, period=period),
        charge("3", tags={"ml-model": "gpu-pool-a"}, start=first, period=period),
        charge("6", tags={"ml-model": "platform"}, start=last, period=period),
        charge("2.75", tags=None, start=first, period=period),
        charge("1", tags={"ml-model": "  "}, start=last, period=period),
        charge("0.0000000001", tags={"ml-model": "fraud"}, start=last, period=period),
    ]


def zoned_parquet(path, data: list[dict]) -> None:
    """A Parquet file whose ChargePeriodStart has a zone (``isAdjustedToUTC``)."""
    frame = typed_frame(data).with_columns(pl.col("ChargePeriodStart").dt.replace_time_zone("UTC"))
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_arrays(frame.to_arrow().columns, names=frame.columns), path)


def world_with_every_layout(tmp_path, zoned: bool = True) -> FocusWorld:
    """With ``zoned``, one Parquet file has zoned times, so every Parquet file's times are
    cast; without, all are zone-less and compared with zone-less bounds."""
    w = FocusWorld(tmp_path)
    export = tmp_path / "exports/focus"
    # zone-less Parquet: rows on the first microsecond of January and the last of it
    aws_delivery(
        export, "2026-01", [rows("2026-01", "2026-01-01 00:00:00", "2026-01-31 23:59:59")], "e1"
    )
    aws_delivery(
        export, "2026-02", [rows("2026-02", "2026-02-01 00:00:00", "2026-03-01 00:00:00")], "e2"
    )
    (zoned_parquet if zoned else write_parquet)(
        tmp_path / "zoned/z.parquet",
        rows("2026-01", "2026-01-31 23:00:00", "2026-02-01 00:00:00"),
    )
    write_csv(
        tmp_path / "eur/bill.csv.gz", rows("2026-01", "2026-01-09 00:00:00", "2026-02-01T00:00:00Z")
    )
    return w


def configure(w: FocusWorld, mapping: str) -> None:
    w.config(
        extra=f'[sources.entity_map]\n{mapping}\n"platform" = "shared"\n',
        path=["exports/focus", "zoned/*.parquet", "eur/*.csv.gz"],
        entity_tag=["ml-model", "team"],
        shared_split="even",
    )


def sums(w: FocusWorld, fast: bool) -> tuple[pl.DataFrame, int]:
    config = load_config(w.root / "mlreport.toml")
    with Warehouse(config.warehouse.path) as wh:
        ctx = MetricContext(wh, config, [JAN, FEB])
        direct = sql.file_sums(ctx) if fast else []
        return sql.cost_sums(wh, ctx.windows, [], direct), len(direct)


@pytest.mark.parametrize("zoned", [False, True])
def test_file_sums_equal_the_view_sums_exactly(tmp_path, zoned):
    w = world_with_every_layout(tmp_path, zoned)
    configure(w, '"gpu-pool-*" = "recsys"')
    w.sync()
    by_view, used = sums(w, fast=False)
    by_files, used = sums(w, fast=True)
    assert used == 1
    assert by_view.height > 10
    assert by_view["n"].sum() == 4 * 9 - 5  # five rows (March 1st) are in no window
    assert_frame_equal(by_files, by_view)
    assert by_view.schema["effective"] == pl.Decimal(38, 10)


def test_changed_options_since_the_sync_fall_back_to_the_view(tmp_path):
    w = world_with_every_layout(tmp_path)
    configure(w, '"gpu-pool-*" = "recsys"')
    w.sync()
    configure(w, '"gpu-pool-*" = "vision"')  # not synced: the view still says recsys
    by_files, used = sums(w, fast=True)
    assert used == 0
    assert "recsys" in by_files["entity"].to_list()
    assert "vision" not in by_files["entity"].to_list()
