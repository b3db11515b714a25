"""The sample organisation's cloud bill: FOCUS 1.0 cost exports as AWS Data Exports writes
them, and the value settings the ``roi`` family reads (docs/sample-data.md, "Cloud cost and
ROI").

One export, ``mlops-focus``, delivered to ``billing/exports/mlops-focus/`` (``billing`` stands
for the S3 bucket): per billing period a gzip CSV under ``data/BILLING_PERIOD=YYYY-MM/`` and
its ``Manifest.json`` under ``metadata/BILLING_PERIOD=YYYY-MM/``. Daily charges, one row per
resource and day, from 5 January to 30 June 2026. The stories:

- fraud-detector serves on two GPU instances; with model 9 (13 March 10:44:44 UTC, the
  production deployment of the event files) they move from g4dn.xlarge to g5.2xlarge, so its
  cost per 1,000 predictions more than doubles at the same traffic.
- An EC2 service credit (negative) on the fraud GPUs in April.
- June was delivered twice: the final delivery's manifest lists one part; a second part the
  earlier delivery wrote (10-17 June, preliminary amounts) is still in the folder and must not
  count. The final delivery also carries a ``ChargeClass = 'Correction'`` row for May storage.
- A SageMaker notebook nobody tagged runs from mid-February to the end of April: unattributed.
- The Kubernetes control plane and NAT gateway are tagged ``platform``, mapped to ``shared``
  and split by predictions.

Amounts come from one seeded ``numpy.random.Generator`` and are written as fixed decimals, and
the gzip header carries no time, so the files have the same bytes on every run and machine.
Prices are illustrative, not AWS's price list.
"""

from __future__ import annotations

import functools
import gzip
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np

from mlreport.atomic import write_changed
from mlreport.sample_data.org import PERIOD_END, PERIOD_START
from mlreport.sample_data.predictions import FRAUD_SWITCH

SEED = 20260702
SOURCE = "billing"
EXPORT = "mlops-focus"
EXPORT_DIR = f"billing/exports/{EXPORT}"
S3_PREFIX = f"s3://sample-org-billing/exports/{EXPORT}"
ACCOUNT = "210987654321"
REGION = ("eu-west-1", "Europe (Ireland)")
TAG = "user:ml-model"  # AWS prefixes user-defined cost allocation tags with `user:`
GPU_SWITCH = FRAUD_SWITCH
UNTAGGED = (datetime(2026, 2, 16, 9, 12, tzinfo=UTC), datetime(2026, 5, 1, tzinfo=UTC))
CREDIT = (date(2026, 4, 20), Decimal("-250.00000000"), "fraud-detector-gpu")
CORRECTION = (date(2026, 5, 1), Decimal("41.60000000"), "credit-risk")  # May storage, re-rated
STALE = ("2026-06", date(2026, 6, 10), date(2026, 6, 18))  # the earlier June delivery's part 2
PRELIMINARY = Decimal("0.97")  # its amounts, against the final ones
Q = Decimal("0.00000001")

COLUMNS = (
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
    "x_Operation",
    "x_ServiceCode",
    "x_UsageType",
)
DOUBLES = {
    "BilledCost",
    "ConsumedQuantity",
    "ContractedCost",
    "ContractedUnitPrice",
    "EffectiveCost",
    "ListCost",
    "ListUnitPrice",
    "PricingQuantity",
}
TIMES = {"BillingPeriodEnd", "BillingPeriodStart", "ChargePeriodEnd", "ChargePeriodStart"}


@dataclass(frozen=True)
class Resource:
    """One billed resource. ``kind``: ``instance`` (hours while running), ``hourly`` (always
    on), ``storage`` (GB-months, growing) or ``transfer`` (GB out per day, random)."""

    id: str
    name: str
    tag: str | None  # the `user:ml-model` value; None: nobody tagged it
    team: str | None
    kind: str
    category: str
    service: str
    code: str  # x_ServiceCode
    usage_type: str
    unit: str
    price: str  # list price per unit
    discount: str = "1"  # effective / list (a negotiated rate)
    since: datetime | None = None
    until: datetime | None = None
    size: float = 0.0  # storage: GB on the first day; transfer: mean GB a day
    growth: float = 0.0  # storage: GB added a day


