"""Checking one FOCUS export file before any of it is used.

One aggregate DuckDB scan per new or changed file counts the rows that break a rule; only when
a count is not zero is the file read again to find the first offending line (CSV, by Python's
csv reader, whose line numbers are the file's own) or row (Parquet). The error names the file,
the line and the column, and the sync stops before anything is stored.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from functools import cache
from pathlib import Path
from typing import Any

import duckdb

from mlreport.connectors.focus.layout import data_format
from mlreport.sources import SourceError

NULLS = ("NULL", "")  # how FOCUS CSV exports write a missing value
DECIMAL = "DECIMAL(38, 10)"
COSTS = ("BilledCost", "EffectiveCost", "ListCost")
OPTIONAL_COSTS = ("ContractedCost",)
TIMES = ("BillingPeriodStart", "BillingPeriodEnd", "ChargePeriodStart", "ChargePeriodEnd")
REQUIRED = (
    *COSTS,
    *TIMES,
    "BillingCurrency",
    "ChargeCategory",
    "ServiceCategory",
    "ServiceName",
)
PROVIDER = ("ProviderName", "ServiceProviderName")  # FOCUS 1.0-1.2, and 1.3's rename

Schema = tuple[tuple[str, str], ...]


@cache
def currencies() -> tuple[str, ...]:
    """The ISO 4217 codes (the iso4217 package's table)."""
    import iso4217

    return tuple(sorted(c.code for c in iso4217.Currency))


def file_literal(path: Path) -> str:
    """The path as a DuckDB string naming exactly this file (glob characters escaped)."""
    escapes = {"[": "[[]", "*": "[*]", "?": "[?]"}
    text = "".join(escapes.get(ch, ch) for ch in str(path))
    return "'" + text.replace("'", "''") + "'"


def scan_sql(path: Path, fmt: str | None = None) -> str:
    """A table function reading one export file as FOCUS files are written: in CSV every
    column as text with ``NULL`` and empty fields missing; Parquet as typed."""
    lit = file_literal(path)
    if (fmt or data_format(path)) == "parquet":
        return f"read_parquet({lit}, hive_partitioning = false)"
    return (
        f"read_csv({lit}, header = true, all_varchar = true, nullstr = ['NULL', ''], "
        "hive_partitioning = false)"
    )


@dataclass(frozen=True)
class FileCheck:
    rows: int
    periods: tuple[str, ...]  # BillingPeriodStart dates, YYYY-MM-DD
    schema: Schema


@dataclass(frozen=True)
class Rule:
    column: str
    what: str  # the problem, for the message
    sql: str  # true on a bad row
    bad: Callable[[str | None], bool]  # the same test on a CSV field (text or None)


def check_file(con: duckdb.DuckDBPyConnection, path: Path) -> FileCheck:
    """Validate ``path``; raise SourceError naming the file, line and column of the first
    problem, or return its row count, billing periods and schema."""
    relation = scan_sql(path)
    try:
        schema = tuple(
            (str(r[0]), str(r[1]))
            for r in con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()
        )
    except duckdb.Error as exc:
        raise SourceError(f"{path}: cannot be read: {_short(exc)}") from None
    types = dict(schema)
    _check_columns(path, types)
    rules = _rules(types)
    counts = ", ".join(f"count_if({r.sql})" for r in rules)
    start = _time_sql("BillingPeriodStart", types)
    sql = f"SELECT count(*), {counts}, list(DISTINCT strftime({start}, '%Y-%m-%d')) FROM {relation}"
    try:
        row = con.execute(sql, [list(currencies())]).fetchall()[0]
    except duckdb.Error as exc:
        raise SourceError(f"{path}: cannot be read: {_short(exc)}") from None
    total, bad, periods = row[0], row[1:-1], row[-1]
    if total == 0:
        raise SourceError(f"{path}: no rows (only a header); remove the file or re-export it")
    for rule, n in zip(rules, bad, strict=True):
        if n:
            raise SourceError(_located(con, path, relation, rule, n))
    _check_duplicates(con, path, relation)
    return FileCheck(int(total), tuple(sorted(p for p in periods if p)), schema)


def _check_columns(path: Path, types: dict[str, str]) -> None:
    missing = [c for c in REQUIRED if c not in types]
    if not any(p in types for p in PROVIDER):
        missing.append(PROVIDER[0])
    if missing:
        lower = {c.lower(): c for c in types}
        hints = [f"{m} (found {lower[m.lower()]!r})" for m in missing if m.lower() in lower]
        hint = f"; names differ only in case: {', '.join(hints)}" if hints else ""
        raise SourceError(
            f"{path}: line 1: missing FOCUS column(s) {', '.join(missing)}{hint} "
            "(is this a FOCUS 1.0-1.2 export?)"
        )


def _rules(types: dict[str, str]) -> list[Rule]:
    rules = []
    for col in COSTS + tuple(c for c in OPTIONAL_COSTS if c in types):
        q = _q(col)
        if col in COSTS:
            rules.append(Rule(col, "is empty", f"{q} IS NULL", _empty))
        if types[col] == "VARCHAR":
            rules.append(
                Rule(
                    col,
                    "is not a decimal number",
                    f"{q} IS NOT NULL AND try_cast({q} AS {DECIMAL}) IS NULL",
                    _bad_decimal,
                )
            )
    for col in TIMES:
        rules.append(Rule(col, "is empty", f"{_q(col)} IS NULL", _empty))
        if types[col] == "VARCHAR":
            rules.append(
                Rule(
                    col,
                    "is not a date and time (e.g. 2026-03-01 00:00:00 or 2026-03-01T00:00:00Z)",
                    f"{_q(col)} IS NOT NULL AND try_cast({_q(col)} AS TIMESTAMPTZ) IS NULL",
                    _bad_time,
                )
            )
    cur = _q("BillingCurrency")
    rules.append(
        Rule(
            "BillingCurrency",
            "is not an ISO 4217 currency code",
            f"{cur} IS NULL OR NOT list_contains($1, {cur}::VARCHAR)",
            lambda v: v is None or v not in currencies(),
        )
    )
    if "Tags" in types and types["Tags"] == "VARCHAR":
        tags = _q("Tags")
        rules.append(
            Rule(
                "Tags",
                "is not a JSON object of tag keys and values",
                f"{tags} IS NOT NULL AND CASE WHEN json_valid({tags}) "
                f"THEN json_type({tags}) <> 'OBJECT' ELSE true END",
                _bad_tags,
            )
        )
    return rules


def _time_sql(col: str, types: dict[str, str]) -> str:
    return f"try_cast({_q(col)} AS TIMESTAMPTZ)" if types[col] == "VARCHAR" else _q(col)


def _check_duplicates(con: duckdb.DuckDBPyConnection, path: Path, relation: str) -> None:
    (dupes,) = con.execute(
        f"SELECT count(*) - count(DISTINCT hash(*COLUMNS(*))) FROM {relation}"
    ).fetchall()[0]
    if not dupes:
        return
    where = _duplicate_lines(con, path, relation)
    raise SourceError(
        f"{path}: {where}duplicated row(s) ({dupes} in all): every column equal to an earlier "
        "row; a FOCUS export holds each charge once, so the file was written twice into itself "
        "or concatenated; re-export it"
    )


# -- finding the line ------------------------------------------------------------------------


def _located(con: duckdb.DuckDBPyConnection, path: Path, relation: str, rule: Rule, n: int) -> str:
    found = _first_csv(path, rule) if data_format(path) == "csv" else None
    if found is None and data_format(path) == "parquet":
        found = _first_parquet(con, relation, rule)
    more = f" ({n} rows in all)" if n > 1 else ""
    if found is None:
        return f"{path}: column {rule.column}: {n} row(s) {rule.what}"
    where, value = found
    shown = "" if value is None else f" ({_shown(value)})"
    return f"{path}: {where}, column {rule.column}: {rule.what}{shown}{more}"


def _first_csv(path: Path, rule: Rule) -> tuple[str, str | None] | None:
    for line, header, row in _csv_rows(path):
        if header is None:
            continue
        i = header.index(rule.column) if rule.column in header else None
        if i is None:
            return None
        value = row[i] if i < len(row) else None
        value = None if value in NULLS else value
        if rule.bad(value):
            return f"line {line}", value
    return None


def _first_parquet(
    con: duckdb.DuckDBPyConnection, relation: str, rule: Rule
) -> tuple[str, str | None] | None:
    relation = relation.replace("hive_partitioning = false", "file_row_number = true")
    rows = con.execute(
        f"SELECT file_row_number, {_q(rule.column)}::VARCHAR FROM {relation} "
        f"WHERE {rule.sql} ORDER BY 1 LIMIT 1",
        [list(currencies())],
    ).fetchall()
    return (f"row {rows[0][0] + 1}", rows[0][1]) if rows else None


def _duplicate_lines(con: duckdb.DuckDBPyConnection, path: Path, relation: str) -> str:
    if data_format(path) == "csv":
        seen: dict[tuple[str, ...], int] = {}
        for line, header, row in _csv_rows(path):
            if header is None:
                continue
            key = tuple(row)
            if key in seen:
                return f"line {line} repeats line {seen[key]}: "
            seen[key] = line
        return ""
    relation = relation.replace("hive_partitioning = false", "file_row_number = true")
    rows = con.execute(
        f"SELECT min(n), max(n) FROM (SELECT file_row_number AS n, "
        f"hash(*COLUMNS(* EXCLUDE (file_row_number))) AS h FROM {relation}) "
        "GROUP BY h HAVING count(*) > 1 ORDER BY 1 LIMIT 1"
    ).fetchall()
    return f"row {rows[0][1] + 1} repeats row {rows[0][0] + 1}: " if rows else ""


def _csv_rows(path: Path) -> Iterator[tuple[int, list[str] | None, list[str]]]:
    """``(line, header, fields)`` for each data row (the header row itself has header None)."""
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    with (
        opener(path, "rb") as raw,
        io.TextIOWrapper(raw, encoding="utf-8", errors="replace", newline="") as text,
    ):
        reader = csv.reader(text)
        header: list[str] | None = None
        for row in reader:
            if header is None:
                header = row
                yield reader.line_num, None, row
                continue
            yield reader.line_num, header, row


# -- the same tests on CSV text ---------------------------------------------------------------


def _empty(value: str | None) -> bool:
    return value is None


def _bad_decimal(value: str | None) -> bool:
    if value is None:
        return False
    try:
        number = Decimal(value.strip())
    except InvalidOperation:
        return True
    return not number.is_finite() or abs(number) >= Decimal(10) ** 28


def _bad_time(value: str | None) -> bool:
    if value is None:
        return False
    try:
        datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return True
    return False


def _bad_tags(value: str | None) -> bool:
    if value is None:
        return False
    try:
        return not isinstance(json.loads(value), dict)
    except ValueError:
        return True


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _short(exc: BaseException) -> str:
    text = str(exc)
    cut = text.find("\n\nLINE ")
    return (text[:cut] if cut >= 0 else text).strip()
