"""Reading CSV and JSON-lines files into text frames, with errors that name the line.

Files are streamed in blocks of whole lines (:data:`BLOCK_BYTES`), so memory does not grow
with the file. CSV is parsed by polars with every column as text and validated vectorised;
Python's ``csv`` module is only used when a block does not fit the fast path, to find the
exact line of an error (or to read values that span lines). JSON lines take polars when every
value is a string or null, else a line-by-line path. See docs/sources-events.md for the file
formats.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import logging
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

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
# About this many bytes of a file are decoded, parsed and validated at a time: reading peaks
# near 100 MB plus 10-15 blocks, not a multiple of the file (4 MiB: +138 MB for a 50 MB CSV,
# +200 MB for 150 MB, where whole-file reading took 8x the file; docs/sources-events.md).
# Smaller blocks save little memory and cost more polars calls.
BLOCK_BYTES = 4 << 20
# Records per frame on the exact (csv module) path, where each record is a Python list.
SLOW_BATCH_ROWS = 50_000


@dataclass(frozen=True)
class Block:
    """Whole lines of a file: ``data`` starts at 1-based line ``first_line``, byte ``offset``."""

    data: bytes
    first_line: int
    offset: int


def read_blocks(fh: BinaryIO, size: int | None = None) -> Iterator[Block]:
    """The file in blocks of about ``size`` bytes, each cut after a newline (a leading BOM is
    dropped; a line longer than ``size`` is one block of its own).

    Cutting after a newline never splits a UTF-8 character or a CRLF, so each block decodes
    alone.
    """
    size = size or BLOCK_BYTES
    head = fh.read(max(size, len(BOM)))
    offset = len(BOM) if head.startswith(BOM) else 0
    carry = bytearray(head[offset:])
    line = 1
    eof = not head
    while not eof:
        while not eof and (len(carry) < size or b"\n" not in carry):
            chunk = fh.read(size)
            eof = not chunk
            carry += chunk
        cut = len(carry) if eof else carry.rfind(b"\n") + 1
        if cut:
            data = bytes(carry[:cut])
            del carry[:cut]
            yield Block(data, line, offset)
            line += data.count(b"\n")
            offset += len(data)


def decode_utf8(
    path: Path, data: bytes, first_line: int = 1, offset: int = 0, header: bytes | None = None
) -> str:
    """The text of ``data`` (the whole file, or the block at ``first_line`` / byte ``offset``);
    invalid UTF-8 is an error naming the line (a leading BOM of a whole file is dropped).

    ``header``: the CSV header line, for naming the column of a block after the first.
    """
    if offset == 0 and data.startswith(BOM):
        data, offset = data[len(BOM) :], len(BOM)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = first_line + data.count(b"\n", 0, exc.start)
        start = data.rfind(b"\n", 0, exc.start) + 1
        column = _csv_column_at(path, header, data, start, exc.start)
        where = f": column {column!r}" if column else ""
        raise SourceError(
            f"{path}: line {line}{where}: not valid UTF-8 (byte 0x{data[exc.start]:02x} at "
            f"byte offset {exc.start + offset}); save the file as UTF-8"
        ) from None


def _csv_column_at(
    path: Path, header_line: bytes | None, data: bytes, line_start: int, offset: int
) -> str | None:
    """For a CSV file, the header name of the field holding byte ``offset`` (best effort)."""
    if path.suffix.lower() not in CSV_SUFFIXES:
        return None
    try:
        if header_line is None:
            header_end = data.find(b"\n")
            header_line = data[: header_end if header_end >= 0 else None]
        header = next(csv.reader([header_line.decode()]))
        prefix = data[line_start:offset].decode("utf-8")
        index = len(next(csv.reader([prefix + "x"]))) - 1
        return header[index].strip() if index < len(header) else None
    except (UnicodeDecodeError, StopIteration, csv.Error, IndexError):
        return None


def split_lines(text: str, first_line: int = 1) -> pl.DataFrame:
    """Non-empty physical lines with their 1-based numbers (CR of CRLF removed); the text's
    first line is number ``first_line``.

    Lines of only spaces are kept: as CSV they fail the fast path and the exact path skips
    them, as JSON they are skipped by the JSON reader.
    """
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    frame = pl.DataFrame({"text": pl.Series(lines, dtype=pl.String)}).with_columns(
        pl.int_range(first_line, pl.len() + first_line, dtype=pl.Int64).alias(LINE)
    )
    if "\r" in text:
        frame = frame.with_columns(pl.col("text").str.strip_suffix("\r"))
    return frame.filter(pl.col("text").str.len_bytes() > 0)


def _blank(text: pl.Expr) -> pl.Expr:
    return text.str.strip_chars(" \t\r").str.len_bytes() == 0


# -- CSV --------------------------------------------------------------------------------------

# Bounds on a CSV header, checked before and just after parsing it. A header names a few of
# the table's columns, so these are generous; without them a 100,000-column header took 87 s
# to reject (and its message listed every name).
MAX_HEADER_BYTES = 64 << 10
MAX_HEADER_COLUMNS = 1_000

_QUOTED = r'"(?:[^"]|"")*"'
_FIELD = rf'(?:{_QUOTED}|[^",]*)'
_RECORD = rf"^{_FIELD}(?:,{_FIELD})*$"


def iter_table_file(path: Path, fh: BinaryIO, spec: TableSpec) -> Iterator[pl.DataFrame]:
    """A canonical-table file as frames of text columns plus ``__line``, a block at a time.

    Each frame holds every column of ``spec``; a file of only blank lines yields none.
    """
    suffix = path.suffix.lower()
    if suffix in CSV_SUFFIXES:
        reader = iter_csv
    elif suffix in JSONL_SUFFIXES:
        reader = iter_jsonl
    else:
        raise SourceError(
            f"{path}: unknown file type {suffix or '(no extension)'!r}; name CSV files *.csv "
            "and JSON-lines files *.jsonl, *.ndjson or *.json"
        )
    yield from reader(path, read_blocks(fh), spec)


def read_table_file(path: Path, data: bytes, spec: TableSpec) -> pl.DataFrame:
    """A whole canonical-table file in one frame (for tests and small files)."""
    return _concat(iter_table_file(path, io.BytesIO(data), spec), spec)


def empty_frame(spec: TableSpec) -> pl.DataFrame:
    schema = {c: pl.String for c in spec.columns}
    schema[LINE] = pl.Int64
    return pl.DataFrame(schema=schema)


def _concat(frames: Iterator[pl.DataFrame], spec: TableSpec) -> pl.DataFrame:
    return pl.concat([empty_frame(spec), *frames], how="vertical")


def read_csv(path: Path, text: str, spec: TableSpec) -> pl.DataFrame:
    """CSV text in one frame (see :func:`iter_csv`)."""
    return _concat(iter_csv(path, read_blocks(io.BytesIO(text.encode())), spec), spec)


def iter_csv(path: Path, blocks: Iterable[Block], spec: TableSpec) -> Iterator[pl.DataFrame]:
    """CSV rows, a block at a time: polars reads blocks whose every line is one record; from
    the first block that is not (a value spanning lines, a stray quote, a malformed row),
    Python's csv module reads the rest of the file and names exact lines."""
    blocks = iter(blocks)
    header: list[str] | None = None
    header_raw = b""
    first_nonempty: tuple[str, int] | None = None
    for block in blocks:
        text = decode_utf8(path, block.data, block.first_line, block.offset, header_raw or None)
        lines = split_lines(text, block.first_line)
        header_here = header is None
        if header is None:
            if lines.height == 0:
                continue
            if first_nonempty is None:
                first_nonempty = (lines["text"][0], int(lines[LINE][0]))
            if lines.select(_blank(pl.col("text")).all()).item():
                continue  # only blank lines so far: maybe an empty file
            # The first non-empty line is the header (a blank one is an error here).
            header = _parse_header(path, *first_nonempty, spec)
            check_columns(str(path), header, spec, f"line {first_nonempty[1]}")
            header_raw = first_nonempty[0].encode()
            data_lines = lines.slice(1)
        else:
            data_lines = lines
        frame = None
        if _fits_fast_path(data_lines, len(header)):
            frame = _read_fast(block, lines, data_lines, header, header_raw, header_here)
        if frame is None:
            rest = (decode_utf8(path, b.data, b.first_line, b.offset, header_raw) for b in blocks)
            for part in _read_csv_slow(
                path, itertools.chain([text], rest), header, block.first_line, header_here
            ):
                yield _with_all_columns(part, spec)
            return
        if frame.height:
            yield _with_all_columns(frame, spec)
    if header is None:
        log.warning("%s: the file is empty; nothing to read", path)


