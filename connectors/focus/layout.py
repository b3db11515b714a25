"""Which files of a FOCUS export are current: the layouts of AWS Data Exports and Azure
cost exports, and plain files.

- **AWS Data Exports** write ``<export>/data/BILLING_PERIOD=YYYY-MM/*.csv.gz|*.parquet`` and
  ``<export>/metadata/BILLING_PERIOD=YYYY-MM/**/*Manifest.json`` whose ``dataFiles`` lists the
  S3 URIs of the delivery's files. A re-delivery rewrites the manifest.
- **Azure cost exports** (``FocusCost``) write ``<export>/<YYYYMMDD-YYYYMMDD>/<run id>/`` with
  ``part_*.csv.gz`` or Parquet parts and a ``manifest.json`` whose ``blobs`` lists them; each
  run of the same period is a new run folder, the latest (``runInfo.submittedTime``) counts.
- **Plain files**: every data file the paths name that no manifest governs.

For each billing period of a manifest layout only the files of the latest manifest are read;
other data files under that period's folder are superseded (left out, and counted). So a
re-delivered period replaces the previous delivery instead of adding to it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlreport.connectors.globs import glob_files, is_glob, unique_files
from mlreport.sources import SourceError

PARQUET_SUFFIXES = (".parquet", ".pq", ".parq")
CSV_SUFFIXES = (".csv", ".csv.gz")


def data_format(path: Path) -> str | None:
    """``parquet``, ``csv`` or None (not a data file) by the file's name."""
    name = path.name.lower()
    if name.endswith(PARQUET_SUFFIXES):
        return "parquet"
    if name.endswith(CSV_SUFFIXES):
        return "csv"
    return None


def is_manifest(path: Path) -> bool:
    return path.name.lower().endswith("manifest.json")


@dataclass(frozen=True)
class Delivery:
    """What one manifest says: the period it delivers, which delivery wins, and its files."""

    manifest: Path
    key: str  # the export and billing period: deliveries with one key replace each other
    scope: Path  # the folder whose data files belong to this key
    order: str  # later deliveries sort higher
    files: tuple[Path, ...]

    def cached(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "scope": str(self.scope),
            "order": self.order,
            "files": [str(f) for f in self.files],
        }

    @classmethod
    def from_cache(cls, manifest: Path, data: dict[str, Any]) -> Delivery:
        files = tuple(Path(f) for f in data["files"])
        return cls(manifest, data["key"], Path(data["scope"]), data["order"], files)


@dataclass
class Selection:
    files: list[Path]
    deliveries: list[Delivery] = field(default_factory=list)
    superseded: list[Path] = field(default_factory=list)


def find(patterns: list[Path], key: str) -> tuple[list[Path], list[Path]]:
    """The data files and the manifests the paths, folders and globs name, each once."""
    data: set[Path] = set()
    manifests: set[Path] = set()
    for pattern in patterns:
        text = str(pattern)
        if pattern.is_file():
            if is_manifest(pattern):
                manifests.add(pattern)
            elif data_format(pattern) is None:
                raise SourceError(
                    f"{key}: {pattern}: not a FOCUS export file (expected *.csv, *.csv.gz, "
                    "*.parquet or a Manifest.json)"
                )
            else:
                data.add(pattern)
            continue
        if pattern.is_dir():
            matches = glob_files(str(pattern / "**"))
        elif is_glob(text):
            matches = glob_files(text)
        else:
            raise SourceError(
                f"{key}: {text} does not exist (relative paths are taken from the config "
                "file's folder)"
            )
        manifests.update(m for m in matches if is_manifest(m))
        data.update(m for m in matches if data_format(m) is not None)
    if not data and not manifests:
        shown = ", ".join(str(p) for p in patterns)
        raise SourceError(f"{key}: no FOCUS export file found at {shown}")
    return unique_files(sorted(data, key=str)), sorted(manifests, key=str)


