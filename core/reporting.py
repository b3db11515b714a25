"""Report types, sections, renderers and the manifest.

A report type lists sections; each section computes a JSON-serialisable ``data`` dict and
names a template fragment. The same built report feeds every renderer, so JSON carries every
number the HTML shows. Nothing that varies between runs (run ids, wall-clock time) reaches the
HTML, JSON or Markdown: given the same warehouse, config and ``as_of`` they are byte-identical.
"""

from __future__ import annotations

import importlib.metadata
import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from fnmatch import fnmatch
from pathlib import Path
from typing import Any, ClassVar

import jinja2
import polars as pl

from mlreport.atomic import write_atomically
from mlreport.attestation import Attestation, attest, signature_info
from mlreport.changes import report_changes
from mlreport.config import Config
from mlreport.hashing import sha256_file
from mlreport.metric_store import RunScope, StoredRun, load_run, store_run
from mlreport.metrics import MetricRequest, Window, run_metrics, split_window
from mlreport.signing import load_signer
from mlreport.sources import sync_failures
from mlreport.times import iso, utcnow
from mlreport.warehouse import Warehouse


class ReportError(Exception):
    """A report could not be built or rendered."""


@dataclass(frozen=True)
class MetricNeed:
    """Metrics a report reads: a glob over metric (or family) names, for the report window,
    or with ``by`` ("week", "month") for each period of it; ``details`` asks the families for
    the detail rows they publish (``ctx.detail``) for those windows too."""

    pattern: str
    by: str | None = None
    details: bool = False

    def request(self, window: Window) -> MetricRequest:
        windows = [window] if self.by is None else split_window(window, self.by)
        return MetricRequest(self.pattern, tuple(windows), self.details)


@dataclass
class ReportContext:
    warehouse: Warehouse
    config: Config
    window: Window
    as_of: datetime
    title: str | None = None
    entities: list[str] | None = None
    # The stored metrics run the report renders (``prepare_metrics`` sets it).
    run: StoredRun | None = None
    # Sections of one report share expensive computations here, keyed by a name they choose.
    cache: dict[str, Any] = field(default_factory=dict)
    # what went wrong while rendering (a format that failed, an after_report hook): the other
    # formats are still written, and run / report exit 2
    errors: list[str] = field(default_factory=list)

    def values(self, windows: list[Window] | None = None, prefix: str | None = None):
        """The run's rows for ``windows`` (default: the report window) and the report's
        entities: what every report reads instead of computing."""
        if self.run is None:
            raise ReportError("no metrics run to read: call prepare_metrics first")
        return self.run.select(windows or [self.window], prefix, self.entities)

    def detail(self, name: str) -> pl.DataFrame | None:
        """Detail rows a family published with the run (``details.<name>``), or None."""
        return None if self.run is None else self.run.detail(name, self.warehouse)


class Section:
    """One part of a report: a template fragment plus the data it shows."""

    name: ClassVar[str]
    title: ClassVar[str]
    template: ClassVar[str]  # an HTML fragment template name
    markdown: ClassVar[str | None] = None  # an optional Markdown fragment template name

    def data(self, ctx: ReportContext) -> dict[str, Any]:
        raise NotImplementedError


class ReportType:
    """Base of report plugins: a title, the tables it reads, and its sections."""

    name: ClassVar[str]
    title: ClassVar[str]
    sections: ClassVar[tuple[type[Section], ...]] = ()
    inputs: ClassVar[tuple[str, ...]] = ()  # warehouse tables fingerprinted in the manifest
    template_package: ClassVar[str] = "mlreport.reports"
    default_formats: ClassVar[tuple[str, ...]] = ("html", "pdf", "json", "md")
    needs: ClassVar[tuple[MetricNeed, ...]] = ()  # the metrics its sections read


def metric_requests(report_type: type[ReportType], window: Window) -> list[MetricRequest]:
    return [need.request(window) for need in report_type.needs]


def prepare_metrics(
    warehouse: Warehouse,
    config: Config,
    contexts: list[tuple[ReportContext, type[ReportType]]],
    extra: list[MetricRequest] | None = None,
    entities: list[str] | None = None,
    as_of: datetime | None = None,
) -> StoredRun:
    """Compute what the reports need in one run (each family once, over every window any of
    them reads), store it with its scope (as-of, main window: ``extra``'s first, else the first
    report's; entities), and give every context the stored run to read."""
    requests = list(extra or [])
    for ctx, report_type in contexts:
        requests += metric_requests(report_type, ctx.window)
    run = run_metrics(warehouse, config, requests, entities)
    main = extra[0].windows[0] if extra else contexts[0][0].window
    scope = RunScope(as_of or contexts[0][0].as_of, main, tuple(entities) if entities else None)
    if warehouse.read_only:  # nothing can be stored: the reports read the run in memory
        stored = StoredRun(
            "(not stored)",
            run.values,
            run.families,
            run.failures,
            sorted(run.details),
            dict(run.details),
            scope,
        )
    else:
        stored = load_run(warehouse, store_run(warehouse, run, scope))
    for ctx, _ in contexts:
        ctx.run = stored
    return stored


