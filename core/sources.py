"""The source contract and the sync engine that owns atomicity, upserts and cursors.

A source only *reads*: it yields :class:`Rows` for a stream and, when the rows so far are
consistent with a new cursor, a :class:`Checkpoint`. The kernel writes each stretch of rows and
its cursor in one DuckDB transaction, so a crash never moves a cursor past unstored data.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

import duckdb
import polars as pl
from pydantic import BaseModel, ConfigDict

from mlreport import CONFIG_NAME
from mlreport.config import Config, ConfigError, SourceConfig, validate_options
from mlreport.plugin_manager import PluginError
from mlreport.sql import quote_identifier
from mlreport.times import utcnow
from mlreport.warehouse import Warehouse

log = logging.getLogger("mlreport.sync")


class SourceError(Exception):
    """A source could not be read; the message names the file, line or field."""


class SourceOptions(BaseModel):
    """Base for a source type's own config keys (unknown keys are errors)."""

    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True)
class Stream:
    """One incrementally synced feed of a source into one canonical table."""

    name: str
    table: str
    key: tuple[str, ...]
    entity_column: str | None = None  # rows naming entities add them to `entities`


@dataclass
class Rows:
    frame: pl.DataFrame


@dataclass
class Checkpoint:
    cursor: Any


@dataclass
class View:
    """Replace the warehouse view ``name`` with ``sql``; committed with the next checkpoint,
    so a failed sync leaves the previous definition. For sources whose data stays in place
    (prediction logs): the view is the table."""

    name: str
    sql: str


@dataclass
class StreamStats:
    rows: int = 0
    batches: int = 0
    checkpoints: int = 0


@dataclass
class SyncStats:
    source: str
    streams: dict[str, StreamStats] = field(default_factory=dict)
    reads: dict[str, int] = field(
        default_factory=dict
    )  # what the source read: files, bytes, requests
    seconds: float = 0.0
    error: str | None = None  # the sync failed: what went wrong (rows committed before stay)
    hook_errors: list[str] = field(default_factory=list)  # after_sync hooks that failed

    @property
    def rows(self) -> int:
        return sum(s.rows for s in self.streams.values())


class Source:
    """Base class of source types. Subclasses set ``Options`` and implement the readers."""

    Options: ClassVar[type[SourceOptions]] = SourceOptions
    entity_kind: ClassVar[str] = "service"

    def __init__(self, name: str, options: SourceOptions, config: Config) -> None:
        self.name = name
        self.options = options
        self.config = config
        self.reads: dict[str, int] = {}
        # Set by the kernel before reading: sources may *read* stored rows (e.g. to find the
        # parents of new commits) but must never write; writes go through yielded Rows.
        self.warehouse: Warehouse | None = None

    def count(self, what: str, n: int = 1) -> None:
        """Count reads (files opened, bytes read, requests made) for sync statistics."""
        self.reads[what] = self.reads.get(what, 0) + n

    def streams(self) -> list[Stream]:
        raise NotImplementedError

    def read(self, stream: Stream, cursor: Any) -> Iterator[Rows | View | Checkpoint]:
        """Yield rows for ``stream`` starting after ``cursor`` (None: from the beginning)."""
        raise NotImplementedError

    def check(self) -> str:
        """Say whether the source is reachable (``mlreport doctor``); raise SourceError if not."""
        return "ok"


def build_source(src: SourceConfig, config: Config, index: int) -> Source:
    try:
        cls = _source_class(src.type)
    except PluginError as exc:  # name the file and the key, not only the type
        raise ConfigError(f"{config.file or CONFIG_NAME}: sources[{index}].type: {exc}") from None
    options = validate_options(cls.Options, src.options, config, ("sources", index))
    return cls(src.name, options, config)


def source_options(config: Config, type_name: str) -> dict[str, SourceOptions]:
    """The validated options of every configured source of ``type_name``, by source name.

    How a metric family reads settings that belong to a source (which aliases mean
    production, how a log is explained): one model, the source type's ``Options``, validates
    each block and declares its defaults, so no plugin re-reads raw config by type string."""
    if not any(s.type == type_name for s in config.sources):
        return {}
    cls = _source_class(type_name)
    return {
        src.name: validate_options(cls.Options, src.options, config, ("sources", i))
        for i, src in enumerate(config.sources)
        if src.type == type_name
    }


def default_options(type_name: str) -> SourceOptions:
    """A source type's options with every default and nothing configured: what a family
    assumes for data whose source is no longer in the config."""
    return _source_class(type_name).Options.model_construct()


def _source_class(type_name: str) -> type[Source]:
    from mlreport.plugin_manager import get_plugins

    return get_plugins().sources().get(type_name)


