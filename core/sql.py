"""SQL text mlreport writes itself: identifiers quoted one way everywhere."""

from __future__ import annotations


def quote_identifier(name: str) -> str:
    """A DuckDB identifier: wrapped in double quotes, inner double quotes doubled."""
    return '"' + name.replace('"', '""') + '"'
