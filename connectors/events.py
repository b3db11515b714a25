"""The built-in ``events`` source: deployments and incidents from CSV, JSON lines or CDEvents.

Files are the unit of work. The cursor of a stream records each file's size and mtime (and a
sha256), so an unchanged file is not even opened on the next sync; a changed file is read
whole, validated whole and upserted, and only then is a checkpoint yielded, so a file that is
bad, or a sync that dies half-way through a file, never leaves a half-read file behind.

CSV is parsed by polars with every column as text and validated vectorised; Python's ``csv``
module is only used when a row does not fit the fast path, to find the exact line of an error
(or to read values that span lines). See docs/sources-events.md for the file formats.
"""

from __future__ import annotations

import csv
import glob
import hashlib
import io
import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
from pydantic import Field, model_validator

from mlreport import hookimpl
from mlreport.config import ConfigPath
from mlreport.sources import Checkpoint, Rows, Source, SourceError, SourceOptions, Stream

log = logging.getLogger("mlreport.events")

BATCH_ROWS = 100_000
CURSOR_VERSION = 1
LINE = "__line"  # the physical, 1-based line a row came from (header = line 1)
UTC_US = pl.Datetime("us", "UTC")
CSV_SUFFIXES = (".csv",)
JSONL_SUFFIXES = (".jsonl", ".ndjson", ".json")


# -- the canonical tables ---------------------------------------------------------------------


@dataclass(frozen=True)
class TableSpec:
    """What a file of one canonical table may and must contain."""

    table: str
    id_column: str
    columns: tuple[str, ...]
    required: tuple[str, ...]
    timestamps: tuple[str, ...]
    enums: dict[str, tuple[str, ...]] = field(default_factory=dict)
    defaults: dict[str, str] = field(default_factory=dict)
    ordered: tuple[tuple[str, str], ...] = ()  # (earlier, later) timestamp pairs
    unique_ids: bool = True  # an id may appear once per file


DEPLOYMENTS = TableSpec(
    table="deployments",
    id_column="deployment_id",
    columns=(
        "deployment_id",
        "entity",
        "environment",
        "version",
        "commit_sha",
        "model_version",
        "started_at",
        "finished_at",
        "status",
        "kind",
        "trigger",
    ),
    required=("deployment_id", "entity", "environment", "finished_at", "status"),
    timestamps=("started_at", "finished_at"),
    enums={
        "status": ("success", "failure", "rolled_back"),
        "kind": ("planned", "hotfix", "rollback"),
        "trigger": ("automated", "manual"),
    },
    defaults={"kind": "planned"},
    ordered=(("started_at", "finished_at"),),
)

INCIDENTS = TableSpec(
    table="incidents",
    id_column="incident_id",
    columns=(
        "incident_id",
        "entity",
        "environment",
        "severity",
        "detected_at",
        "resolved_at",
        "cause_deployment_id",
        "title",
    ),
    required=("incident_id", "entity", "detected_at"),
    timestamps=("detected_at", "resolved_at"),
    ordered=(("detected_at", "resolved_at"),),
)

