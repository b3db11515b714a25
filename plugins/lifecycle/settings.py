"""Which aliases mean production and which tag means approved, per mlflow source (the
source's own options, read through the kernel), and the small rules built on them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mlreport.config import Config
from mlreport.sources import default_options, source_options

NOT_APPROVED = frozenset({"", "false", "0", "no", "n", "off", "none", "null"})


@dataclass(frozen=True)
class Settings:
    """Production aliases and the approval tag per mlflow source, as each source's options
    declare them (``aliases.production``, ``approval_tag``); ``default`` for a source that is
    no longer configured."""

    production: dict[str, tuple[str, ...]]
    approval: dict[str, str]
    default: Any  # the mlflow source type's options with their defaults

    def production_aliases(self, source: str) -> tuple[str, ...]:
        return self.production.get(source, self.default.production_aliases)

    def approval_tag(self, source: str) -> str:
        return self.approval.get(source, self.default.approval_tag)

    def is_production(self, source: str, alias: str | None) -> bool:
        return alias is not None and alias in self.production_aliases(source)


def settings(config: Config) -> Settings:
    """The settings of every configured ``mlflow`` source, through the kernel."""
    found = source_options(config, "mlflow")
    return Settings(
        {name: opts.production_aliases for name, opts in found.items()},
        {name: opts.approval_tag for name, opts in found.items()},
        default_options("mlflow"),
    )


def version_number(version: str | None) -> int | None:
    """MLflow versions are integers written as text; anything else is not comparable."""
    try:
        return int(str(version).strip())
    except (TypeError, ValueError):
        return None


def is_rollback(version: str | None, previous: str | None) -> bool:
    """An alias moved back: the new version is numerically older than the one it left."""
    new, old = version_number(version), version_number(previous)
    return new is not None and old is not None and new < old


def approved(tags: dict[str, Any], tag: str) -> bool:
    """The approval tag is set to something other than an explicit no (see the docs)."""
    return tag in tags and str(tags[tag] or "").strip().lower() not in NOT_APPROVED
