"""The files behind a ``predictions`` source: finding them, fingerprinting them, and naming them
to DuckDB so that a view reads exactly the files that were fingerprinted.

Nothing here reads a log's rows in Python: DuckDB reads the files; Python only streams bytes
through sha256, and only for files whose size or mtime changed since the last sync.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from mlreport.connectors.globs import glob_files, is_glob, unique_files
from mlreport.hashing import sha256_file
from mlreport.sources import SourceError

log = logging.getLogger("mlreport.predictions")

PARQUET_SUFFIXES = (".parquet", ".pq", ".parq")
CSV_SUFFIXES = (".csv", ".tsv", ".csv.gz", ".tsv.gz")
CURSOR_VERSION = 1


def file_format(path: Path) -> str:
    """``parquet`` or ``csv``, by the file's extension."""
    name = path.name.lower()
    if name.endswith(PARQUET_SUFFIXES):
        return "parquet"
    if name.endswith(CSV_SUFFIXES):
        return "csv"
    raise SourceError(
        f"{path}: unknown file type; name Parquet files *.parquet and CSV files *.csv "
        "(or *.tsv, *.csv.gz)"
    )


# -- finding files ----------------------------------------------------------------------------


def expand(patterns: list[Path], key: str) -> list[Path]:
    """Every file the paths and globs name, sorted, each file once (by device and inode).

    A path naming an existing file is taken literally even when it contains glob characters;
    a glob that matches nothing is an error (an empty log is almost always a wrong path).
    Globs never enter symlinked folders (see mlreport.connectors.globs).
    """
    found: set[Path] = set()
    for pattern in patterns:
        text = str(pattern)
        if pattern.is_file():
            found.add(pattern)
            continue
        if not is_glob(text):
            what = "is not a file" if pattern.exists() else "does not exist"
            raise SourceError(
                f"{key}: {text} {what} (relative paths are taken from the config file's folder)"
            )
        matches = glob_files(text)
        if not matches:
            raise SourceError(
                f"{key}: no file matches {text!r} (relative paths are taken from the config "
                "file's folder)"
            )
        found.update(matches)
    return unique_files(sorted(found, key=str))


# -- fingerprints -----------------------------------------------------------------------------


@dataclass(frozen=True)
class FileInfo:
    """One fingerprinted input file and its column schema (name, DuckDB type) pairs."""

    path: Path
    size: int
    mtime_ns: int
    sha256: str
    schema: tuple[tuple[str, str], ...]

    def manifest(self) -> dict[str, Any]:
        return {"path": str(self.path), "bytes": self.size, "sha256": self.sha256}

    def cursor(self) -> dict[str, Any]:
        return {
            "size": self.size,
            "mtime_ns": self.mtime_ns,
            "sha256": self.sha256,
            "schema": [list(c) for c in self.schema],
        }


def load_cursor(cursor: Any) -> dict[str, dict[str, Any]]:
    """The per-file entries of a stored cursor (anything unexpected: start over)."""
    if not isinstance(cursor, dict) or cursor.get("version") != CURSOR_VERSION:
        return {}
    files = cursor.get("files")
    return dict(files) if isinstance(files, dict) else {}


def make_cursor(infos: list[FileInfo]) -> dict[str, Any]:
    return {"version": CURSOR_VERSION, "files": {str(i.path): i.cursor() for i in infos}}


def fingerprint(
    path: Path,
    known: dict[str, dict[str, Any]],
    schema_of: Callable[[Path], tuple[tuple[str, str], ...]],
    count: Callable[[str, int], None],
) -> FileInfo:
    """The file's fingerprint; an unchanged size and mtime reuse the stored hash and schema."""
    try:
        stat = path.stat()  # before hashing: a write during the hash shows next time
    except OSError as exc:
        raise SourceError(f"{path}: cannot read the file: {exc.strerror}") from None
    old = known.get(str(path))
    if (
        old
        and old.get("size") == stat.st_size
        and old.get("mtime_ns") == stat.st_mtime_ns
        and isinstance(old.get("sha256"), str)
        and isinstance(old.get("schema"), list)
    ):
        schema = tuple((str(n), str(t)) for n, t in old["schema"])
        return FileInfo(path, stat.st_size, stat.st_mtime_ns, old["sha256"], schema)
    if stat.st_size == 0:
        raise SourceError(f"{path}: the file is empty (0 bytes); remove it or write the log")
    try:
        digest = sha256_file(path)
    except OSError as exc:
        raise SourceError(f"{path}: cannot read the file: {exc.strerror}") from None
    count("files_hashed", 1)
    count("bytes", stat.st_size)
    return FileInfo(path, stat.st_size, stat.st_mtime_ns, digest, schema_of(path))