SPECS = {"deployments": DEPLOYMENTS, "incidents": INCIDENTS}


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
        parse: Callable[[Path, bytes, dict[str, Any]], pl.DataFrame],
    ) -> Iterator[Rows | Checkpoint]:
        """Read every new or changed file; checkpoint after each one, never inside one."""
        state = load_cursor(cursor)
        paths = expand_paths(patterns)
        for path in paths:
            key = str(path)
            old = state["files"].get(key)
            stat = path.stat()  # before reading: a write during the read shows next time
            if old and old["size"] == stat.st_size and old["mtime_ns"] == stat.st_mtime_ns:
                continue
            entry, frame = self._load(path, stat, old, state, parse)
            for start in range(0, frame.height, BATCH_ROWS):
                yield Rows(frame.slice(start, BATCH_ROWS))
            state["files"][key] = entry
            yield Checkpoint(state)
        gone = set(state["files"]) - {str(p) for p in paths}
        if gone:
            for key in gone:
                del state["files"][key]
            yield Checkpoint(state)

    def _load(
        self,
        path: Path,
        stat: Any,
        old: dict[str, Any] | None,
        state: dict[str, Any],
        parse: Callable[[Path, bytes, dict[str, Any]], pl.DataFrame],
    ) -> tuple[dict[str, Any], pl.DataFrame]:
        """Open and parse one file; a touched file with the same sha256 yields no rows."""
        data = path.read_bytes()
        self.count("files")
        self.count("bytes", len(data))
        digest = hashlib.sha256(data).hexdigest()
        entry = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": digest}
        if old and old.get("sha256") == digest:
            return entry, pl.DataFrame()
        return entry, parse(path, data, state)

    def _canonical_parser(self, spec: TableSpec) -> Callable[..., pl.DataFrame]:
        def parse(path: Path, data: bytes, state: dict[str, Any]) -> pl.DataFrame:
            frame = read_table_file(path, data, spec)
            return validate(frame, spec, str(path)).drop(LINE)

        return parse

    def _read_cdevents(
        self, patterns: list[Path], cursor: Any, target: str
    ) -> Iterator[Rows | Checkpoint]:
        from mlreport.connectors import cdevents

        def parse(path: Path, data: bytes, state: dict[str, Any]) -> pl.DataFrame:
            events = cdevents.parse_file(path, decode_utf8(path, data))
            kinds = cdevents.KINDS[target]
            self.count("events", sum(1 for e in events if e.kind in kinds))
            store = cdevents.Store(self.warehouse, self.name)
            if target == "deployments":
                return cdevents.deployments(events, str(path), state, store)
            return cdevents.incidents(events, str(path), state, store)

        yield from self._read_files(patterns, cursor, parse)


def load_cursor(cursor: Any) -> dict[str, Any]:
    """A fresh, mutable copy of a stream cursor (None or an older version: start over)."""
    if not isinstance(cursor, dict) or cursor.get("version") != CURSOR_VERSION:
        return {"version": CURSOR_VERSION, "files": {}}
    return json.loads(json.dumps(cursor))


# -- finding files ----------------------------------------------------------------------------


def _is_glob(text: str) -> bool:
    return any(ch in text for ch in "*?[")


def expand_paths(patterns: list[Path]) -> list[Path]:
    """Files named by paths and globs, in the order given (each glob's matches sorted)."""
    seen: set[Path] = set()
    out: list[Path] = []
    for pattern in patterns:
        text = str(pattern)
        if _is_glob(text):
            matches = sorted(Path(p) for p in glob.glob(text, recursive=True))
            matches = [p for p in matches if p.is_file()]
            if not matches:
                log.warning("%s: no file matches this pattern (yet)", text)
        else:
            if not pattern.is_file():
                what = "is not a file" if pattern.exists() else "does not exist"
                raise SourceError(
                    f"{pattern}: {what} (check the path in the config; "
                    "relative paths are taken from the config file's folder)"
                )
            matches = [pattern]
        for path in matches:
            if path not in seen:
                seen.add(path)
                out.append(path)
    return out


# -- bytes to text ----------------------------------------------------------------------------


BOM = b"\xef\xbb\xbf"


def decode_utf8(path: Path, data: bytes) -> str:
    """The file's text; invalid UTF-8 is an error naming the line (a leading BOM is dropped)."""
    shift = 0
    if data.startswith(BOM):
        data, shift = data[len(BOM) :], len(BOM)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        start = data.rfind(b"\n", 0, exc.start) + 1
        column = _csv_column_at(path, data, start, exc.start)
        where = f": column {column!r}" if column else ""
        raise SourceError(
            f"{path}: line {line}{where}: not valid UTF-8 (byte 0x{data[exc.start]:02x} at "
            f"byte offset {exc.start + shift}); save the file as UTF-8"
        ) from None


