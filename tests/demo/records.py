"""Read the packaged sample events back as plain dicts, independently of the events source."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from mlreport.sample_data.build import events_dir, load_manifest

EVENTS = events_dir(Path("."))


def manifest() -> dict:
    return load_manifest(EVENTS)


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _csv(path: Path) -> list[dict]:
    with path.open(encoding="utf-8", newline="") as fh:
        return [{k: (v or None) for k, v in row.items()} for row in csv.DictReader(fh)]


def _cdevents(path: Path) -> tuple[list[dict], list[dict]]:
    """Deployments and incidents from CDEvents lines (sample_data.formats writes them)."""
    deployments, incidents = {}, {}
    for event in _jsonl(path):
        ctx, subject, custom = event["context"], event["subject"], event["customData"]
        kind = ctx["type"].split(".")[3]
        content = subject["content"]
        if subject["type"] == "service":
            deployments[ctx["id"]] = {
                "deployment_id": ctx["id"],
                "entity": subject["id"],
                "environment": content["environment"]["id"],
                "version": custom.get("version"),
                "commit_sha": custom.get("commit_sha"),
                "model_version": custom.get("model_version"),
                "started_at": custom.get("started_at"),
                "finished_at": ctx["timestamp"],
                "status": custom.get("status", "success"),
                "kind": "rollback" if kind == "rolledback" else custom.get("kind", "planned"),
                "trigger": custom.get("trigger"),
            }
            undone = custom.get("rolled_back_deployment_id")
            if undone:
                deployments[undone]["status"] = "rolled_back"
        else:
            inc = incidents.setdefault(
                subject["id"],
                {
                    "incident_id": subject["id"],
                    "entity": content["service"]["id"],
                    "environment": content["environment"]["id"],
                    "severity": custom.get("severity"),
                    "detected_at": None,
                    "resolved_at": None,
                    "cause_deployment_id": custom.get("cause_deployment_id"),
                    "title": content["description"],
                },
            )
            inc["detected_at" if kind == "detected" else "resolved_at"] = ctx["timestamp"]
    return list(deployments.values()), list(incidents.values())


def records() -> dict[str, tuple[list[dict], list[dict]]]:
    """entity -> (deployments, incidents), whatever format its files are in."""
    out = {}
    for folder in sorted(p for p in EVENTS.iterdir() if p.is_dir()):
        if (folder / "cdevents.jsonl").exists():
            out[folder.name] = _cdevents(folder / "cdevents.jsonl")
        elif (folder / "deployments.csv").exists():
            out[folder.name] = (_csv(folder / "deployments.csv"), _csv(folder / "incidents.csv"))
        else:
            out[folder.name] = (
                _jsonl(folder / "deployments.jsonl"),
                _jsonl(folder / "incidents.jsonl"),
            )
    return out
