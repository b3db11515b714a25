"""Keys plugins add to ``[[entities]]`` entries, checked when the config is loaded.

The kernel knows an entity's ``name``, ``kind``, ``owner``, ``team``, ``risk_tier``,
``intended_use``, ``description`` and ``tags`` (``EntityConfig``). Any other key belongs to a
plugin that registered it through ``register_entity_settings``: ``register(keys_or_prefix,
validator)``. A key nobody registered is an error with a did-you-mean, not a value kept
silently, and a registered key's value is checked before any command runs, naming
``entities[N].key``.

- ``keys_or_prefix``: a tuple (or list) of key names, or a string: a prefix claiming every
  key that starts with it (``"governance_"``).
- ``validator``: a pydantic model (``Model.model_validate(values)``; with
  ``extra="forbid"`` a misspelt key under a prefix gets a did-you-mean from its fields), or a
  callable ``validator(values)`` raising ``ValueError`` (or pydantic's ``ValidationError``).
  ``values`` holds only the entity's keys the registration claims.

Plugins are loaded only when an entity has a key the kernel does not know, so a config
without such keys loads as fast as before.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

HOOK = "register_entity_settings"


@dataclass(frozen=True)
class Claim:
    """One registration: the keys (or a prefix), its validator and the plugin that gave it."""

    keys: tuple[str, ...] | str
    validator: type[BaseModel] | Callable[[dict[str, Any]], Any]
    plugin: str

    def claims(self, key: str) -> bool:
        if isinstance(self.keys, str):
            return key.startswith(self.keys)
        return key in self.keys

    def known(self) -> list[str]:
        """Key names for did-you-mean: the keys, or the prefix's model fields."""
        if not isinstance(self.keys, str):
            return list(self.keys)
        if isinstance(self.validator, type) and issubclass(self.validator, BaseModel):
            return [k for k in self.validator.model_fields if k.startswith(self.keys)]
        return []


def claims() -> tuple[list[Claim], list[str]]:
    """Every plugin's registration, and the plugins that failed to load (a key they would
    have claimed reads as unknown; the message says so)."""
    from mlreport.plugin_manager import get_plugins

    plugins = get_plugins()
    registry = plugins.registry(HOOK)
    found = [Claim(r.name, r.obj, r.plugin) for r in registry.items.values()]
    failed = sorted({e.plugin for e in plugins.load_errors})
    return found, failed


def check_entities(entities: list[Any], kernel_keys: list[str], file: str) -> None:
    """Raise ``ConfigError`` listing every unknown key and every bad value of ``entities``
    (``EntityConfig`` items) as ``file: entities[N].key: problem``."""
    from mlreport.config import ConfigError

    extras = [(n, dict(e.model_extra)) for n, e in enumerate(entities) if e.model_extra]
    if not extras:
        return
    found, failed = claims()
    lines: list[str] = []
    for n, extra in extras:
        lines += _unknown(n, extra, found, failed, kernel_keys, file)
        for claim in found:
            values = {k: v for k, v in extra.items() if claim.claims(k)}
            if values:
                lines += _invalid(n, values, claim, file)
    if lines:
        raise ConfigError("\n".join(lines))


def _unknown(
    n: int, extra: dict, found: list[Claim], failed: list[str], kernel: list[str], file: str
) -> list[str]:
    known = kernel + [k for c in found for k in c.known()]
    prefixes = [c.keys for c in found if isinstance(c.keys, str)]
    lines = []
    for key in extra:
        if any(c.claims(key) for c in found):
            continue
        close = difflib.get_close_matches(key, known, n=3, cutoff=0.6)
        if close:
            hint = " (did you mean " + " or ".join(f"`{c}`" for c in close) + "?)"
        else:
            shown = sorted(known) + [f"{p}*" for p in sorted(prefixes)]
            hint = f" (known keys here: {', '.join(shown)})"
        if failed:
            hint += f"; plugins that failed to load: {', '.join(failed)} (`mlreport doctor`)"
        lines.append(f"{file}: entities[{n}].{key}: unknown key{hint}")
    return lines


def _invalid(n: int, values: dict[str, Any], claim: Claim, file: str) -> list[str]:
    from mlreport.config import format_validation_error

    model = claim.validator
    is_model = isinstance(model, type) and issubclass(model, BaseModel)
    try:
        if is_model:
            model.model_validate(values)
        else:
            model(values)
    except ValidationError as exc:
        text = format_validation_error(file, exc, ("entities", n), model if is_model else None)
        return text.splitlines()
    except (ValueError, TypeError) as exc:
        key = next(iter(values)) if len(values) == 1 else "/".join(values)
        return [f"{file}: entities[{n}].{key}: {exc} (plugin {claim.plugin})"]
    return []
