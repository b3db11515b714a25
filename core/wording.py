"""Words for counts, shared by the CLI and the reports ("1 row", "2 rows")."""

from __future__ import annotations


def plural(n: int, word: str, words: str | None = None) -> str:
    """``n`` with its noun: ``plural(1, "row")`` is "1 row", ``plural(2, "row")`` "2 rows"."""
    return f"{n:,} {word if n == 1 else words or word + 's'}"
