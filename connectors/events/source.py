"""The ``events`` Source: which files to read, and the cursor that makes re-syncs cheap.

Files are the unit of work. The cursor of a stream records each file's size and mtime (and a
sha256), so an unchanged file is not even opened on the next sync; a changed file is streamed
in blocks, each validated and yielded as rows, and only after the last block is a checkpoint
yielded: the kernel commits a file's rows and its cursor entry together, so a file that is bad,
or a sync that dies half-way through a file, never leaves a half-read file behind.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

import polars as pl
from pydantic import Field, model_validator

from mlreport.config import ConfigPath
from mlreport.connectors.events import cdevents
from mlreport.connectors.events.canonical import LINE, SPECS, TableSpec, validate
from mlreport.connectors.events.files import decode_utf8, expand_paths, iter_table_file
from mlreport.sources import Checkpoint, Rows, Source, SourceError, SourceOptions, Stream

BATCH_ROWS = 100_000
CURSOR_VERSION = 1


# -- options ----------------------------------------------------------------------------------

PathOption = ConfigPath | list[ConfigPath]


class EventsOptions(SourceOptions):
    """Config keys of a ``type = "events"`` source; at least one of the three is required."""

    deployments: PathOption | None = Field(
        default=None, description="Deployments: CSV or JSON-lines files (path, glob or list)."
    )
    incidents: PathOption | None = Field(
        default=None, description="Incidents: CSV or JSON-lines files (path, glob or list)."
    )
    cdevents: PathOption | None = Field(
        default=None, description="CDEvents, one JSON event per line (path, glob or list)."
    )

    @model_validator(mode="after")
    def _at_least_one(self) -> EventsOptions:
        if self.deployments is None and self.incidents is None and self.cdevents is None:
            raise ValueError(
                "an events source needs at least one of `deployments`, `incidents` "
                "or `cdevents` (a path, a glob, or a list of them)"
            )
        for name in ("deployments", "incidents", "cdevents"):
            if getattr(self, name) == []:
                raise ValueError(f"`{name}` is an empty list; name at least one path or glob")
        return self

    def paths(self, option: str) -> list[Path]:
        value = getattr(self, option)
        if value is None:
            return []
        return list(value) if isinstance(value, list) else [value]


# -- the source -------------------------------------------------------------------------------


class EventsSource(Source):
    """Reads deployment and incident files; see the module docstring for the file protocol."""

    Options = EventsOptions
    entity_kind = "service"

    def streams(self) -> list[Stream]:
        opts: EventsOptions = self.options  # type: ignore[assignment]
        out = []
        if opts.deployments is not None:
            out.append(Stream("deployments", "deployments", ("source", "deployment_id"), "entity"))
        if opts.incidents is not None:
            out.append(Stream("incidents", "incidents", ("source", "incident_id"), "entity"))
        if opts.cdevents is not None:
            out.append(
                Stream("cdevents_deployments", "deployments", ("source", "deployment_id"), "entity")
            )
            out.append(
                Stream("cdevents_incidents", "incidents", ("source", "incident_id"), "entity")
            )
        return out

    def check(self) -> str:
        opts: EventsOptions = self.options  # type: ignore[assignment]
        counts = []
        for option in ("deployments", "incidents", "cdevents"):
            if getattr(opts, option) is not None:
                counts.append(f"{option}: {len(expand_paths(opts.paths(option)))} file(s)")
        return ", ".join(counts)

    def read(self, stream: Stream, cursor: Any) -> Iterator[Rows | Checkpoint]:
        opts: EventsOptions = self.options  # type: ignore[assignment]
        if stream.name in SPECS:
            spec = SPECS[stream.name]
            parse = self._canonical_parser(spec)
            yield from self._read_files(opts.paths(stream.name), cursor, parse)
        elif stream.name == "cdevents_deployments":
            yield from self._read_cdevents(opts.paths("cdevents"), cursor, "deployments")
        elif stream.name == "cdevents_incidents":
            yield from self._read_cdevents(opts.paths("cdevents"), cursor, "incidents")
        else:  # pragma: no cover - streams() lists only the above
            raise SourceError(f"{self.name}: unknown stream {stream.name!r}")

    # -- file protocol ---------------------------------------------------------------------

    def _read_files(
        self,
        patterns: list[Path],
        cursor: Any,
        parse: Callable[[Path, BinaryIO, dict[str, Any]], Iterator[pl.DataFrame]],
    ) -> Iterator[Rows | Checkpoint]:
        """Read every new or changed file; checkpoint after each one, never inside one."""
        state = load_cursor(cursor)
        paths = expand_paths(patterns)
        for path in paths:
            key = str(path)
            old = state["files"].get(key)
            try:
                stat = path.stat()  # before reading: a write during the read shows next time
                if old and old["size"] == stat.st_size and old["mtime_ns"] == stat.st_mtime_ns:
                    continue
                fh = path.open("rb")
            except OSError as exc:
                raise SourceError(f"{path}: cannot read the file: {exc.strerror}") from None
            with fh:
                self.count("files")
                entry = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
                if self._same_content(fh, old, stat.st_size):
                    entry["sha256"] = old["sha256"]  # touched, not changed: no rows
                else:
                    reader = HashingReader(fh)
                    for frame in parse(path, reader, state):  # type: ignore[arg-type]
                        for start in range(0, frame.height, BATCH_ROWS):
                            yield Rows(frame.slice(start, BATCH_ROWS))
                    entry["sha256"] = reader.finish()
                    self.count("bytes", reader.size)
            state["files"][key] = entry
            yield Checkpoint(state)
        gone = set(state["files"]) - {str(p) for p in paths}
        if gone:
            for key in gone:
                del state["files"][key]
            yield Checkpoint(state)

    def _same_content(self, fh: BinaryIO, old: dict[str, Any] | None, size: int) -> bool:
        """Whether a file of unchanged size still has the stored sha256 (then it is not
        parsed). Another size is other content: no need to hash it first."""
        if not old or old.get("size") != size or not isinstance(old.get("sha256"), str):
            return False
        digest = hashlib.file_digest(fh, "sha256").hexdigest()
        self.count("bytes", fh.tell())
        fh.seek(0)
        return digest == old["sha256"]

    def _canonical_parser(self, spec: TableSpec) -> Callable[..., Iterator[pl.DataFrame]]:
        def parse(path: Path, fh: BinaryIO, state: dict[str, Any]) -> Iterator[pl.DataFrame]:
            earlier: list[pl.DataFrame] = []  # ids of earlier blocks: one id per file
            for frame in iter_table_file(path, fh, spec):
                ids = pl.concat(earlier, rechunk=False) if earlier else None
                typed = validate(frame, spec, str(path), earlier_ids=ids)
                if spec.unique_ids:
                    key = spec.id_column
                    earlier.append(typed.select(key, LINE).filter(pl.col(key).is_not_null()))
                yield typed.drop(LINE)

        return parse

    def _read_cdevents(
        self, patterns: list[Path], cursor: Any, target: str
    ) -> Iterator[Rows | Checkpoint]:
        def parse(path: Path, fh: BinaryIO, state: dict[str, Any]) -> Iterator[pl.DataFrame]:
            # CDEvents are read whole: rollbacks and resolutions refer to other events.
            events = cdevents.parse_file(path, decode_utf8(path, fh.read()))
            kinds = cdevents.KINDS[target]
            self.count("events", sum(1 for e in events if e.kind in kinds))
            store = cdevents.Store(self.warehouse, self.name)
            if target == "deployments":
                yield cdevents.deployments(events, str(path), state, store)
            else:
                yield cdevents.incidents(events, str(path), state, store)

        yield from self._read_files(patterns, cursor, parse)


def load_cursor(cursor: Any) -> dict[str, Any]:
    """A fresh, mutable copy of a stream cursor (None or an older version: start over)."""
    if not isinstance(cursor, dict) or cursor.get("version") != CURSOR_VERSION:
        return {"version": CURSOR_VERSION, "files": {}}
    return json.loads(json.dumps(cursor))


class HashingReader:
    """A binary file whose bytes, as they are read, go through sha256 and are counted."""

    def __init__(self, fh: BinaryIO) -> None:
        self.fh = fh
        self.digest = hashlib.sha256()
        self.size = 0

    def read(self, n: int = -1) -> bytes:
        data = self.fh.read(n)
        self.digest.update(data)
        self.size += len(data)
        return data

    def finish(self) -> str:
        """The sha256 of the whole file (what the parser left unread is read here)."""
        while self.read(1 << 20):
            pass
        return self.digest.hexdigest()