@dataclass
class BuiltSection:
    name: str
    title: str
    template: str
    markdown: str | None
    data: dict[str, Any]


@dataclass
class BuiltReport:
    type: str
    title: str
    window: Window
    as_of: datetime
    sections: list[BuiltSection]
    manifest: dict[str, Any]
    template_packages: list[str] = field(default_factory=list)
    # What the numbers may be missing: sources whose latest sync failed, families that raised.
    status: dict[str, Any] = field(default_factory=dict)
    # "Since last run" (mlreport.changes): None when there is no stored run to compare.
    changes: dict[str, Any] | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "report": self.type,
            "title": self.title,
            "as_of": iso(self.as_of),
            "window": {"since": iso(self.window.start), "until": iso(self.window.end)},
            "status": self.status,
            "since_last_run": self.changes,
            "sections": {s.name: s.data for s in self.sections},
            "manifest": self.manifest,
        }

    @property
    def failed_families(self) -> dict[str, str]:
        return self.status.get("failed_families", {})


class Renderer:
    """Turns a built report into bytes of one format."""

    extension: ClassVar[str]
    media_type: ClassVar[str]

    def render(self, report: BuiltReport, env: RenderEnv) -> bytes:
        raise NotImplementedError


@dataclass
class RenderEnv:
    """What renderers share: the Jinja environment and already-rendered formats."""

    jinja: jinja2.Environment
    config: Config
    cache: dict[str, bytes] = field(default_factory=dict)

    def output(self, report: BuiltReport, fmt: str) -> bytes:
        """Render ``fmt`` once per report (the PDF renderer reuses the HTML)."""
        if fmt not in self.cache:
            from mlreport.plugin_manager import get_plugins

            self.cache[fmt] = get_plugins().renderers().get(fmt)().render(report, self)
        return self.cache[fmt]


def jinja_env(config: Config, packages: list[str]) -> jinja2.Environment:
    """Templates from the user's folder first, then the report packages, with every
    registered template helper installed (``register_template_helpers``)."""
    loaders: list[jinja2.BaseLoader] = []
    if config.templates:
        loaders.append(jinja2.FileSystemLoader(str(config.templates)))
    for pkg in dict.fromkeys(packages + ["mlreport.reports"]):
        loaders.append(jinja2.PackageLoader(pkg, "templates"))
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        autoescape=jinja2.select_autoescape(
            enabled_extensions=("html", "j2"), default_for_string=True, default=True
        ),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    from mlreport.plugin_manager import get_plugins

    helpers = get_plugins().template_helpers()
    for name in helpers.names():
        item = helpers.items[name]
        target = env.filters if item.options.get("kind") == "filter" else env.globals
        target[name] = helpers.get(name)
    return env


def markdown_env(config: Config, packages: list[str]) -> jinja2.Environment:
    """A non-HTML environment for Markdown: no HTML autoescaping, so the Markdown renderer
    must escape values itself (the built-in one installs an ``md`` filter)."""
    env = jinja_env(config, packages)
    env.autoescape = False
    return env


# -- manifest --------------------------------------------------------------------------------


def plugin_versions() -> dict[str, str | None]:
    from mlreport.plugin_manager import get_plugins

    return {row["name"]: row["version"] for row in get_plugins().describe()}


def build_manifest(ctx: ReportContext, report_type: type[ReportType]) -> dict[str, Any]:
    try:
        version = importlib.metadata.version("mlreport")
    except importlib.metadata.PackageNotFoundError:
        version = None
    return {
        "mlreport_version": version,
        "plugins": plugin_versions(),
        "config_hash": ctx.config.digest,
        "as_of": iso(ctx.as_of),
        "window": {"since": iso(ctx.window.start), "until": iso(ctx.window.end)},
        "inputs": {t: ctx.warehouse.fingerprint(t) for t in report_type.inputs},
        "signature": signature_info(load_signer(ctx.config), report_type.name, ctx.as_of),
    }


def build_report(report_type: type[ReportType], ctx: ReportContext) -> BuiltReport:
    sections = []
    for sec_cls in report_type.sections:
        sec = sec_cls()
        sections.append(
            BuiltSection(sec.name, sec.title, sec.template, sec.markdown, sec.data(ctx))
        )
        ctx.warehouse.settle()
    return BuiltReport(
        type=report_type.name,
        title=ctx.title or report_type.title,
        window=ctx.window,
        as_of=ctx.as_of,
        sections=sections,
        manifest=build_manifest(ctx, report_type),
        template_packages=[report_type.template_package],
        status=report_status(ctx, report_type),
        changes=report_changes(ctx, [need.pattern for need in report_type.needs]),
    )


