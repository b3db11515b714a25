"""The opencost source on recorded-shape answers replayed through httpx.MockTransport."""

from __future__ import annotations

import json
import logging
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from mlreport.config import ConfigError, parse_config, validate_options
from mlreport.connectors.opencost import source as oc_source
from mlreport.connectors.opencost.source import OpencostSource
from mlreport.sources import SourceError, sync_source
from mlreport.warehouse import Warehouse
from tests.opencost.recorded import NAMES, FakeOpencost

START = date(2026, 11, 1)
TODAY = date(2026, 11, 8)  # days 1 .. 7 have ended
COMPONENTS = {
    "cpu": ("cpuCost", "cpuCostAdjustment"),
    "gpu": ("gpuCost", "gpuCostAdjustment"),
    "ram": ("ramCost", "ramCostAdjustment"),
    "pv": ("pvCost", "pvCostAdjustment"),
    "network": ("networkCost", "networkCostAdjustment"),
    "loadBalancer": ("loadBalancerCost", "loadBalancerCostAdjustment"),
    "shared": ("sharedCost", None),
}


def make_source(tmp_path: Path, fake: FakeOpencost, extra: str = "") -> OpencostSource:
    text = "\n".join(
        [
            "[[sources]]",
            'name = "k8s"',
            'type = "opencost"',
            'url = "http://opencost.example:9003"',
            'label = "ml-model"',
            f'start = "{START.isoformat()}"',
            "settle_days = 2",
            "chunk_days = 3",
        ]
    )
    overridden = {line.split("=")[0].strip() for line in extra.splitlines() if "=" in line}
    text = "\n".join(
        line for line in text.splitlines() if line.split("=")[0].strip() not in overridden
    )
    text += "\n" + extra
    path = tmp_path / "mlreport.toml"
    path.write_text(text, encoding="utf-8")
    config = parse_config(text, path, tmp_path)
    src = config.sources[0]
    options = validate_options(OpencostSource.Options, src.options, config, ("sources", 0))
    source = OpencostSource(src.name, options, config)
    source._transport = fake.transport()
    source._sleep = lambda s: None
    return source


@pytest.fixture
def today(monkeypatch):
    def set_today(day: date) -> None:
        now = datetime(day.year, day.month, day.day, 9, 30, tzinfo=UTC)
        monkeypatch.setattr(oc_source, "utcnow", lambda: now)

    set_today(TODAY)
    return set_today


@pytest.fixture
def warehouse(tmp_path: Path):
    with Warehouse(tmp_path / "w.duckdb") as wh:
        yield wh


@pytest.fixture
def fake() -> FakeOpencost:
    server = FakeOpencost()
    server.fill(START, TODAY + timedelta(days=5))
    return server


def expected_costs(fake: FakeOpencost, last: date) -> dict[tuple[str, str, str], tuple]:
    """(day, allocation, component) -> (effective, list) straight from the answers."""
    out = {}
    for day, allocs in fake.days.items():
        if START <= day <= last:
            for name, a in allocs.items():
                for comp, (cost, adj) in COMPONENTS.items():
                    out[(day.isoformat(), name, comp)] = (a[cost] + (a[adj] if adj else 0), a[cost])
    return out


def stored_costs(wh: Warehouse) -> dict[tuple[str, str, str], tuple]:
    rows = wh.con.execute(
        "SELECT strftime(charge_period_start, '%Y-%m-%d'), "
        """json_extract_string(tags, '$."opencost.allocation"'), """
        """json_extract_string(tags, '$."opencost.component"'), effective_cost, list_cost """
        "FROM costs"
    ).fetchall()
    return {(d, n, c): (e, lc) for d, n, c, e, lc in rows}


def test_first_sync_stores_every_day_component_and_usage(tmp_path, fake, warehouse, today):
    stats = sync_source(warehouse, make_source(tmp_path, fake))
    want = expected_costs(fake, TODAY - timedelta(days=1))
    got = stored_costs(warehouse)
    assert set(got) == set(want)
    for key, (effective, listed) in want.items():
        assert got[key] == (
            Decimal(repr(effective)).quantize(Decimal("1e-10")),
            Decimal(repr(listed)).quantize(Decimal("1e-10")),
        ), key
    assert stats.streams["costs"].rows == 7 * len(NAMES) * 7
    assert fake.windows() == [
        "2026-11-01T00:00:00Z,2026-11-04T00:00:00Z",
        "2026-11-04T00:00:00Z,2026-11-07T00:00:00Z",
        "2026-11-07T00:00:00Z,2026-11-08T00:00:00Z",
    ]  # the usage stream reuses the answers the costs stream asked for
    params = fake.requests[0].url.params
    assert params["aggregate"] == "label:ml_model"  # the label as Prometheus rewrote it
    assert (params["step"], params["accumulate"], params["includeIdle"]) == ("1d", "false", "true")
    meta = warehouse.con.execute(
        "SELECT DISTINCT provider, currency, billed_cost IS NULL, region FROM costs"
    ).fetchall()
    assert meta == [("OpenCost", "USD", True, "prod-eu")]