def _csv_column_at(path: Path, data: bytes, line_start: int, offset: int) -> str | None:
    """For a CSV file, the header name of the field holding byte ``offset`` (best effort)."""
    if path.suffix.lower() not in CSV_SUFFIXES:
        return None
    try:
        header_end = data.find(b"\n")
        header = next(csv.reader([data[: header_end if header_end >= 0 else None].decode()]))
        prefix = data[line_start:offset].decode("utf-8")
        index = len(next(csv.reader([prefix + "x"]))) - 1
        return header[index].strip() if index < len(header) else None
    except (UnicodeDecodeError, StopIteration, csv.Error, IndexError):
        return None


def split_lines(text: str) -> pl.DataFrame:
    """Non-empty physical lines with their 1-based numbers (CR of CRLF removed).

    Lines of only spaces are kept: as CSV they fail the fast path and the exact path skips
    them, as JSON they are skipped by the JSON reader.
    """
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    frame = pl.DataFrame({"text": pl.Series(lines, dtype=pl.String)}).with_columns(
        pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias(LINE)
    )
    if "\r" in text:
        frame = frame.with_columns(pl.col("text").str.strip_suffix("\r"))
    return frame.filter(pl.col("text").str.len_bytes() > 0)


# -- CSV --------------------------------------------------------------------------------------

_QUOTED = r'"(?:[^"]|"")*"'
_FIELD = rf'(?:{_QUOTED}|[^",]*)'
_RECORD = rf"^{_FIELD}(?:,{_FIELD})*$"


def read_table_file(path: Path, data: bytes, spec: TableSpec) -> pl.DataFrame:
    """A canonical-table file as a frame of text columns plus ``__line``."""
    suffix = path.suffix.lower()
    if suffix in CSV_SUFFIXES:
        reader = read_csv
    elif suffix in JSONL_SUFFIXES:
        reader = read_jsonl
    else:
        raise SourceError(
            f"{path}: unknown file type {suffix or '(no extension)'!r}; name CSV files *.csv "
            "and JSON-lines files *.jsonl, *.ndjson or *.json"
        )
    if not data.strip(BOM + b" \t\r\n"):
        log.warning("%s: the file is empty; nothing to read", path)
        return empty_frame(spec)
    raw = data[len(BOM) :] if data.startswith(BOM) else data
    return reader(path, decode_utf8(path, data), spec, raw)


def empty_frame(spec: TableSpec) -> pl.DataFrame:
    schema = {c: pl.String for c in spec.columns}
    schema[LINE] = pl.Int64
    return pl.DataFrame(schema=schema)


def read_csv(path: Path, text: str, spec: TableSpec, raw: bytes | None = None) -> pl.DataFrame:
    lines = split_lines(text)
    header_line = int(lines[LINE][0])
    header = _parse_header(path, lines["text"][0], header_line)
    check_columns(str(path), header, spec, f"line {header_line}")
    data_lines = lines.slice(1)
    if not _fits_fast_path(data_lines, len(header)):
        return _read_csv_slow(path, text, header)
    if data_lines.height == 0:
        return _with_all_columns(
            pl.DataFrame(schema={**dict.fromkeys(header, pl.String), LINE: pl.Int64}), spec
        )
    if int(lines[LINE][-1]) == lines.height:  # no empty lines: polars reads the text as is
        body = raw if raw is not None else text.encode()
    else:
        body = "\n".join([lines["text"][0], *data_lines["text"].to_list()]).encode()
    frame = pl.read_csv(io.BytesIO(body), infer_schema=False, has_header=True)
    if frame.height != data_lines.height:  # pragma: no cover - the fast path guarantees it
        return _read_csv_slow(path, text, header)
    frame.columns = header
    return _with_all_columns(frame.with_columns(data_lines[LINE]), spec)


def _parse_header(path: Path, text: str, line: int) -> list[str]:
    try:
        names = next(csv.reader([text], strict=True))
    except csv.Error as exc:
        raise SourceError(f"{path}: line {line}: malformed header: {exc}") from None
    names = [n.strip() for n in names]
    if any(not n for n in names):
        position = names.index("") + 1
        raise SourceError(f"{path}: line {line}: header field {position} is empty")
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise SourceError(f"{path}: line {line}: column(s) {_names(dupes)} appear twice")
    return names


