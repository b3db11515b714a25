"""The compliance map: the evidence mlreport measures, the framework items an auditor asks
about (EU AI Act, NIST AI RMF, ISO/IEC 42001) and which evidence supports which item.

It is a data file (``compliance_map.toml``) rather than template text so that the mapping can
be read, reviewed and extended by a user's own file without touching code; this module loads
it, merges the user's file, checks that every reference resolves, and turns a dict of
evidence statuses into a status per framework item (see docs/governance-compliance-map.md).
"""

from __future__ import annotations

import difflib
import tomllib
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from mlreport.config import ConfigError, format_validation_error

SHIPPED = "compliance_map.toml"
TABLES = ("evidence", "framework", "mapping")

Status = Literal["met", "partial", "missing"]
STATUSES: tuple[str, ...] = ("met", "partial", "missing")

ItemId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]+(\.[a-z0-9_]+)*$", max_length=100)]
Text = Annotated[str, StringConstraints(min_length=1, max_length=500, strip_whitespace=True)]
# Only web addresses: the report links to it, so no javascript: or file: URLs.
Url = Annotated[str, StringConstraints(pattern=r"^https?://[^\s<>\"']+$", max_length=500)]
MAX_BYTES = 1_000_000  # a map is a few kB; anything near this is not a map


class ComplianceMapError(ConfigError):
    """The compliance map (shipped or the user's) cannot be used; names the file and key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EvidenceItem(_Strict):
    """Something mlreport measures per model and window."""

    id: ItemId
    title: Text
    closes: Text  # what to do when it is missing, in plain words


class FrameworkItem(_Strict):
    """One item of a framework, cited by its exact reference."""

    id: ItemId
    framework: Text
    ref: Text
    title: Text
    quote: Text | None = None  # the source's words, where they matter
    source: Url | None = None  # where the wording was checked


class _EvidenceEntry(_Strict):
    title: Text
    closes: Text


class _FrameworkEntry(_Strict):
    framework: Text
    ref: Text
    title: Text
    quote: Text | None = None
    source: Url | None = None


class _MapFile(_Strict):
    """The shape of one map file; every table is optional so an override holds only changes."""

    evidence: dict[ItemId, _EvidenceEntry] = Field(default_factory=dict)
    framework: dict[ItemId, _FrameworkEntry] = Field(default_factory=dict)
    mapping: dict[ItemId, list[ItemId]] = Field(default_factory=dict)


class ComplianceMap(_Strict):
    """The merged, validated map; ``origin`` names the file each entry came from."""

    evidence: dict[str, EvidenceItem]
    framework: dict[str, FrameworkItem]
    mapping: dict[str, tuple[str, ...]]
    origin: dict[str, str]  # "evidence.<id>" / "framework.<id>" / "mapping.<id>" -> file

    def supporting(self, framework_id: str) -> list[EvidenceItem]:
        """The evidence items that support ``framework_id``, in map order."""
        return [self.evidence[e] for e, items in self.mapping.items() if framework_id in items]


class EvidenceStatus(_Strict):
    item: EvidenceItem
    status: Status
    measured: bool  # False: no status was given, so it counts as missing


class Assessment(_Strict):
    """One framework item's status, the evidence behind it and what would close it."""

    item: FrameworkItem
    status: Status
    evidence: tuple[EvidenceStatus, ...]
    to_close: tuple[str, ...]


def _key(table: str, item_id: str) -> str:
    return f'{table}."{item_id}"'


def read_map_file(path: Path | str, label: str | None = None) -> dict[str, Any]:
    """Parse one map file into its three tables, checked for shape (not for references)."""
    name = label or str(path)
    try:
        size = Path(path).stat().st_size
        if size > MAX_BYTES:
            raise ComplianceMapError(
                f"{name}: {size} bytes is too large for a compliance map (at most "
                f"{MAX_BYTES}); is this the right file?"
            )
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ComplianceMapError(f"{name}: compliance map file not found") from None
    except UnicodeDecodeError as exc:
        raise ComplianceMapError(f"{name}: not valid UTF-8 at byte {exc.start}") from None
    return parse_map_text(text, name)


