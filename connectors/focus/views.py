"""The SQL of a ``focus`` source's view: FOCUS columns renamed to the canonical ``costs``
columns, typed (costs ``DECIMAL(38, 10)``, times ``TIMESTAMPTZ`` with zone-less times read as
UTC), and each row's entity taken from its ``Tags``.

The view reads exactly the fingerprinted files (each named literally, glob characters
escaped); files of one format are read by one scan with ``union_by_name``, so FOCUS 1.0, 1.1
and 1.2 files (whose optional columns differ) share a view.
"""

from __future__ import annotations

from pathlib import Path

from mlreport.connectors.focus.checks import DECIMAL, PROVIDER, Schema, file_literal
from mlreport.connectors.focus.layout import data_format
from mlreport.connectors.focus.options import SHARED, FocusOptions
from mlreport.sql import quote_identifier as q

# The columns of `cost_rows` (migration 011), in order.
CANONICAL = (
    "source",
    "row_id",
    "charge_period_start",
    "charge_period_end",
    "billing_period_start",
    "billing_period_end",
    "billed_cost",
    "effective_cost",
    "list_cost",
    "currency",
    "provider",
    "service_name",
    "service_category",
    "charge_category",
    "charge_class",
    "resource_id",
    "region",
    "tags",
    "entity",
    "allocation",
)

_TIMES = {
    "charge_period_start": "ChargePeriodStart",
    "charge_period_end": "ChargePeriodEnd",
    "billing_period_start": "BillingPeriodStart",
    "billing_period_end": "BillingPeriodEnd",
}
_COSTS = {"billed_cost": "BilledCost", "effective_cost": "EffectiveCost", "list_cost": "ListCost"}
_TEXT = {
    "currency": ("BillingCurrency",),
    "provider": PROVIDER,
    "service_name": ("ServiceName",),
    "service_category": ("ServiceCategory",),
    "charge_category": ("ChargeCategory",),
    "charge_class": ("ChargeClass",),
    "resource_id": ("ResourceId",),
    "region": ("RegionId", "Region"),
}


def literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def view_sql(source: str, opts: FocusOptions, files: list[tuple[Path, Schema]]) -> str:
    """One SELECT of the canonical columns over ``files`` (path, schema), by format."""
    parts = []
    for fmt in ("csv", "parquet"):
        group = [(p, s) for p, s in files if data_format(p) == fmt]
        if group:
            types: dict[str, str] = {}
            for _, schema in group:
                for name, typ in schema:
                    types.setdefault(name, typ)
            parts.append(_select(source, opts, files_sql(fmt, [p for p, _ in group]), types))
    return " UNION ALL BY NAME ".join(parts)


def files_sql(fmt: str, paths: list[Path]) -> str:
    listed = "[" + ", ".join(file_literal(p) for p in paths) + "]"
    if fmt == "parquet":
        return f"read_parquet({listed}, hive_partitioning = false, union_by_name = true)"
    return (
        f"read_csv({listed}, header = true, all_varchar = true, nullstr = ['NULL', ''], "
        "hive_partitioning = false, union_by_name = true)"
    )


def _select(source: str, opts: FocusOptions, scan: str, types: dict[str, str]) -> str:
    cols = [f"{literal(source)} AS source", "NULL::VARCHAR AS row_id"]
    cols += [f"{time_sql(c)} AS {name}" for name, c in _TIMES.items()]
    cols += [f"{cost_sql(c)} AS {name}" for name, c in _COSTS.items()]
    cols += [f"{text_sql(name, types)} AS {name}" for name in _TEXT]
    tags = tags_sql(types)
    cols.append(f"{tags} AS tags")
    exacts, value, mapped = mapped_sql(opts, tags)
    cols.append(f"CASE WHEN _m = {literal(SHARED)} THEN NULL ELSE _m END AS entity")
    cols.append(
        f"CASE WHEN _m IS NULL THEN NULL WHEN _m = {literal(SHARED)} THEN 'shared' "
        "ELSE 'direct' END AS allocation"
    )
    if exacts:
        scan = f"(SELECT *, {', '.join(exacts)} FROM {scan})"
    inner = f"SELECT *, {value} AS _v FROM {scan}"
    return f"SELECT {', '.join(cols)} FROM (SELECT *, {mapped} AS _m FROM ({inner}))"


def time_sql(column: str) -> str:
    return f"CAST({q(column)} AS TIMESTAMPTZ)"


def cost_sql(column: str) -> str:
    return f"CAST({q(column)} AS {DECIMAL})"


