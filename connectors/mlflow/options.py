"""The config keys of a ``type = "mlflow"`` source, checked when the config is read."""

from __future__ import annotations

import re
from typing import Any

from pydantic import Field, SecretStr, field_validator, model_validator

from mlreport.config import ConfigPath
from mlreport.sources import SourceOptions

DEFAULT_ALIASES = {"production": ["champion", "production"], "staging": ["challenger", "staging"]}


class MlflowOptions(SourceOptions):
    """Config keys of a ``type = "mlflow"`` source."""

    tracking_uri: str | None = Field(default=None, description="The tracking server URL.")
    store: ConfigPath | None = Field(
        default=None, description="Offline: the sqlite database `mlflow server` writes."
    )
    artifacts_destination: ConfigPath | None = Field(
        default=None,
        description="Offline: the directory `mlflow server --artifacts-destination` writes, to "
        "check mlflow-artifacts:/ paths.",
    )
    token: SecretStr | None = Field(default=None, description="Bearer token (use ${VAR}).")
    username: str | None = None
    password: SecretStr | None = None
    ca_bundle: ConfigPath | None = Field(default=None, description="CA certificates (PEM).")
    experiments: list[str] = Field(default_factory=list, description="Experiment name globs.")
    aliases: dict[str, list[str]] = Field(
        default_factory=lambda: {k: list(v) for k, v in DEFAULT_ALIASES.items()},
        description="Environment -> registry aliases whose moves are deployments.",
    )
    approval_tag: str = Field(
        default="approved", min_length=1, description="Version tag that means approved."
    )
    deployments: bool = Field(
        default=True,
        description="Write alias moves as deployments; turn off when another source (events, "
        "CI) already records the same releases, so DORA does not count them twice.",
    )
    owner_tag: str = Field(default="owner", description="Registered-model tag naming an owner.")
    timeout: float = Field(default=30.0, gt=0)
    retries: int = Field(default=5, ge=0, le=20)
    # 1,000, not the server's 50,000: one 10,000-run page took a local server 36-56 s, past
    # the request timeout, and every retry restarted the whole query (benchmarks/bench_mlflow.py).
    page_size: int = Field(default=1_000, ge=1, le=50_000)
    concurrency: int = Field(
        default=4, ge=1, le=32, description="Metric-history requests in flight at once."
    )

    @property
    def production_aliases(self) -> tuple[str, ...]:
        """The aliases whose holder is in production (``aliases.production``); the lifecycle
        family and the models report read them through the kernel's ``source_options``."""
        return tuple(self.aliases.get("production", DEFAULT_ALIASES["production"]))

    @field_validator("experiments", mode="before")
    @classmethod
    def _one_experiment_is_a_list(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("aliases", mode="before")
    @classmethod
    def _one_alias_is_a_list(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: [v] if isinstance(v, str) else v for k, v in value.items()}
        return value

    @model_validator(mode="after")
    def _one_store(self) -> MlflowOptions:
        if (self.tracking_uri is None) == (self.store is None):
            raise ValueError("set exactly one of tracking_uri (a server) or store (sqlite file)")
        if self.tracking_uri is not None and not re.match(r"^https?://", self.tracking_uri):
            raise ValueError("tracking_uri must start with http:// or https://")
        if self.artifacts_destination is not None and self.store is None:
            raise ValueError("artifacts_destination is read with store only (offline)")
        if self.token is not None and (self.username or self.password):
            raise ValueError("set either token or username/password, not both")
        return self
