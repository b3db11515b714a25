"""The options of a ``type = "predictions"`` source and their validators.

Rules that need only the config (one input, one kind of reference, each feature named once and
not after a column of the view) fail when the config loads; rules that need the log's columns
are checked when the source syncs. The ``explain`` family reads ``explain`` through
:func:`mlreport.sources.source_options`, not by importing this module.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from mlreport.config import ConfigPath
from mlreport.connectors.objstore import ObjectURL, StoreOptions, check_urls
from mlreport.sources import SourceOptions
from mlreport.times import parse_time

# Names of the view's own columns: a feature may not take one.
CANONICAL = ("log", "entity", "model_version", "ts", "prediction", "score", "label")
SHAP_PREFIX = "shap__"  # logged SHAP values appear in the view as shap__<feature>
# Optional view columns, present only when mapped; reserved like the canonical ones.
LABEL_TS = "label_ts"  # columns.label_timestamp: when the label arrived
RESERVED = (*CANONICAL, LABEL_TS)

PathOption = ObjectURL | ConfigPath | list[ObjectURL | ConfigPath]  # s3:// or a local path


class Part(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ColumnsOptions(Part):
    """Each value is a DuckDB SQL expression over the log's own columns."""

    timestamp: str = Field(min_length=1)
    prediction: str = Field(min_length=1)
    score: str | None = Field(default=None, min_length=1)
    label: str | None = Field(default=None, min_length=1)
    model_version: str | None = Field(default=None, min_length=1)
    label_timestamp: str | None = Field(default=None, min_length=1)  # when the label arrived

    @model_validator(mode="after")
    def _label_for_its_time(self) -> ColumnsOptions:
        if self.label_timestamp is not None and self.label is None:
            raise ValueError(
                "`label_timestamp` says when the label arrived; map `label` too (or remove it)"
            )
        return self


class ReferenceOptions(Part):
    """What drift and degradation compare against: a window of the log, or its own files."""

    since: datetime | None = None
    until: datetime | None = None
    path: PathOption | None = None

    _urls_checked = field_validator("path", mode="before")(check_urls)

    @field_validator("since", "until", mode="before")
    @classmethod
    def _time(cls, value: Any) -> Any:
        if isinstance(value, date) and not isinstance(value, datetime):
            value = value.isoformat()
        return parse_time(value, "time") if value is not None else None

    @model_validator(mode="after")
    def _one_kind(self) -> ReferenceOptions:
        window = self.since is not None or self.until is not None
        if window and self.path is not None:
            raise ValueError("give either `since` and `until` (a window of the log) or `path`")
        if self.path is None and (self.since is None or self.until is None):
            raise ValueError("a reference needs both `since` and `until`, or a `path`")
        if self.since is not None and self.until is not None and self.since >= self.until:
            raise ValueError(f"`since` ({self.since:%Y-%m-%d}) must be before `until`")
        if self.path == []:
            raise ValueError("`path` is an empty list; name at least one path or glob")
        return self

    def paths(self) -> list[Path | str]:
        """Local paths and globs, and ``s3://`` URLs (str) for the object storage mirror."""
        if self.path is None:
            return []
        return list(self.path) if isinstance(self.path, list) else [self.path]


class FeaturesOptions(Part):
    """Feature columns (names in the log, not expressions) and the sensitive attributes."""

    numeric: list[str] = Field(default_factory=list)
    categorical: list[str] = Field(default_factory=list)
    sensitive: list[str] = Field(default_factory=list)
    intersections: list[list[str]] = Field(default_factory=list)

    @model_validator(mode="after")
    def _distinct(self) -> FeaturesOptions:
        for kind in ("numeric", "categorical", "sensitive"):
            _check_names(kind, getattr(self, kind))
        _check_disjoint("numeric", self.numeric, "categorical", self.categorical)
        _check_disjoint("numeric", self.numeric, "sensitive", self.sensitive)
        sensitive = {n.lower() for n in self.sensitive}
        for i, group in enumerate(self.intersections):
            if len(group) < 2 or len({n.lower() for n in group}) != len(group):
                raise ValueError(f"intersections[{i}]: name two or more different features")
            unknown = [n for n in group if n.lower() not in sensitive]
            if unknown:
                raise ValueError(
                    f"intersections[{i}]: {', '.join(map(repr, unknown))} not in `sensitive`"
                )
        return self

    def all(self) -> list[str]:
        """Every feature column once, in view order (categorical ones also sensitive once)."""
        seen: set[str] = set()
        out = []
        for name in self.numeric + self.categorical + self.sensitive:
            if name.lower() not in seen:
                seen.add(name.lower())
                out.append(name)
        return out


