"""The window-free facts of the model registry, loaded once per metric context: alias events,
production moves (with rollbacks), versions, models, owners and runs."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import polars as pl

from mlreport.coerce import as_dict, blank
from mlreport.config import Config
from mlreport.metrics import MetricContext
from mlreport.plugins.lifecycle.settings import Settings, approved, is_rollback, settings
from mlreport.warehouse import Warehouse

TERMINAL = ("FINISHED", "FAILED", "KILLED")


@dataclass
class AliasMove:
    """One production alias_set event with the version the alias left."""

    source: str
    name: str
    version: str
    alias: str
    at: datetime
    at_kind: str | None
    previous: str | None
    rollback: bool


@dataclass
class Facts:
    """Everything the lifecycle metrics (and the models report) derive from, loaded once."""

    settings: Settings
    names: list[str]
    events: list[dict[str, Any]]  # alias events, time-ordered (removed before set on ties)
    moves: list[AliasMove]  # production alias_set events, one per (source, name, version, at)
    versions: pl.DataFrame  # source, name, version, run_id, description, tags, created_at, ...
    models: dict[tuple[str, str], dict[str, Any]]  # (source, name) -> registered model row
    owners: dict[str, str | None]  # declared entity owner per model name
    run_start: dict[tuple[str, str], datetime | None]  # (source, run_id) -> start_time
    terminal_runs: pl.DataFrame  # name, start_time, finished (bool): runs of linked experiments
    _index: dict[tuple[str, str, str], dict[str, Any]] | None = field(default=None, repr=False)
    _parts: dict[str, Part] | None = field(default=None, repr=False)
    _held: dict[datetime, dict[str, list[tuple[str, str]]]] = field(
        default_factory=dict, repr=False
    )

    def part(self, name: str) -> Part:
        """The model's own slice of the facts (split once, so per-window work is small)."""
        if self._parts is None:
            self._parts = _partition(self)
        return self._parts[name]

    def held_at(self, end: datetime, name: str) -> list[tuple[str, str]]:
        """The (source, version) pairs production aliases of ``name`` hold at ``end``;
        ``production_at`` is replayed once per window end."""
        if end not in self._held:
            by: dict[str, set[tuple[str, str]]] = {}
            for source, n, _, version in self.production_at(end):
                by.setdefault(n, set()).add((source, version))
            self._held[end] = {n: sorted(v) for n, v in by.items()}
        return self._held[end].get(name, [])

    def governed(self, source: str, name: str, version: str) -> dict[str, bool]:
        """Owner, description and approval of one version, from the current snapshot."""
        model = self.models.get((source, name), {})
        row = self.version_row(source, name, version) or {}
        owner = not blank(model.get("owner")) or not blank(self.owners.get(name))
        description = not blank(row.get("description")) or not blank(model.get("description"))
        tags = as_dict(row.get("tags"))
        ok = approved(tags, self.settings.approval_tag(source))
        return {"owner": owner, "description": description, "approval": ok}

    def version_row(self, source: str, name: str, version: str) -> dict[str, Any] | None:
        return self._version_index().get((source, name, version))

    def _version_index(self) -> dict[tuple[str, str, str], dict[str, Any]]:
        if self._index is None:
            self._index = {
                (r["source"], r["name"], r["version"]): r
                for r in self.versions.iter_rows(named=True)
            }
        return self._index

    def first_promotions(self) -> dict[tuple[str, str, str], datetime]:
        """The first production alias_set time of every promoted version."""
        first: dict[tuple[str, str, str], datetime] = {}
        for m in self.moves:
            key = (m.source, m.name, m.version)
            if key not in first or m.at < first[key]:
                first[key] = m.at
        return first

    def production_at(self, end: datetime) -> list[tuple[str, str, str, str]]:
        """(source, name, alias, version) held by production aliases just before ``end``."""
        holder: dict[tuple[str, str, str], str | None] = {}
        for e in self.events:
            if e["at"] >= end:
                break
            if not self.settings.is_production(e["source"], e["alias"]):
                continue
            key = (e["source"], e["name"], e["alias"])
            if e["event"] == "alias_set":
                holder[key] = e["version"]
            elif holder.get(key) == e["version"]:
                holder[key] = None
        return sorted((s, n, a, v) for (s, n, a), v in holder.items() if v is not None)


