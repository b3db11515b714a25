"""Canonical rows from Git-host API objects: schemas, times, and the checks that turn a
missing or mistyped field into an error naming the endpoint, the item and the field."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import polars as pl

from mlreport.sources import SourceError
from mlreport.times import parse_time

UTC_TIME = pl.Datetime("us", "UTC")

DEPLOYMENT_SCHEMA = {
    "deployment_id": pl.String,
    "entity": pl.String,
    "environment": pl.String,
    "version": pl.String,
    "commit_sha": pl.String,
    "started_at": UTC_TIME,
    "finished_at": UTC_TIME,
    "status": pl.String,
    "kind": pl.String,
    "trigger": pl.String,
}
PULL_SCHEMA = {
    "repo": pl.String,
    "number": pl.Int64,
    "title": pl.String,
    "author": pl.String,
    "created_at": UTC_TIME,
    "updated_at": UTC_TIME,
    "merged_at": UTC_TIME,
    "merge_sha": pl.String,
    "head_sha": pl.String,
    "base_ref": pl.String,
    "first_commit_at": UTC_TIME,
    "first_review_at": UTC_TIME,
    "additions": pl.Int64,
    "deletions": pl.Int64,
    "labels": pl.List(pl.String),
    "url": pl.String,
}
INCIDENT_SCHEMA = {
    "incident_id": pl.String,
    "entity": pl.String,
    "environment": pl.String,
    "severity": pl.String,
    "detected_at": UTC_TIME,
    "resolved_at": UTC_TIME,
    "title": pl.String,
}
RELEASE_SCHEMA = {
    "kind": pl.String,
    "tag": pl.String,
    "repo": pl.String,
    "name": pl.String,
    "sha": pl.String,
    "created_at": UTC_TIME,
    "published_at": UTC_TIME,
    "draft": pl.Boolean,
    "prerelease": pl.Boolean,
    "url": pl.String,
}
REPO_ENTITY_SCHEMA = {"repo": pl.String, "entity": pl.String}


def frame(rows: list[dict[str, Any]], schema: dict[str, Any]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=schema, orient="row") if rows else pl.DataFrame(schema=schema)


class Fields:
    """Reads fields of one API item; errors say which source, endpoint, item and field."""

    def __init__(self, source: str, where: str, item: dict) -> None:
        self.source, self.where, self.item = source, where, item

    def _fail(self, key: str, what: str) -> SourceError:
        ident = self.item.get("number", self.item.get("iid", self.item.get("id", "?")))
        return SourceError(
            f"{self.where}: item {ident}: field {key!r} {what}; "
            "the answer does not have the documented shape (wrong api_url/url?)"
        )

    def required(self, key: str) -> Any:
        value = self.get(key)
        if value is None or value == "":
            raise self._fail(key, "is missing")
        return value

    def get(self, key: str) -> Any:
        value: Any = self.item
        for part in key.split("."):
            if value is None:
                return None
            if not isinstance(value, dict):
                raise self._fail(key, f"is {type(value).__name__}, not an object")
            value = value.get(part)
        return value

    def text(self, key: str, required: bool = False) -> str | None:
        value = self.required(key) if required else self.get(key)
        if value is None:
            return None
        if isinstance(value, bool | dict | list):
            raise self._fail(key, f"is {type(value).__name__}, not text")
        return str(value)

    def time(self, key: str, required: bool = False) -> datetime | None:
        value = self.required(key) if required else self.get(key)
        if value is None:
            return None
        try:
            return parse_time(str(value), key)
        except ValueError:
            raise self._fail(key, f"is {str(value)[:40]!r}, not an ISO time") from None

    def integer(self, key: str, required: bool = False) -> int | None:
        value = self.required(key) if required else self.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise self._fail(key, f"is {str(value)[:40]!r}, not a whole number")
        return value

    def labels(self, key: str = "labels") -> list[str]:
        """GitHub gives label objects ({"name": ...}), GitLab plain names."""
        value = self.get(key) or []
        if not isinstance(value, list):
            raise self._fail(key, "is not a list")
        return [str(v.get("name")) if isinstance(v, dict) else str(v) for v in value]


def earliest(times: list[datetime | None]) -> datetime | None:
    known = [t for t in times if t is not None]
    return min(known) if known else None


def later(a: datetime | None, b: datetime | None) -> datetime | None:
    if a is None or b is None:
        return a or b
    return max(a, b)
