"""The ``mlflow`` source with ``store =`` (this reader) fills the warehouse exactly as with
``tracking_uri =`` (the REST backend) over the same database."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlreport.config import parse_config, validate_options
from mlreport.sources import sync_source
from mlreport.warehouse import Warehouse

pytestmark = pytest.mark.slow  # shares the real mlflow server of this folder

TABLES = {
    "experiments": "experiment_id",
    "runs": "run_id",
    "run_metrics": "run_id, key, step, ts, value",
    "registered_models": "name",
    "model_versions": "name, version",
    "deployments": "deployment_id",
}


def sync_into(root: Path, option: str) -> Warehouse:
    """One sync of an mlflow source configured with ``option`` into a fresh warehouse."""
    from mlreport.connectors.mlflow.source import MlflowSource

    root.mkdir()
    path = root / "mlreport.toml"
    path.write_text(f'[[sources]]\nname = "mlflow"\ntype = "mlflow"\n{option}\n', encoding="utf-8")
    config = parse_config(path.read_text(encoding="utf-8"), path, root)
    src = config.sources[0]
    options = validate_options(MlflowSource.Options, src.options, config, ("sources", 0))
    warehouse = Warehouse(root / "wh.duckdb")
    sync_source(warehouse, MlflowSource(src.name, options, config))
    return warehouse


def rows(warehouse: Warehouse, table: str, order: str) -> list[tuple]:
    columns = [
        r[0]
        for r in warehouse.con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = ? "
            "ORDER BY ordinal_position",
            [table],
        ).fetchall()
        if r[0] != "synced_at"
    ]
    select = ", ".join(f'"{c}"' for c in columns)
    found = warehouse.con.execute(f"SELECT {select} FROM {table} ORDER BY {order}").fetchall()
    return [tuple("NaN" if v != v else v for v in row) for row in found]  # NaN != NaN


def test_store_and_server_give_the_same_tables(seeded_server, tmp_path: Path):
    server = seeded_server.server
    over_rest = sync_into(tmp_path / "rest", f'tracking_uri = "{server.url}"')
    # the server proxies artifacts (mlflow-artifacts:/) to ./mlartifacts of its working
    # directory, which is this process's: the offline reader checks them there
    destination = Path.cwd() / "mlartifacts"
    offline = sync_into(
        tmp_path / "store",
        f'store = "{server.db}"\nartifacts_destination = "{destination}"',
    )
    for table, order in TABLES.items():
        expected = rows(over_rest, table, order)
        assert rows(offline, table, order) == expected, table
    assert rows(offline, "runs", "run_id")  # not vacuously equal
    events = "SELECT name, version, event, detail FROM model_events ORDER BY ALL"
    assert offline.con.execute(events).fetchall() == over_rest.con.execute(events).fetchall()