def sync_source(
    warehouse: Warehouse, source: Source, full: bool = False, progress: Any = None
) -> SyncStats:
    """Run every stream of ``source``; each checkpoint commits rows and cursor together."""
    stats = SyncStats(source.name)
    source.warehouse = warehouse
    started = time.monotonic()
    synced_at = utcnow()
    for stream in source.streams():
        st = stats.streams.setdefault(stream.name, StreamStats())
        # --full reads from the beginning; the stored cursor is replaced only at a checkpoint,
        # so a failed full sync leaves the previous state intact.
        cursor = None if full else warehouse.get_cursor(source.name, stream.name)
        warehouse.con.execute("BEGIN TRANSACTION")
        try:
            for item in source.read(stream, cursor):
                if isinstance(item, Rows):
                    frame = _with_provenance(item.frame, warehouse, stream, source, synced_at)
                    st.rows += warehouse.upsert(stream.table, frame, stream.key)
                    st.batches += 1
                    _add_entities(warehouse, frame, stream, source, synced_at)
                    if progress:
                        progress(source.name, stream.name, st.rows)
                elif isinstance(item, View):
                    _replace_view(warehouse, source, item)
                elif isinstance(item, Checkpoint):
                    warehouse.set_cursor(source.name, stream.name, item.cursor)
                    warehouse.con.execute("COMMIT")
                    warehouse.con.execute("BEGIN TRANSACTION")
                    st.checkpoints += 1
                else:
                    raise TypeError(f"source {source.name!r} yielded {type(item).__name__}")
        except BaseException:
            warehouse.con.execute("ROLLBACK")
            raise
        warehouse.con.execute("COMMIT")
    stats.reads = dict(source.reads)
    stats.seconds = time.monotonic() - started
    return stats


def record_sync(warehouse: Warehouse, source: str, error: str | None) -> None:
    """Keep the outcome of a source's latest sync in ``source_status``."""
    now = utcnow()
    warehouse.con.execute(
        "INSERT INTO source_status VALUES (?, ?, ?, ?) ON CONFLICT (source) DO UPDATE SET "
        "last_attempt_at = excluded.last_attempt_at, error = excluded.error, "
        "last_success_at = coalesce(excluded.last_success_at, source_status.last_success_at)",
        [source, now, None if error else now, error],
    )


def sync_failures(warehouse: Warehouse) -> list[dict[str, Any]]:
    """Sources whose latest sync failed: name, error and the time of the last good sync."""
    rows = warehouse.con.execute(
        "SELECT source, error, last_success_at FROM source_status WHERE error IS NOT NULL "
        "ORDER BY source"
    ).fetchall()
    return [{"source": s, "error": e, "last_success_at": t} for s, e, t in rows]


def _replace_view(warehouse: Warehouse, source: Source, view: View) -> None:
    if view.name in warehouse.tables() and view.name not in warehouse.views():
        raise SourceError(
            f"source {source.name!r}: {view.name!r} is a table in the warehouse; "
            "a source may replace views only"
        )
    name = quote_identifier(view.name)
    try:
        if len(warehouse.con.extract_statements(view.sql)) != 1:
            raise SourceError(
                f"source {source.name!r}: the definition of view {view.name!r} must be one "
                "SELECT statement"
            )
        warehouse.con.execute(f"CREATE OR REPLACE VIEW {name} AS {view.sql}")
    except duckdb.Error as exc:
        raise SourceError(
            f"source {source.name!r}: cannot define view {view.name!r}: {exc}"
        ) from None
    warehouse.forget_columns(view.name)


def _with_provenance(
    frame: pl.DataFrame, warehouse: Warehouse, stream: Stream, source: Source, synced_at
) -> pl.DataFrame:
    cols = warehouse.columns(stream.table)
    extra = []
    if "source" in cols:
        extra.append(pl.lit(source.name).alias("source"))
    if "synced_at" in cols:
        extra.append(pl.lit(synced_at).cast(pl.Datetime("us", "UTC")).alias("synced_at"))
    return frame.with_columns(extra) if extra else frame


def _add_entities(
    warehouse: Warehouse, frame: pl.DataFrame, stream: Stream, source: Source, synced_at
) -> None:
    if not stream.entity_column or stream.entity_column not in frame.columns:
        return
    names = frame.get_column(stream.entity_column).drop_nulls().unique().to_list()
    if not names:
        return
    warehouse.con.execute(
        """
        INSERT INTO entities (kind, name, declared, source, synced_at)
        SELECT ?, n.name, false, ?, ? FROM (SELECT unnest(?::VARCHAR[]) AS name) n
        WHERE NOT EXISTS (SELECT 1 FROM entities e WHERE e.name = n.name)
        """,
        [source.entity_kind, source.name, synced_at, names],
    )


def sync_entities(warehouse: Warehouse, config: Config) -> None:
    """Store the entities the config declares (they win over auto-added ones)."""
    with warehouse.transaction():
        for ent in config.entities:
            extra = ent.model_extra or {}
            warehouse.con.execute(
                "DELETE FROM entities WHERE name = ? AND NOT declared", [ent.name]
            )
            warehouse.con.execute(
                "INSERT OR REPLACE INTO entities (kind, name, owner, team, risk_tier, "
                "intended_use, description, tags, attributes, declared, source, synced_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, true, 'config', ?)",
                [
                    ent.kind,
                    ent.name,
                    ent.owner,
                    ent.team,
                    ent.risk_tier,
                    ent.intended_use,
                    ent.description,
                    json.dumps(ent.tags, sort_keys=True),
                    json.dumps(extra, sort_keys=True, default=str),
                    utcnow(),
                ],
            )
