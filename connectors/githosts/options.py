"""Config keys of the ``github`` and ``gitlab`` sources, checked when the config is read."""

from __future__ import annotations

import re

from pydantic import Field, SecretStr, field_validator, model_validator

from mlreport.sources import SourceOptions


class HostOptions(SourceOptions):
    """Keys both hosts share: credentials, the entity mapping, incidents, limits."""

    token: SecretStr | None = Field(default=None, description="API token (use ${VAR}).")
    entity: str | None = Field(default=None, description="The entity deployed from this repo.")
    entities: list[str] = Field(default_factory=list, description="Several such entities.")
    incident_label: str = Field(
        default="incident", min_length=1, description="Issues with this label are incidents."
    )
    incident_environment: str | None = Field(
        default="production",
        description="The environment an incident issue is in (issues carry none).",
    )
    max_wait: float = Field(
        default=300.0,
        ge=0,
        description="Seconds to wait for a rate limit to reset; a later reset stops the sync.",
    )
    per_page: int = Field(default=100, ge=1, le=100, description="Items per page (max 100).")
    timeout: float = Field(default=30.0, gt=0)
    retries: int = Field(default=5, ge=0, le=20)

    @field_validator("entity")
    @classmethod
    def _entity_not_blank(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("must not be empty")
        return value

    @field_validator("entities", mode="before")
    @classmethod
    def _entities(cls, value: object) -> object:
        value = [value] if isinstance(value, str) else value
        if isinstance(value, list) and any(not str(v).strip() for v in value):
            raise ValueError("entity names must not be empty")
        return value

    def mapped_entities(self, default: str) -> list[str]:
        """The entities deployed from the repository; the repository's name when none is set."""
        names = ([self.entity] if self.entity else []) + self.entities
        return list(dict.fromkeys(names)) or [default]


class GitHubOptions(HostOptions):
    """Config keys of a ``type = "github"`` source."""

    repo: str = Field(description='The repository, "owner/name".')
    api_url: str = Field(
        default="https://api.github.com",
        description="The REST API root (GitHub Enterprise: https://HOST/api/v3).",
    )
    deployment_lookback_days: float = Field(
        default=3.0,
        ge=0,
        description="Deployments created this long before the last sync are re-listed, so "
        "ones that finish late are not missed.",
    )

    @field_validator("repo")
    @classmethod
    def _owner_name(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+", value) or ".." in value:
            raise ValueError('must be "owner/name", e.g. "octocat/hello-world"')
        return value

    @field_validator("api_url")
    @classmethod
    def _http(cls, value: str) -> str:
        if not re.match(r"^https?://", value):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")


class GitLabOptions(HostOptions):
    """Config keys of a ``type = "gitlab"`` source."""

    project: str | int = Field(description='The project: "group/name" or its numeric id.')
    url: str = Field(default="https://gitlab.com", description="The GitLab instance.")

    @field_validator("project")
    @classmethod
    def _project(cls, value: str | int) -> str | int:
        if isinstance(value, int):
            if value <= 0:
                raise ValueError("a project id is a positive number")
            return value
        if not re.fullmatch(r"[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)+", value) or ".." in value:
            raise ValueError('must be "group/name" (subgroups allowed) or a numeric id')
        return value

    @field_validator("url")
    @classmethod
    def _http(cls, value: str) -> str:
        if not re.match(r"^https?://", value):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _no_api_suffix(self) -> GitLabOptions:
        if self.url.endswith("/api/v4"):
            raise ValueError("url is the instance (https://gitlab.example.com), without /api/v4")
        return self
