"""The object-storage keys a file-reading source accepts, and the settings a sync passes on to
the stores. Credentials are never config text: the Azure connection string and SAS token are
accepted only as ``${VAR}`` (the whole value from one environment variable)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, SecretStr

from mlreport.sources import SourceError


class StoreOptions(BaseModel):
    """Mixed into the ``focus`` and ``predictions`` options (docs/sources-object-storage.md)."""

    endpoint_url: str | None = None  # emulators, S3-compatible stores, sovereign clouds
    azure_account: str | None = None  # the storage account of az:// URLs
    azure_connection_string: SecretStr | None = None  # only as ${VAR}
    azure_sas_token: SecretStr | None = None  # only as ${VAR}


@dataclass(frozen=True)
class Settings:
    """What the stores of one source use; secrets stay out of ``repr``."""

    endpoint_url: str | None = None
    azure_account: str | None = None
    azure_connection_string: str | None = field(default=None, repr=False)
    azure_sas_token: str | None = field(default=None, repr=False)


def settings(opts: Any, config: Any, name_key: Any) -> Settings:
    """The settings of a source's options (``name_key`` names one of its keys in messages); a
    connection string or SAS token written out in the
    config (not ``${VAR}``) is refused, naming the key but not the value."""
    secrets = getattr(config, "secrets", frozenset())
    out: dict[str, str | None] = {}
    for name in ("azure_connection_string", "azure_sas_token"):
        value = getattr(opts, name, None)
        text = value.get_secret_value() if value is not None else None
        if text is not None and text not in secrets:
            raise SourceError(
                f"{name_key(name)}: give it as ${{VAR}} (the whole value from one "
                "environment variable), never as text in the config file"
            )
        out[name] = text or None
    return Settings(
        endpoint_url=getattr(opts, "endpoint_url", None),
        azure_account=getattr(opts, "azure_account", None),
        **out,
    )