def test_idle_and_unallocated_stay_visible_without_becoming_entities(
    tmp_path, fake, warehouse, today
):
    sync_source(warehouse, make_source(tmp_path, fake))
    by_entity = dict(
        warehouse.con.execute(
            "SELECT coalesce(entity, 'NULL'), count(DISTINCT resource_id) FROM costs GROUP BY 1"
        ).fetchall()
    )
    assert by_entity == {"credit-risk": 1, "fraud-detector": 1, "NULL": 2}
    usage_entities = {
        e for (e,) in warehouse.con.execute("SELECT DISTINCT entity FROM usage").fetchall()
    }
    assert usage_entities == set(NAMES)
    entities = {n for (n,) in warehouse.con.execute("SELECT name FROM entities").fetchall()}
    assert entities == {"credit-risk", "fraud-detector"}


def test_usage_rows_are_the_allocation_fields(tmp_path, fake, warehouse, today):
    sync_source(warehouse, make_source(tmp_path, fake))
    a = fake.days[date(2026, 11, 3)]["credit-risk"]
    rows = dict(
        warehouse.con.execute(
            "SELECT metric, value FROM usage WHERE entity = 'credit-risk' "
            "AND ts = '2026-11-03T00:00:00Z'"
        ).fetchall()
    )
    hours = a["minutes"] / 60
    assert rows == pytest.approx(
        {
            "cpu_core_hours": a["cpuCoreHours"],
            "gpu_hours": a["gpuHours"],
            "ram_byte_hours": a["ramByteHours"],
            "cpu_core_request_hours": a["cpuCoreRequestAverage"] * hours,
            "cpu_core_usage_hours": a["cpuCoreUsageAverage"] * hours,
            "ram_byte_request_hours": a["ramByteRequestAverage"] * hours,
            "ram_byte_usage_hours": a["ramByteUsageAverage"] * hours,
            "cpu_efficiency": a["cpuEfficiency"],
            "ram_efficiency": a["ramEfficiency"],
            "total_efficiency": a["totalEfficiency"],
        },
        rel=1e-12,
    )


def test_recent_days_are_reread_and_revised_older_days_are_not(tmp_path, fake, warehouse, today):
    sync_source(warehouse, make_source(tmp_path, fake))
    assert warehouse.get_cursor("k8s", "costs")["settled_until"] == "2026-11-06"
    # OpenCost revises the days it has not settled; an old day changing is not re-read
    fake.days[date(2026, 11, 7)]["credit-risk"]["cpuCost"] = 99.0
    fake.days[date(2026, 11, 2)]["credit-risk"]["cpuCost"] = 77.0
    fake.requests.clear()
    today(TODAY + timedelta(days=1))
    sync_source(warehouse, make_source(tmp_path, fake))
    assert fake.windows() == ["2026-11-06T00:00:00Z,2026-11-09T00:00:00Z"]
    got = stored_costs(warehouse)
    assert got[("2026-11-07", "credit-risk", "cpu")][1] == Decimal("99")
    assert got[("2026-11-02", "credit-risk", "cpu")][1] != Decimal("77")
    assert len(got) == 8 * len(NAMES) * 7  # replaced, never added to
    assert warehouse.get_cursor("k8s", "usage")["settled_until"] == "2026-11-07"


def test_nothing_to_read_before_a_day_has_ended(tmp_path, fake, warehouse, today):
    today(START)
    stats = sync_source(warehouse, make_source(tmp_path, fake))
    assert stats.rows == 0 and fake.requests == []
    assert warehouse.get_cursor("k8s", "costs") is None


def test_kubecost_reads_model_allocation(tmp_path, warehouse, today):
    fake = FakeOpencost(path="/model/allocation")
    fake.fill(START, TODAY)
    sync_source(warehouse, make_source(tmp_path, fake, 'api = "kubecost"'))
    assert {r.url.path for r in fake.requests} == {"/model/allocation"}
    assert fake.requests[0].url.params["idle"] == "true"
    (provider,) = warehouse.con.execute("SELECT DISTINCT provider FROM costs").fetchone()
    assert provider == "Kubecost"


@pytest.mark.parametrize("empty", [[], [None], [{}], [None, None, None]])
def test_empty_windows_store_nothing_and_move_on(tmp_path, warehouse, today, empty):
    fake = FakeOpencost()
    fake.fail = [httpx.Response(200, json={"code": 200, "data": empty})] * 3
    stats = sync_source(warehouse, make_source(tmp_path, fake))
    assert stats.rows == 0
    assert warehouse.get_cursor("k8s", "costs")["settled_until"] == "2026-11-06"


def test_entity_map_globs(tmp_path, warehouse, today):
    fake = FakeOpencost()
    fake.fill(START, TODAY)
    extra = '[sources.entity_map]\n"fraud-*" = "fraud"\n"__unallocated__" = "platform"'
    sync_source(warehouse, make_source(tmp_path, fake, extra))
    entities = {e for (e,) in warehouse.con.execute("SELECT DISTINCT entity FROM costs").fetchall()}
    assert entities == {"credit-risk", "fraud", "platform", None}