@dataclass
class Part:
    """One model's facts as sorted epoch-microsecond arrays, so that a window is two binary
    searches: versions created, production moves (with a running rollback count), first
    promotions with their lead times, and terminal runs (with a running FINISHED count)."""

    created: np.ndarray
    move_at: np.ndarray
    rollbacks: np.ndarray  # cumulative, len(move_at) + 1
    first_at: np.ndarray
    first_lead: np.ndarray  # hours; NaN when the run start is unknown
    run_start: np.ndarray
    finished: np.ndarray  # cumulative, len(run_start) + 1


def _us(values: Iterable[datetime | None]) -> np.ndarray:
    out = [round(v.timestamp() * 1_000_000) for v in values if v is not None]
    return np.sort(np.asarray(out, dtype=np.int64))


def _cum(flags: list[bool] | np.ndarray) -> np.ndarray:
    return np.concatenate([[0], np.cumsum(np.asarray(flags, dtype=np.int64))])


def _partition(f: Facts) -> dict[str, Part]:
    created: dict[str, list[datetime]] = {}
    for n, t in zip(f.versions["name"], f.versions["created_at"], strict=True):
        created.setdefault(n, []).append(t)
    moves: dict[str, list[AliasMove]] = {}
    for m in f.moves:
        moves.setdefault(m.name, []).append(m)
    firsts: dict[str, list[tuple[datetime, float]]] = {}
    for (source, name, version), at in sorted(f.first_promotions().items()):
        row = f.version_row(source, name, version)
        start = f.run_start.get((source, row["run_id"])) if row and row["run_id"] else None
        lead = (at - start).total_seconds() / 3600 if start is not None else float("nan")
        firsts.setdefault(name, []).append((at, lead))
    runs = f.terminal_runs.sort("name", "start_time", "finished")
    by_name = {k[0]: v for k, v in runs.partition_by("name", as_dict=True).items()}
    parts = {}
    for n in f.names:
        ms = sorted(moves.get(n, []), key=lambda m: m.at)
        fs = sorted(firsts.get(n, []), key=lambda x: x[0])
        rs = by_name.get(n, runs.clear())
        parts[n] = Part(
            created=_us(created.get(n, [])),
            move_at=_us(m.at for m in ms),
            rollbacks=_cum([m.rollback for m in ms]),
            first_at=_us(x[0] for x in fs),
            first_lead=np.asarray([x[1] for x in fs], dtype=np.float64),
            run_start=rs["start_time"].dt.epoch("us").to_numpy().astype(np.int64),
            finished=_cum(rs["finished"].to_numpy()),
        )
    return parts


def facts(ctx: MetricContext) -> Facts:
    """The facts for ``ctx``, cached on it."""
    if "lifecycle" not in ctx.cache:
        ctx.cache["lifecycle"] = load_facts(ctx.warehouse, ctx.config, ctx.entities)
    return ctx.cache["lifecycle"]


