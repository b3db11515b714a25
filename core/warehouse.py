"""The embedded DuckDB warehouse: migrations, upserts, cursors and read-only access."""

from __future__ import annotations

import contextlib
import json
import re
import uuid
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from mlreport.sql import quote_identifier
from mlreport.times import utcnow

# Tables whose JSON columns list the files a view reads ([{path, ...}]): a sandbox may open these.
FILE_LISTS = (
    ("prediction_logs", ("files", "reference_files")),
    ("cost_exports", ("files",)),
)


class WarehouseError(Exception):
    """The warehouse cannot be opened or a statement was refused."""


@contextlib.contextmanager
def registered(con: duckdb.DuckDBPyConnection, frame: pl.DataFrame) -> Iterator[str]:
    """Expose a polars frame to SQL on ``con`` under a unique name for the block."""
    name = f"_mlreport_frame_{uuid.uuid4().hex[:12]}"
    con.register(name, frame.to_arrow())
    try:
        yield name
    finally:
        # in an aborted transaction unregistering fails too: keep the transaction's own error
        with contextlib.suppress(duckdb.TransactionException):
            con.unregister(name)


def _migrations() -> list[tuple[int, str, str]]:
    found = []
    for item in resources.files("mlreport").joinpath("migrations").iterdir():
        m = re.match(r"^(\d+)_(.+)\.sql$", item.name)
        if m:
            found.append((int(m.group(1)), m.group(2), item.read_text(encoding="utf-8")))
    return sorted(found)