def test_label_aggregation_missing_means_everything_unallocated(tmp_path, warehouse, today):
    fake = FakeOpencost(label="label:ml-model")  # a server that kept the dash never matches
    fake.fill(START, TODAY)
    sync_source(warehouse, make_source(tmp_path, fake))
    names = {
        n for (n,) in warehouse.con.execute("SELECT DISTINCT resource_id FROM costs").fetchall()
    }
    assert names == {"__unallocated__"}


# -- bad answers --------------------------------------------------------------------------------


def _json(status: int, body) -> httpx.Response:
    return httpx.Response(
        status, content=json.dumps(body).encode(), headers={"content-type": "application/json"}
    )


def test_server_error_names_source_and_message_and_keeps_cursor(tmp_path, fake, warehouse, today):
    sync_source(warehouse, make_source(tmp_path, fake))
    before = (warehouse.get_cursor("k8s", "costs"), stored_costs(warehouse))
    fake.fail = [_json(400, {"code": 400, "message": "error parsing window"})]
    today(TODAY + timedelta(days=3))
    with pytest.raises(SourceError) as err:
        sync_source(warehouse, make_source(tmp_path, fake))
    assert "source 'k8s'" in str(err.value) and "HTTP 400" in str(err.value)
    assert "error parsing window" in str(err.value)
    assert (warehouse.get_cursor("k8s", "costs"), stored_costs(warehouse)) == before


def test_retries_5xx_then_succeeds(tmp_path, fake, warehouse, today):
    fake.fail = [httpx.Response(503, headers={"Retry-After": "1"}), httpx.Response(502)]
    stats = sync_source(warehouse, make_source(tmp_path, fake))
    assert stats.streams["costs"].rows == 7 * len(NAMES) * 7
    assert stats.reads["requests"] == 5  # 3 windows + 2 retries


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"code": 200}, "no 'data' list"),
        ({"code": 200, "data": ["x"]}, r"data\[0\] is not an object"),
        ({"code": 500, "data": [], "message": "boom"}, "code 500: boom"),
        ([1, 2], "no 'data' list"),
    ],
)
def test_malformed_answers_are_refused(tmp_path, warehouse, today, body, message):
    fake = FakeOpencost()
    fake.fail = [_json(200, body)]
    with pytest.raises(SourceError, match=message):
        sync_source(warehouse, make_source(tmp_path, fake))
    assert warehouse.get_cursor("k8s", "costs") is None
    assert warehouse.con.execute("SELECT count(*) FROM costs").fetchone() == (0,)


def test_bad_field_names_allocation_day_and_field(tmp_path, fake, warehouse, today):
    fake.days[date(2026, 11, 5)]["fraud-detector"]["gpuHours"] = "many"
    with pytest.raises(SourceError) as err:
        sync_source(warehouse, make_source(tmp_path, fake))
    text = str(err.value)
    assert "'fraud-detector' on 2026-11-05" in text and "'gpuHours'" in text
    assert "window 2026-11-04T00:00:00Z,2026-11-07T00:00:00Z" in text
    # the first chunk was committed with its cursor; the bad one left nothing behind
    assert warehouse.get_cursor("k8s", "costs")["settled_until"] == "2026-11-04"
    days = warehouse.con.execute(
        "SELECT max(charge_period_start)::DATE::VARCHAR FROM costs"
    ).fetchone()
    assert days == ("2026-11-03",)


def test_days_outside_the_window_are_refused(tmp_path, fake, warehouse, today):
    shifted = {"code": 200, "data": [fake.days[TODAY + timedelta(days=2)]]}
    fake.fail = [_json(200, shifted)]
    with pytest.raises(SourceError, match="outside the asked window"):
        sync_source(warehouse, make_source(tmp_path, fake))


def test_rejected_token_never_shown(tmp_path, fake, warehouse, today, monkeypatch, caplog):
    monkeypatch.setenv("OC_TOKEN", "hunter2-secret")
    fake.fail = [_json(401, {"message": "bad token hunter2-secret"})]
    with caplog.at_level(logging.DEBUG), pytest.raises(SourceError) as err:
        sync_source(warehouse, make_source(tmp_path, fake, 'token = "${OC_TOKEN}"'))
    assert "HTTP 401" in str(err.value) and "rejected" in str(err.value)
    assert "hunter2" not in str(err.value) and "hunter2" not in caplog.text
    assert fake.requests[0].headers["Authorization"] == "Bearer hunter2-secret"


@pytest.mark.parametrize(
    ("extra", "key"),
    [
        ('currency = "usd"', "currency"),
        ("settle_days = -1", "settle_days"),
        ('api = "cloudability"', "api"),
        ('url = "opencost:9003"', "url"),
    ],
)
def test_bad_options_name_the_key(tmp_path, fake, extra, key):
    with pytest.raises(ConfigError, match=key):
        make_source(tmp_path, fake, extra)


def test_check_asks_for_yesterday(tmp_path, fake, today):
    source = make_source(tmp_path, fake)
    assert source.check() == (
        f"ok: http://opencost.example:9003/allocation ({len(NAMES) * 7} cost rows yesterday)"
    )
    assert fake.windows() == ["2026-11-07T00:00:00Z,2026-11-08T00:00:00Z"]
