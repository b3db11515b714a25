"""What the ``models`` report reads beyond metric rows: the registry inventory, lineage of each
production version (version → run → params, metrics, commit, datasets → deployments), the alias
history and hygiene findings. Every list is sorted on fixed keys; times are ISO strings and
non-finite numbers ``None``, so the data is JSON as it is and byte-stable.

The registry facts are those the ``lifecycle`` family published with the run
(:mod:`mlreport.reports.models_registry`), so the report and the metrics agree on which aliases
are production, what a rollback is and what "governed" means.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from mlreport.coerce import as_dict, blank
from mlreport.reports.charts.numbers import finite
from mlreport.reports.models_registry import Registry as Facts
from mlreport.times import iso
from mlreport.warehouse import Warehouse

MAX_PARAMS = 25
MAX_METRICS = 25
MAX_DEPLOYMENTS = 10
MAX_HISTORY = 30


# -- production versions -----------------------------------------------------------------------


def production_versions(f: Facts, name: str, end: datetime) -> list[dict[str, Any]]:
    """The versions production aliases hold at ``end``, with the alias and since when.

    From the alias history where the model has production alias events; otherwise from the
    last registry snapshot (``registered_models.aliases``), with ``since`` unknown.
    """
    held = [(s, a, v) for s, n, a, v in f.production_at(end) if n == name]
    if held or any(m.name == name for m in f.moves):
        return [_holder(f, s, name, a, v, end) for s, a, v in held]
    out = []
    for (source, n), model in sorted(f.models.items()):
        if n != name:
            continue
        for alias, version in sorted(model["production_aliases"].items()):
            out.append(
                {
                    "source": source,
                    "alias": alias,
                    "version": version,
                    "since": None,
                    "since_kind": None,
                }
            )
    return out


def _holder(f: Facts, source: str, name: str, alias: str, version: str, end: datetime):
    since = None
    for m in f.moves:  # the move that gave the alias its current version
        if (m.source, m.name, m.alias, m.version) == (source, name, alias, version) and m.at < end:
            since = m
    return {
        "source": source,
        "alias": alias,
        "version": version,
        "since": iso(since.at) if since else None,
        "since_kind": since.at_kind if since else None,
    }


# -- inventory ---------------------------------------------------------------------------------


def entity_info(wh: Warehouse) -> dict[str, dict[str, Any]]:
    rows = wh.con.sql(
        "SELECT name, owner, team, risk_tier FROM entities WHERE kind = 'model' ORDER BY name"
    ).fetchall()
    return {n: {"owner": o, "team": t, "risk_tier": r} for n, o, t, r in rows}


def inventory_row(
    f: Facts, info: dict[str, dict[str, Any]], name: str, end: datetime
) -> dict[str, Any]:
    models = [m for (_, n), m in sorted(f.models.items()) if n == name]
    ent = info.get(name, {})
    owner = next((m["owner"] for m in models if not blank(m["owner"])), None) or ent.get("owner")
    description = next((m["description"] for m in models if not blank(m["description"])), None)
    versions = f.versions.filter(f.versions["name"] == name)
    latest = versions["version"].to_list()[-1] if versions.height else None
    return {
        "name": name,
        "owner": owner,
        "team": ent.get("team"),
        "risk_tier": ent.get("risk_tier"),
        "description": description,
        "sources": sorted({s for s, n in f.models if n == name}),
        "versions": versions.height,
        "latest_version": latest,
        "production": production_versions(f, name, end),
    }


# -- lineage -----------------------------------------------------------------------------------


def run_row(wh: Warehouse, source: str, run_id: str | None) -> dict[str, Any] | None:
    if not run_id:
        return None
    rows = wh.con.sql(
        "SELECT run_id, experiment_id, name, status, lifecycle_stage, user_id, git_sha, "
        "start_time, end_time, CAST(params AS VARCHAR), CAST(tags AS VARCHAR) FROM runs "
        "WHERE source = $s AND run_id = $r",
        params={"s": source, "r": run_id},
    ).fetchall()
    if not rows:
        return None
    r = rows[0]
    params = as_dict(r[9])
    tags = as_dict(r[10])
    datasets, problems = dataset_digests(tags)
    return {
        "run_id": r[0],
        "experiment_id": r[1],
        "name": r[2],
        "status": r[3],
        "lifecycle_stage": r[4],
        "user_id": r[5],
        "git_sha": r[6] if not blank(r[6]) else None,
        "start_time": iso(r[7]),
        "end_time": iso(r[8]),
        "params": [
            {"key": k, "value": None if v is None else str(v)}
            for k, v in sorted(params.items())[:MAX_PARAMS]
        ],
        "params_total": len(params),
        "datasets": datasets,
        "dataset_problems": problems,
    }


def dataset_digests(tags: dict[str, Any]) -> tuple[list[dict[str, Any]], list[str]]:
    """Datasets a run names in its tags (documented in docs/report-models.md):

    - ``mlflow.datasets``: a JSON list of ``{name, hash | digest, path | source, model}``
      (what MLflow's evaluation and autologging write);
    - ``dataset.<name>.digest`` tags (with an optional ``dataset.<name>.source``);
    - ``dataset_digest`` (with optional ``dataset_name`` / ``dataset_source``).
    """
    out: list[dict[str, Any]] = []
    problems: list[str] = []
    raw = tags.get("mlflow.datasets")
    if raw not in (None, ""):
        try:
            items = json.loads(raw) if isinstance(raw, str) else raw
            if not isinstance(items, list):
                raise ValueError("not a list")
        except ValueError:
            items = []
            problems.append("the mlflow.datasets tag is not a JSON list")
        for item in items:
            if isinstance(item, dict):
                out.append(
                    _dataset(
                        item.get("name"),
                        item.get("digest") or item.get("hash"),
                        item.get("path") or item.get("source"),
                        "mlflow.datasets",
                    )
                )
    for key in sorted(tags):
        if key.startswith("dataset.") and key.endswith(".digest") and len(key) > 15:
            name = key[len("dataset.") : -len(".digest")]
            out.append(_dataset(name, tags[key], tags.get(f"dataset.{name}.source"), key))
    if not blank(tags.get("dataset_digest")):
        out.append(
            _dataset(
                tags.get("dataset_name"),
                tags["dataset_digest"],
                tags.get("dataset_source"),
                "dataset_digest",
            )
        )
    return out, problems


def _dataset(name: Any, digest: Any, source: Any, tag: str) -> dict[str, Any]:
    def text(v: Any) -> str | None:
        return None if v is None else str(v)

    return {"name": text(name), "digest": text(digest), "source": text(source), "tag": tag}


def latest_metrics(wh: Warehouse, source: str, run_id: str) -> tuple[list[dict[str, Any]], int]:
    """Per metric key, the value at the highest step (then latest time, then largest value:
    MLflow's own "latest" rule), with the number of history points; and the key count."""
    rows = wh.con.sql(
        "SELECT key, value, step, ts, n FROM (SELECT key, value, step, ts, "
        "count(*) OVER (PARTITION BY key) AS n, row_number() OVER (PARTITION BY key "
        "ORDER BY step DESC, ts DESC, value DESC NULLS LAST) AS rn "
        "FROM run_metrics WHERE source = $s AND run_id = $r) WHERE rn = 1 ORDER BY key",
        params={"s": source, "r": run_id},
    ).fetchall()
    shown = [
        {"key": k, "value": finite(v), "step": int(s), "ts": iso(t), "points": int(n)}
        for k, v, s, t, n in rows[:MAX_METRICS]
    ]
    return shown, len(rows)


def version_deployments(
    wh: Warehouse, name: str, version: str, end: datetime
) -> tuple[list[dict[str, Any]], int]:
    rows = wh.con.sql(
        "SELECT source, deployment_id, environment, finished_at, status, kind, commit_sha "
        "FROM deployments WHERE entity = $n AND model_version = $v AND finished_at < $end "
        "ORDER BY finished_at DESC, source, deployment_id",
        params={"n": name, "v": version, "end": end},
    ).fetchall()
    shown = [
        {
            "source": s,
            "deployment_id": d,
            "environment": e,
            "finished_at": iso(t),
            "status": st,
            "kind": k,
            "commit_sha": c,
        }
        for s, d, e, t, st, k, c in rows[:MAX_DEPLOYMENTS]
    ]
    return shown, len(rows)


def lineage(wh: Warehouse, f: Facts, held: dict[str, Any], name: str, end: datetime):
    """One production version: the version, its training run, what the run logged, and the
    deployments of the version."""
    source, version = held["source"], held["version"]
    row = f.version_row(source, name, version) or {}
    run = run_row(wh, source, row.get("run_id"))
    metrics, metrics_total = latest_metrics(wh, source, run["run_id"]) if run else ([], 0)
    deployments, deployments_total = version_deployments(wh, name, version, end)
    return {
        **held,
        "run_id": row.get("run_id"),
        "created_at": iso(row.get("created_at")),
        "status": row.get("status"),
        "model_source": row.get("model_source"),
        "description": row.get("description"),
        "governance": f.governed(source, name, version),
        "run": run,
        "metrics": metrics,
        "metrics_total": metrics_total,
        "deployments": deployments,
        "deployments_total": deployments_total,
    }


# -- history -----------------------------------------------------------------------------------


def history(f: Facts, name: str, start: datetime, end: datetime) -> dict[str, Any]:
    """Alias events of the model in the window, newest first, each with what it meant."""
    rollbacks = {(m.source, m.version, m.at, m.alias): m for m in f.moves}
    rows = []
    for e in f.events:
        if e["name"] != name or not (start <= e["at"] < end):
            continue
        prod = e["production"]
        move = rollbacks.get((e["source"], e["version"], e["at"], e["alias"]))
        if e["event"] == "alias_removed":
            kind = "removed"
        elif not prod:
            kind = "other alias"
        elif move is None:
            kind = "promotion"  # a second production alias at the same instant
        else:
            kind = "rollback" if move.rollback else "promotion"
        rows.append(
            {
                "at": iso(e["at"]),
                "at_kind": e["at_kind"],
                "source": e["source"],
                "alias": e["alias"],
                "version": e["version"],
                "previous": move.previous if move else e["previous"],
                "production": prod,
                "kind": kind,
            }
        )
    rows.reverse()
    return {
        "rows": rows[:MAX_HISTORY],
        "total": len(rows),
        "hidden": max(len(rows) - MAX_HISTORY, 0),
        "promotions": sum(r["kind"] == "promotion" for r in rows),
        "rollbacks": sum(r["kind"] == "rollback" for r in rows),
    }


# -- hygiene -----------------------------------------------------------------------------------


def runs_without_commit(wh: Warehouse, names: list[str]) -> list[dict[str, Any]]:
    """Training runs of registered versions that carry no git commit (none can be traced to
    code); runs missing from the warehouse are reported apart."""
    rows = wh.con.sql(
        "SELECT v.name, v.version, v.source, v.run_id, r.name, r.run_id IS NULL AS missing "
        "FROM model_versions v LEFT JOIN runs r ON r.source = v.source AND r.run_id = v.run_id "
        "WHERE list_contains($names, v.name) AND v.run_id IS NOT NULL AND v.run_id <> '' "
        "AND (r.run_id IS NULL OR r.git_sha IS NULL OR trim(r.git_sha) = '') "
        "ORDER BY v.name, TRY_CAST(v.version AS BIGINT), v.version, v.source",
        params={"names": names},
    ).fetchall()
    return [
        {
            "model": n,
            "version": v,
            "source": s,
            "run_id": r,
            "run_name": rn,
            "missing": bool(m),
        }
        for n, v, s, r, rn, m in rows
    ]