def _read_fast(
    block: Block,
    lines: pl.DataFrame,
    data_lines: pl.DataFrame,
    header: list[str],
    header_raw: bytes,
    header_here: bool,
) -> pl.DataFrame | None:
    """The block's records read by polars; None if polars disagrees with the fast-path check
    (the exact path then reads from this block on)."""
    if data_lines.height == 0:
        return pl.DataFrame(schema={**dict.fromkeys(header, pl.String), LINE: pl.Int64})
    physical = block.data.count(b"\n") + (not block.data.endswith(b"\n"))
    if physical == lines.height:  # no empty lines: polars reads the bytes as they are
        body = block.data if header_here else header_raw + b"\n" + block.data
    else:
        body = "\n".join([header_raw.decode(), *data_lines["text"].to_list()]).encode()
    try:
        frame = pl.read_csv(io.BytesIO(body), infer_schema=False, has_header=True)
    except pl.exceptions.PolarsError:  # pragma: no cover - the fast path guarantees it
        return None
    if frame.height != data_lines.height:  # pragma: no cover - as above
        return None
    frame.columns = header
    return frame.with_columns(data_lines[LINE])


def _parse_header(path: Path, text: str, line: int, spec: TableSpec) -> list[str]:
    """The header's column names; a header too long to be one of ``spec`` fails at once."""
    size = len(text.encode("utf-8"))
    if size > MAX_HEADER_BYTES:
        raise SourceError(
            f"{path}: line {line}: the header line is {size:,} bytes; at most "
            f"{MAX_HEADER_BYTES:,} are read ({_header_hint(spec)})"
        )
    try:
        names = next(csv.reader([text], strict=True))
    except csv.Error as exc:
        raise SourceError(f"{path}: line {line}: malformed header: {exc}") from None
    if len(names) > MAX_HEADER_COLUMNS:
        raise SourceError(
            f"{path}: line {line}: the header has {len(names):,} columns; at most "
            f"{MAX_HEADER_COLUMNS:,} are read ({_header_hint(spec)})"
        )
    names = [n.strip() for n in names]
    if any(not n for n in names):
        position = names.index("") + 1
        raise SourceError(f"{path}: line {line}: header field {position} is empty")
    dupes = sorted(n for n, count in Counter(names).items() if count > 1)
    if dupes:
        raise SourceError(f"{path}: line {line}: column(s) {_names(dupes)} appear twice")
    return names