def _arn(service: str, kind: str, name: str) -> str:
    return f"arn:aws:{service}:{REGION[0]}:{ACCOUNT}:{kind}/{name}"


def _ec2(
    iid: str, name: str, tag: str, team: str, itype: str, price: str, **kw: object
) -> Resource:
    return Resource(
        id=_arn("ec2", "instance", iid),
        name=name,
        tag=tag,
        team=team,
        kind="instance",
        category="Compute",
        service="Amazon Elastic Compute Cloud",
        code="AmazonEC2",
        usage_type=f"EU-BoxUsage:{itype}",
        unit="Hrs",
        price=price,
        **kw,  # type: ignore[arg-type]
    )


def _s3(bucket: str, tag: str, team: str, size: float, growth: float) -> Resource:
    return Resource(
        id=f"arn:aws:s3:::{bucket}",
        name=bucket,
        tag=tag,
        team=team,
        kind="storage",
        category="Storage",
        service="Amazon Simple Storage Service",
        code="AmazonS3",
        usage_type="EU-TimedStorage-ByteHrs",
        unit="GB-Mo",
        price="0.023",
        size=size,
        growth=growth,
    )


def _transfer(rid: str, tag: str | None, team: str | None, gb: float) -> Resource:
    return Resource(
        id=_arn("ec2", "natgateway" if tag == "platform" else "instance", rid),
        name=rid,
        tag=tag,
        team=team,
        kind="transfer",
        category="Networking",
        service="AWS Data Transfer",
        code="AWSDataTransfer",
        usage_type="EU-DataTransfer-Out-Bytes",
        unit="GB",
        price="0.09",
        size=gb,
    )


SAVINGS = "0.72"  # compute under the company's negotiated rate
RESOURCES: tuple[Resource, ...] = (
    _ec2(
        "i-0c4e1a7b9d2f30001",
        "credit-risk-api-1",
        "credit-risk",
        "risk-ml",
        "m7i.2xlarge",
        "0.4536",
        discount=SAVINGS,
    ),
    _s3("sample-org-credit-risk-logs", "credit-risk", "risk-ml", 420.0, 2.5),
    _transfer("i-0c4e1a7b9d2f30001", "credit-risk", "risk-ml", 3.0),
    _ec2(
        "i-0f7d2c5e8a1b40001",
        "fraud-gpu-a",
        "fraud-detector-gpu",
        "fraud-platform",
        "g4dn.xlarge",
        "0.587",
        until=GPU_SWITCH,
    ),
    _ec2(
        "i-0f7d2c5e8a1b40002",
        "fraud-gpu-b",
        "fraud-detector-gpu",
        "fraud-platform",
        "g4dn.xlarge",
        "0.587",
        until=GPU_SWITCH,
    ),
    _ec2(
        "i-0f7d2c5e8a1b50001",
        "fraud-gpu-a",
        "fraud-detector-gpu",
        "fraud-platform",
        "g5.2xlarge",
        "1.362",
        since=GPU_SWITCH,
    ),
    _ec2(
        "i-0f7d2c5e8a1b50002",
        "fraud-gpu-b",
        "fraud-detector-gpu",
        "fraud-platform",
        "g5.2xlarge",
        "1.362",
        since=GPU_SWITCH,
    ),
    _s3("sample-org-fraud-features", "fraud-detector", "fraud-platform", 880.0, 4.0),
    _transfer("i-0f7d2c5e8a1b40001", "fraud-detector", "fraud-platform", 6.0),
    _ec2(
        "i-0a93b7d1c5e260001",
        "recsys-api-1",
        "recsys-api",
        "discovery",
        "c7g.2xlarge",
        "0.3264",
        discount=SAVINGS,
    ),
    _ec2(
        "i-0a93b7d1c5e260002",
        "recsys-api-2",
        "recsys-api",
        "discovery",
        "c7g.2xlarge",
        "0.3264",
        discount=SAVINGS,
    ),
    _transfer("i-0a93b7d1c5e260001", "recsys-api", "discovery", 25.0),
    Resource(
        id=_arn("eks", "cluster", "ml-serving"),
        name="ml-serving",
        tag="platform",
        team="platform",
        kind="hourly",
        category="Compute",
        service="Amazon Elastic Kubernetes Service",
        code="AmazonEKS",
        usage_type="EU-AmazonEKS-Hours:perCluster",
        unit="Hrs",
        price="0.10",
    ),
    Resource(
        id=_arn("ec2", "natgateway", "nat-0b5d9e3f1a7c20001"),
        name="ml-serving-nat",
        tag="platform",
        team="platform",
        kind="hourly",
        category="Networking",
        service="Amazon Virtual Private Cloud",
        code="AmazonVPC",
        usage_type="EU-NatGateway-Hours",
        unit="Hrs",
        price="0.048",
    ),
    Resource(
        id=_arn("sagemaker", "notebook-instance", "gpu-scratch"),
        name="gpu-scratch",
        tag=None,
        team=None,
        kind="instance",
        category="AI and Machine Learning",
        service="Amazon SageMaker",
        code="AmazonSageMaker",
        usage_type="EU-Notebk:ml.g4dn.xlarge",
        unit="Hrs",
        price="0.8225",
        since=UNTAGGED[0],
        until=UNTAGGED[1],
    ),
)


