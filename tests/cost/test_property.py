"""Properties of the ``cost`` family over random exports, each checked against pandas:
nothing is lost or counted twice (attributed + unattributed = the bill, per window and
currency), direct cost equals the plain sum, categories add up to the total, and no figure
mixes currencies."""

from __future__ import annotations

import json
import tempfile
from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlreport.config import load_config
from mlreport.metrics import Window, compute_metrics
from mlreport.warehouse import Warehouse
from tests.cost import reference as ref
from tests.focus.builder import FocusWorld, charge, write_csv

WINDOWS = [
    Window(datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC)),
    Window(datetime(2026, 2, 1, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC)),
]
MAPPING = {"x-*": "a", "plat": "shared"}

row = st.fixed_dictionaries(
    {
        "amount": st.decimals(min_value=-50, max_value=500, places=4, allow_nan=False),
        "currency": st.sampled_from(["USD", "EUR", "JPY"]),
        "tag": st.sampled_from([None, "a", "b", "plat", "x-1", " c "]),
        "key": st.sampled_from(["ml-model", " ml-model"]),
        "month": st.sampled_from(["2026-01", "2026-02"]),
        "day": st.integers(1, 28),
        "category": st.sampled_from(["Compute", "Storage", "Networking"]),
    }
)


def as_charge(i: int, r: dict) -> dict:
    tags = None if r["tag"] is None else {r["key"]: r["tag"]}
    start = f"{r['month']}-{r['day']:02d} 00:00:00"
    return charge(
        str(r["amount"]),
        tags=tags,
        currency=r["currency"],
        start=start,
        period=r["month"],
        category=r["category"],
        resource=f"r{i}",
    )


@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
@given(rows=st.lists(row, min_size=1, max_size=30), split=st.sampled_from(["none", "even"]))
def test_the_bill_is_conserved_and_direct_costs_equal_pandas(rows, split):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        world = FocusWorld(root)
        path = write_csv(root / "bill.csv", [as_charge(i, r) for i, r in enumerate(rows)])
        extra = "[sources.entity_map]\n" + "".join(f'"{k}" = "{v}"\n' for k, v in MAPPING.items())
        world.config(extra=extra, path="bill.csv", entity_tag="ml-model", shared_split=split)
        world.sync()
        config = load_config(root / "mlreport.toml")
        with Warehouse(config.warehouse.path) as wh:
            got = compute_metrics(wh, config, WINDOWS, "cost.*", store=False)
        df = ref.attribute(ref.read_exports([path]), ["ml-model"], MAPPING)

    values: dict[tuple, float] = {}
    for r in got.iter_rows(named=True):
        dims = json.loads(r["dimensions"])
        key = (
            r["metric"],
            r["entity"],
            r["window_start"],
            dims.get("currency"),
            dims.get("service_category"),
        )
        assert key not in values
        values[key] = r["value"]
        assert r["unit"] in ("ratio", dims.get("currency"))
    for w in WINDOWS:
        part = ref.in_window(df, w.start, w.end)
        for currency, g in part.groupby("BillingCurrency"):
            bill = float(sum(g.EffectiveCost, Decimal(0)))
            attributed = sum(
                v
                for (m, e, ws, c, cat), v in values.items()
                if m == "cost.total" and ws == w.start and c == currency and cat is None
            )
            orphan = values[("cost.unattributed", "(all)", w.start, currency, None)]
            assert attributed + orphan == pytest.approx(bill, abs=1e-6)
            direct = g[g.entity.notna() & (g.entity != "shared")]
            for entity, d in direct.groupby("entity"):
                total = values[("cost.total", entity, w.start, currency, None)]
                shared = values[("cost.shared", entity, w.start, currency, None)]
                assert total - shared == pytest.approx(
                    float(sum(d.EffectiveCost, Decimal(0))), abs=1e-6
                )
        # categories add up to the entity's total, per currency
        sums: dict[tuple, float] = defaultdict(float)
        for (m, e, ws, c, cat), v in values.items():
            if m == "cost.total" and ws == w.start and cat is not None:
                sums[(e, c)] += v
        for (e, c), v in sums.items():
            assert v == pytest.approx(values[("cost.total", e, w.start, c, None)], abs=1e-6)
