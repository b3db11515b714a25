"""The built-in ``focus`` source: FOCUS 1.0-1.2 cost exports as a warehouse view, not a copy.

Each sync finds the export's current files (``layout``: manifests decide which delivery of a
billing period counts), fingerprints them (an unchanged size and mtime reuse the stored
fingerprint and read nothing; a changed file is hashed, and checked only if its sha256
changed), checks new files (``checks``), and then yields the view ``costs__<name>`` over
exactly those files, the ``cost_exports`` row and the rebuilt ``cost_rows`` view, committed with
the cursor at one checkpoint: a sync that fails or is killed changes nothing. Why a view and
not a copy: docs/sources-focus.md (measured).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from mlreport.connectors import objstore
from mlreport.connectors.focus import layout
from mlreport.connectors.focus.checks import FileCheck, check_file, scan_sql
from mlreport.connectors.focus.options import FocusOptions
from mlreport.connectors.focus.views import canonical_sql, view_sql
from mlreport.hashing import sha256_file
from mlreport.sources import Checkpoint, Rows, Source, SourceError, Stream, View

CURSOR_VERSION = 1


@dataclass(frozen=True)
class ExportFile:
    path: Path
    size: int
    mtime_ns: int
    sha256: str
    check: FileCheck
    entities: tuple[str, ...]

    def cursor(self) -> dict[str, Any]:
        return {
            "size": self.size,
            "mtime_ns": self.mtime_ns,
            "sha256": self.sha256,
            "rows": self.check.rows,
            "periods": list(self.check.periods),
            "schema": [list(c) for c in self.check.schema],
            "entities": list(self.entities),
        }

    def manifest(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "bytes": self.size,
            "sha256": self.sha256,
            "rows": self.check.rows,
            "billing_periods": list(self.check.periods),
        }


class FocusSource(Source):
    """FOCUS cost exports; see the module docstring."""

    Options = FocusOptions

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._entities: list[str] | None = None

    @property
    def opts(self) -> FocusOptions:
        return self.options  # type: ignore[return-value]

    @property
    def view_name(self) -> str:
        return f"costs__{self.name}"

    def streams(self) -> list[Stream]:
        return [
            Stream("exports", "cost_exports", ("export",)),
            Stream("entities", "cost_entities", ("source", "entity"), "entity"),
        ]

    def check(self) -> str:
        data, manifests = layout.find(self._local_paths(), self._key("path"))
        return f"{len(data)} data file(s), {len(manifests)} manifest(s)"

    def read(self, stream: Stream, cursor: Any) -> Iterator[Rows | View | Checkpoint]:
        if stream.name == "entities":
            names = self._entities or []
            if names != cursor:  # a sync that names no new entity writes nothing
                yield Rows(pl.DataFrame({"entity": names}, schema={"entity": pl.String}))
            yield Checkpoint(names)
            return
        yield from self._read_exports(cursor)

    # -- the export ----------------------------------------------------------------------------

    def _key(self, key: str) -> str:
        return f"sources.{self.name}.{key}"

    def _local_paths(self) -> list[Path]:
        """Local paths, with object storage URLs mirrored first (export files and manifests only;
        docs/sources-object-storage.md)."""
        root = objstore.mirror_root(self.config.warehouse.path)

        def wanted(key: str) -> bool:
            return layout.data_format(Path(key)) is not None or layout.is_manifest(Path(key))

        key = self._key("path")
        store = objstore.settings(self.opts, self.config, self._key)
        return objstore.localize(self.opts.paths(), root, key, self.count, wanted, store)

    def _digest(self) -> str:
        """What a file's stored entities depend on besides its bytes."""
        return self.opts.digest()

    def _read_exports(self, cursor: Any) -> Iterator[Rows | View | Checkpoint]:
        known = (
            cursor if isinstance(cursor, dict) and cursor.get("version") == CURSOR_VERSION else {}
        )
        digest = self._digest()
        known_files = known.get("files", {}) if known.get("digest") == digest else {}
        data, manifests = layout.find(self._local_paths(), self._key("path"))
        deliveries, manifest_cursor = self._deliveries(manifests, known.get("manifests", {}))
        selection = layout.select(data, deliveries)
        self.count("files", len(selection.files))
        self.count("superseded", len(selection.superseded))
        con = scratch_connection()
        try:
            files = [self._file(con, p, known_files) for p in selection.files]
            _no_twins(files)
            sql = view_sql(self.name, self.opts, [(f.path, f.check.schema) for f in files])
            _binds(con, sql, self._key("path"))
            others = self._other_views(con)
        finally:
            con.close()
        if self.opts.engine != "duckdb":  # before anything is stored
            self._engine_check(files)
        self._entities = sorted({e for f in files for e in f.entities})
        yield View(self.view_name, sql)
        row = self._export_row(files, selection)
        if not self._stored(row):
            yield Rows(row)
        yield View("cost_rows", canonical_sql(others + [self.view_name]))
        yield Checkpoint(
            {
                "version": CURSOR_VERSION,
                "digest": digest,
                "files": {str(f.path): f.cursor() for f in files},
                "manifests": manifest_cursor,
            }
        )

    def _deliveries(
        self, manifests: list[Path], known: dict[str, Any]
    ) -> tuple[list[layout.Delivery], dict[str, Any]]:
        out, cursor = [], {}
        for path in manifests:
            stat = _stat(path)
            old = known.get(str(path))
            if old and old.get("size") == stat.st_size and old.get("mtime_ns") == stat.st_mtime_ns:
                delivery = layout.Delivery.from_cache(path, old["delivery"])
            else:
                delivery = layout.read_manifest(path)
                self.count("manifests_read", 1)
            out.append(delivery)
            cursor[str(path)] = {
                "size": stat.st_size,
                "mtime_ns": stat.st_mtime_ns,
                "delivery": delivery.cached(),
            }
        return out, cursor

    def _file(
        self, con: duckdb.DuckDBPyConnection, path: Path, known: dict[str, Any]
    ) -> ExportFile:
        """The file's fingerprint and check; an unchanged size and mtime read nothing, an
        unchanged sha256 (a file touched or copied again) is not checked again."""
        stat = _stat(path)  # before hashing: a write during the hash shows next time
        old = known.get(str(path))
        same_stat = old and old["size"] == stat.st_size and old["mtime_ns"] == stat.st_mtime_ns
        if same_stat:
            return _from_cursor(path, old)
        if stat.st_size == 0:
            raise SourceError(f"{path}: the file is empty (0 bytes); remove it or re-export it")
        try:
            sha = sha256_file(path)
        except OSError as exc:
            raise SourceError(f"{path}: cannot read the file: {exc.strerror}") from None
        self.count("files_hashed", 1)
        self.count("bytes", stat.st_size)
        if old and old["sha256"] == sha:
            return _from_cursor(path, {**old, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns})
        check = check_file(con, path)
        self.count("files_read", 1)
        entities = self._file_entities(con, path, check)
        return ExportFile(path, stat.st_size, stat.st_mtime_ns, sha, check, entities)

    def _file_entities(
        self, con: duckdb.DuckDBPyConnection, path: Path, check: FileCheck
    ) -> tuple[str, ...]:
        if not self.opts.tag_keys():
            return ()
        sql = view_sql(self.name, self.opts, [(path, check.schema)])
        try:
            rows = con.execute(
                f"SELECT DISTINCT entity FROM ({sql}) WHERE entity IS NOT NULL ORDER BY 1"
            ).fetchall()
        except duckdb.Error as exc:
            raise SourceError(f"{path}: cannot read its Tags: {exc}") from None
        return tuple(r[0] for r in rows)

    def _other_views(self, con: duckdb.DuckDBPyConnection) -> list[str]:
        """The other focus sources' views that still read their files (tried on ``con``)."""
        if self.warehouse is None:
            return []
        rows = self.warehouse.con.execute(
            "SELECT e.view_name, v.sql FROM cost_exports e LEFT JOIN duckdb_views() v "
            "ON v.view_name = e.view_name AND v.schema_name = 'main' AND NOT v.internal "
            "WHERE e.export <> ? ORDER BY e.export",
            [self.name],
        ).fetchall()
        alive = []
        for view, sql in rows:
            try:
                con.execute(sql)
                con.execute(f"DESCRIBE SELECT * FROM {view}").fetchall()
            except (duckdb.Error, TypeError):
                continue
            alive.append(view)
        return alive

    def _engine_check(self, files: list[ExportFile]) -> None:
        """The view, translated, defined on the source's engine over exactly ``files``."""
        from mlreport.connectors.focus.scans import check_on_engine
        from mlreport.engines import EngineError

        try:
            check_on_engine(self.name, self.opts, [(f.path, f.check.schema) for f in files])
        except EngineError as exc:
            raise SourceError(str(exc)) from None

    # -- the cost_exports row --------------------------------------------------------------

    def _export_row(self, files: list[ExportFile], selection: layout.Selection) -> pl.DataFrame:
        periods = sorted({p for f in files for p in f.check.periods})
        row = {
            "export": self.name,
            "view_name": self.view_name,
            "shared_split": self.opts.shared_split,
            "files": json.dumps(
                objstore.annotate(
                    [f.manifest() for f in files],
                    objstore.mirror_root(self.config.warehouse.path),
                )
            ),
            "manifests": json.dumps([str(d.manifest) for d in selection.deliveries]),
            "superseded": json.dumps([str(p) for p in selection.superseded]),
            "billing_periods": json.dumps(periods),
            "row_count": sum(f.check.rows for f in files),
        }
        return pl.DataFrame([row], schema=EXPORT_ROW_SCHEMA)

    def _stored(self, row: pl.DataFrame) -> bool:
        if self.warehouse is None:
            return False
        stored = self.warehouse.query(
            f"SELECT {', '.join(EXPORT_ROW_SCHEMA)} FROM cost_exports WHERE export = ?",
            [self.name],
        )
        return stored.height == 1 and stored.cast(EXPORT_ROW_SCHEMA).to_dicts() == row.to_dicts()