def _money(x: Decimal | float | str) -> Decimal:
    return Decimal(str(x)).quantize(Q)


def _ts(t: datetime | date) -> str:
    """AWS's CSV time format: no zone (UTC)."""
    if not isinstance(t, datetime):
        t = datetime(t.year, t.month, t.day)
    return t.strftime("%Y-%m-%d %H:%M:%S")


def _month(d: date) -> tuple[date, date]:
    start = d.replace(day=1)
    return start, (start + timedelta(days=32)).replace(day=1)


def days() -> Iterator[date]:
    d = PERIOD_START
    while d < PERIOD_END.date():
        yield d
        d += timedelta(days=1)


def _hours(r: Resource, d: date) -> float:
    """Hours ``r`` ran on day ``d`` (UTC)."""
    a = datetime(d.year, d.month, d.day, tzinfo=UTC)
    b = a + timedelta(days=1)
    lo = max(a, r.since) if r.since else a
    hi = min(b, r.until) if r.until else b
    return max((hi - lo).total_seconds(), 0.0) / 3600


def _quantity(r: Resource, d: date, n: int, rng: np.random.Generator) -> float:
    if r.kind in ("instance", "hourly"):
        return round(_hours(r, d), 6)
    if r.kind == "storage":
        month_days = (_month(d)[1] - _month(d)[0]).days
        return round((r.size + r.growth * n) / month_days, 6)
    return round(float(rng.gamma(4.0, r.size / 4.0)), 3)  # GB out


def _tags(r: Resource) -> str | None:
    if r.tag is None:
        return None
    return json.dumps({TAG: r.tag, "user:team": r.team, "aws:createdBy": "IAMRole:deploy"})


def charge_row(
    r: Resource, start: datetime | date, end: datetime | date, billing: date, qty: float
) -> dict[str, object]:
    """One FOCUS 1.0 usage row (None: NULL)."""
    price = Decimal(r.price)
    list_cost = _money(Decimal(str(qty)) * price)
    effective = _money(list_cost * Decimal(r.discount))
    period = _month(billing)
    return {
        "BilledCost": effective,
        "BillingAccountId": ACCOUNT,
        "BillingAccountName": "Sample Org",
        "BillingCurrency": "USD",
        "BillingPeriodEnd": _ts(period[1]),
        "BillingPeriodStart": _ts(period[0]),
        "ChargeCategory": "Usage",
        "ChargeClass": None,
        "ChargeDescription": f"${r.price} per {r.unit} {r.usage_type.split(':')[-1]}",
        "ChargeFrequency": "Usage-Based",
        "ChargePeriodEnd": _ts(end),
        "ChargePeriodStart": _ts(start),
        "ConsumedQuantity": Decimal(str(qty)),
        "ConsumedUnit": r.unit,
        "ContractedCost": effective,
        "ContractedUnitPrice": _money(price * Decimal(r.discount)),
        "EffectiveCost": effective,
        "InvoiceIssuerName": "Amazon Web Services EMEA SARL",
        "ListCost": list_cost,
        "ListUnitPrice": price,
        "PricingCategory": "Standard",
        "PricingQuantity": Decimal(str(qty)),
        "PricingUnit": r.unit,
        "ProviderName": "AWS",
        "PublisherName": "Amazon Web Services, Inc.",
        "RegionId": REGION[0],
        "RegionName": REGION[1],
        "ResourceId": r.id,
        "ResourceName": r.name,
        "ResourceType": r.kind,
        "ServiceCategory": r.category,
        "ServiceName": r.service,
        "SkuId": uuid.uuid5(uuid.NAMESPACE_URL, r.usage_type).hex[:16].upper(),
        "SkuPriceId": None,
        "SubAccountId": ACCOUNT,
        "SubAccountName": "ml-production",
        "Tags": _tags(r),
        "x_Operation": "RunInstances" if r.kind == "instance" else None,
        "x_ServiceCode": r.code,
        "x_UsageType": r.usage_type,
    }