def _header_hint(spec: TableSpec) -> str:
    return (
        f"a {spec.table} header names some of its {len(spec.columns)} columns: "
        f"{', '.join(spec.columns)}; is this the right file?"
    )


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


def _read_csv_slow(
    path: Path, texts: Iterable[str], header: list[str], first_line: int, header_here: bool
) -> Iterator[pl.DataFrame]:
    """Python's csv module, record by record: exact lines for errors, multi-line values.

    ``texts`` continue the file from line ``first_line``, a record boundary; with
    ``header_here`` they still hold the header, which is skipped.
    """
    lines = (line for text in texts for line in io.StringIO(text, newline=""))
    reader = csv.reader(lines, strict=True)
    base = first_line - 1
    records: list[list[str]] = []
    starts: list[int] = []
    seen_header = not header_here
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
                raise SourceError(_field_count_message(path, base + start, header, record))
            records.append(record)
            starts.append(base + start)
            if len(records) >= SLOW_BATCH_ROWS:
                yield _records_frame(header, records, starts)
                records, starts = [], []
    except csv.Error as exc:
        start = base + previous + 1  # the record that failed starts after the last one read
        reason = str(exc)
        if "unexpected end of data" in reason:
            reason = "a quoted value is never closed (a missing closing quote)"
        raise SourceError(f"{path}: line {start}: malformed CSV row: {reason}") from None
    if records:
        yield _records_frame(header, records, starts)


