"""The backend a source reads MLflow through: the tracking REST API (``tracking_uri``) or the
sqlite file ``mlflow server`` writes (``store``), opened from the source's options."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from typing import Any, Protocol

from mlreport.config import Config
from mlreport.connectors.mlflow.options import MlflowOptions
from mlreport.sources import SourceError


class MlflowBackend(Protocol):
    """What the source needs from MLflow (REST and sqlite readers give the same dicts)."""

    requests: int

    def experiments(self) -> Iterator[dict]: ...
    def runs(self, experiment_ids: list[str]) -> Iterator[dict]: ...
    def metric_history(self, run_id: str, key: str) -> Iterator[dict]: ...
    def registered_models(self) -> Iterator[dict]: ...
    def model_versions(self, name: str) -> Iterator[dict]: ...
    def logged_models(self) -> Iterator[dict]: ...
    def artifacts_present(
        self, source: str | None, run_id: str | None, model_id: str | None, artifact_uri: str | None
    ) -> bool | None: ...


def open_backend(
    source: str, opts: MlflowOptions, config: Config, transport: Any = None, sleep: Any = None
) -> Any:
    """The backend of source ``source``; ``transport`` and ``sleep`` are for tests (an httpx
    transport replaying responses, retries that do not wait)."""
    if opts.store is not None:
        try:
            from mlreport.connectors.mlflow.sqlite import SqliteBackend
        except ImportError as exc:
            raise SourceError(f"source {source!r}: offline store unavailable: {exc}") from None
        return SqliteBackend(opts.store, opts.artifacts_destination)
    from mlreport.connectors.mlflow.rest import RestBackend
    from mlreport.http import http_client

    kwargs: dict[str, Any] = {}
    if opts.ca_bundle is not None and not opts.ca_bundle.is_file():
        raise SourceError(f"source {source!r}: ca_bundle: {opts.ca_bundle}: CA bundle not found")
    if sleep is not None:
        kwargs["sleep"] = sleep
    client = http_client(
        opts.tracking_uri,
        token=opts.token.get_secret_value() if opts.token else None,
        username=opts.username,
        password=opts.password.get_secret_value() if opts.password else None,
        verify=opts.ca_bundle if opts.ca_bundle else True,
        timeout=opts.timeout,
        retries=opts.retries,
        transport=transport,
        credential_key=_credential_key(source, opts, config),
        **kwargs,
    )
    return RestBackend(client, page_size=opts.page_size)


def _credential_key(source: str, opts: MlflowOptions, config: Config) -> str:
    """Which config key holds the credential, e.g. ``sources[0].token (${MLFLOW_TOKEN})``."""
    index = next((i for i, s in enumerate(config.sources) if s.name == source), None)
    key = "token" if opts.token is not None or not opts.username else "password"
    where = f"sources[{index}].{key}" if index is not None else f"{source}.{key}"
    var = _env_var(config, index, key)
    return f"{where} (${{{var}}})" if var else where


def _env_var(config: Config, index: int | None, key: str) -> str | None:
    """The ``${VAR}`` a config key was read from (the file is re-read; values never are)."""
    if index is None or config.file is None:
        return None
    try:
        raw = tomllib.loads(config.file.read_text(encoding="utf-8"))
        value = raw["sources"][index].get(key)
    except (OSError, ValueError, KeyError, IndexError, AttributeError):
        return None
    match = re.search(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", value) if isinstance(value, str) else None
    return match.group(1) if match else None