def _check_names(kind: str, names: list[str]) -> None:
    seen: set[str] = set()
    for name in names:
        low = name.lower()
        if not name.strip():
            raise ValueError(f"{kind}: a feature name is empty")
        if low in RESERVED:
            raise ValueError(
                f"{kind}: {name!r} is a column of the predictions view itself "
                f"({', '.join(RESERVED)}); rename the feature in the log"
            )
        if low.startswith(SHAP_PREFIX):
            raise ValueError(f"{kind}: {name!r}: names starting {SHAP_PREFIX!r} are reserved")
        if low in seen:
            raise ValueError(f"{kind}: {name!r} is listed twice (names ignore case)")
        seen.add(low)


def _check_disjoint(a: str, first: list[str], b: str, second: list[str]) -> None:
    both = sorted({n.lower() for n in first} & {n.lower() for n in second})
    if both:
        raise ValueError(f"{', '.join(map(repr, both))} listed in both `{a}` and `{b}`")


class ExplainOptions(Part):
    """The ``[sources.explain]`` table: validated once, here; the ``explain`` family reads it
    through :func:`mlreport.sources.source_options`."""

    model: ConfigPath | None = None
    trusted: bool | list[str] = False
    sample: int = Field(default=1000, ge=1)
    seed: int = 0
    features: list[str] | None = None
    shap_prefix: str | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _one_kind(self) -> ExplainOptions:
        if (self.model is None) == (self.shap_prefix is None):
            raise ValueError(
                "give either `model` (a model file to explain) or `shap_prefix` "
                "(SHAP values logged as columns <prefix><feature>)"
            )
        if self.features is not None:
            _check_names("features", self.features)
        return self


class SparkOptions(Part):
    """The ``[sources.spark]`` table: where an ``engine = "spark"`` log's scans run."""

    master: str | None = Field(default=None, min_length=1)  # local[*], spark://host:7077, yarn
    remote: str | None = Field(default=None, pattern=r"^sc://")  # Spark Connect
    conf: dict[str, str | int | float | bool] = Field(default_factory=dict)
    connect_timeout: float = Field(default=10.0, gt=0)

    @model_validator(mode="after")
    def _one_kind(self) -> SparkOptions:
        if self.master is not None and self.remote is not None:
            raise ValueError("give either `master` (a Spark cluster) or `remote` (Spark Connect)")
        return self


class PredictionsOptions(SourceOptions, StoreOptions):
    """Config keys of a ``type = "predictions"`` source."""

    path: PathOption | None = Field(
        default=None, description="Parquet or CSV log files: a path, a glob or a list of them."
    )
    database: ConfigPath | None = Field(default=None, description="A DuckDB file holding the log.")
    table: str | None = Field(
        default=None,
        min_length=1,
        description="The table in `database`, or with engine spark a catalog table.",
    )
    engine: str = Field(
        default="duckdb", min_length=1, description="Where the scans run: duckdb or spark."
    )
    spark: SparkOptions | None = None
    entity: str = Field(min_length=1, description="The model the log belongs to.")
    task: Literal["classification", "regression"] = "classification"
    where: str | None = Field(default=None, min_length=1, description="A DuckDB filter.")
    columns: ColumnsOptions
    reference: ReferenceOptions | None = None
    features: FeaturesOptions = Field(default_factory=FeaturesOptions)
    explain: ExplainOptions | None = None

    _urls_checked = field_validator("path", mode="before")(check_urls)

    @model_validator(mode="after")
    def _one_input(self) -> PredictionsOptions:
        if self.path is not None and (self.database is not None or self.table is not None):
            raise ValueError("give either `path` or `database` and `table`, not both")
        if self.engine == "duckdb" and self.spark is not None:
            raise ValueError('`[spark]` settings need `engine = "spark"`')
        if self.engine != "duckdb" and self.database is not None:
            raise ValueError(
                f"engine {self.engine!r} reads Parquet files (`path`) or a catalog `table`, "
                "not a DuckDB `database`"
            )
        if self.path is None and self.table is None:
            raise ValueError(
                "a predictions source needs `path` (Parquet or CSV files) or `database` and "
                "`table` (a table of a DuckDB file)"
            )
        if self.engine == "duckdb" and self.path is None and self.database is None:
            raise ValueError(
                "a predictions source needs `path` (Parquet or CSV files) or `database` and "
                "`table` (a table of a DuckDB file)"
            )
        if self.path == []:
            raise ValueError("`path` is an empty list; name at least one path or glob")
        if self.explain is not None and self.explain.features is not None:
            known = {n.lower() for n in self.features.all()}
            unknown = [n for n in self.explain.features if n.lower() not in known]
            if unknown:
                raise ValueError(
                    f"explain.features: {', '.join(map(repr, unknown))} not among the "
                    "configured features"
                )
        return self

    def paths(self) -> list[Path | str]:
        """Local paths and globs, and ``s3://`` URLs (str) for the object storage mirror."""
        if self.path is None:
            return []
        return list(self.path) if isinstance(self.path, list) else [self.path]

    def explained(self) -> list[str]:
        """The features SHAP values are read or computed for."""
        if self.explain is None:
            return []
        if self.explain.features is not None:
            return list(self.explain.features)
        return self.features.numeric + self.features.categorical