def load_facts(wh: Warehouse, config: Config, entities: list[str] | None = None) -> Facts:
    cfg = settings(config)
    keep = {"all": entities is None, "ents": list(entities or [])}
    where = "($all OR list_contains($ents, name))"
    con = wh.con
    events = [
        _event(r)
        for r in con.sql(
            'SELECT source, name, version, event, "at", at_kind, CAST(detail AS VARCHAR) AS d '
            "FROM model_events WHERE event IN ('alias_set', 'alias_removed') AND " + where + " "
            'ORDER BY "at", source, name, event, version',
            params=keep,
        ).fetchall()
    ]
    versions = con.sql(
        "SELECT source, name, version, run_id, model_source, status, description, "
        "CAST(tags AS VARCHAR) AS tags, aliases, created_at, updated_at FROM model_versions "
        f"WHERE {where} ORDER BY name, source, TRY_CAST(version AS BIGINT), version",
        params=keep,
    ).pl()
    models = {
        (r[0], r[1]): {"owner": r[2], "description": r[3], "tags": r[4], "aliases": r[5]}
        for r in con.sql(
            "SELECT source, name, owner, description, CAST(tags AS VARCHAR), "
            f"CAST(aliases AS VARCHAR) FROM registered_models WHERE {where}",
            params=keep,
        ).fetchall()
    }
    owners = dict(
        con.sql(
            "SELECT name, owner FROM entities WHERE kind = 'model' AND " + where, params=keep
        ).fetchall()
    )
    run_start = {
        (s, r): t
        for s, r, t in con.sql(
            "SELECT r.source, r.run_id, r.start_time FROM runs r JOIN "
            f"(SELECT DISTINCT source, run_id FROM model_versions WHERE {where}) v "
            "ON r.source = v.source AND r.run_id = v.run_id",
            params=keep,
        ).fetchall()
    }
    names = sorted(
        {n for _, n in models} | set(versions["name"].to_list()) | {e["name"] for e in events}
    )
    return Facts(
        settings=cfg,
        names=names,
        events=events,
        moves=_moves(events, cfg),
        versions=versions,
        models=models,
        owners=owners,
        run_start=run_start,
        terminal_runs=_terminal_runs(wh, where, keep),
    )


def _event(row: tuple) -> dict[str, Any]:
    source, name, version, event, at, at_kind, detail = row
    d = as_dict(detail)
    prev = d.get("previous_version")
    return {
        "source": source,
        "name": name,
        "version": version,
        "event": event,
        "at": at,
        "at_kind": at_kind,
        "alias": None if d.get("alias") is None else str(d["alias"]),
        "previous": None if prev is None else str(prev),
    }


def _moves(events: Iterable[dict[str, Any]], cfg: Settings) -> list[AliasMove]:
    """Production alias_set events with the version each alias left (the event's
    ``previous_version``, else the alias's holder from the history before it)."""
    holder: dict[tuple[str, str, str], str | None] = {}
    seen: set[tuple[str, str, str, datetime]] = set()
    out = []
    for e in events:
        if not cfg.is_production(e["source"], e["alias"]):
            continue
        key = (e["source"], e["name"], e["alias"])
        if e["event"] == "alias_removed":
            if holder.get(key) == e["version"]:
                holder[key] = None
            continue
        previous = e["previous"] if e["previous"] is not None else holder.get(key)
        holder[key] = e["version"]
        once = (e["source"], e["name"], e["version"], e["at"])
        if once in seen:  # several production aliases moved together: one move
            continue
        seen.add(once)
        out.append(
            AliasMove(
                e["source"],
                e["name"],
                e["version"],
                e["alias"],
                e["at"],
                e["at_kind"],
                previous,
                is_rollback(e["version"], previous),
            )
        )
    return out


def _terminal_runs(wh: Warehouse, where: str, keep: dict[str, Any]) -> pl.DataFrame:
    """Terminal, not deleted runs of every experiment that trained a version of the model."""
    return wh.con.sql(
        "WITH linked AS (SELECT DISTINCT v.name, r.source, r.experiment_id "
        f"FROM (SELECT * FROM model_versions WHERE {where}) v "
        "JOIN runs r ON r.source = v.source AND r.run_id = v.run_id "
        "WHERE r.experiment_id IS NOT NULL) "
        "SELECT l.name, r.start_time, r.status = 'FINISHED' AS finished "
        "FROM linked l JOIN runs r ON r.source = l.source AND r.experiment_id = l.experiment_id "
        "WHERE list_contains($terminal, r.status) "
        "AND coalesce(r.lifecycle_stage, 'active') <> 'deleted' AND r.start_time IS NOT NULL "
        "ORDER BY l.name, r.start_time",
        params={**keep, "terminal": list(TERMINAL)},
    ).pl()
