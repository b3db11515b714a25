"""A plain-Python reference of the dora and ops definitions (docs/metrics-dora.md).

Written for clarity, not speed: reachability is a depth-first search per commit, every rule is
a loop over lists. The vectorised implementation must agree with it on every metric.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from mlreport.metrics import Window

STATS = (("p50", 0.5), ("p75", 0.75), ("p90", 0.9))


def _dims(env: str | None, stat: str | None) -> str:
    d: dict[str, str] = {}
    if env is not None:
        d["environment"] = env
    if stat is not None:
        d["stat"] = stat
    return json.dumps(d, sort_keys=True, separators=(",", ":"))


def _hours(delta: timedelta) -> float:
    return delta.total_seconds() / 3600


def reach(parents: dict[str, list[str]], start: str) -> set[str]:
    """Every commit reachable from ``start`` (itself included), by depth-first search."""
    seen: set[str] = set()
    todo = [start]
    while todo:
        sha = todo.pop()
        if sha in seen:
            continue
        seen.add(sha)
        todo.extend(p for p in parents.get(sha, []) if p in parents)
    return seen


def reference(
    commits: list[dict[str, Any]],
    deployments: list[dict[str, Any]],
    incidents: list[dict[str, Any]],
    repo_entities: list[dict[str, Any]],
    windows: list[Window],
    production: tuple[str, ...] = ("production", "prod"),
    attribution_days: float = 7.0,
    entities: list[str] | None = None,
) -> dict[tuple[str, str, datetime, str], tuple[float | None, int]]:
    """{(metric, entity, window_start, dimensions): (value, n)} for every row."""
    keep = (lambda e: True) if entities is None else (lambda e: e in entities)
    deps = [d for d in deployments if d["environment"] in production and keep(d["entity"])]
    incs = [dict(i) for i in incidents if keep(i["entity"])]
    for i in incs:
        cause = i["cause_deployment_id"]
        i["cause"] = cause.strip() if cause and cause.strip() else None

    def order(d):
        return (d["entity"], d["environment"], d["finished_at"], d["source"], d["deployment_id"])

    deps.sort(key=order)
    for k, d in enumerate(deps):
        d["k"] = k
    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for d in deps:
        groups[(d["entity"], d["environment"])].append(d)
    for group in groups.values():
        last_success = None
        for d in group:
            d["prev"] = last_success if d["status"] == "success" else None
            if d["status"] == "success":
                last_success = d
        for i, d in enumerate(group):
            later = [x for x in group[i + 1 :] if x["status"] == "success"]
            d["next_success"] = later[0]["finished_at"] if later else None

    # commits and links
    repos: dict[str, dict[str, list[str]]] = defaultdict(dict)
    authored: dict[tuple[str, str], datetime | None] = {}
    for c in commits:
        repos[c["repo"]][c["sha"]] = list(c["parents"] or [])
        authored[(c["repo"], c["sha"])] = c["authored_at"]
    mapping: dict[str, set[str]] = defaultdict(set)
    for m in repo_entities:
        mapping[m["entity"]].add(m["repo"])

    def link(entity: str, sha: str | None) -> str | None:
        if sha is None:
            return None
        allowed = mapping.get(entity) or set(repos)
        holding = sorted(r for r in allowed if sha in repos.get(r, {}))
        return holding[0] if holding else None

    # A change of D: reachable from D and from no earlier successful production deployment of
    # D's entity (any production environment) whose commit is in D's repository. D ships
    # nothing when there is no such earlier deployment.
    def reach_order(d):
        return (d["finished_at"], d["environment"], d["source"], d["deployment_id"])

    changes: dict[int, list[float]] = defaultdict(list)
    for d in deps:
        if d["status"] != "success":
            continue
        d["repo"] = link(d["entity"], d["commit_sha"])
        if d["repo"] is None:
            continue
        graph = repos[d["repo"]]
        earlier = [
            e
            for e in deps
            if e["entity"] == d["entity"]
            and e["status"] == "success"
            and reach_order(e) < reach_order(d)
            and e["commit_sha"] in graph
        ]
        if not earlier:
            continue
        before: set[str] = set()
        for e in earlier:
            before |= reach(graph, e["commit_sha"])
        shipped = reach(graph, d["commit_sha"]) - before
        for sha in shipped:
            when = authored[(d["repo"], sha)]
            if when is not None:
                changes[d["k"]].append(_hours(d["finished_at"] - when))

    # attribution
    window = timedelta(days=attribution_days)
    by_id: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for d in deps:
        by_id[(d["entity"], d["deployment_id"])].append(d)

    def latest(cands):
        return max(
            cands,
            key=lambda d: (d["finished_at"], d["environment"], d["source"], d["deployment_id"]),
        )

    attributed: dict[int, list[dict]] = defaultdict(list)
    for i in incs:
        i["att"] = None
        if i["cause"] is not None:
            cands = by_id.get((i["entity"], i["cause"]), [])
            if cands:
                i["att"] = latest(cands)
        else:
            cands = [
                d
                for d in deps
                if d["entity"] == i["entity"]
                and d["status"] in ("success", "rolled_back")
                and (i["environment"] is None or d["environment"] == i["environment"])
                and d["finished_at"] <= i["detected_at"]
            ]
            if cands:
                best = latest(cands)
                if best["finished_at"] >= i["detected_at"] - window:
                    i["att"] = best
        if i["att"] is not None:
            attributed[i["att"]["k"]].append(i)

    for d in deps:
        d["counted"] = d["status"] in ("success", "rolled_back")
        mine = attributed.get(d["k"], [])
        d["failed"] = d["counted"] and (d["status"] == "rolled_back" or bool(mine))
        d["recovered"] = None
        if d["failed"]:
            if mine:
                if all(i["resolved_at"] is not None for i in mine):
                    d["recovered"] = max(i["resolved_at"] for i in mine)
            else:
                d["recovered"] = d["next_success"]
        d["rework"] = d["status"] == "success" and (
            d["kind"] in ("hotfix", "rollback")
            or any(
                i["entity"] == d["entity"]
                and i["detected_at"] <= d["finished_at"]
                and (i["resolved_at"] is None or d["finished_at"] <= i["resolved_at"])
                for i in incs
            )
        )

    # cells
    cells = {(d["entity"], d["environment"]) for d in deps}
    cells |= {(i["entity"], i["environment"]) for i in incs if i["environment"] in production}
    with_cells = {e for e, _ in cells}
    cells |= {
        (i["entity"], production[0])
        for i in incs
        if i["environment"] is None and i["entity"] not in with_cells
    }
    ents = sorted({e for e, _ in cells})

    out: dict[tuple[str, str, datetime, str], tuple[float | None, int]] = {}

    def put(metric, entity, w, env, value, n, stat=None):
        out[(metric, entity, w.start, _dims(env, stat))] = (value, n)

    def put_stats(metric, entity, w, env, values):
        qs = np.quantile(values, [q for _, q in STATS]) if values else [None] * 3
        for (s, _), v in zip(STATS, qs, strict=True):
            put(metric, entity, w, env, None if v is None else float(v), len(values), s)

    for w in windows:

        def inside(x):
            return w.start <= x < w.end  # noqa: B023

        for entity, env in sorted(cells):
            mine = [
                d
                for d in deps
                if d["entity"] == entity and d["environment"] == env and inside(d["finished_at"])
            ]
            ok = [d for d in mine if d["status"] == "success"]
            counted = [d for d in mine if d["counted"]]
            failed = [d for d in counted if d["failed"]]
            put("dora.deployment_frequency", entity, w, env, len(ok) / w.days * 7, len(ok))
            put_stats("dora.lead_time", entity, w, env, [x for d in ok for x in changes[d["k"]]])
            put(
                "dora.change_failure_rate",
                entity,
                w,
                env,
                len(failed) / len(counted) if counted else None,
                len(counted),
            )
            put_stats(
                "dora.recovery_time",
                entity,
                w,
                env,
                [_hours(d["recovered"] - d["finished_at"]) for d in failed if d["recovered"]],
            )
            still_open = sum(1 for d in failed if d["recovered"] is None)
            put(
                "dora.open_failures",
                entity,
                w,
                env,
                float(still_open) if counted else None,
                len(counted),
            )
            unlinked = sum(1 for d in ok if d.get("repo") is None)
            put(
                "dora.unlinked_deployments",
                entity,
                w,
                env,
                float(unlinked) if ok else None,
                len(ok),
            )
            rework = sum(1 for d in ok if d["rework"])
            put("dora.rework_rate", entity, w, env, rework / len(ok) if ok else None, len(ok))
            detect = [
                _hours(i["detected_at"] - i["att"]["finished_at"])
                for i in incs
                if i["att"] is not None
                and i["att"]["entity"] == entity
                and i["att"]["environment"] == env
                and inside(i["detected_at"])
            ]
            put_stats("ops.time_to_detect", entity, w, env, detect)
            auto = sum(1 for d in mine if d["trigger"] == "automated")
            put(
                "ops.automation_rate", entity, w, env, auto / len(mine) if mine else None, len(mine)
            )
        for entity in ents:
            restore = [
                _hours(i["resolved_at"] - i["detected_at"])
                for i in incs
                if i["entity"] == entity
                and (i["environment"] is None or i["environment"] in production)
                and i["resolved_at"] is not None
                and inside(i["detected_at"])
            ]
            put_stats("ops.time_to_restore", entity, w, None, restore)
    return out
