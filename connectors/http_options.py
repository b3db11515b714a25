"""Config keys every HTTP source shares (URL, credentials, CA bundle, timeout, retries) and
the shared client built from them, so each source states only what is its own."""

from __future__ import annotations

import re
from typing import Any

import polars as pl
from pydantic import Field, SecretStr, model_validator

from mlreport.config import ConfigPath
from mlreport.http import HttpClient, http_client
from mlreport.sources import Source, SourceOptions


class HttpSourceOptions(SourceOptions):
    """``url`` plus a bearer ``token`` or ``username``/``password`` (use ``${VAR}``)."""

    url: str = Field(description="The API's base URL (http:// or https://).")
    token: SecretStr | None = Field(default=None, description="Bearer token (use ${VAR}).")
    username: str | None = None
    password: SecretStr | None = None
    ca_bundle: ConfigPath | None = Field(default=None, description="CA certificates (PEM).")
    timeout: float = Field(default=60.0, gt=0)
    retries: int = Field(default=5, ge=0, le=20)

    @model_validator(mode="after")
    def _url_and_one_credential(self) -> HttpSourceOptions:
        if not re.match(r"^https?://", self.url):
            raise ValueError("url must start with http:// or https://")
        if self.token is not None and (self.username or self.password):
            raise ValueError("set either token or username/password, not both")
        return self


def client_for(
    source: str, options: HttpSourceOptions, transport: Any = None, sleep: Any = None
) -> HttpClient:
    """The shared retrying client for ``options`` (``transport``/``sleep``: tests only)."""
    from mlreport.sources import SourceError

    if options.ca_bundle is not None and not options.ca_bundle.is_file():
        raise SourceError(f"source {source!r}: ca_bundle: {options.ca_bundle}: not found")
    extra: dict[str, Any] = {}
    if sleep is not None:
        extra["sleep"] = sleep
    return http_client(
        options.url,
        token=options.token.get_secret_value() if options.token else None,
        username=options.username,
        password=options.password.get_secret_value() if options.password else None,
        verify=options.ca_bundle or True,
        timeout=options.timeout,
        retries=options.retries,
        transport=transport,
        credential_key=f"source {source!r} key {'password' if options.username else 'token'}",
        **extra,
    )


class HttpSource(Source):
    """A source that talks to one HTTP API: its shared client, made on first use so that
    building a source (``mlreport plugins``, config checks) opens no connection."""

    options: HttpSourceOptions
    _transport: Any = None  # tests: an httpx transport replaying recorded answers
    _sleep: Any = None  # tests: a sleep that does not wait
    _client: HttpClient | None = None

    @property
    def client(self) -> HttpClient:
        if self._client is None:
            self._client = client_for(self.name, self.options, self._transport, self._sleep)
        return self._client


# The columns a usage row carries (the canonical `usage` table, migration 012).
USAGE_SCHEMA = {
    "entity": pl.String,
    "metric": pl.String,
    "ts": pl.Datetime("us", "UTC"),
    "value": pl.Float64,
    "kind": pl.String,
    "unit": pl.String,
    "step_seconds": pl.Float64,
}