def _fits_fast_path(lines: pl.DataFrame, n_fields: int) -> bool:
    """True when every line is one complete record with exactly ``n_fields`` fields."""
    if lines.height == 0:
        return True
    text = pl.col("text")
    if lines.select(text.str.contains("\r", literal=True).any()).item():
        return False  # a lone CR ends a record for Python's csv module; let it decide
    has_quotes = lines.select(text.str.contains('"', literal=True).any()).item()
    if has_quotes:
        ok = lines.select(
            (
                text.str.contains(_RECORD)
                & (
                    text.str.replace_all(_QUOTED, "").str.count_matches(",", literal=True)
                    == n_fields - 1
                )
            ).all()
        ).item()
    else:
        ok = lines.select((text.str.count_matches(",", literal=True) == n_fields - 1).all()).item()
    return bool(ok)


def _read_csv_slow(path: Path, text: str, header: list[str]) -> pl.DataFrame:
    """Python's csv module, record by record: exact lines for errors, multi-line values."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    records: list[list[str]] = []
    starts: list[int] = []
    seen_header = False
    previous = 0
    start = 1
    try:
        for record in reader:
            start, previous = previous + 1, reader.line_num
            if not record or (len(record) == 1 and not record[0].strip()):
                continue
            if not seen_header:
                seen_header = True
                continue
            if len(record) != len(header):
                raise SourceError(_field_count_message(path, start, header, record))
            records.append(record)
            starts.append(start)
    except csv.Error as exc:
        start = previous + 1  # the record that failed starts after the last one read
        reason = str(exc)
        if "unexpected end of data" in reason:
            reason = "a quoted value is never closed (a missing closing quote)"
        raise SourceError(f"{path}: line {start}: malformed CSV row: {reason}") from None
    columns = list(zip(*records, strict=True)) if records else [[] for _ in header]
    frame = pl.DataFrame(
        {
            name: pl.Series(values, dtype=pl.String)
            for name, values in zip(header, columns, strict=True)
        }
    ).with_columns(pl.Series(LINE, starts, dtype=pl.Int64))
    return frame


def _field_count_message(path: Path, line: int, header: list[str], record: list[str]) -> str:
    found, expected = len(record), len(header)
    if found > expected:
        detail = f"{found - expected} field(s) more than the header (after column {header[-1]!r})"
    else:
        missing = header[found:]
        detail = f"missing the last {expected - found} field(s) ({_names(missing)})"
    return (
        f"{path}: line {line}: malformed CSV row: {found} fields where the header has "
        f"{expected}: {detail}"
    )


def _with_all_columns(frame: pl.DataFrame, spec: TableSpec) -> pl.DataFrame:
    missing = [pl.lit(None, dtype=pl.String).alias(c) for c in spec.columns if c not in frame]
    return frame.with_columns(missing).select([*spec.columns, LINE])


def check_columns(file: str, names: list[str], spec: TableSpec, where: str) -> None:
    """Unknown columns and missing required columns are errors naming them."""
    check_unknown(file, names, spec, where)
    missing = [c for c in spec.required if c not in names]
    if missing:
        raise SourceError(
            f"{file}: {where}: missing required column(s) {_names(missing)} for {spec.table} "
            f"(required: {', '.join(spec.required)})"
        )


def check_unknown(file: str, names: list[str], spec: TableSpec, where: str) -> None:
    unknown = [n for n in names if n not in spec.columns]
    if unknown:
        raise SourceError(
            f"{file}: {where}: unknown column(s) {_names(unknown)} for {spec.table} "
            f"(known columns: {', '.join(spec.columns)})"
        )


def _names(names: list[str]) -> str:
    return ", ".join(repr(n) for n in names)


# -- JSON lines -------------------------------------------------------------------------------

# A value that is not a string or null: the fast path cannot tell "1.10" from 1.10 after
# polars has read it, so such files take the exact, line-by-line path.
_NON_STRING_VALUE = r'"\s*:\s*[^"\sn]'


def read_jsonl(path: Path, text: str, spec: TableSpec, raw: bytes | None = None) -> pl.DataFrame:
    lines = split_lines(text)
    if lines.height == 0:
        return empty_frame(spec)
    frame = _read_jsonl_fast(lines)
    if frame is None:
        frame = _read_jsonl_slow(path, lines, spec)
    unknown = [c for c in frame.columns if c != LINE and c not in spec.columns]
    if unknown:
        line = _first_line_with_key(lines, unknown[0])
        check_unknown(str(path), [c for c in frame.columns if c != LINE], spec, f"line {line}")
    present = set(frame.columns)
    missing = [c for c in spec.required if c not in present]
    if missing:
        check_columns(str(path), list(present - {LINE}), spec, f"line {int(lines[LINE][0])}")
    return _with_all_columns(frame, spec)


def _read_jsonl_fast(lines: pl.DataFrame) -> pl.DataFrame | None:
    """All values strings or null and every line an object: polars reads it exactly."""
    text = pl.col("text")
    if lines.select(text.str.contains(_NON_STRING_VALUE).any()).item():
        return None
    if not lines.select(text.str.strip_chars().str.starts_with("{").all()).item():
        return None
    body = "\n".join(lines["text"].to_list()).encode()
    try:
        frame = pl.read_ndjson(io.BytesIO(body), infer_schema_length=None)
    except Exception:  # any parse problem: the slow path finds and names the line
        return None
    if frame.height != lines.height:
        return None
    if any(dtype not in (pl.String, pl.Null) for dtype in frame.schema.values()):
        return None
    frame = frame.with_columns(pl.all().cast(pl.String))
    return frame.with_columns(lines[LINE])


def _read_jsonl_slow(path: Path, lines: pl.DataFrame, spec: TableSpec) -> pl.DataFrame:
    rows: list[dict[str, str | None]] = []
    numbers: list[int] = []
    for text, line in zip(lines["text"], lines[LINE], strict=True):
        if not text.strip():
            continue
        numbers.append(line)
        obj = json_object(path, line, text)
        row: dict[str, str | None] = {}
        for key, value in obj.items():
            if key not in spec.columns:
                check_unknown(str(path), list(obj), spec, f"line {line}")
            row[key] = _json_text(path, line, key, value)
        rows.append(row)
    names = [c for c in spec.columns if any(c in r for r in rows)]
    frame = pl.DataFrame({c: pl.Series([r.get(c) for r in rows], dtype=pl.String) for c in names})
    return frame.with_columns(pl.Series(LINE, numbers, dtype=pl.Int64))


def json_object(
    path: Path, line: int, text: str, hint: str = "JSON lines: one complete object per line"
) -> dict[str, Any]:
    """Parse one line holding a JSON object, naming the file and line when it does not."""
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SourceError(
            f"{path}: line {line}: not valid JSON at character {exc.colno}: {exc.msg} ({hint})"
        ) from None
    if not isinstance(obj, dict):
        raise SourceError(
            f"{path}: line {line}: expected a JSON object, found {type(obj).__name__} ({hint})"
        )
    return obj


def _json_text(path: Path, line: int, key: str, value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    kind = {
        bool: "a boolean",
        float: "a number with a fraction",
        list: "an array",
        dict: "an object",
    }.get(type(value), type(value).__name__)
    raise SourceError(
        f"{path}: line {line}: column {key!r}: expected a string, found {kind} "
        f"({json.dumps(value)[:60]}); quote the value"
    )


def _first_line_with_key(lines: pl.DataFrame, key: str) -> int:
    needle = json.dumps(key) + ":"
    hits = lines.filter(
        pl.col("text").str.replace_all(r'"\s*:', '":').str.contains(needle, literal=True)
    )
    return int(hits[LINE][0]) if hits.height else int(lines[LINE][0])


# -- validation -------------------------------------------------------------------------------


@dataclass(order=True)
class Problem:
    line: int
    column: str
    message: str
    count: int = 1


def validate(
    frame: pl.DataFrame, spec: TableSpec, file: str, labels: dict[str, str] | None = None
) -> pl.DataFrame:
    """Text columns to canonical types; the earliest bad line is raised as a SourceError.

    ``labels`` renames columns in messages (CDEvents name the JSON field instead).
    """
    labels = labels or {}
    frame = frame.with_columns(
        pl.col(c).str.strip_chars().replace("", None) for c in spec.columns
    ).with_columns(pl.col(c).fill_null(pl.lit(v)) for c, v in spec.defaults.items())
    typed = frame.with_columns(parse_timestamps(frame[c]) for c in spec.timestamps)
    problems = [
        *_required_problems(frame, spec),
        *_enum_problems(frame, spec),
        *_timestamp_problems(frame, typed, spec),
        *_order_problems(typed, spec),
        *_duplicate_problems(frame, spec),
    ]
    if problems:
        first = min(problems)
        label = labels.get(first.column, first.column)
        more = f" ({first.count - 1} more line(s) with this problem)" if first.count > 1 else ""
        raise SourceError(f"{file}: line {first.line}: column {label!r}: {first.message}{more}")
    return typed.select([*spec.columns, LINE])


def _first(frame: pl.DataFrame, bad: pl.Expr) -> tuple[int, Any, int] | None:
    hits = frame.filter(bad)
    if hits.height == 0:
        return None
    return int(hits[LINE].min()), hits.sort(LINE).row(0, named=True), hits.height


def _required_problems(frame: pl.DataFrame, spec: TableSpec) -> Iterator[Problem]:
    for column in spec.required:
        found = _first(frame, pl.col(column).is_null())
        if found:
            yield Problem(found[0], column, "a value is required here", found[2])


def _enum_problems(frame: pl.DataFrame, spec: TableSpec) -> Iterator[Problem]:
    for column, allowed in spec.enums.items():
        found = _first(frame, pl.col(column).is_not_null() & ~pl.col(column).is_in(allowed))
        if found:
            value = found[1][column]
            yield Problem(
                found[0],
                column,
                f"unknown value {_clip(value)!r} (allowed: {', '.join(allowed)})",
                found[2],
            )


def _timestamp_problems(
    raw: pl.DataFrame, typed: pl.DataFrame, spec: TableSpec
) -> Iterator[Problem]:
    both = raw.select(LINE, *[pl.col(c).alias(f"raw_{c}") for c in spec.timestamps]).with_columns(
        typed.select(spec.timestamps)
    )
    for column in spec.timestamps:
        found = _first(both, pl.col(f"raw_{column}").is_not_null() & pl.col(column).is_null())
        if found:
            value = found[1][f"raw_{column}"]
            yield Problem(
                found[0],
                column,
                f"not an ISO 8601 timestamp: {_clip(value)!r} (expected e.g. "
                "2026-03-01T14:30:00Z, 2026-03-01T16:30:00+02:00 or 2026-03-01)",
                found[2],
            )


def _order_problems(typed: pl.DataFrame, spec: TableSpec) -> Iterator[Problem]:
    for earlier, later in spec.ordered:
        found = _first(typed, pl.col(later) < pl.col(earlier))
        if found:
            row = found[1]
            yield Problem(
                found[0],
                later,
                f"{later} {_iso(row[later])} is before {earlier} {_iso(row[earlier])}",
                found[2],
            )


def _duplicate_problems(frame: pl.DataFrame, spec: TableSpec) -> Iterator[Problem]:
    if not spec.unique_ids:
        return
    key = spec.id_column
    if frame[key].drop_nulls().n_unique() == frame[key].drop_nulls().len():
        return
    dupes = frame.filter(pl.col(key).is_not_null() & pl.col(key).is_duplicated())
    if dupes.height == 0:
        return
    dupes = dupes.sort(LINE)
    value = dupes[key][0]
    lines = dupes.filter(pl.col(key) == value)[LINE].to_list()
    yield Problem(
        int(lines[1]),
        key,
        f"duplicate {key} {_clip(value)!r}, also on line {lines[0]} "
        "(each id may appear once per file)",
        dupes.select(pl.col(key).n_unique()).item(),
    )


def _clip(value: Any, limit: int = 80) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _iso(value: Any) -> str:
    return value.isoformat().replace("+00:00", "Z") if value is not None else "?"


# -- timestamps -------------------------------------------------------------------------------

_TIMESTAMP = (
    r"^(\d{4})-(\d{2})-(\d{2})"  # date
    r"(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?"  # time, optional seconds
    r"(Z|z|[+-]\d{2}(?::?\d{2})?)?$"  # zone; none means UTC
)


# Exact formats tried first, in order, on the values not parsed yet: they cover nearly every
# file and are an order of magnitude faster than the general path below.
_QUICK_FORMATS = (
    "%Y-%m-%dT%H:%M:%S%.fZ",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%dT%H:%M:%S%.f%:z",
)


def parse_timestamps(values: pl.Series) -> pl.Series:
    """ISO 8601 text to ``Datetime("us", "UTC")``; null where the text is not a timestamp.

    A timestamp without a zone is UTC; fractions finer than a microsecond are truncated.
    Only text matching the ISO pattern is parsed at all, so the quick formats cannot let
    through something the general path would refuse.
    """
    result = pl.Series(values.name, [None] * values.len(), dtype=UTC_US)
    todo = values.str.contains(_TIMESTAMP).fill_null(False)
    for fmt in _QUICK_FORMATS:
        if not todo.any():
            return result
        index = todo.arg_true()
        parsed = values.gather(index).str.to_datetime(fmt, time_unit="us", strict=False)
        if parsed.dtype.time_zone is None:  # type: ignore[union-attr]
            parsed = parsed.dt.replace_time_zone("UTC")
        done = parsed.is_not_null()
        result = result.scatter(index.filter(done), parsed.filter(done))
        todo = todo.scatter(index.filter(done), False)
    if todo.any():
        index = todo.arg_true()
        rest = pl.DataFrame({"v": values.gather(index)}).select(parse_timestamp(pl.col("v")))
        result = result.scatter(index, rest.to_series())
    return result


def parse_timestamp(text: pl.Expr) -> pl.Expr:
    """The general path of :func:`parse_timestamps`, as an expression over text."""
    g = text.str.extract_groups(_TIMESTAMP)
    naive = pl.concat_str(
        g.struct.field("1"),
        pl.lit("-"),
        g.struct.field("2"),
        pl.lit("-"),
        g.struct.field("3"),
        pl.lit(" "),
        g.struct.field("4").fill_null("00"),
        pl.lit(":"),
        g.struct.field("5").fill_null("00"),
        pl.lit(":"),
        g.struct.field("6").fill_null("00"),
    ).str.to_datetime("%Y-%m-%d %H:%M:%S", time_unit="us", strict=False)
    micros = g.struct.field("7").str.slice(0, 6).str.pad_end(6, "0").cast(pl.Int64).fill_null(0)
    zone = g.struct.field("8").str.replace(":", "", literal=True)
    sign = pl.when(zone.str.starts_with("-")).then(-1).otherwise(1)
    hours = zone.str.slice(1, 2).replace("", None).cast(pl.Int64, strict=False).fill_null(0)
    minutes = zone.str.slice(3, 2).replace("", None).cast(pl.Int64, strict=False).fill_null(0)
    offset = (
        pl.when(zone.str.to_uppercase() == "Z").then(0).otherwise(sign * (hours * 60 + minutes))
    )
    valid_zone = zone.is_null() | ((hours < 24) & (minutes < 60))
    value = naive + pl.duration(microseconds=micros) - pl.duration(minutes=offset.fill_null(0))
    return pl.when(valid_zone).then(value).otherwise(None).dt.replace_time_zone("UTC")


@hookimpl
def register_sources(register: Callable[[str, type[Source]], None]) -> None:
    register("events", EventsSource)
