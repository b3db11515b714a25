"""The config keys of a ``type = "opencost"`` source."""

from __future__ import annotations

import re
from datetime import date
from typing import Literal

from pydantic import Field, field_validator

from mlreport.connectors.http_options import HttpSourceOptions

API_PATHS = {"opencost": "/allocation", "kubecost": "/model/allocation"}


def prometheus_label_name(key: str) -> str:
    """A Kubernetes label key as Prometheus (and so OpenCost) stores it: every character
    outside ``[a-zA-Z0-9_]`` becomes ``_`` (``app.kubernetes.io/name`` ->
    ``app_kubernetes_io_name``)."""
    return re.sub(r"[^a-zA-Z0-9_]", "_", key)


class OpencostOptions(HttpSourceOptions):
    """Config keys of a ``type = "opencost"`` source (Kubecost: ``api = "kubecost"``)."""

    url: str = Field(default="http://localhost:9003", description="OpenCost API base URL.")
    api: Literal["opencost", "kubecost"] = Field(
        default="opencost", description="opencost: GET /allocation; kubecost: /model/allocation."
    )
    label: str = Field(min_length=1, description="Kubernetes label whose value names an entity.")
    start: date = Field(description="The first day to read (UTC).")
    settle_days: int = Field(
        default=3,
        ge=0,
        le=60,
        description="Days before today re-read each sync (allocations settle).",
    )
    chunk_days: int = Field(default=7, ge=1, le=31, description="Days asked for per request.")
    currency: str = Field(default="USD", description="ISO 4217 code of OpenCost's prices.")
    entity_map: dict[str, str] = Field(
        default_factory=dict, description="Label value (glob) -> entity name."
    )

    @field_validator("currency")
    @classmethod
    def _iso_currency(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Z]{3}", value):
            raise ValueError("currency must be a three-letter ISO 4217 code such as USD")
        return value

    @property
    def path(self) -> str:
        return API_PATHS[self.api]

    @property
    def aggregate(self) -> str:
        return f"label:{prometheus_label_name(self.label)}"
