"""FOCUS exports written for the tests, modelled on the FOCUS 1.0, 1.1 and 1.2 column sets and
on the folder layouts AWS Data Exports and Azure cost exports write.

``charge(...)`` makes one row; ``write_csv`` / ``write_parquet`` write rows as a provider
would (CSV with literal ``NULL`` and zone-less times; Parquet typed); ``aws_delivery`` and
``azure_delivery`` lay a delivery out with its manifest.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl

from mlreport.config import load_config
from mlreport.pipeline import sync_all
from mlreport.sources import SyncStats
from mlreport.warehouse import Warehouse

FOCUS_1_0 = [
    "AvailabilityZone",
    "BilledCost",
    "BillingAccountId",
    "BillingAccountName",
    "BillingCurrency",
    "BillingPeriodEnd",
    "BillingPeriodStart",
    "ChargeCategory",
    "ChargeClass",
    "ChargeDescription",
    "ChargeFrequency",
    "ChargePeriodEnd",
    "ChargePeriodStart",
    "CommitmentDiscountCategory",
    "CommitmentDiscountId",
    "CommitmentDiscountName",
    "CommitmentDiscountStatus",
    "CommitmentDiscountType",
    "ConsumedQuantity",
    "ConsumedUnit",
    "ContractedCost",
    "ContractedUnitPrice",
    "EffectiveCost",
    "InvoiceIssuerName",
    "ListCost",
    "ListUnitPrice",
    "PricingCategory",
    "PricingQuantity",
    "PricingUnit",
    "ProviderName",
    "PublisherName",
    "RegionId",
    "RegionName",
    "ResourceId",
    "ResourceName",
    "ResourceType",
    "ServiceCategory",
    "ServiceName",
    "SkuId",
    "SkuPriceId",
    "SubAccountId",
    "SubAccountName",
    "Tags",
]
FOCUS_1_1 = FOCUS_1_0 + [
    "CapacityReservationId",
    "CapacityReservationStatus",
    "CommitmentDiscountQuantity",
    "CommitmentDiscountUnit",
    "ServiceSubcategory",
    "SkuMeter",
    "SkuPriceDetails",
]
FOCUS_1_2 = FOCUS_1_1 + [
    "BillingAccountType",
    "SubAccountType",
    "InvoiceId",
    "PricingCurrency",
    "PricingCurrencyContractedUnitPrice",
    "PricingCurrencyEffectiveCost",
    "PricingCurrencyListUnitPrice",
]
VERSIONS = {"1.0": FOCUS_1_0, "1.1": FOCUS_1_1, "1.2": FOCUS_1_2}
EXTRA = ["x_ServiceCode", "x_Discounts"]  # provider columns: normal input, ignored


def charge(
    effective: str | float = "1.25",
    *,
    billed: str | float | None = None,
    list_cost: str | float | None = None,
    tags: dict[str, Any] | str | None = None,
    start: str = "2026-01-10 00:00:00",
    period: str = "2026-01",
    currency: str = "USD",
    category: str = "Compute",
    charge_class: str | None = None,
    resource: str = "i-0abc",
    **over: Any,
) -> dict[str, Any]:
    """One FOCUS row as text, the way CSV exports write it (None: NULL)."""
    begin = datetime.strptime(period + "-01", "%Y-%m-%d")
    end = (begin + timedelta(days=32)).replace(day=1)
    charge_start = datetime.fromisoformat(start.replace("Z", ""))
    row = dict.fromkeys(FOCUS_1_2)
    row.update(
        BilledCost=str(billed if billed is not None else effective),
        EffectiveCost=str(effective),
        ListCost=str(list_cost if list_cost is not None else _double(effective)),
        ContractedCost=str(effective),
        BillingCurrency=currency,
        BillingAccountId="123456789012",
        BillingAccountName="Example Org",
        BillingPeriodStart=begin.strftime("%Y-%m-%d %H:%M:%S"),
        BillingPeriodEnd=end.strftime("%Y-%m-%d %H:%M:%S"),
        ChargePeriodStart=start,
        ChargePeriodEnd=(charge_start + timedelta(hours=1)).strftime("%Y-%m-%d %H:%M:%S"),
        ChargeCategory="Usage" if charge_class is None else "Adjustment",
        ChargeClass=charge_class,
        ChargeDescription="m7i.xlarge on-demand hour",
        ChargeFrequency="Usage-Based",
        InvoiceIssuerName="Example Cloud, Inc.",
        ProviderName="Example Cloud",
        PublisherName="Example Cloud",
        RegionId="eu-west-1",
        RegionName="Europe (Ireland)",
        ResourceId=resource,
        ServiceCategory=category,
        ServiceName="Elastic Compute" if category == "Compute" else f"{category} service",
        Tags=tags if isinstance(tags, str) or tags is None else json.dumps(tags),
        x_ServiceCode="EC2",
        x_Discounts=None,
    )
    row.update(over)
    return row


def _double(value: str | float) -> str:
    try:
        return str(Decimal(str(value)) * 2)
    except ArithmeticError:  # a deliberately bad amount: keep it bad
        return str(value)


def columns(version: str = "1.2", extra: bool = True) -> list[str]:
    return VERSIONS[version] + (EXTRA if extra else [])


def csv_bytes(rows: list[dict[str, Any]], version: str = "1.2", extra: bool = True) -> bytes:
    cols = columns(version, extra)
    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_MINIMAL, lineterminator="\n")
    writer.writerow(cols)
    for row in rows:
        writer.writerow(["NULL" if row.get(c) is None else row[c] for c in cols])
    return out.getvalue().encode("utf-8")


def write_csv(path: Path, rows: list[dict[str, Any]], version: str = "1.2", **kw: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = csv_bytes(rows, version, **kw)
    if path.name.endswith(".gz"):
        data = gzip.compress(data, mtime=0)
    path.write_bytes(data)
    return path


def typed_frame(rows: list[dict[str, Any]], version: str = "1.2") -> pl.DataFrame:
    """Rows typed as Parquet exports hold them: costs DECIMAL(38, 10), times TIMESTAMP."""
    cols = columns(version)
    frame = pl.DataFrame(
        [{c: r.get(c) for c in cols} for r in rows], schema=dict.fromkeys(cols, pl.String)
    )
    costs = ["BilledCost", "EffectiveCost", "ListCost", "ContractedCost"]
    times = ["BillingPeriodStart", "BillingPeriodEnd", "ChargePeriodStart", "ChargePeriodEnd"]
    return frame.with_columns(
        *[pl.col(c).cast(pl.Decimal(38, 10)) for c in costs],
        *[pl.col(c).str.to_datetime("%Y-%m-%d %H:%M:%S") for c in times],
    )


def write_parquet(path: Path, rows: list[dict[str, Any]], version: str = "1.2") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    typed_frame(rows, version).write_parquet(path)
    return path


def aws_delivery(
    root: Path, period: str, parts: list[list[dict[str, Any]]], execution: str, fmt: str = "parquet"
) -> list[Path]:
    """``<root>/data/BILLING_PERIOD=<period>/`` parts and the manifest under ``metadata/``."""
    folder = root / "data" / f"BILLING_PERIOD={period}"
    files = []
    for n, rows in enumerate(parts, start=1):
        name = f"{root.name}-{execution}-{n:05d}"
        if fmt == "parquet":
            files.append(write_parquet(folder / f"{name}.snappy.parquet", rows))
        else:
            files.append(write_csv(folder / f"{name}.csv.gz", rows))
    manifest = {
        "executionId": execution,
        "exportArn": f"arn:aws:bcm-data-exports:us-east-1:123456789012:export/{root.name}",
        "columns": [{"name": c, "type": "string"} for c in columns()],
        "dataFiles": [
            f"s3://billing-bucket/exports/{root.name}/data/BILLING_PERIOD={period}/{f.name}"
            for f in files
        ],
        "additionalOutputFiles": [],
    }
    path = root / "metadata" / f"BILLING_PERIOD={period}" / f"{root.name}-Manifest.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(manifest), encoding="utf-8")
    return files


def azure_delivery(
    root: Path, period: str, parts: list[list[dict[str, Any]]], run_id: str, submitted: str
) -> list[Path]:
    """``<root>/<YYYYMMDD-YYYYMMDD>/<run id>/part_*.csv.gz`` and its ``manifest.json``."""
    begin = datetime.strptime(period + "-01", "%Y-%m-%d")
    last = (begin + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    folder = root / f"{begin:%Y%m%d}-{last:%Y%m%d}" / run_id
    files = [write_csv(folder / f"part_0_{n:04d}.csv.gz", rows) for n, rows in enumerate(parts, 1)]
    manifest = {
        "manifestVersion": "2024-04-01",
        "byteCount": sum(f.stat().st_size for f in files),
        "blobCount": len(files),
        "dataRowCount": sum(len(p) for p in parts),
        "exportConfig": {
            "exportName": root.name,
            "resourceId": "/subscriptions/0000/providers/Microsoft.CostManagement/exports/x",
            "dataVersion": "1.0r2",
            "type": "FocusCost",
            "timeFrame": "MonthToDate",
            "granularity": "Daily",
        },
        "deliveryConfig": {"partitionData": True, "fileFormat": "Csv", "compressionMode": "gzip"},
        "runInfo": {
            "executionType": "Scheduled",
            "submittedTime": submitted,
            "runId": run_id,
            "startDate": f"{begin:%Y-%m-%d}T00:00:00",
            "endDate": f"{last:%Y-%m-%d}T00:00:00",
        },
        "blobs": [
            {
                "blobName": f"exports/{root.name}/{folder.parent.name}/{run_id}/{f.name}",
                "byteCount": f.stat().st_size,
            }
            for f in files
        ],
    }
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return files


@dataclass
class FocusWorld:
    """A temp folder with exports, a config with one focus source, and a real warehouse."""

    root: Path
    source: str = "billing"

    def config(self, extra: str = "", **options: Any) -> Path:
        lines = [
            "[warehouse]",
            'path = "wh.duckdb"',
            "",
            "[[sources]]",
            f'name = "{self.source}"',
            'type = "focus"',
        ]
        lines += [f"{k} = {json.dumps(v)}" for k, v in options.items()]
        path = self.root / "mlreport.toml"
        path.write_text("\n".join(lines) + "\n" + extra, encoding="utf-8")
        return path

    def sync(self) -> SyncStats:
        config = load_config(self.root / "mlreport.toml")
        with Warehouse(config.warehouse.path) as wh:
            return sync_all(wh, config, fail_fast=True)[0]

    def query(self, sql: str, params: list | None = None) -> list[tuple]:
        with Warehouse(self.root / "wh.duckdb", read_only=True) as wh:
            return wh.con.execute(sql, params or []).fetchall()

    def snapshot(self) -> dict[str, Any]:
        """Everything a focus sync stores: view text, export row, entities, cursors (the rows
        themselves stay in the files)."""
        path = self.root / "wh.duckdb"
        if not path.exists():
            return {}
        with Warehouse(path) as wh:  # read-write: replays the WAL a killed sync left
            return {
                "views": wh.con.execute(
                    "SELECT view_name, sql FROM duckdb_views() WHERE NOT internal "
                    "AND view_name LIKE 'cost%' ORDER BY 1"
                ).fetchall(),
                "exports": wh.con.execute(
                    "SELECT * EXCLUDE (synced_at) FROM cost_exports"
                ).fetchall(),
                "cursors": wh.con.execute(
                    "SELECT source, stream, cursor FROM _sync_state ORDER BY 1, 2"
                ).fetchall(),
                "entities": wh.con.execute(
                    "SELECT * EXCLUDE (synced_at) FROM cost_entities ORDER BY ALL"
                ).fetchall(),
            }


def touch_later(path: Path) -> None:
    """Move a file's mtime on (a re-delivery within the same second still looks new)."""
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