def usage_rows() -> list[dict[str, object]]:
    """Every day's usage rows, in day and resource order (one generator: fixed draws)."""
    rng = np.random.default_rng(SEED)
    rows = []
    for n, d in enumerate(days()):
        for r in RESOURCES:
            qty = _quantity(r, d, n, rng)
            if qty > 0:
                rows.append(charge_row(r, d, d + timedelta(days=1), d, qty))
    return rows


def _by_resource(tag: str) -> Resource:
    return next(r for r in RESOURCES if r.tag == tag)


def credit_row() -> dict[str, object]:
    """An EC2 service credit on the fraud GPUs: negative billed and effective cost."""
    day, amount, tag = CREDIT
    row = charge_row(_by_resource(tag), day, day + timedelta(days=1), day, 0)
    row.update(
        BilledCost=amount,
        EffectiveCost=amount,
        ContractedCost=amount,
        ListCost=_money(0),
        ChargeCategory="Credit",
        ChargeDescription="AWS service credit: EC2 capacity event of 28 March",
        ChargeFrequency="One-Time",
        ConsumedQuantity=None,
        ConsumedUnit=None,
        PricingQuantity=None,
        ContractedUnitPrice=None,
        ListUnitPrice=None,
        x_Operation=None,
    )
    return row


def correction_row() -> dict[str, object]:
    """Delivered with June's bill, correcting May: it counts in May (its charge period)."""
    start, amount, tag = CORRECTION
    r = next(r for r in RESOURCES if r.tag == tag and r.kind == "storage")
    row = charge_row(r, start, _month(start)[1], date(2026, 6, 1), 0)
    row.update(
        BilledCost=amount,
        EffectiveCost=amount,
        ContractedCost=amount,
        ListCost=amount,
        ChargeClass="Correction",
        ChargeDescription="Re-rated S3 storage for May 2026",
        ConsumedQuantity=None,
        PricingQuantity=None,
    )
    return row


def periods() -> dict[str, list[dict[str, object]]]:
    """The final delivery's rows per billing period ``YYYY-MM``."""
    out: dict[str, list[dict[str, object]]] = {}
    rows = usage_rows() + [credit_row(), correction_row()]
    for row in rows:
        out.setdefault(str(row["BillingPeriodStart"])[:7], []).append(row)
    return out


def stale_rows(final: list[dict[str, object]]) -> list[dict[str, object]]:
    """What the earlier June delivery's second part held: 10-17 June, preliminary amounts."""
    _, lo, hi = STALE
    out = []
    for row in final:
        day = date.fromisoformat(str(row["ChargePeriodStart"])[:10])
        if row["ChargeClass"] is None and row["ChargeCategory"] == "Usage" and lo <= day < hi:
            scaled = {k: _money(row[k] * PRELIMINARY) for k in ("BilledCost", "EffectiveCost")}
            out.append({**row, **scaled, "ContractedCost": scaled["EffectiveCost"]})
    return out


def _cell(value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, Decimal):
        return format(value, "f")
    return '"' + str(value).replace('"', '""') + '"'


