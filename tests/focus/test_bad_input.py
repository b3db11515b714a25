"""Bad exports: each error names the file, the line (or Parquet row) and the column, and
nothing stored changes."""

from __future__ import annotations

import gzip
import json

import pytest

from mlreport.sources import SourceError
from tests.focus.builder import charge, csv_bytes, touch_later, write_csv, write_parquet


@pytest.fixture
def synced(world):
    """A good export synced once; each test then breaks it."""
    path = write_csv(world.root / "bill.csv", [charge("1"), charge("2"), charge("3")])
    world.config(path="bill.csv", entity_tag="ml-model")
    world.sync()
    world.good = path
    world.before = world.snapshot()
    return world


def fails(world, rows_or_bytes, *texts: str, name: str = "bill.csv") -> str:
    path = world.root / name
    if isinstance(rows_or_bytes, bytes):
        path.write_bytes(rows_or_bytes)
    else:
        write_csv(path, rows_or_bytes)
    touch_later(path)
    with pytest.raises(SourceError) as info:
        world.sync()
    message = str(info.value)
    for text in texts:
        assert text in message, message
    assert "\n" not in message
    assert world.snapshot() == world.before, "a failed sync must change nothing"
    return message


def test_bad_decimal_names_line_and_column(synced):
    rows = [charge("1"), charge("2"), charge("3"), charge("1", EffectiveCost="1,5")]
    fails(synced, rows, "bill.csv: line 5, column EffectiveCost", "not a decimal", "'1,5'")


def test_unknown_currency_code(synced):
    rows = [charge("1"), charge("2", currency="US$")]
    fails(synced, rows, "line 3, column BillingCurrency", "ISO 4217", "'US$'")


def test_wrong_tags_json(synced):
    rows = [
        charge("1", tags={"ml-model": "a"}),
        charge("1", tags='{"ml-model": "a"'),
        charge("2", tags='["a"]'),
    ]
    fails(synced, rows, "line 3, column Tags", "not a JSON object", "(2 rows in all)")


def test_missing_mandatory_column(synced):
    text = csv_bytes([charge("1")]).decode()
    header, body = text.split("\n", 1)
    header = header.replace("BillingCurrency", "Currency")
    message = fails(
        synced, (header + "\n" + body).encode(), "line 1: missing FOCUS column(s) BillingCurrency"
    )
    assert "FOCUS 1.0-1.2" in message


def test_column_names_that_differ_in_case_are_named(synced):
    text = csv_bytes([charge("1")]).decode().replace("EffectiveCost", "effectivecost", 1)
    fails(synced, text.encode(), "missing FOCUS column(s) EffectiveCost", "found 'effectivecost'")


def test_bad_and_empty_timestamps(synced):
    fails(
        synced,
        [charge("1"), charge("1", ChargePeriodStart="yesterday")],
        "line 3, column ChargePeriodStart",
        "date and time",
    )
    fails(synced, [charge("1", BillingPeriodEnd=None)], "line 2, column BillingPeriodEnd: is empty")


def test_empty_cost_is_an_error(synced):
    fails(
        synced, [charge("1"), charge("1", BilledCost=None)], "line 3, column BilledCost: is empty"
    )


def test_empty_file_and_header_only(synced):
    fails(synced, b"", "bill.csv: the file is empty")
    header = csv_bytes([]).decode()
    fails(synced, header.encode(), "bill.csv: no rows (only a header)")


def test_duplicated_rows(synced):
    rows = [charge("1"), charge("2"), charge("1")]
    fails(synced, rows, "line 4 repeats line 2", "duplicated row")


def test_the_same_file_twice_under_two_names(synced):
    (synced.root / "copy").mkdir()
    (synced.root / "copy/bill.csv").write_bytes(synced.good.read_bytes())
    synced.config(path=["bill.csv", "copy/*.csv"], entity_tag="ml-model")
    with pytest.raises(SourceError, match="the same bytes as"):
        synced.sync()


def test_ragged_csv_line_is_reported_by_the_reader(synced):
    text = csv_bytes([charge("1"), charge("2")]).decode().rstrip("\n") + ",extra,fields\n"
    fails(synced, text.encode(), "bill.csv")


def test_invalid_gzip_and_unknown_file_type(synced):
    (synced.root / "bad.csv.gz").write_bytes(b"not gzip at all")
    synced.config(path="bad.csv.gz")
    with pytest.raises(SourceError, match="bad.csv.gz: cannot be read"):
        synced.sync()
    (synced.root / "bill.xlsx").write_bytes(b"PK")
    synced.config(path="bill.xlsx")
    with pytest.raises(SourceError, match="not a FOCUS export file"):
        synced.sync()


def test_a_bad_row_far_down_a_gzip_csv_is_found(world):
    rows = [charge(str(i), resource=f"r{i}") for i in range(5000)]
    rows[4321] = charge("1", resource="r4321", EffectiveCost="abc")
    write_csv(world.root / "big.csv.gz", rows)
    world.config(path="big.csv.gz")
    with pytest.raises(SourceError, match=r"big.csv.gz: line 4323, column EffectiveCost"):
        world.sync()


def test_parquet_errors_name_the_row(world):
    write_parquet(world.root / "p.parquet", [charge("1"), charge("2", currency="ZZZ")])
    world.config(path="p.parquet")
    with pytest.raises(SourceError, match=r"p.parquet: row 2, column BillingCurrency.*'ZZZ'"):
        world.sync()
    write_parquet(world.root / "p.parquet", [charge("1"), charge("2"), charge("1")])
    with pytest.raises(SourceError, match=r"row 3 repeats row 1"):
        world.sync()


def test_hostile_strings_stay_data(world):
    evil = "<script>alert(1)</script>'; DROP TABLE costs; --"
    tags = {"ml-model": evil, " ml-model ": "x"}
    write_csv(world.root / "b.csv", [charge("1", tags=tags, ServiceName=evil)])
    world.config(path="b.csv", entity_tag="ml-model")
    world.sync()
    assert world.query("SELECT entity, service_name FROM cost_rows") == [(evil, evil)]
    assert world.query("SELECT count(*) FROM costs") == [(0,)]


def test_config_errors_name_the_key(world):
    from mlreport.config import ConfigError

    write_csv(world.root / "b.csv", [charge("1")])
    for options, text in [
        ({"path": []}, "path"),
        ({"path": "b.csv", "entity_tag": " "}, "entity_tag"),
        ({"path": "b.csv", "shared_split": "sometimes"}, "shared_split"),
        ({"path": "b.csv", "entity_mapp": {}}, "did you mean `entity_map`"),
        ({"path": "missing/*.csv"}, "no FOCUS export file found"),
    ]:
        world.config(**options)
        with pytest.raises((ConfigError, SourceError), match=text):
            world.sync()


def test_gzip_of_the_good_file_under_a_new_name_is_read(world):
    data = csv_bytes([charge("4.5")])
    (world.root / "b.csv.gz").write_bytes(gzip.compress(data))
    world.config(path="b.csv.gz")
    world.sync()
    assert json.loads(world.query("SELECT files FROM cost_exports")[0][0])[0]["rows"] == 1