class Warehouse:
    """One DuckDB file holding every canonical table.

    Opened read-write, it applies pending migrations; opened ``read_only`` it refuses writes
    at the DuckDB level. ``sandbox`` (``mlreport sql``, any user SQL text) also shuts DuckDB
    off from the file system and the network except the prediction-log files the warehouse's
    views read, with extensions neither installed nor loaded, and locks that configuration so
    no statement can undo it.
    """

    def __init__(self, path: str | Path, read_only: bool = False, sandbox: bool = False) -> None:
        self.path = Path(path)
        self.read_only = read_only = read_only or sandbox
        if read_only and not self.path.exists():
            raise WarehouseError(f"{self.path}: no warehouse here yet (run `mlreport sync` first)")
        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        config = {"autoinstall_known_extensions": False, "autoload_known_extensions": False}
        try:
            self.con = duckdb.connect(
                str(self.path), read_only=read_only, config=config if sandbox else {}
            )
        except duckdb.IOException as exc:
            msg = str(exc)
            if "lock" in msg.lower():
                raise WarehouseError(
                    f"{self.path}: the warehouse is in use by another mlreport process; "
                    "wait for it to finish and try again"
                ) from None
            raise WarehouseError(f"{self.path}: cannot open the warehouse: {msg}") from None
        self.con.execute("SET TimeZone = 'UTC'")
        self._primary_keys: dict[str, bool] = {}  # schema facts, cached per connection
        self._columns: dict[str, list[str]] = {}
        if sandbox:
            self._lock_down()
        elif not read_only:
            self.migrate()

    def log_files(self) -> list[str]:
        """Every file the views over files read (prediction logs: their fingerprinted files and
        reference files, or the DuckDB file of a table input; cost exports: their current
        files): the only paths a sandbox may open."""
        paths = []
        tables = self.tables()
        for table, columns in FILE_LISTS:
            if table not in tables:
                continue
            rows = self.con.execute(f"SELECT {', '.join(columns)} FROM {table}").fetchall()
            for cells in rows:
                for cell in cells:
                    paths += [str(f["path"]) for f in json.loads(cell or "[]")]
        return sorted(set(paths))

    def _lock_down(self) -> None:
        paths = self.log_files()
        if paths:
            self.con.execute("SET allowed_paths = ?", [paths])
        self.con.execute("SET enable_external_access = false")
        self.con.execute("SET lock_configuration = true")

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- schema ---------------------------------------------------------------------------

    def migrate(self) -> list[int]:
        self.con.execute(
            "CREATE TABLE IF NOT EXISTS _migrations "
            "(version INTEGER PRIMARY KEY, name VARCHAR, applied_at TIMESTAMPTZ)"
        )
        done = {r[0] for r in self.con.execute("SELECT version FROM _migrations").fetchall()}
        applied = []
        for version, name, sql in _migrations():
            if version in done:
                continue
            with self.transaction():
                self.con.execute(sql)
                self.con.execute(
                    "INSERT INTO _migrations VALUES (?, ?, ?)", [version, name, utcnow()]
                )
            applied.append(version)
        self._columns.clear()
        self._primary_keys.clear()
        return applied

    def schema_version(self) -> int:
        row = self.con.execute("SELECT max(version) FROM _migrations").fetchall()[0]
        return int(row[0] or 0)

    def columns(self, table: str) -> list[str]:
        if table not in self._columns:
            self._columns[table] = self._read_columns(table)
        return self._columns[table]

    def _read_columns(self, table: str) -> list[str]:
        rows = self.con.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_name = ? ORDER BY ordinal_position",
            [table],
        ).fetchall()
        if not rows:
            raise WarehouseError(f"no table {table!r} in the warehouse")
        return [r[0] for r in rows]

    def tables(self) -> list[str]:
        """Tables and views."""
        rows = self.con.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = 'main' ORDER BY table_name"
        ).fetchall()
        return [r[0] for r in rows]

    def views(self) -> list[str]:
        rows = self.con.execute(
            "SELECT view_name FROM duckdb_views() WHERE NOT internal AND schema_name = 'main' "
            "ORDER BY view_name"
        ).fetchall()
        return [r[0] for r in rows]

    def forget_columns(self, table: str) -> None:
        """Drop cached schema facts after a view or table is redefined."""
        self._columns.pop(table, None)
        self._primary_keys.pop(table, None)

    # -- transactions and writes ------------------------------------------------------------

    @contextlib.contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        self.con.execute("BEGIN TRANSACTION")
        try:
            yield self.con
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        self.con.execute("COMMIT")

    def upsert(self, table: str, frame: pl.DataFrame, key: tuple[str, ...]) -> int:
        """Insert or replace ``frame``'s rows on ``key``; the last of duplicate keys wins.

        Columns the table has but the frame lacks are set to NULL / their default; columns the
        frame has but the table lacks are an error (a source must not invent columns silently).
        """
        if frame.height == 0:
            return 0
        cols = self.columns(table)
        unknown = [c for c in frame.columns if c not in cols]
        if unknown:
            raise WarehouseError(
                f"table {table!r} has no column(s) {', '.join(unknown)}; "
                "add a migration or drop them from the batch"
            )
        frame = frame.unique(subset=list(key), keep="last", maintain_order=True)
        with registered(self.con, frame) as batch:
            if self._has_primary_key(table):
                self.con.execute(self._replace_sql(table, batch, frame.columns))
            else:
                self._update_then_insert(table, batch, frame.columns, key)
        return frame.height

    @staticmethod
    def _replace_sql(table: str, batch: str, columns: list[str]) -> str:
        names = ", ".join(map(quote_identifier, columns))
        return f"INSERT OR REPLACE INTO {table} ({names}) SELECT {names} FROM {batch}"

    def _update_then_insert(
        self, table: str, batch: str, columns: list[str], key: tuple[str, ...]
    ) -> None:
        """Upsert into a table without a key constraint (large, append-mostly ones): update
        the rows whose key is stored, insert the rest. Hash joins only, no index to maintain;
        the common all-new batch costs one semi-join and one plain insert."""
        q = quote_identifier
        names = ", ".join(map(q, columns))
        match = " AND ".join(f"t.{q(k)} = b.{q(k)}" for k in key)
        (stored,) = self.con.execute(
            f"SELECT count(*) FROM {batch} AS b WHERE EXISTS "
            f"(SELECT 1 FROM {table} AS t WHERE {match})"
        ).fetchall()[0]
        if stored == 0:
            self.con.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM {batch}")
            return
        sets = ", ".join(f"{q(c)} = b.{q(c)}" for c in columns if c not in key)
        if sets:
            self.con.execute(f"UPDATE {table} AS t SET {sets} FROM {batch} AS b WHERE {match}")
        self.con.execute(
            f"INSERT INTO {table} ({names}) SELECT {names} FROM {batch} AS b "
            f"WHERE NOT EXISTS (SELECT 1 FROM {table} AS t WHERE {match})"
        )

    def _has_primary_key(self, table: str) -> bool:
        if table not in self._primary_keys:
            (count,) = self.con.execute(
                "SELECT count(*) FROM duckdb_constraints() "
                "WHERE table_name = ? AND constraint_type = 'PRIMARY KEY'",
                [table],
            ).fetchall()[0]
            self._primary_keys[table] = count > 0
        return self._primary_keys[table]

    # -- sync cursors ---------------------------------------------------------------------------

    def get_cursor(self, source: str, stream: str) -> Any:
        rows = self.con.execute(
            "SELECT cursor FROM _sync_state WHERE source = ? AND stream = ?", [source, stream]
        ).fetchall()
        return None if not rows or rows[0][0] is None else json.loads(rows[0][0])

    def set_cursor(self, source: str, stream: str, cursor: Any) -> None:
        self.con.execute(
            "INSERT OR REPLACE INTO _sync_state VALUES (?, ?, ?, ?)",
            [source, stream, json.dumps(cursor, sort_keys=True), utcnow()],
        )

    # -- reads -----------------------------------------------------------------------------------

    def settle(self) -> None:
        """Close any result a plugin left half-read. DuckDB 2.0 refuses relation queries
        (``con.sql``) on a connection whose last ``execute()`` result was not fetched to the
        end (``fetchone()`` on a one-row result is not enough); a new ``execute`` replaces it.
        The kernel calls this between plugins so one plugin's habit cannot break the next."""
        self.con.execute("SELECT 1").fetchall()

    def query(self, sql: str, params: list[Any] | None = None) -> pl.DataFrame:
        return self.con.sql(sql, params=params or None).pl()

    def fingerprint(self, table: str) -> dict[str, Any]:
        """Row count and an order-independent content hash, ignoring ``synced_at``."""
        cols = [c for c in self.columns(table) if c != "synced_at"]
        row_expr = "hash(" + ", ".join(map(quote_identifier, cols)) + ")"
        count, digest = self.con.execute(
            f"SELECT count(*), coalesce(bit_xor({row_expr}), 0) FROM {table}"
        ).fetchall()[0]
        return {"rows": int(count), "hash": f"{int(digest):016x}"}