def _records_frame(header: list[str], records: list[list[str]], starts: list[int]) -> pl.DataFrame:
    columns = list(zip(*records, strict=True))
    return pl.DataFrame(
        {
            name: pl.Series(values, dtype=pl.String)
            for name, values in zip(header, columns, strict=True)
        }
    ).with_columns(pl.Series(LINE, starts, dtype=pl.Int64))


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


def _names(names: list[str], limit: int = 20) -> str:
    """The names quoted, the first ``limit`` of them: a message stays readable."""
    shown = ", ".join(repr(n) for n in names[:limit])
    return shown + (f", and {len(names) - limit} more" if len(names) > limit else "")


# -- JSON lines -------------------------------------------------------------------------------

# A value that is not a string or null: the fast path cannot tell "1.10" from 1.10 after
# polars has read it, so such files take the exact, line-by-line path.
_NON_STRING_VALUE = r'"\s*:\s*[^"\sn]'
# \u escapes of UTF-16 surrogates. A high-low pair is one character (json.dumps writes every
# emoji so), but polars reads a lone one as U+0000: lines whose escapes do not pair up take
# the exact path, which refuses lone ones. (An escaped backslash before "u" counts too; that
# only costs the fast path.)
_SURROGATE_ESCAPE = r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}"
_HIGH_ESCAPE = r"\\u[dD][89abAB][0-9a-fA-F]{2}"
_LOW_ESCAPE = r"\\u[dD][c-fC-F][0-9a-fA-F]{2}"
_SURROGATE_ESCAPE_RE = re.compile(_SURROGATE_ESCAPE)
# After json.loads a pair is one character, so a surrogate left in a string is a lone one.
_SURROGATE = re.compile("[\ud800-\udfff]")
# Arrays and objects nested deeper than this are refused before parsing: the records read here
# nest a few levels at most, and Python's parser fails with RecursionError near 1,000 levels.
# (Polars has its own depth limit, and nested values never take the fast path.)
MAX_JSON_DEPTH = 64
# A JSON string (to the closing quote, or to the end of an unclosed one) or a bracket; the
# pattern always matches at a quote, so scanning stays linear.
_JSON_TOKEN = re.compile(r'"[^"\\]*(?:\\.?[^"\\]*)*"?|[\[\]{}]')


def read_jsonl(path: Path, text: str, spec: TableSpec) -> pl.DataFrame:
    """JSON-lines text in one frame (see :func:`iter_jsonl`)."""
    return _concat(iter_jsonl(path, read_blocks(io.BytesIO(text.encode())), spec), spec)


