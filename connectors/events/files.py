"""Reading CSV and JSON-lines files into text frames, with errors that name the line.

CSV is parsed by polars with every column as text and validated vectorised; Python's ``csv``
module is only used when a row does not fit the fast path, to find the exact line of an error
(or to read values that span lines). JSON lines take polars when every value is a string or
null, else a line-by-line path. See docs/sources-events.md for the file formats.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from pathlib import Path
from typing import Any

import polars as pl

from mlreport.connectors.events.canonical import LINE, TableSpec
from mlreport.connectors.globs import glob_files, is_glob, unique_files
from mlreport.sources import SourceError

log = logging.getLogger("mlreport.events")

CSV_SUFFIXES = (".csv",)
JSONL_SUFFIXES = (".jsonl", ".ndjson", ".json")


# -- finding files ----------------------------------------------------------------------------


def expand_paths(patterns: list[Path]) -> list[Path]:
    """Files named by paths and globs, in the order given (each glob's matches sorted), each
    file once (by device and inode); globs never enter symlinked folders."""
    out: list[Path] = []
    for pattern in patterns:
        text = str(pattern)
        if is_glob(text):
            matches = glob_files(text)
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
        out.extend(matches)
    return unique_files(out)


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
        return _with_all_columns(_read_csv_slow(path, text, header), spec)
    if data_lines.height == 0:
        return _with_all_columns(
            pl.DataFrame(schema={**dict.fromkeys(header, pl.String), LINE: pl.Int64}), spec
        )
    if int(lines[LINE][-1]) == lines.height:  # no empty lines: polars reads the text as is
        body = raw if raw is not None else text.encode()
    else:
        body = "\n".join([lines["text"][0], *data_lines["text"].to_list()]).encode()
    try:
        frame = pl.read_csv(io.BytesIO(body), infer_schema=False, has_header=True)
    except pl.exceptions.PolarsError:  # pragma: no cover - the fast path guarantees it
        frame = None
    if frame is None or frame.height != data_lines.height:  # pragma: no cover - as above
        return _with_all_columns(_read_csv_slow(path, text, header), spec)
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
