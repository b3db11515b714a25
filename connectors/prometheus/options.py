"""The config keys of a ``type = "prometheus"`` source and of each named query."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from mlreport.connectors.http_options import HttpSourceOptions
from mlreport.times import to_utc

DURATION = re.compile(r"(\d+)([smhd])")
SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
QUERY_NAME = re.compile(r"[a-z][a-z0-9_]*")
MAX_POINTS = 11_000  # Prometheus refuses a query_range with more points per series


def label_name(key: str) -> str:
    """A label key as Prometheus stores it (``ml-model`` -> ``ml_model``)."""
    return re.sub(r"[^a-zA-Z0-9_]", "_", key)


class PromQuery(BaseModel):
    """One named PromQL query (``[sources.queries.<name>]``)."""

    model_config = ConfigDict(extra="forbid")

    query: str = Field(min_length=1, description="A series selector (counter) or expression.")
    kind: Literal["counter", "gauge"]
    entity_label: str = Field(min_length=1, description="The label whose value is the entity.")
    step: str = Field(default="1h", description="Resolution: 30s, 5m, 1h, 1d.")
    start: datetime = Field(description="The first time to read (UTC when no zone is given).")
    aggregate: Literal["sum", "avg", "max", "min"] = Field(
        default="sum", description="How series of one entity combine."
    )
    unit: str | None = None
    reread_steps: int = Field(default=2, ge=0, le=1000, description="Steps re-read each sync.")

    @field_validator("step")
    @classmethod
    def _duration(cls, value: str) -> str:
        if not DURATION.fullmatch(value) or int(DURATION.fullmatch(value).group(1)) == 0:
            raise ValueError("step must be a positive whole number of s, m, h or d, e.g. 5m")
        return value

    @field_validator("start")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return to_utc(value)

    @property
    def step_seconds(self) -> int:
        number, unit = DURATION.fullmatch(self.step).groups()
        return int(number) * SECONDS[unit]

    @property
    def label(self) -> str:
        return label_name(self.entity_label)

    @property
    def promql(self) -> str:
        """What is sent. A counter's value at t is its increase over (t - step, t]; a gauge's is
        its (aggregated) value at t. Both are grouped by the entity label only."""
        if self.kind == "counter":
            inner = f"increase({self.query}[{self.step_seconds}s])"
        else:
            inner = f"({self.query})"
        return f"{self.aggregate} by ({self.label}) ({inner})"

    def fingerprint(self) -> str:
        """Changes when the stored values would mean something else: re-read from start."""
        basis = [self.promql, self.kind, self.step_seconds]
        return hashlib.sha256(json.dumps(basis).encode()).hexdigest()[:16]


class PrometheusOptions(HttpSourceOptions):
    """Config keys of a ``type = "prometheus"`` source."""

    url: str = Field(default="http://localhost:9090", description="Prometheus base URL.")
    queries: dict[str, PromQuery] = Field(min_length=1, description="Named queries.")
    max_series: int = Field(default=10_000, ge=1, description="Refuse answers with more series.")
    max_points: int = Field(default=1_000, ge=1, le=MAX_POINTS, description="Steps per request.")

    @field_validator("queries")
    @classmethod
    def _names(cls, value: dict[str, PromQuery]) -> dict[str, PromQuery]:
        for name in value:
            if not QUERY_NAME.fullmatch(name):
                raise ValueError(
                    f"query name {name!r}: use lowercase letters, digits and _ (it becomes "
                    f"the metric usage.{name})"
                )
        return value