def iter_jsonl(path: Path, blocks: Iterable[Block], spec: TableSpec) -> Iterator[pl.DataFrame]:
    """JSON lines, a block at a time. A required column is missing (an error naming it) when
    no line read so far has it; after that, a line without it lacks a required value."""
    seen: set[str] = set()
    content = False
    for block in blocks:
        lines = split_lines(
            decode_utf8(path, block.data, block.first_line, block.offset), block.first_line
        )
        if lines.height == 0 or lines.select(_blank(pl.col("text")).all()).item():
            continue
        content = True
        frame = _read_jsonl_fast(lines)
        if frame is None:
            frame = _read_jsonl_slow(path, lines, spec)
        unknown = [c for c in frame.columns if c != LINE and c not in spec.columns]
        if unknown:
            line = _first_line_with_key(lines, unknown[0])
            check_unknown(str(path), [c for c in frame.columns if c != LINE], spec, f"line {line}")
        present = (set(frame.columns) - {LINE}) | seen
        if any(c not in present for c in spec.required):
            check_columns(str(path), sorted(present), spec, f"line {int(lines[LINE][0])}")
        seen = present
        yield _with_all_columns(frame, spec)
    if not content:
        log.warning("%s: the file is empty; nothing to read", path)


def _read_jsonl_fast(lines: pl.DataFrame) -> pl.DataFrame | None:
    """All values strings or null and every line an object: polars reads it exactly."""
    text = pl.col("text")
    if lines.select(text.str.contains(_NON_STRING_VALUE).any()).item():
        return None
    if (
        lines.select(text.str.contains(_SURROGATE_ESCAPE).any()).item()
        and lines.select(_unpaired_surrogate_escapes(text).any()).item()
    ):
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


def _unpaired_surrogate_escapes(text: pl.Expr) -> pl.Expr:
    """True for a line with a high or low surrogate escape that is not half of a pair."""
    pairs = text.str.count_matches(_HIGH_ESCAPE + _LOW_ESCAPE)
    return (text.str.count_matches(_HIGH_ESCAPE) != pairs) | (
        text.str.count_matches(_LOW_ESCAPE) != pairs
    )


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
    """Parse one line holding a JSON object, naming the file and line when it does not.

    Nesting is bounded before parsing, and a lone surrogate escape is refused after it: json
    keeps it as a code point that no UTF-8 text (or polars, or DuckDB) can hold.
    """
    deep = json_too_deep(text)
    if deep is not None:
        raise SourceError(
            f"{path}: line {line}: JSON nested deeper than {MAX_JSON_DEPTH} levels (at "
            f"character {deep}); the records read here nest a few levels at most ({hint})"
        )
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
    lone = _SURROGATE_ESCAPE_RE.search(text) and _lone_surrogate(obj)
    if lone:
        key, char = (_printable(part) for part in lone)
        raise SourceError(
            f"{path}: line {line}: key '{key}': not valid Unicode (a lone surrogate, {char}): "
            "half of a UTF-16 pair is no character; write the character itself, or both "
            "halves (e.g. \\ud83d\\ude80)"
        )
    return obj


def json_too_deep(text: str, limit: int = MAX_JSON_DEPTH) -> int | None:
    """The 1-based character where ``text`` opens its ``limit + 1``-th nested array or
    object, else None. Brackets inside strings do not count."""
    if text.count("[") + text.count("{") <= limit:
        return None
    depth = 0
    for token in _JSON_TOKEN.finditer(text):
        char = token.group()
        if char in ("[", "{"):
            depth += 1
            if depth > limit:
                return token.start() + 1
        elif char in ("]", "}"):
            depth -= 1
    return None


def _lone_surrogate(value: Any, key: str = "") -> tuple[str, str] | None:
    """The key (dotted, ``[i]`` for list items) and the character of the first lone surrogate
    in a key or a string of ``value``; None if there is none."""
    if isinstance(value, str):
        found = _SURROGATE.search(value)
        return (key, found.group()) if found else None
    if isinstance(value, list):
        for index, item in enumerate(value):
            inner = _lone_surrogate(item, f"{key}[{index}]")
            if inner:
                return inner
    elif isinstance(value, dict):
        for name, item in value.items():
            here = f"{key}.{name}" if key else name
            found = _SURROGATE.search(name)
            if found:
                return here, found.group()
            inner = _lone_surrogate(item, here)
            if inner:
                return inner
    return None


def _printable(text: str) -> str:
    """``text`` with surrogates as \\u escapes, so the message itself can be printed."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


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