def report_status(ctx: ReportContext, report_type: type[ReportType]) -> dict[str, Any]:
    """The sources whose latest sync failed (with their last good sync) and the families this
    report reads that failed in its run: shown on every report, above its sections."""
    return {
        "sync_failures": [
            {**f, "last_success_at": iso(f["last_success_at"])}
            for f in sync_failures(ctx.warehouse)
        ],
        "failed_families": failed_families(ctx, report_type),
    }


def failed_families(ctx: ReportContext, report_type: type[ReportType]) -> dict[str, str]:
    """The families the report reads (by its ``needs``) that raised in its run."""
    failures = ctx.run.failures if ctx.run else {}
    return {
        family: error
        for family, error in sorted(failures.items())
        if any(fnmatch(f"{family}.", need.pattern) for need in report_type.needs)
    }


def render_report(
    ctx: ReportContext, report_name: str, formats: list[str], out_dir: Path
) -> dict[str, Path]:
    """Build one report, write each format and a manifest, record the run; return the paths."""
    from mlreport.plugin_manager import get_plugins

    plugins = get_plugins()
    report_type = plugins.reports().get(report_name)
    renderers = {fmt: plugins.renderers().get(fmt) for fmt in formats}  # fail before work
    signer = load_signer(ctx.config)  # so does a missing key or a wrong password
    run_id = uuid.uuid4().hex
    started = utcnow()
    if ctx.run is None:
        prepare_metrics(ctx.warehouse, ctx.config, [(ctx, report_type)], entities=ctx.entities)
    report = build_report(report_type, ctx)
    env = RenderEnv(jinja_env(ctx.config, report.template_packages), ctx.config)
    out_dir.mkdir(parents=True, exist_ok=True)
    outputs: dict[str, Path] = {}
    for fmt, renderer in renderers.items():
        path = out_dir / f"{report_name}.{renderer.extension}"
        try:
            write_atomically(path, env.output(report, fmt))
        except ReportError as exc:  # a PDF over its time limit must not cost the JSON
            ctx.errors.append(f"report {report_name} ({fmt}): {exc}")
            continue
        outputs[fmt] = path
    manifest = dict(report.manifest)
    manifest["run_id"] = run_id
    manifest["outputs"] = {
        fmt: {"file": p.name, "sha256": sha256_file(p)} for fmt, p in outputs.items()
    }
    manifest_path = out_dir / f"{report_name}.manifest.json"
    text = json.dumps(manifest, indent=2, sort_keys=True) + "\n"
    write_atomically(manifest_path, text.encode("utf-8"))
    predicate = {k: manifest[k] for k in PREDICATE_KEYS} | {"report": report_name}
    files = [*outputs.values(), manifest_path]
    attestation = attest(out_dir, report_name, files, predicate, signer)
    status = "partial" if len(outputs) < len(renderers) else report_outcome(report)
    _record_run(ctx, report_name, run_id, started, manifest, status, out_dir, attestation)
    ctx.errors += plugins.call_each("after_report", report=report, outputs=outputs)
    return outputs


# what a run's in-toto statement carries from its manifest (docs/signing.md)
PREDICATE_KEYS = (
    "run_id",
    "as_of",
    "window",
    "config_hash",
    "inputs",
    "mlreport_version",
    "plugins",
)


def report_outcome(report: BuiltReport) -> str:
    """``incomplete`` when a source did not sync or a family the report reads failed."""
    return "incomplete" if report.failed_families or report.status["sync_failures"] else "ok"


def _record_run(
    ctx: ReportContext,
    name: str,
    run_id: str,
    started: datetime,
    manifest: dict,
    status: str,
    out_dir: Path,
    attestation: Attestation,
) -> None:
    w = ctx.warehouse
    if w.read_only:
        return
    signature = manifest["signature"]
    with w.transaction():
        w.con.execute(
            "INSERT INTO report_runs (run_id, report, as_of, started_at, finished_at, status, "
            "config_hash, inputs, plugins, outputs, manifest, out_dir, signature, signer, "
            "key_id, statement_sha256) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                run_id,
                name,
                ctx.as_of,
                started,
                utcnow(),
                status,
                manifest["config_hash"],
                json.dumps(manifest["inputs"], sort_keys=True),
                json.dumps(manifest["plugins"], sort_keys=True),
                json.dumps(manifest["outputs"], sort_keys=True),
                json.dumps(manifest, sort_keys=True),
                str(out_dir.resolve()),
                signature["status"],
                signature.get("signer"),
                signature.get("key_id"),
                attestation.sha256,
            ],
        )