# -- naming files to DuckDB -------------------------------------------------------------------


def literal(text: str) -> str:
    """A SQL string literal (single quotes doubled)."""
    return "'" + text.replace("'", "''") + "'"


def glob_escaped(path: Path) -> str:
    """The path with DuckDB's glob characters escaped, so it names exactly this one file."""
    escapes = {"[": "[[]", "*": "[*]", "?": "[?]"}
    return "".join(escapes.get(ch, ch) for ch in str(path))


def scan_sql(paths: list[Path], fmt: str, hive: bool = True) -> str:
    """A table function reading exactly ``paths`` (all of one format).

    With ``hive``, DuckDB's default, ``key=value`` folders become columns of the view; a
    file's own schema is read without them (one file alone cannot type a partition key).
    """
    listed = "[" + ", ".join(literal(glob_escaped(p)) for p in paths) + "]"
    options = "" if hive else ", hive_partitioning = false"
    if fmt == "parquet":
        return f"read_parquet({listed}{options})"
    return f"read_csv({listed}, header = true{options})"


def table_sql(database: Path, table: str) -> str:
    """A table function reading one table of another DuckDB file, without attaching it."""
    return f"read_duckdb({literal(glob_escaped(database))}, table_name = {literal(table)})"


def describe(
    con: duckdb.DuckDBPyConnection, relation: str, what: str
) -> tuple[tuple[str, str], ...]:
    """Column names and types of ``relation`` (binding only, no rows read)."""
    try:
        rows = con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()
    except duckdb.Error as exc:
        raise SourceError(f"{what}: cannot be read: {short_error(exc)}") from None
    return tuple((str(r[0]), str(r[1])) for r in rows)


def file_schema(con: duckdb.DuckDBPyConnection, path: Path) -> tuple[tuple[str, str], ...]:
    return describe(con, scan_sql([path], file_format(path), hive=False), str(path))


def check_same_schema(infos: list[FileInfo], key: str) -> None:
    """Every file of one log has the first file's columns and types (or the error says which
    columns differ between which two files)."""
    if not infos:
        return
    first = infos[0]
    formats = {file_format(i.path) for i in infos}
    if len(formats) > 1:
        other = next(i for i in infos if file_format(i.path) != file_format(first.path))
        raise SourceError(
            f"{key}: {first.path} and {other.path} are of different formats "
            "(Parquet and CSV); one log reads files of one format"
        )
    for info in infos[1:]:
        if info.schema != first.schema:
            raise SourceError(
                f"{key}: {info.path} has other columns than {first.path}: "
                f"{schema_difference(first.schema, info.schema)}"
            )


def schema_difference(a: tuple[tuple[str, str], ...], b: tuple[tuple[str, str], ...]) -> str:
    """``only in the first: x BIGINT; only in the second: y; z: DOUBLE vs VARCHAR``."""
    ta, tb = dict(a), dict(b)
    parts = []
    only_a = [f"{n} {t}" for n, t in a if n not in tb]
    only_b = [f"{n} {t}" for n, t in b if n not in ta]
    changed = [f"{n}: {ta[n]} vs {tb[n]}" for n, _ in a if n in tb and ta[n] != tb[n]]
    if only_a:
        parts.append("only in the first: " + ", ".join(only_a))
    if only_b:
        parts.append("only in the second: " + ", ".join(only_b))
    if changed:
        parts.append("different types: " + ", ".join(changed))
    if not parts:
        parts.append("the same columns in another order: " + ", ".join(n for n, _ in b))
    return "; ".join(parts)


def short_error(exc: BaseException) -> str:
    """DuckDB's message without the ``LINE 1: ...`` excerpt of our wrapper query."""
    text = str(exc)
    cut = text.find("\n\nLINE ")
    if cut < 0:
        cut = text.find("\nLINE ")
    return (text[:cut] if cut >= 0 else text).strip()