def csv_gz(rows: list[dict[str, object]]) -> bytes:
    """CSV as AWS writes it (quoted text, literal NULL, zone-less times), gzip without a time."""
    lines = [",".join(f'"{c}"' for c in COLUMNS)]
    lines += [",".join(_cell(row.get(c)) for c in COLUMNS) for row in rows]
    return gzip.compress(("\n".join(lines) + "\n").encode("utf-8"), compresslevel=6, mtime=0)


def _type(column: str) -> str:
    if column in DOUBLES:
        return "double"
    if column in TIMES:
        return "timestamp"
    return "map<string,string>" if column == "Tags" else "string"


def manifest(period: str, names: list[str]) -> bytes:
    """The delivery's ``Manifest.json`` (AWS's fields: executionId, exportArn, columns,
    dataFiles as S3 URIs, additionalOutputFiles)."""
    doc = {
        "executionId": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{S3_PREFIX}/{period}/final")),
        "exportArn": f"arn:aws:bcm-data-exports:us-east-1:{ACCOUNT}:export/{EXPORT}",
        "columns": [{"name": c, "type": _type(c)} for c in COLUMNS],
        "dataFiles": [f"{S3_PREFIX}/data/BILLING_PERIOD={period}/{n}" for n in names],
        "additionalOutputFiles": [],
    }
    return (json.dumps(doc, indent=2) + "\n").encode("utf-8")


def part_name(n: int) -> str:
    return f"{EXPORT}-{n:05d}.csv.gz"


@functools.cache
def outputs() -> dict[str, bytes]:
    """Every export file's bytes, keyed by path relative to the demo folder."""
    files = {}
    for period, rows in periods().items():
        data = f"{EXPORT_DIR}/data/BILLING_PERIOD={period}"
        files[f"{data}/{part_name(1)}"] = csv_gz(rows)
        meta = f"{EXPORT_DIR}/metadata/BILLING_PERIOD={period}/{EXPORT}-Manifest.json"
        files[meta] = manifest(period, [part_name(1)])
        if period == STALE[0]:  # left behind by the earlier delivery: listed by no manifest
            files[f"{data}/{part_name(2)}"] = csv_gz(stale_rows(rows))
    return files


def write_outputs(out_dir: Path) -> list[Path]:
    """Write the export under ``out_dir``, touching only the files whose bytes changed (so a
    second demo run leaves the source's fingerprints alone)."""
    return write_changed(out_dir, outputs())


# -- config ----------------------------------------------------------------------------------

# What each model is worth and what runs it besides the bill (docs/metrics-roi.md). fraud-
# detector was built from November (people, no value yet) and pays back; credit-risk saves
# an underwriter a few minutes per application, which does not pay a five-person team.
ROI = {
    "credit-risk": {
        "value_per_prediction": 1.5,
        "people_cost_per_month": 21000,
        "tooling_cost_per_month": 1500,
        "roi_start": date(2026, 1, 1),
        "discount_rate": 0.08,
        "currency": "USD",
    },
    "fraud-detector": {
        "value_per_true_positive": 1500,
        "cost_per_false_positive": 40,
        "people_cost_per_month": 16000,
        "tooling_cost_per_month": 1200,
        "roi_start": date(2025, 11, 1),
        "discount_rate": 0.08,
        "currency": "USD",
    },
}


def _toml_value(v: object) -> str:
    if isinstance(v, str):
        return json.dumps(v)
    return v.isoformat() if isinstance(v, date) else repr(v)


def roi_toml(entity: str) -> str:
    """The ROI keys of ``entity``'s ``[[entities]]`` entry (empty for entities without)."""
    return "".join(f"{k} = {_toml_value(v)}\n" for k, v in ROI.get(entity, {}).items())


def sources_toml() -> str:
    """The ``focus`` source of the demo config (path relative to the demo folder)."""
    return f"""\
[[sources]]
name = "{SOURCE}"
type = "focus"
path = "{EXPORT_DIR}"
entity_tag = "{TAG}"
shared_split = "predictions"
[sources.entity_map]
"fraud-detector-*" = "fraud-detector"
"platform" = "shared"

"""