def parse_map_text(text: str, name: str) -> dict[str, Any]:
    """Parse map text; a duplicate id in one file is a TOML error naming its line."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        hint = " (an id may be declared only once per file)" if "twice" in str(exc) else ""
        raise ComplianceMapError(f"{name}: not valid TOML: {exc}{hint}") from None
    for table in ("evidence", "framework"):
        entries = raw.get(table)
        for item_id, entry in (entries if isinstance(entries, dict) else {}).items():
            if _nested(entry):
                raise ComplianceMapError(
                    f"{name}: {table}.{item_id}: looks like a dotted id written without "
                    f'quotes; write [{table}."{item_id}.…"] so the id stays one key'
                )
    try:
        parsed = _MapFile.model_validate(raw)
    except ValidationError as exc:
        raise ComplianceMapError(format_validation_error(name, exc, model=_MapFile)) from None
    return {table: dict(getattr(parsed, table)) for table in TABLES}


def _nested(entry: Any) -> bool:
    """A table of tables: what ``[evidence.a.b]`` (an unquoted dotted id) parses to."""
    return (
        isinstance(entry, dict) and bool(entry) and all(isinstance(v, dict) for v in entry.values())
    )


def merge(files: list[tuple[str, dict[str, Any]]]) -> ComplianceMap:
    """Merge parsed files in order: a later file adds entries or replaces them whole (a
    ``mapping`` entry replaces the evidence item's whole list), then validate the result."""
    tables: dict[str, dict[str, Any]] = {t: {} for t in TABLES}
    origin: dict[str, str] = {}
    for name, parsed in files:
        for table in TABLES:
            for item_id, entry in parsed[table].items():
                tables[table][item_id] = entry
                origin[f"{table}.{item_id}"] = name
    cmap = ComplianceMap(
        evidence={i: EvidenceItem(id=i, **e.model_dump()) for i, e in tables["evidence"].items()},
        framework={
            i: FrameworkItem(id=i, **e.model_dump()) for i, e in tables["framework"].items()
        },
        mapping={i: tuple(v) for i, v in tables["mapping"].items()},
        origin=origin,
    )
    problems = validate(cmap)
    if problems:
        raise ComplianceMapError("\n".join(problems))
    return cmap


def validate(cmap: ComplianceMap) -> list[str]:
    """Every problem of a merged map, one line each, naming the file and key to fix."""
    problems: list[str] = []

    def at(table: str, item_id: str) -> str:
        return f"{cmap.origin.get(f'{table}.{item_id}', '?')}: {_key(table, item_id)}"

    for item_id in sorted(set(cmap.evidence) & set(cmap.framework)):
        problems.append(
            f"{at('framework', item_id)}: the id is also an evidence item's "
            f"(in {cmap.origin[f'evidence.{item_id}']}); give one of them another id"
        )
    seen_refs: dict[tuple[str, str], str] = {}
    for item_id, item in cmap.framework.items():
        ref = (item.framework.casefold(), " ".join(item.ref.split()).casefold())
        if ref in seen_refs:
            problems.append(
                f"{at('framework', item_id)}: {item.framework} {item.ref} is already "
                f'framework."{seen_refs[ref]}"; replace that entry instead of adding another'
            )
        seen_refs.setdefault(ref, item_id)
    for ev_id, targets in cmap.mapping.items():
        if ev_id not in cmap.evidence:
            problems.append(
                f"{at('mapping', ev_id)}: unknown evidence item"
                f"{_did_you_mean(ev_id, cmap.evidence)}"
            )
        for target in sorted({t for t in targets if targets.count(t) > 1}):
            problems.append(f"{at('mapping', ev_id)}: {target!r} is listed more than once")
        for target in dict.fromkeys(targets):
            if target not in cmap.framework:
                problems.append(
                    f"{at('mapping', ev_id)}: unknown framework item {target!r}"
                    f"{_did_you_mean(target, cmap.framework)}"
                )
    for ev_id in cmap.evidence:
        if not cmap.mapping.get(ev_id):
            problems.append(
                f"{at('evidence', ev_id)}: supports no framework item; list the items it "
                f'supports under [mapping] as "{ev_id}" = [...]'
            )
    supported = {t for targets in cmap.mapping.values() for t in targets}
    for fw_id in cmap.framework:
        if fw_id not in supported:
            problems.append(
                f"{at('framework', fw_id)}: no evidence item supports it; add {fw_id!r} to "
                "an evidence item's list under [mapping]"
            )
    return problems


def _did_you_mean(value: str, known: Mapping[str, Any]) -> str:
    close = difflib.get_close_matches(value, list(known), n=2, cutoff=0.6)
    if close:
        return " (did you mean " + " or ".join(repr(c) for c in close) + "?)"
    return " (known: " + ", ".join(sorted(known)) + ")" if len(known) <= 8 else ""


def shipped_text() -> str:
    return resources.files("mlreport.reports.governance").joinpath(SHIPPED).read_text("utf-8")


def load_map(override: Path | str | None = None, *, setting: str | None = None) -> ComplianceMap:
    """The shipped map, with ``override`` (a user's file) merged over it.

    ``setting`` names where the override path came from (the config file and key), so a
    missing file says which setting to fix.
    """
    files = [(f"mlreport/reports/governance/{SHIPPED}", parse_map_text(shipped_text(), SHIPPED))]
    if override is not None:
        path = Path(override)
        if not path.is_file():
            where = f" (set by {setting})" if setting else ""
            raise ComplianceMapError(
                f"{path}: compliance map file not found{where}; fix the path or remove the "
                "setting to use the shipped map"
            )
        files.append((str(path), read_map_file(path)))
    return merge(files)


def load_for_config(config: Any) -> ComplianceMap:
    """The map a run uses: the shipped one plus ``[governance] compliance_map`` if set."""
    override = config.governance.compliance_map
    setting = f"{config.file or 'mlreport.toml'}: governance.compliance_map"
    return load_map(override, setting=setting)


def assess(cmap: ComplianceMap, statuses: Mapping[str, str]) -> list[Assessment]:
    """Each framework item's status from the evidence statuses, in map order.

    The rule: met when every supporting evidence item is met; missing when none of them is
    met or partial; partial otherwise. Evidence absent from ``statuses`` was not measured and
    counts as missing (and says so); an unknown id or status is an error, not a silent miss.
    """
    unknown = sorted(set(statuses) - set(cmap.evidence))
    if unknown:
        raise ValueError(
            f"evidence statuses: unknown evidence item(s) {', '.join(map(repr, unknown))}; "
            "add them to the compliance map or fix the id"
        )
    for ev_id, status in statuses.items():
        if status not in STATUSES:
            raise ValueError(
                f"evidence statuses: {ev_id!r} has status {status!r}; expected one of "
                f"{', '.join(STATUSES)}"
            )
    out: list[Assessment] = []
    for fw_id, item in cmap.framework.items():
        behind = tuple(
            EvidenceStatus(item=e, status=statuses.get(e.id, "missing"), measured=e.id in statuses)
            for e in cmap.supporting(fw_id)
        )
        out.append(
            Assessment(
                item=item,
                status=combine([b.status for b in behind]),
                evidence=behind,
                to_close=tuple(b.item.closes for b in behind if b.status != "met"),
            )
        )
    return out


def combine(statuses: list[str]) -> Status:
    """met if all met, missing if none met or partial (or no evidence), partial otherwise."""
    if statuses and all(s == "met" for s in statuses):
        return "met"
    if all(s == "missing" for s in statuses):
        return "missing"
    return "partial"
