"""DuckDB-dialect aggregate SQL to Spark SQL, with ``?`` parameters inlined as literals.

One SQL text per aggregate: the families write DuckDB SQL and sqlglot (a maintained
transpiler) writes Spark's. Parameters are turned into literals by sqlglot's own literal
builders (so quotes and backslashes are escaped the way Spark reads them), never by string
formatting. A handful of DuckDB functions that sqlglot passes through unchanged are rewritten
here to their Spark equivalents (see docs/engines.md, "What is translated how").
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.tokens import TokenType


class TranslationError(ValueError):
    """A query or parameter that cannot be written in Spark SQL."""


def to_spark(sql: str, params: Sequence[Any] = ()) -> str:
    """The Spark SQL text of DuckDB ``sql`` with ``params`` in place of its ``?``s."""
    return _translate(inline(sql, params))


def inline(sql: str, params: Sequence[Any]) -> str:
    """``sql`` (DuckDB dialect) with each ``?`` replaced by the DuckDB literal of its value.

    Placeholders are found with sqlglot's tokenizer, so a ``?`` inside a string literal or a
    quoted identifier is left alone; the count must match exactly."""
    tokens = [t for t in sqlglot.Dialect.get_or_raise("duckdb").tokenize(sql)]
    # ``?::TYPE`` comes as one token (sqlglot's ``?::`` operator); its ``?`` is ours.
    marks = [
        t
        for t in tokens
        if (t.token_type == TokenType.PLACEHOLDER and t.text == "?")
        or (t.token_type == TokenType.QDCOLON and t.text == "?::")
    ]
    if len(marks) != len(params):
        raise TranslationError(
            f"the query has {len(marks)} parameter(s) but {len(params)} value(s) were given"
        )
    out, last = [], 0
    for token, value in zip(marks, params, strict=True):
        out.append(sql[last : token.start])
        out.append(literal(value).sql("duckdb"))
        last = token.start + 1
    out.append(sql[last:])
    return "".join(out)


def literal(value: Any) -> exp.Expression:
    """A typed SQL literal of a Python value (exact: floats go through their shortest
    round-tripping text, which both engines parse to the same double)."""
    if value is None:
        return exp.Null()
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, int):
        return exp.Literal.number(value)
    if isinstance(value, float):
        text = "NaN" if math.isnan(value) else ("inf" if value > 0 else "-inf")
        text = repr(value) if math.isfinite(value) else text
        return exp.cast(exp.Literal.string(text), exp.DataType.Type.DOUBLE)
    if isinstance(value, Decimal):
        return exp.Literal.number(str(value))
    if isinstance(value, str):
        return exp.Literal.string(value)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise TranslationError(f"a time parameter without a time zone: {value!r}")
        text = value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f") + "+00:00"
        return exp.cast(exp.Literal.string(text), exp.DataType.Type.TIMESTAMPTZ)
    if isinstance(value, date):
        return exp.cast(exp.Literal.string(value.isoformat()), exp.DataType.Type.DATE)
    if isinstance(value, list | tuple):
        return exp.Array(expressions=[literal(v) for v in value])
    raise TranslationError(f"cannot pass a {type(value).__name__} to Spark as a literal")


@lru_cache(maxsize=512)
def _translate(sql: str) -> str:
    try:
        tree = sqlglot.parse_one(sql, read="duckdb")
    except sqlglot.errors.ParseError as exc:
        raise TranslationError(f"sqlglot cannot read the query: {exc}") from None
    tree = tree.transform(_spark_forms)
    for cte in tree.find_all(exp.CTE):
        cte.set("materialized", None)
    return tree.sql("spark")


def _spark_forms(node: exp.Expression) -> exp.Expression:
    """DuckDB functions sqlglot leaves as they are, in their Spark form."""
    name = node.name.lower() if isinstance(node, exp.Anonymous) else ""
    if name == "isfinite":
        # NULL stays NULL; NaN and ±inf are not below +inf (Spark orders NaN above +inf).
        (arg,) = node.expressions
        return exp.LT(this=exp.Abs(this=arg), expression=_double("inf"))
    if name == "fsum":  # no compensated sum in Spark: a plain sum (docs/engines.md)
        return exp.Sum(this=node.expressions[0])
    if name == "timezone" and len(node.expressions) == 2:
        zone, value = node.expressions
        if isinstance(zone, exp.Literal) and zone.this.upper() == "UTC":
            # The session time zone is UTC, so a zone-less time read as UTC is a plain cast.
            inner = value.this if isinstance(value, exp.Cast) else value
            return exp.cast(inner, exp.DataType.Type.TIMESTAMP)
    if isinstance(node, exp.DataType) and node.this in (
        exp.DataType.Type.INT128,
        exp.DataType.Type.UINT128,
    ):
        return exp.DataType.build("DECIMAL(38, 0)")
    if isinstance(node, exp.Length) and isinstance(node.this, exp.ArrayFilter):
        return exp.ArraySize(this=node.this)
    if isinstance(node, exp.PercentileDisc | exp.Anonymous) and _is_quantile_disc(node):
        return _percentiles_disc(node)
    if isinstance(node, exp.Glob):
        return _glob_as_regex(node)
    if isinstance(node, exp.Bracket) and isinstance(node.this, exp.ArrayFilter):
        return _element_or_null(node)
    if isinstance(node, exp.Select) and _explodes(node) > 1:
        return _zipped_explodes(node)
    return node


def _glob_as_regex(node: exp.Glob) -> exp.Expression:
    """``x GLOB 'p'`` → ``x RLIKE '(?s)^…\\z'``: Spark has no GLOB (literal patterns only)."""
    pattern = node.expression
    if not (isinstance(pattern, exp.Literal) and pattern.is_string):
        raise TranslationError("GLOB with a pattern that is not a literal has no Spark form")
    return exp.RegexpLike(this=node.this, expression=exp.Literal.string(glob_regex(pattern.this)))


def glob_regex(pattern: str) -> str:
    """A Java regex matching exactly what DuckDB's GLOB ``pattern`` matches (``*``, ``?``,
    ``[...]``, ``[!...]``, ``\\`` escaping the next character), anchored at both ends."""
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if c == "*":
            out.append(".*")
        elif c == "?":
            out.append(".")
        elif c == "\\" and i + 1 < len(pattern):
            i += 1
            out.append(re.escape(pattern[i]))
        elif c == "[" and "]" in pattern[i + 2 :]:
            end = pattern.index("]", i + 2)
            body = pattern[i + 1 : end]
            negate = body.startswith("!")
            body = body[1:] if negate else body
            escaped = "".join("\\" + ch if ch in "\\[]^&" else ch for ch in body)
            out.append("[" + ("^" if negate else "") + escaped + "]")
            i = end
        else:
            out.append(re.escape(c))
        i += 1
    return "(?s)^" + "".join(out) + "\\z"


def _element_or_null(node: exp.Bracket) -> exp.Expression:
    """``list_filter(…)[k]`` → ``try_element_at(filter(…), k)``: DuckDB gives NULL past the
    end, Spark's ``[]`` fails there in ANSI mode (its default since Spark 4)."""
    (index,) = node.expressions
    if not (isinstance(index, exp.Literal) and not index.is_string):
        return node
    position = exp.Literal.number(int(index.this) + 1)  # sqlglot holds indexes 0-based
    return exp.Anonymous(this="try_element_at", expressions=[node.this, position])


