"""The real FOCUS 1.0 sample (FinOps Foundation, CC BY 4.0) syncs with no error, and the view's
totals equal a plain DuckDB query over the same file."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

SAMPLE = (
    Path(__file__).resolve().parents[2].parent
    / "shared"
    / "data"
    / "focus"
    / "focus_1_0_sample_1000.csv"
)
if not SAMPLE.exists():
    SAMPLE = Path("/work/shared/data/focus/focus_1_0_sample_1000.csv")

pytestmark = pytest.mark.skipif(
    not SAMPLE.exists(), reason=f"the shared FOCUS sample is absent ({SAMPLE}); see DESIGN.md"
)


def plain(sql: str) -> list[tuple]:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    rel = f"read_csv('{SAMPLE}', all_varchar = true, nullstr = ['NULL', ''])"
    return con.execute(sql.replace("SAMPLE", rel)).fetchall()


def test_the_real_sample_syncs_and_its_totals_match_plain_duckdb(world):
    world.config(path=str(SAMPLE), entity_tag="application")
    stats = world.sync()
    assert stats.error is None and stats.reads["files_read"] == 1
    got = world.query(
        "SELECT provider, currency, count(*), sum(billed_cost), sum(effective_cost), "
        "sum(list_cost), min(charge_period_start), max(charge_period_start) "
        "FROM cost_rows GROUP BY ALL ORDER BY ALL"
    )
    want = plain(
        "SELECT ProviderName, BillingCurrency, count(*), sum(BilledCost::DECIMAL(38, 10)), "
        "sum(EffectiveCost::DECIMAL(38, 10)), sum(ListCost::DECIMAL(38, 10)), "
        "min(ChargePeriodStart::TIMESTAMPTZ), max(ChargePeriodStart::TIMESTAMPTZ) "
        "FROM SAMPLE GROUP BY ALL ORDER BY ALL"
    )
    assert got == want and sum(r[2] for r in got) == 1000
    # entities: the `application` tag, exactly as json_extract_string reads it
    by_entity = world.query(
        "SELECT entity, sum(effective_cost) FROM cost_rows WHERE entity IS NOT NULL "
        "GROUP BY 1 ORDER BY 1"
    )
    want = plain(
        "SELECT json_extract_string(Tags, '$.application') AS e, "
        "sum(EffectiveCost::DECIMAL(38, 10)) FROM SAMPLE WHERE e IS NOT NULL GROUP BY 1 ORDER BY 1"
    )
    assert by_entity == want and len(by_entity) > 100
    (names,) = world.query("SELECT count(*) FROM entities WHERE source = 'billing'")[0]
    assert names == len(want)


def test_the_real_sample_in_the_cost_family_equals_plain_duckdb(world):
    from mlreport.config import load_config
    from mlreport.metrics import Window, compute_metrics
    from mlreport.times import parse_time
    from mlreport.warehouse import Warehouse

    world.config(path=str(SAMPLE), entity_tag="application")
    world.sync()
    config = load_config(world.root / "mlreport.toml")
    window = Window(parse_time("2024-09-01"), parse_time("2024-10-01"))
    with Warehouse(config.warehouse.path) as wh:
        values = compute_metrics(wh, config, [window], "cost.*", store=False)
    share = values.filter(
        (values["metric"] == "cost.unattributed_share")
        & (values["dimensions"] == '{"currency":"USD"}')
    )["value"].item()
    (untagged, whole) = plain(
        "SELECT sum(EffectiveCost::DECIMAL(38, 10)) FILTER (json_extract_string(Tags, "
        "'$.application') IS NULL), sum(EffectiveCost::DECIMAL(38, 10)) FROM SAMPLE "
        "WHERE ChargePeriodStart::TIMESTAMPTZ >= '2024-09-01' AND "
        "ChargePeriodStart::TIMESTAMPTZ < '2024-10-01'"
    )[0]
    assert share == pytest.approx(float(untagged) / float(whole), rel=1e-12)