def text_sql(name: str, types: dict[str, str]) -> str:
    """Canonical text column ``name`` from the first of its FOCUS columns the files have."""
    present = [q(c) + "::VARCHAR" for c in _TEXT[name] if c in types]
    if not present:
        return "NULL::VARCHAR"
    return present[0] if len(present) == 1 else f"coalesce({', '.join(present)})"


def tags_sql(types: dict[str, str]) -> str:
    """``Tags`` as JSON text: CSV exports write it so; Parquet may hold a MAP."""
    if "Tags" not in types:
        return "NULL::VARCHAR"
    if types["Tags"] == "VARCHAR":
        return q("Tags")
    return f"to_json({q('Tags')})::VARCHAR"


def exact_tag_sql(tags: str, key: str) -> str:
    """The value of tag ``key`` in JSON text ``tags`` when the key is spelt exactly."""
    path = literal('$."' + key.replace("\\", "\\\\").replace('"', '\\"') + '"')
    return f"json_extract_string({tags}, {path})"


def tag_value_sql(tags: str, key: str, exact: str) -> str:
    """The value of tag ``key``, given ``exact`` (the column holding the exact lookup): keys
    are compared with surrounding spaces removed (exports carry `` ml-model`` as often as
    ``ml-model``). The trimmed comparison parses ``tags`` into a map, so it runs only on rows
    where the exact lookup found nothing and the text mentions the key (a CASE branch runs on
    its rows only; inside ``coalesce`` it ran on every row and took 60% of the scan)."""
    like = literal("%" + key.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%")
    slow = (
        f"list_filter(map_entries(CAST({tags}::JSON AS MAP(VARCHAR, VARCHAR))), "
        f"lambda e: trim(e.key) = {literal(key.strip())})[1].value"
    )
    return (
        f"CASE WHEN {exact} IS NOT NULL THEN {exact} "
        f"WHEN {tags} LIKE {like} ESCAPE '\\' THEN {slow} END"
    )


def mapped_sql(opts: FocusOptions, tags: str) -> tuple[list[str], str, str]:
    """Three steps of the row's entity before shared costs are set apart: the exact lookups
    ``_e0, _e1, …`` (one per configured key), the tag value ``_v`` (the first key present,
    trimmed), and ``_v`` mapped through ``entity_map`` (first matching glob wins) or kept."""
    exacts, first = tag_lookup_sql(opts, tags)
    if not exacts:
        return [], "NULL::VARCHAR", "_v"
    return exacts, trimmed_sql(first), map_sql(opts)


def tag_lookup_sql(opts: FocusOptions, tags: str) -> tuple[list[str], str]:
    """The exact lookups ``_e0, _e1, …`` and the untrimmed value of the first key present
    (``NULL`` without configured keys)."""
    keys = opts.tag_keys()
    if not keys:
        return [], "NULL::VARCHAR"
    exacts = [f"{exact_tag_sql(tags, k)} AS _e{i}" for i, k in enumerate(keys)]
    lookups = [tag_value_sql(tags, k, f"_e{i}") for i, k in enumerate(keys)]
    return exacts, lookups[0] if len(lookups) == 1 else f"coalesce({', '.join(lookups)})"


def trimmed_sql(value: str) -> str:
    return f"nullif(trim({value}), '')"


def map_sql(opts: FocusOptions) -> str:
    """``_v`` mapped through ``entity_map`` (first matching glob wins) or kept."""
    if not opts.entity_map:
        return "_v"
    whens = " ".join(
        f"WHEN {match_sql(p)} THEN {literal(t.strip())}" for p, t in opts.entity_map.items()
    )
    return f"CASE {whens} ELSE _v END"


def match_sql(pattern: str) -> str:
    """``_v`` matches the glob ``pattern``: equality without wildcards, ``LIKE`` for ``*`` and
    ``?`` (DuckDB runs both far faster than ``GLOB``, which made the cost family twice as
    slow on 10^6 rows), ``GLOB`` only for ``[...]`` classes."""
    if "[" in pattern:
        return f"_v GLOB {literal(pattern)}"
    if "*" not in pattern and "?" not in pattern:
        return f"_v = {literal(pattern)}"
    escaped = pattern.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    like = escaped.replace("*", "%").replace("?", "_")
    return f"_v LIKE {literal(like)} ESCAPE '\\'"


def canonical_sql(views: list[str]) -> str:
    """``cost_rows``: the rows sources copied into ``costs`` and every focus view."""
    cols = ", ".join(CANONICAL)
    own = ", ".join("tags::VARCHAR AS tags" if c == "tags" else c for c in CANONICAL)
    parts = [f"SELECT {own} FROM costs"]
    parts += [f"SELECT {cols} FROM {q(v)}" for v in sorted(views)]
    return " UNION ALL BY NAME ".join(parts)
