"""The ``cost`` family's group-by over a ``focus`` source's files, written for speed.

The same figures as grouping the source's view (``views.py``), computed in another order:

- the rows are grouped by window, **raw tag value**, currency and service category first, and
  only the small result is trimmed and mapped through ``entity_map`` (a function of the tag
  value, so mapping before or after grouping gives the same groups);
- a zone-less ``ChargePeriodStart`` (Parquet ``TIMESTAMP``, read as UTC) is compared with the
  window bounds turned into zone-less UTC times, instead of casting every row to
  ``TIMESTAMPTZ`` (the cast goes through ICU and took more time than the whole floor
  ``GROUP BY`` on 10^7 rows); columns with a zone, and CSV text, are cast as the view does;
- the provider is grouped on too, for the ``basis`` of each sum (bill or allocation);
- amounts are summed as ``DECIMAL(38, 10)`` as in the view, so every sum is exactly equal.

The family uses it only when the source's last sync built its view with the options the config
has now (``cursor.digest``): otherwise the view is the truth and is grouped as before.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mlreport.connectors.focus.layout import data_format
from mlreport.connectors.focus.options import SHARED, FocusOptions
from mlreport.connectors.focus.views import (
    cost_sql,
    files_sql,
    literal,
    map_sql,
    tag_lookup_sql,
    tags_sql,
    text_sql,
    time_sql,
    trimmed_sql,
)
from mlreport.sql import quote_identifier as q

# Windows as `(i, ws, we)`: `w` with zones (TIMESTAMPTZ parameters), `wn` zone-less UTC.
WINDOW_CTES = (
    "w AS (SELECT unnest(?::INTEGER[]) AS i, unnest(?::TIMESTAMPTZ[]) AS ws, "
    "unnest(?::TIMESTAMPTZ[]) AS we), "
    "wn AS (SELECT i, timezone('UTC', ws) AS ws, timezone('UTC', we) AS we FROM w)"
)
NAIVE = "TIMESTAMP"  # the type DuckDB gives a zone-less Parquet timestamp in microseconds


def synced_files(warehouse: Any, source: str, digest: str) -> list[tuple[Path, Any]] | None:
    """``(path, schema)`` of the files source ``source``'s view reads, when its last sync
    built the view with options of digest ``digest``; None otherwise (not synced, options
    changed since, or the row and the cursor disagree)."""
    rows = warehouse.con.execute(
        "SELECT e.files, s.cursor FROM cost_exports e JOIN _sync_state s "
        "ON s.source = e.export AND s.stream = 'exports' WHERE e.export = ?",
        [source],
    ).fetchall()
    if not rows or rows[0][1] is None:
        return None
    files, cursor = json.loads(rows[0][0]), json.loads(rows[0][1])
    if not isinstance(cursor, dict) or cursor.get("digest") != digest:
        return None
    known = cursor.get("files", {})
    out = []
    for f in files:
        entry = known.get(str(f["path"]))
        if entry is None or entry.get("sha256") != f["sha256"]:
            return None
        out.append((Path(f["path"]), tuple((n, t) for n, t in entry["schema"])))
    return out


def sums_sql(
    source: str, opts: FocusOptions, files: list[tuple[Path, Any]], allocators: str
) -> str:
    """Sums per window ``i``, entity, shared source, currency and service category over
    ``files``: the columns of ``plugins/cost/sql.py``'s ``SUMS_SQL``; ``allocators`` is its
    SQL list of the providers whose rows are allocations. Parameters: window indexes, starts
    and ends (three lists)."""
    parts = []
    for fmt in ("csv", "parquet"):
        group = [(p, s) for p, s in files if data_format(p) == fmt]
        if group:
            parts.append(_part(fmt, opts, group))
    shared = literal(SHARED)
    return (
        f"WITH {WINDOW_CTES}, g AS ({' UNION ALL '.join(parts)}), "
        f"v AS (SELECT *, {trimmed_sql('_t')} AS _v FROM g), "
        f"m AS (SELECT *, {map_sql(opts)} AS _m FROM v) "
        f"SELECT i, CASE WHEN _m = {shared} THEN NULL ELSE _m END AS entity, "
        f"CASE WHEN _m = {shared} THEN {literal(source)} END AS shared_source, "
        f"currency, service_category, CASE WHEN provider IN {allocators} THEN 'allocation' "
        "ELSE 'bill' END AS basis, sum(effective) AS effective, sum(billed) AS billed, "
        "sum(list) AS list, sum(n)::BIGINT AS n FROM m GROUP BY ALL"
    )


def _part(fmt: str, opts: FocusOptions, group: list[tuple[Path, Any]]) -> str:
    """One format's files grouped by window, raw tag value, currency and category."""
    types: dict[str, str] = {}
    for _, schema in group:
        for name, typ in schema:
            types.setdefault(name, typ)
    naive = fmt == "parquet" and all(
        dict(schema).get("ChargePeriodStart") == NAIVE for _, schema in group
    )
    start = q("ChargePeriodStart") if naive else time_sql("ChargePeriodStart")
    windows = "wn" if naive else "w"
    exacts, first = tag_lookup_sql(opts, tags_sql(types))
    scan = files_sql(fmt, [p for p, _ in group])
    if exacts:
        scan = f"(SELECT *, {', '.join(exacts)} FROM {scan})"
    cols = [
        f"{first} AS _t",
        f"{text_sql('currency', types)} AS currency",
        f"{text_sql('service_category', types)} AS service_category",
        f"{text_sql('provider', types)} AS provider",
        f"{cost_sql('EffectiveCost')} AS e",
        f"{cost_sql('BilledCost')} AS b",
        f"{cost_sql('ListCost')} AS l",
        f"{start} AS _ts",
    ]
    return (
        "SELECT w.i, r._t, r.currency, r.service_category, r.provider, sum(r.e) AS effective, "
        "sum(r.b) AS billed, sum(r.l) AS list, count(*) AS n "
        f"FROM (SELECT {', '.join(cols)} FROM {scan}) r "
        f"JOIN {windows} w ON r._ts >= w.ws AND r._ts < w.we GROUP BY ALL"
    )