def _explodes(select: exp.Select) -> int:
    return sum(
        isinstance(p, exp.Alias) and isinstance(p.this, exp.Explode | exp.Unnest)
        for p in select.expressions
    )


def _zipped_explodes(select: exp.Select) -> exp.Expression:
    """``SELECT unnest(a) AS x, unnest(b) AS y`` → ``SELECT inline(arrays_zip(a, b)) AS (x, y)``:
    Spark allows one generator per SELECT; zipping pairs the lists by position, as DuckDB's
    unnests do (lists of equal length)."""
    if _explodes(select) != len(select.expressions):
        raise TranslationError("a SELECT mixing unnest() with other columns has no Spark form")
    arrays = [
        p.this.this if isinstance(p.this, exp.Explode) else p.this.expressions[0]
        for p in select.expressions
    ]
    names = [exp.to_identifier(p.alias) for p in select.expressions]
    zipped = exp.Anonymous(this="inline", expressions=[exp.ArraysZip(expressions=arrays)])
    out = select.copy()
    out.set("expressions", [exp.Aliases(this=zipped, expressions=names)])
    return out


def _is_quantile_disc(node: exp.Expression) -> bool:
    if isinstance(node, exp.Anonymous):
        return node.name.lower() == "quantile_disc"
    return isinstance(node.args.get("expression"), exp.Array)


def _percentiles_disc(node: exp.Expression) -> exp.Expression:
    """``quantile_disc(x, [q…])`` → ``array(percentile_disc(q) WITHIN GROUP (ORDER BY x)…)``:
    the same order statistic (the first value whose cumulative share reaches q)."""
    if isinstance(node, exp.Anonymous):
        column, fractions = node.expressions
    else:
        column, fractions = node.this, node.args["expression"]
    items = fractions.expressions if isinstance(fractions, exp.Array) else [fractions]
    # Built as an anonymous call: sqlglot writes its PercentileDisc as Spark's approximation.
    parts = [
        exp.WithinGroup(
            this=exp.Anonymous(this="PERCENTILE_DISC", expressions=[q.copy()]),
            expression=exp.Order(expressions=[exp.Ordered(this=column.copy())]),
        )
        for q in items
    ]
    return exp.Array(expressions=parts)


def _double(text: str) -> exp.Expression:
    return exp.cast(exp.Literal.string(text), exp.DataType.Type.DOUBLE)
