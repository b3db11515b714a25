"""The options of a ``type = "focus"`` source.

``path`` names files, folders or globs of FOCUS exports; ``entity_tag`` the ``Tags`` key (or
keys, first match wins) whose value names an entity; ``entity_map`` maps other tag values
(globs) to entities or to ``"shared"``; ``shared_split`` says how shared costs are spread.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from mlreport.config import ConfigPath
from mlreport.connectors.objstore import ObjectURL, StoreOptions, check_urls
from mlreport.connectors.predictions.options import SparkOptions
from mlreport.sources import SourceOptions

SHARED = "shared"  # the entity_map target that marks a cost as shared


class FocusOptions(SourceOptions, StoreOptions):
    path: ObjectURL | ConfigPath | list[ObjectURL | ConfigPath]  # s3/gs/az URL or local path
    entity_tag: str | list[str] | None = None
    entity_map: dict[str, str] = Field(default_factory=dict)
    shared_split: Literal["none", "even", "predictions"] = "none"
    engine: Literal["duckdb", "spark"] = "duckdb"  # where the cost group-bys run
    spark: SparkOptions | None = None

    @model_validator(mode="after")
    def _spark_needs_engine(self) -> FocusOptions:
        if self.engine == "duckdb" and self.spark is not None:
            raise ValueError('`[spark]` settings need `engine = "spark"`')
        return self

    _urls_checked = field_validator("path", mode="before")(check_urls)

    @field_validator("path")
    @classmethod
    def _some_path(cls, value: Path | str | list[Path | str]) -> Path | str | list[Path | str]:
        if value == []:
            raise ValueError("`path` is an empty list; name at least one path or glob")
        return value

    @field_validator("entity_tag")
    @classmethod
    def _tags(cls, value: str | list[str] | None) -> str | list[str] | None:
        keys = [value] if isinstance(value, str) else list(value or [])
        if any(not k.strip() for k in keys) or value == []:
            raise ValueError("`entity_tag` needs one or more non-empty Tags keys")
        return value

    @field_validator("entity_map")
    @classmethod
    def _targets(cls, value: dict[str, str]) -> dict[str, str]:
        for pattern, target in value.items():
            if not pattern.strip() or not target.strip():
                raise ValueError(
                    f"entity_map: {pattern!r} = {target!r}: patterns and entity names must "
                    "not be empty"
                )
        return value

    def paths(self) -> list[Path | str]:
        """Local paths and globs, and ``s3://`` URLs (str) for the object storage mirror."""
        return list(self.path) if isinstance(self.path, list) else [self.path]

    def tag_keys(self) -> list[str]:
        if self.entity_tag is None:
            return []
        return [self.entity_tag] if isinstance(self.entity_tag, str) else list(self.entity_tag)

    def digest(self) -> str:
        """What a file's entities (and so the view) depend on besides its bytes."""
        spec = [self.tag_keys(), list(self.entity_map.items())]
        return hashlib.sha256(json.dumps(spec).encode()).hexdigest()[:16]
