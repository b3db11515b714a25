"""The model registry as a snapshot, and what changed between two snapshots: ``model_events``
rows, and deployments for moves of the aliases configured per environment.

The registry holds only its current state, so each sync diffs what it reads now against the
snapshot kept in the stream's cursor (or rebuilt from the stored tables on ``--full``)."""

from __future__ import annotations

from typing import Any

from mlreport.connectors.mlflow.rows import epoch_ms, kv


def _version_key(version: str) -> tuple[int, str]:
    return (int(version), version) if str(version).isdigit() else (-1, str(version))


def snapshot(models: list[dict], versions: dict[str, list[dict]]) -> dict:
    """{model: {"aliases": {alias: version}, "versions": {version: {tags, created, updated}}}}"""
    snap: dict[str, Any] = {}
    for model in models:
        name = model["name"]
        snap[name] = {
            "aliases": {a["alias"]: str(a["version"]) for a in model.get("aliases") or []},
            "versions": {
                str(v["version"]): {
                    "tags": kv(v.get("tags")),
                    "created": epoch_ms(v.get("creation_timestamp"), "model-versions/search"),
                    "updated": epoch_ms(v.get("last_updated_timestamp"), "model-versions/search"),
                }
                for v in versions.get(name, [])
            },
        }
    return snap


def _bound(name: str, version: str, prev: dict | None, cur: dict, now_ms: int) -> tuple[int, str]:
    """Best time for a change of ``version`` seen now: its last_updated_timestamp when that
    moved since the previous snapshot (or on the first sync), else the sync time."""
    cur_v = cur.get(name, {}).get("versions", {}).get(version)
    if cur_v is None or cur_v.get("updated") is None:
        return now_ms, "sync_time"
    if prev is None:
        return cur_v["updated"], "last_updated_timestamp"
    prev_v = prev.get(name, {}).get("versions", {}).get(version)
    if prev_v is None or prev_v.get("updated") != cur_v["updated"]:
        return cur_v["updated"], "last_updated_timestamp"
    return now_ms, "sync_time"


def registry_events(prev: dict | None, cur: dict, now_ms: int, since_ms: int | None) -> list[dict]:
    """model_events rows (``at`` in ms) for the changes between two snapshots. With no
    previous snapshot: every version's creation and every current alias (at the version's
    last_updated_timestamp)."""
    events: list[dict] = []

    def add(name, version, event, at_kind_at, detail):
        at, kind = at_kind_at
        key = detail.get("alias") or detail.get("tag") or ""
        if kind == "sync_time" and since_ms is not None:
            detail = dict(detail, since=since_ms)
        events.append(
            {
                "name": name,
                "version": version,
                "event": event,
                "key": key,
                "at": at,
                "at_kind": kind,
                "detail": detail,
            }
        )

    for name in sorted(cur):
        model = cur[name]
        before = (prev or {}).get(name, {"aliases": {}, "versions": {}})
        for version in sorted(model["versions"], key=_version_key):
            info = model["versions"][version]
            if version not in before["versions"] and info.get("created") is not None:
                add(
                    name,
                    version,
                    "version_created",
                    (info["created"], "last_updated_timestamp"),
                    {"timestamp": "creation_timestamp"},
                )
            elif version in before["versions"]:
                old_tags = before["versions"][version].get("tags", {})
                for tag in sorted(set(old_tags) | set(info["tags"])):
                    if old_tags.get(tag) != info["tags"].get(tag):
                        add(
                            name,
                            version,
                            "tag_changed",
                            _bound(name, version, prev, cur, now_ms),
                            {"tag": tag, "old": old_tags.get(tag), "new": info["tags"].get(tag)},
                        )
        for alias in sorted(set(before["aliases"]) | set(model["aliases"])):
            old, new = before["aliases"].get(alias), model["aliases"].get(alias)
            if old == new:
                continue
            if old is not None:
                add(
                    name,
                    old,
                    "alias_removed",
                    _bound(name, old, prev, cur, now_ms),
                    {"alias": alias, "new_version": new},
                )
            if new is not None:
                detail = {"alias": alias, "previous_version": old}
                if prev is None:
                    detail["baseline"] = True
                add(name, new, "alias_set", _bound(name, new, prev, cur, now_ms), detail)
    # A registered model that disappeared takes its aliases with it.
    for name in sorted(set(prev or {}) - set(cur)):
        for alias, old in sorted(prev[name]["aliases"].items()):
            add(name, old, "alias_removed", (now_ms, "sync_time"), {"alias": alias})
    return events


def environment_versions(aliases: dict[str, str], envs: dict[str, list[str]]) -> dict:
    """{environment: (alias, version)}: the first configured alias present wins."""
    out = {}
    for env, names in envs.items():
        for alias in names:
            if alias in aliases:
                out[env] = (alias, aliases[alias])
                break
    return out


def alias_moves(
    prev: dict | None, cur: dict, now: int, deployed: dict, aliases: dict[str, list[str]]
) -> tuple[list[dict], list[str]]:
    """Deployments (no commit_sha yet) for moves of the ``aliases`` configured per environment,
    and the ids of the deployments rollbacks left: a move to an older version is a rollback.
    ``deployed`` ({model: {environment: deployment_id}}) is updated in place."""
    rows: list[dict] = []
    rolled_back: list[str] = []
    for name in sorted(cur):
        prev_aliases = (prev or {}).get(name, {}).get("aliases", {})
        before = environment_versions(prev_aliases, aliases)
        after = environment_versions(cur[name]["aliases"], aliases)
        for env in sorted(after):
            alias, version = after[env]
            old = before.get(env)
            if old is not None and old[1] == version:
                continue
            at, _kind = _bound(name, version, prev, cur, now)
            kind = "planned"
            if old is not None and _version_key(version) < _version_key(old[1]):
                kind = "rollback"
                if deployed.get(name, {}).get(env):
                    rolled_back.append(deployed[name][env])
            dep_id = f"{name}:{alias}:{version}:{at}"
            rows.append(
                {
                    "deployment_id": dep_id,
                    "entity": name,
                    "environment": env,
                    "version": version,
                    "commit_sha": None,
                    "model_version": version,
                    "started_at": at,
                    "finished_at": at,
                    "status": "success",
                    "kind": kind,
                    "trigger": "automated",
                }
            )
            deployed.setdefault(name, {})[env] = dep_id
        for env in set(before) - set(after):
            deployed.get(name, {}).pop(env, None)
    return rows, rolled_back
