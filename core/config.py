"""Reading and validating ``mlreport.toml``.

Relative paths are resolved against the config file's folder. ``${VAR}`` is read from the
environment and is for credentials only: a source's secret keys (those its options type as
``SecretStr``, e.g. ``token``, ``password``) and notifier settings. Anywhere else it is refused,
because there the value would be stored, rendered or logged as it is. The values are remembered
as secrets so logs and errors can redact them, and the config hash is taken over the text
*before* expansion, so it never depends on (or leaks) a secret.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal, get_args, get_origin

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
)

from mlreport import CONFIG_NAME

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class ConfigError(Exception):
    """The config cannot be used; the message names the file, the key and what was expected."""


def _resolve_path(value: Path, info: ValidationInfo) -> Path:
    base = (info.context or {}).get("base_dir")
    value = Path(os.path.expanduser(str(value)))
    if base is not None and not value.is_absolute():
        value = Path(base) / value
    return value


ConfigPath = Annotated[Path, AfterValidator(_resolve_path)]
"""A path in the config: relative paths are taken from the config file's folder."""


class Strict(BaseModel):
    # validate_default: defaults go through the same validators, so default paths are
    # resolved against the config folder like written ones.
    model_config = ConfigDict(extra="forbid", validate_default=True)


class WarehouseConfig(Strict):
    path: ConfigPath = Path("mlreport.duckdb")


class EntityConfig(BaseModel):
    model_config = ConfigDict(extra="allow")
    kind: Literal["model", "service"] = "service"
    name: str = Field(min_length=1)
    owner: str | None = None
    team: str | None = None
    risk_tier: str | None = None
    intended_use: str | None = None
    description: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)