def read_manifest(path: Path) -> Delivery:
    """Parse an AWS or Azure manifest; errors name the file and the field."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise SourceError(f"{path}: not a readable JSON manifest: {exc}") from None
    if not isinstance(doc, dict):
        raise SourceError(f"{path}: a manifest must be a JSON object")
    if isinstance(doc.get("dataFiles"), list):
        return _aws(path, doc)
    if isinstance(doc.get("blobs"), list):
        return _azure(path, doc)
    raise SourceError(
        f"{path}: neither an AWS Data Exports manifest (`dataFiles`) nor an Azure export "
        "manifest (`blobs`)"
    )


def _aws(path: Path, doc: dict[str, Any]) -> Delivery:
    parts = path.parts
    if "metadata" not in parts:
        raise SourceError(
            f"{path}: an AWS Data Exports manifest must lie under <export>/metadata/ "
            "(the layout AWS writes)"
        )
    i = len(parts) - 1 - parts[::-1].index("metadata")
    root = Path(*parts[:i])
    period = next((p for p in parts[i + 1 :] if p.startswith("BILLING_PERIOD=")), None)
    if period is None:
        raise SourceError(f"{path}: no BILLING_PERIOD=YYYY-MM folder above the manifest")
    files = []
    for n, uri in enumerate(doc["dataFiles"]):
        if not isinstance(uri, str) or "/data/" not in uri:
            raise SourceError(f"{path}: dataFiles[{n}]: {uri!r} is not a path under /data/")
        files.append(root / "data" / uri.split("/data/", 1)[1])
    order = str(doc.get("executionId") or "")
    return Delivery(path, f"aws:{root}:{period}", root / "data" / period, order, tuple(files))


def _azure(path: Path, doc: dict[str, Any]) -> Delivery:
    run = doc.get("runInfo") if isinstance(doc.get("runInfo"), dict) else {}
    submitted = run.get("submittedTime")
    if not isinstance(submitted, str):
        raise SourceError(f"{path}: runInfo.submittedTime is missing (an Azure export manifest)")
    export = doc.get("exportConfig") if isinstance(doc.get("exportConfig"), dict) else {}
    scope = path.parent.parent  # <export>/<YYYYMMDD-YYYYMMDD>/<run id>/manifest.json
    period = f"{run.get('startDate')}/{run.get('endDate')}"
    files = []
    for n, blob in enumerate(doc["blobs"]):
        name = blob.get("blobName") if isinstance(blob, dict) else None
        if not isinstance(name, str) or not name.strip():
            raise SourceError(f"{path}: blobs[{n}].blobName is missing")
        files.append(path.parent / name.rsplit("/", 1)[-1])
    key = f"azure:{export.get('exportName') or scope.parent}:{period}"
    return Delivery(path, key, scope, submitted, tuple(files))


def select(data: list[Path], deliveries: list[Delivery]) -> Selection:
    """The current files: each key's latest delivery, plus data files no manifest governs."""
    latest: dict[str, Delivery] = {}
    for d in sorted(deliveries, key=lambda d: (d.order, str(d.manifest))):
        latest[d.key] = d
    chosen = sorted(latest.values(), key=lambda d: d.key)
    listed: set[Path] = set()
    for d in chosen:
        for f in d.files:
            if not f.is_file():
                raise SourceError(
                    f"{d.manifest}: lists {f.name}, which is not at {f} (copy the whole "
                    "delivery, or point `path` at the folder that holds it)"
                )
            listed.add(f)
    plain, superseded = [], []
    for f in data:
        if f in listed:
            continue
        if any(_under(f, d.scope) for d in chosen):
            superseded.append(f)
        else:
            plain.append(f)
    files = unique_files(sorted(listed | set(plain), key=str))
    return Selection(files, chosen, superseded)


def _under(path: Path, folder: Path) -> bool:
    return folder in path.parents
