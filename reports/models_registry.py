"""The registry history as the ``lifecycle`` family published it with the run
(``details.lifecycle_*``): which versions production aliases held when, each move and whether
it was a rollback, and each version's governance flags. The report reads these instead of
re-deriving them, so it agrees with the lifecycle metrics by construction.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import polars as pl

from mlreport.reporting import ReportContext


@dataclass(frozen=True)
class Move:
    """One production alias move (the version the alias left, and whether it went back)."""

    source: str
    name: str
    version: str
    alias: str
    at: datetime
    at_kind: str | None
    previous: str | None
    rollback: bool


@dataclass
class Registry:
    events: list[dict[str, Any]]  # alias events in history order
    versions: pl.DataFrame  # one row per registered version, in registry order
    models: dict[tuple[str, str], dict[str, Any]]  # (source, name) -> model row
    moves: list[Move] = field(default_factory=list)

    @property
    def names(self) -> list[str]:
        return sorted(
            {n for _, n in self.models}
            | set(self.versions["name"].to_list())
            | {e["name"] for e in self.events}
        )

    def production_at(self, end: datetime) -> list[tuple[str, str, str, str]]:
        """(source, name, alias, version) held by production aliases just before ``end``."""
        holder: dict[tuple[str, str, str], str | None] = {}
        for e in self.events:
            if e["at"] >= end:
                break
            if not e["production"]:
                continue
            key = (e["source"], e["name"], e["alias"])
            if e["event"] == "alias_set":
                holder[key] = e["version"]
            elif holder.get(key) == e["version"]:
                holder[key] = None
        return sorted((s, n, a, v) for (s, n, a), v in holder.items() if v is not None)

    def version_row(self, source: str, name: str, version: str) -> dict[str, Any] | None:
        if not hasattr(self, "_index"):
            self._index = {
                (r["source"], r["name"], r["version"]): r
                for r in self.versions.iter_rows(named=True)
            }
        return self._index.get((source, name, version))

    def governed(self, source: str, name: str, version: str) -> dict[str, bool]:
        row = self.version_row(source, name, version) or {}
        return {
            "owner": bool(row.get("has_owner")),
            "description": bool(row.get("has_description")),
            "approval": bool(row.get("approved")),
        }

    def approval_tag(self, source: str) -> str | None:
        tags = self.versions.filter(pl.col("source") == source)["approval_tag"]
        return tags[0] if tags.len() else None


def registry(ctx: ReportContext) -> Registry | None:
    """The published registry of the run, or None when no lifecycle family published it."""
    events = ctx.detail("lifecycle_alias_events")
    versions = ctx.detail("lifecycle_versions")
    models = ctx.detail("lifecycle_models")
    if events is None or versions is None or models is None:
        return None
    rows = events.sort("seq").to_dicts()
    found = Registry(
        events=rows,
        versions=versions.sort("seq"),
        models={
            (m["source"], m["name"]): {
                **m,
                "production_aliases": json.loads(m["production_aliases"] or "{}"),
            }
            for m in models.iter_rows(named=True)
        },
    )
    found.moves = [
        Move(
            e["source"],
            e["name"],
            e["version"],
            e["alias"],
            e["at"],
            e["at_kind"],
            e["previous"],
            bool(e["rollback"]),
        )
        for e in rows
        if e["move"]
    ]
    return found