class SourceConfig(BaseModel):
    """The common part of a ``[[sources]]`` entry; the rest is validated by the source type."""

    model_config = ConfigDict(extra="allow")
    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.\-]+$")
    type: str = Field(min_length=1)

    @property
    def options(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class PolicyConfig(Strict):
    min: float | None = None
    max: float | None = None
    severity: Literal["error", "warn"] = "error"
    stat: str | None = None
    entity: str | None = None
    # A policy that finds no value to check is an error (exit 2) unless it is optional: a
    # misspelt entity or a family that did not run must not read as "all policies pass".
    optional: bool = False


class ReportConfig(Strict):
    type: str
    # Any registered renderer (html, pdf, json, md, or a plugin's); checked when rendering.
    formats: list[Annotated[str, Field(min_length=1)]] | None = None
    title: str | None = None
    entities: list[str] | None = None
    since: str | None = None
    until: str | None = None


class NotifierConfig(BaseModel):
    """The common part of a ``[[notifiers]]`` entry (the kernel decides when to send and
    retries); the rest (a URL, say) is validated by the notifier type."""

    model_config = ConfigDict(extra="allow")
    type: str = Field(default="apprise", min_length=1)
    on: Literal["always", "failure", "change"] = "failure"
    attempts: int = Field(default=3, ge=1, le=10)
    backoff: float = Field(default=2.0, ge=0, le=300)  # seconds before the 2nd attempt, doubling


class BandLevel(Strict):
    band: str
    min: float | None = None
    max: float | None = None


class MetricsConfig(Strict):
    production_environments: list[str] = Field(default_factory=lambda: ["production", "prod"])
    attribution_window_days: float = Field(default=7.0, ge=0)
    bands: str = "dora-2023"
    band_tables: dict[str, dict[str, list[BandLevel]]] = Field(default_factory=dict)
    small_sample: int = Field(default=5, ge=0)
    # Fairness groups smaller than this are flagged (never hidden).
    min_group_size: int = Field(default=30, ge=0)
    window_days: int = Field(default=90, ge=1)


class OutputConfig(Strict):
    dir: ConfigPath = Path("out")
    # Seconds one PDF may take to print (0: no limit); MLREPORT_RENDER_TIMEOUT overrides it.
    render_timeout: float = Field(default=120.0, ge=0)
    # Days of runs `mlreport run` keeps (None: all). The last run and linked runs always stay.
    keep_days: int | None = Field(default=None, ge=1)


class SigningConfig(Strict):
    """``[signing]``: the minisign secret key that signs each report run's statement."""

    key_file: ConfigPath | None = None
    key_password: SecretStr | None = None  # the only ``${VAR}`` allowed outside sources
    # Who signs, as shown in every report (Annex IV 2(g)); printable ASCII, no tabs, because
    # it also goes into the signature's trusted comment.
    signer: str | None = Field(default=None, min_length=1, max_length=100, pattern=r"^[ -~]+$")
    public_key_file: ConfigPath | None = None  # default: key_file with the suffix .pub


class GovernanceConfig(Strict):
    """``[governance]``: a user's compliance map merged over the shipped one."""

    compliance_map: ConfigPath | None = None  # docs/governance-compliance-map.md


class Config(Strict):
    warehouse: WarehouseConfig = Field(default_factory=dict)
    entities: list[EntityConfig] = Field(default_factory=list)
    sources: list[SourceConfig] = Field(default_factory=list)
    policies: dict[str, PolicyConfig] = Field(default_factory=dict)
    reports: list[ReportConfig] = Field(default_factory=list)
    notifiers: list[NotifierConfig] = Field(default_factory=list)
    metrics: MetricsConfig = Field(default_factory=dict)
    output: OutputConfig = Field(default_factory=dict)
    templates: ConfigPath | None = None
    signing: SigningConfig = Field(default_factory=dict)
    governance: GovernanceConfig = Field(default_factory=dict)

    # Set by load_config, not by the file.
    file: Path | None = Field(default=None, exclude=True)
    base_dir: Path = Field(default_factory=Path.cwd, exclude=True)
    secrets: frozenset[str] = Field(default_factory=frozenset, exclude=True)
    secret_keys: tuple[tuple, ...] = Field(default=(), exclude=True)  # where ${VAR} was used
    digest: str = Field(default="", exclude=True)

    def source(self, name: str) -> SourceConfig:
        for src in self.sources:
            if src.name == name:
                return src
        known = ", ".join(s.name for s in self.sources) or "none"
        raise ConfigError(f"{self.file or CONFIG_NAME}: no source named {name!r} (known: {known})")

    def redact(self, text: str) -> str:
        """Replace every secret value in ``text`` by ``***``."""
        for secret in sorted(self.secrets, key=len, reverse=True):
            text = text.replace(secret, "***")
        return text


def find_config(explicit: str | os.PathLike | None = None) -> Path | None:
    if explicit:
        return Path(explicit)
    env = os.environ.get("MLREPORT_CONFIG")
    if env:
        return Path(env)
    local = Path.cwd() / CONFIG_NAME
    return local if local.exists() else None


def _key(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


PYDANTIC_PATH_MESSAGE = "Input is not a valid path for <class 'pathlib.Path'>"


def format_validation_error(
    file: str,
    err: ValidationError,
    prefix: tuple = (),
    model: type[BaseModel] | None = None,
    secrets: set[str] | frozenset[str] = frozenset(),
) -> str:
    """One line per problem, naming the key; an unknown key gets "did you mean" from the
    fields of ``model`` at that place, a value outside a fixed set is shown (unless secret)."""
    lines: dict[str, str] = {}
    for e in err.errors():
        # pydantic names the members of a union in ``loc`` ("function-after[...]"): not keys
        loc = tuple(p for p in e["loc"] if not (isinstance(p, str) and ("[" in p or "(" in p)))
        key = _key(prefix + loc)
        if key in lines:  # one line per key: the first union member's complaint
            continue
        msg = e["msg"].replace(
            "Input is not a valid path for <class 'pathlib.Path'>", "expected a path"
        )
        if e["type"] == "extra_forbidden":
            msg = "unknown key" + _did_you_mean(model, tuple(e["loc"]))
        elif e["type"] in ("literal_error", "enum") and _shown(e.get("input"), secrets):
            msg = f"{msg} (got {e['input']!r})"
        elif "input" in e and e["type"] not in ("missing",) and not isinstance(e["input"], dict):
            msg = f"{msg} (got {type(e['input']).__name__})"
        lines[key] = f"{file}: {key}: {msg}"
    return "\n".join(lines.values())


def _shown(value: Any, secrets: set[str] | frozenset[str]) -> bool:
    return isinstance(value, str) and len(value) <= 60 and not any(s in value for s in secrets)


def _did_you_mean(model: type[BaseModel] | None, loc: tuple) -> str:
    known = _fields_at(model, loc[:-1]) if model is not None else []
    close = difflib.get_close_matches(str(loc[-1]), known, n=3, cutoff=0.6)
    if close:
        return " (did you mean " + " or ".join(f"`{c}`" for c in close) + "?)"
    if known:
        return f" (known keys here: {', '.join(sorted(known))})"
    return " (check the spelling; see `mlreport init` for the known keys)"


def _fields_at(model: Any, loc: tuple) -> list[str]:
    """The field names of the model reached by following ``loc`` (field names, list indexes,
    dict keys) from ``model``; empty when the path leaves the models."""
    annotation = model
    for part in loc:
        annotation = _step(annotation, part)
        if annotation is None:
            return []
    found = _step(annotation, None)
    return list(found.model_fields) if found is not None else []


def _step(annotation: Any, part: Any) -> Any:
    """One step down ``annotation``: a model's field, a list's item, a dict's value (through
    ``X | None`` and ``Annotated``); with ``part`` None, the model itself."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        if part is None:
            return annotation
        field = annotation.model_fields.get(part) if isinstance(part, str) else None
        return field.annotation if field is not None else None
    origin, args = get_origin(annotation), get_args(annotation)
    if origin in (list, tuple) and args and part is not None:
        return args[0]
    if origin is dict and args and part is not None:
        return args[1]
    for arg in args:  # Union, Optional, Annotated
        found = _step(arg, part)
        if found is not None:
            return found
    return None


def _is_secret(annotation: Any) -> bool:
    return annotation is SecretStr or any(a is SecretStr for a in get_args(annotation))


def _expand(
    value: Any, loc: tuple, file: str, secrets: set[str], places: list[tuple] | None = None
) -> Any:
    if isinstance(value, dict):
        return {k: _expand(v, loc + (k,), file, secrets, places) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand(v, loc + (i,), file, secrets, places) for i, v in enumerate(value)]
    if isinstance(value, str) and _VAR.search(value):
        if places is not None:
            places.append(loc)
        if loc[:1] not in (("sources",), ("notifiers",)) and loc != ("signing", "key_password"):
            raise ConfigError(
                f"{file}: {_key(loc)}: ${{VAR}} is only for credentials (a source's token or "
                "password, a notifier's URL); here the value would be stored and shown as it "
                "is, so write it out"
            )

        def sub(m: re.Match) -> str:
            var = m.group(1)
            if var not in os.environ:
                raise ConfigError(
                    f"{file}: {_key(loc)}: environment variable {var} is not set "
                    f"(export {var}=... or remove the reference)"
                )
            val = os.environ[var]
            if val:
                secrets.add(val)
            return val

        return _VAR.sub(sub, value)
    return value


def parse_config(text: str, file: Path | None, base_dir: Path) -> Config:
    """Parse and validate config text; ``file`` is only used in messages."""
    name = str(file) if file else CONFIG_NAME
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{name}: not valid TOML: {exc}") from None
    secrets: set[str] = set()
    places: list[tuple] = []
    expanded = _expand(raw, (), name, secrets, places)
    try:
        config = Config.model_validate(expanded, context={"base_dir": base_dir})
    except ValidationError as exc:
        message = format_validation_error(name, exc, model=Config, secrets=secrets)
        raise ConfigError(message) from None
    names = [s.name for s in config.sources]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigError(f"{name}: sources: duplicate source name(s) {', '.join(dupes)}")
    from mlreport.entity_settings import check_entities  # loads plugins: entities' own keys

    check_entities(config.entities, list(EntityConfig.model_fields), name)
    config.file = file
    config.base_dir = base_dir
    config.secrets = frozenset(secrets)
    config.secret_keys = tuple(places)
    config.digest = hashlib.sha256(
        json.dumps(raw, sort_keys=True, default=str).encode()
    ).hexdigest()
    return config


def load_config(path: str | os.PathLike | None = None) -> Config:
    """Load the config from ``path``, ``$MLREPORT_CONFIG`` or ``./mlreport.toml``.

    With no config file at all, an empty config rooted at the current folder is returned,
    so commands like ``sql`` and ``plugins`` work without one.
    """
    found = find_config(path)
    if found is None:
        return parse_config("", None, Path.cwd())
    if not found.exists():
        raise ConfigError(f"{found}: config file not found (run `mlreport init` to write one)")
    try:
        text = found.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{found}: not valid UTF-8 at byte {exc.start}") from None
    return parse_config(text, found, found.resolve().parent)


def validate_options(
    model: type[BaseModel], options: dict[str, Any], config: Config, prefix: tuple
) -> BaseModel:
    """Validate a plugin's own part of a config table, with errors naming the key; ``${VAR}``
    is accepted only in the model's ``SecretStr`` fields (its credentials)."""
    for loc in config.secret_keys:
        if loc[: len(prefix)] == tuple(prefix) and len(loc) > len(prefix):
            field = model.model_fields.get(str(loc[len(prefix)]))
            if field is None or not _is_secret(field.annotation):
                raise ConfigError(
                    f"{config.file or CONFIG_NAME}: {_key(loc)}: ${{VAR}} is only for "
                    "credentials (keys such as token or password); here the value would be "
                    "stored and shown as it is, so write it out"
                )
    try:
        return model.model_validate(options, context={"base_dir": config.base_dir})
    except ValidationError as exc:
        file = str(config.file or CONFIG_NAME)
        message = format_validation_error(file, exc, prefix, model, config.secrets)
        raise ConfigError(message) from None
