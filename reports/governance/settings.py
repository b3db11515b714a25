"""Governance settings per model entity: the ``[entities.governance]`` sub-table of an
``[[entities]]`` entry (lawful basis, DPIA, personal data, automated decisions, human review,
retention, approvers, approval tags).

They are declarations the governance report shows next to what it measures, and two of them
feed the evidence: ``retention_days`` (retention actually held) and ``approval_tags`` (which
promotions count as approved). Every key is optional; a typo is an error that names
``entities[N].governance.key`` with "did you mean" (docs/governance-settings.md).
"""

from __future__ import annotations

import difflib
from datetime import date
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from mlreport import hookimpl
from mlreport.config import CONFIG_NAME, ConfigError, format_validation_error

Text = Annotated[str, StringConstraints(max_length=2000, strip_whitespace=True)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
# "key" (any value except an explicit no) or "key=value" (exactly that value)
Tag = Annotated[
    str, StringConstraints(min_length=1, max_length=200, pattern=r"^[^=\s][^=]*(=.*)?$")
]
KEY = "governance"


class GovernanceSettings(BaseModel):
    """What an organisation declares about one model for its governance (all optional)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    lawful_basis: Text | None = None  # GDPR Art. 6 basis, in the organisation's words
    dpia_id: Text | None = None  # the data-protection impact assessment's reference
    dpia_reviewed: date | None = None  # when the DPIA was last reviewed
    personal_data: tuple[Name, ...] = ()  # categories of personal data the model uses
    solely_automated: bool | None = None  # GDPR Art. 22: decisions without a human
    human_review: Text = ""  # who reviews and how; empty: no human review
    retention_days: int | None = Field(default=None, gt=0, le=36_500)  # prediction logs
    approvers: tuple[Name, ...] = ()
    approval_tags: tuple[Tag, ...] = ()  # registry tags that mean "approved"

    def approves(self, tags: dict[str, Any]) -> bool | None:
        """Whether ``tags`` (a version's registry tags) carry one of the approval tags; None
        when no approval tag is configured (the caller falls back to the registry's own)."""
        if not self.approval_tags:
            return None
        return any(tag_matches(t, tags) for t in self.approval_tags)


NOT_APPROVED = frozenset({"", "false", "0", "no", "n", "off", "none", "null"})


def tag_matches(spec: str, tags: dict[str, Any]) -> bool:
    """``key=value``: the tag has exactly that value; ``key``: it is set to anything but an
    explicit no (the lifecycle family's rule for its approval tag)."""
    key, sep, value = spec.partition("=")
    if key not in tags:
        return False
    held = "" if tags[key] is None else str(tags[key])
    return held == value if sep else held.strip().lower() not in NOT_APPROVED


def parse_settings(raw: Any, where: str) -> GovernanceSettings:
    """Validate one ``governance`` table; ``where`` is "file: entities[N]" for the errors."""
    file, _, prefix = where.rpartition(": ")
    if not isinstance(raw, dict):
        raise ConfigError(
            f"{where}.{KEY}: expected a table ([entities.governance]), got {type(raw).__name__}"
        )
    try:
        return GovernanceSettings.model_validate(raw)
    except ValidationError as exc:
        message = format_validation_error(file, exc, prefix=(prefix, KEY), model=None)
        raise ConfigError(_with_hints(message, exc)) from None


def _with_hints(message: str, exc: ValidationError) -> str:
    """Add "did you mean" to unknown keys (the kernel's helper looks keys up from the top of
    the config, where this table is not declared)."""
    known = list(GovernanceSettings.model_fields)
    lines = message.splitlines()
    for i, e in enumerate(exc.errors()):
        if e["type"] == "extra_forbidden" and i < len(lines):
            close = difflib.get_close_matches(str(e["loc"][-1]), known, n=2, cutoff=0.6)
            hint = (
                " (did you mean " + " or ".join(f"`{c}`" for c in close) + "?)"
                if close
                else f" (known keys: {', '.join(known)})"
            )
            lines[i] = lines[i].split(" (", 1)[0] + hint
    return "\n".join(lines)


def all_settings(config: Any) -> dict[str, GovernanceSettings]:
    """Every model entity's settings by name (entities without a governance table left out);
    every entry is validated, so one bad table fails the whole config, naming its index."""
    file = str(config.file or CONFIG_NAME)
    out: dict[str, GovernanceSettings] = {}
    for i, entity in enumerate(config.entities):
        extra = entity.model_extra or {}
        if KEY in extra:
            out[entity.name] = parse_settings(extra[KEY], f"{file}: entities[{i}]")
    return out


def governance_settings(config: Any, entity_name: str) -> GovernanceSettings | None:
    """The settings of ``entity_name``, or None when it declares no governance table."""
    file = str(config.file or CONFIG_NAME)
    for i, entity in enumerate(config.entities):
        extra = entity.model_extra or {}
        if entity.name == entity_name and KEY in extra:
            return parse_settings(extra[KEY], f"{file}: entities[{i}]")
    return None


class GovernanceEntry(BaseModel):
    """The ``governance`` key of an ``[[entities]]`` entry, as the kernel checks it at load."""

    model_config = ConfigDict(extra="forbid")
    governance: GovernanceSettings


@hookimpl
def register_entity_settings(register) -> None:
    register((KEY,), GovernanceEntry)