EXPORT_ROW_SCHEMA = {
    "export": pl.String,
    "view_name": pl.String,
    "shared_split": pl.String,
    "files": pl.String,
    "manifests": pl.String,
    "superseded": pl.String,
    "billing_periods": pl.String,
    "row_count": pl.Int64,
}


def scratch_connection() -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB for checks and binding, in UTC like the warehouse."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    return con


def _stat(path: Path):
    try:
        return path.stat()
    except OSError as exc:
        raise SourceError(f"{path}: cannot read the file: {exc.strerror}") from None


def _from_cursor(path: Path, old: dict[str, Any]) -> ExportFile:
    schema = tuple((str(n), str(t)) for n, t in old["schema"])
    check = FileCheck(int(old["rows"]), tuple(old["periods"]), schema)
    return ExportFile(
        path, old["size"], old["mtime_ns"], old["sha256"], check, tuple(old["entities"])
    )


def _no_twins(files: list[ExportFile]) -> None:
    """Two current files with the same bytes would count every charge twice."""
    seen: dict[str, Path] = {}
    for f in files:
        if f.sha256 in seen:
            raise SourceError(
                f"{f.path}: the same bytes as {seen[f.sha256]}: every charge would be counted "
                "twice; remove one copy or narrow `path`"
            )
        seen[f.sha256] = f.path


def _binds(con: duckdb.DuckDBPyConnection, sql: str, key: str) -> None:
    try:
        con.execute(f"DESCRIBE SELECT * FROM ({sql})").fetchall()
    except duckdb.Error as exc:
        raise SourceError(f"{key}: the export files cannot be read together: {exc}") from None


__all__ = ["FocusSource", "scan_sql"]
