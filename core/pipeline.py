"""The nightly job: sync, metrics, reports, archive, check, notify."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from mlreport import archive
from mlreport.attestation import RUN_STATEMENT, attest, uncovered
from mlreport.changes import Changes, since_last_run
from mlreport.config import Config
from mlreport.errors import USER_ERRORS
from mlreport.metrics import MetricRequest, default_window
from mlreport.notifications import build_notifiers, notify_all
from mlreport.plugin_manager import get_plugins
from mlreport.policies import (
    PolicyError,
    PolicyResult,
    check_policies,
    evaluate,
    failed,
    unevaluated,
)
from mlreport.publish import clean_stale, publish, staging_dir
from mlreport.reporting import ReportContext, jinja_env, prepare_metrics, render_report
from mlreport.signing import Signer, load_signer
from mlreport.sources import SyncStats, build_source, record_sync, sync_entities, sync_source
from mlreport.times import iso, parse_time, utcnow
from mlreport.warehouse import Warehouse

log = logging.getLogger("mlreport")


def sync_all(
    warehouse: Warehouse,
    config: Config,
    names: list[str] | None = None,
    full: bool = False,
    progress: Callable[..., None] | None = None,
    fail_fast: bool = False,
) -> list[SyncStats]:
    """Sync the named sources (all when ``names`` is empty), in config order.

    A source that fails keeps what it had stored (each checkpoint is its own transaction), is
    recorded in ``source_status`` and in its ``SyncStats.error``, and the others still sync:
    one bad CSV line must not leave git and MLflow stale too. ``fail_fast`` re-raises instead.
    """
    sync_entities(warehouse, config)
    wanted = names or [s.name for s in config.sources]
    for name in wanted:
        config.source(name)  # unknown names fail before anything is read
    results = []
    for index, src in enumerate(config.sources):
        if src.name not in wanted:
            continue
        try:
            stats = _sync_one(warehouse, config, index, full, progress)
        except Exception as exc:
            error = config.redact(f"{type(exc).__name__}: {exc}" if _is_bug(exc) else str(exc))
            record_sync(warehouse, src.name, error)
            if fail_fast:
                raise
            log.info("source %s failed, its previous data is kept: %s", src.name, error)
            log.debug("source %s failed", src.name, exc_info=True)
            stats = SyncStats(src.name, error=error)
        else:
            record_sync(warehouse, src.name, None)
        results.append(stats)
    return results


def _sync_one(
    warehouse: Warehouse,
    config: Config,
    index: int,
    full: bool,
    progress: Callable[..., None] | None,
) -> SyncStats:
    src = config.sources[index]
    source = build_source(src, config, index)
    log.info("syncing %s (%s)", src.name, src.type)
    stats = sync_source(warehouse, source, full=full, progress=progress)
    log.info(
        "synced %s: %d rows in %.2fs, reads %s",
        src.name,
        stats.rows,
        stats.seconds,
        json.dumps(stats.reads, sort_keys=True),
    )
    stats.hook_errors = get_plugins().call_each(
        "after_sync", warehouse=warehouse, source=source, stats=stats
    )
    return stats


def _is_bug(exc: Exception) -> bool:
    """Errors a user can fix carry their own clear message; anything else names its type."""
    return not isinstance(exc, USER_ERRORS)


def report_formats(config: Config, report_name: str, requested: list[str] | None) -> list[str]:
    if requested:
        return requested
    for rc in config.reports:
        if rc.type == report_name and rc.formats:
            return list(rc.formats)
    return list(get_plugins().reports().get(report_name).default_formats)


@dataclass
class RunOutcome:
    as_of: datetime
    out_dir: Path
    syncs: list[SyncStats] = field(default_factory=list)
    outputs: dict[str, dict[str, Path]] = field(default_factory=dict)
    policies: list[PolicyResult] = field(default_factory=list)
    failed_families: dict[str, str] = field(default_factory=dict)
    policy_errors: list[str] = field(default_factory=list)
    report_errors: list[str] = field(default_factory=list)  # reports or their hooks that failed
    changes: Changes | None = None  # since the previous run (mlreport.changes)
    notified: dict[str, str] = field(default_factory=dict)  # notifier -> sent/skipped/error

    @property
    def failed(self) -> bool:
        return failed(self.policies)

    @property
    def errors(self) -> list[str]:
        """What went wrong besides policies: sources that did not sync, families that raised.
        The reports are still written; the run exits 2 so a scheduler sees it."""
        return (
            [f"source {s.source}: {s.error}" for s in self.syncs if s.error]
            + [e for s in self.syncs for e in s.hook_errors]
            + [f"metric family {name}: {error}" for name, error in self.failed_families.items()]
            + self.report_errors
            + self.policy_errors
        )


def run(
    warehouse: Warehouse,
    config: Config,
    out: Path,
    as_of: Any = None,
    progress: Callable[..., None] | None = None,
    fail_fast: bool = False,
) -> RunOutcome:
    """Everything ``mlreport run`` does once the lock is held."""
    as_of_dt = parse_time(as_of, "--as-of") or utcnow()
    check_policies(config)  # a misspelt metric or stat fails before any work
    signer = load_signer(config)  # so does a missing signing key or a wrong password
    for rc in config.reports:  # so does an unknown report type or format
        get_plugins().reports().get(rc.type)
        for fmt in report_formats(config, rc.type, None):
            get_plugins().renderers().get(fmt)
    notifiers = build_notifiers(config)  # and a bad [[notifiers]] entry
    day = as_of_dt.strftime("%Y-%m-%d")
    outcome = RunOutcome(as_of_dt, out / day)
    out.mkdir(parents=True, exist_ok=True)
    clean_stale(out)
    outcome.syncs = sync_all(warehouse, config, progress=progress, fail_fast=fail_fast)
    window = default_window(config, as_of=as_of_dt)
    contexts = []
    for rc in config.reports:
        custom = rc.since or rc.until
        win = default_window(config, rc.since, rc.until, as_of_dt) if custom else window
        ctx = ReportContext(warehouse, config, win, as_of_dt, rc.title, rc.entities)
        contexts.append((ctx, get_plugins().reports().get(rc.type)))
    stored = prepare_metrics(
        warehouse, config, contexts, [MetricRequest("*", (window,))], as_of=as_of_dt
    )
    outcome.failed_families = dict(stored.failures)
    staged = staging_dir(out, day)
    for rc, (ctx, _) in zip(config.reports, contexts, strict=True):
        formats = report_formats(config, rc.type, None)
        try:
            written = render_report(ctx, rc.type, formats, staged)
            outcome.outputs[rc.type] = {f: outcome.out_dir / p.name for f, p in written.items()}
        except Exception as exc:  # one report must not cost the others (or check.json)
            error = f"{type(exc).__name__}: {exc}" if _is_bug(exc) else str(exc)
            outcome.report_errors.append(f"report {rc.type}: {config.redact(error)}")
            log.debug("report %s failed", rc.type, exc_info=True)
        outcome.report_errors += ctx.errors
    outcome.policies = evaluate(config, stored.select([window]))
    outcome.policy_errors = policy_problems(warehouse, config, outcome.policies)
    (staged / "check.json").write_text(
        json.dumps([p.as_dict() for p in outcome.policies], indent=2, sort_keys=True) + "\n"
    )
    status = archive.run_status(outcome.errors, outcome.failed)
    archive.write_run_record(staged, as_of_dt, status, [config.redact(e) for e in outcome.errors])
    attest_run(staged, config, as_of_dt, signer)  # last: it covers what the run wrote after reports
    publish(out, day, staged)
    archive.apply_retention(out, config.output.keep_days, as_of_dt, last=day)
    write_index(out, config)
    outcome.changes = since_last_run(warehouse, config, stored)
    outcome.notified = notify_all(notifiers, outcome, config)
    return outcome


def attest_run(folder: Path, config: Config, as_of: datetime, signer: Signer | None) -> None:
    """Cover what no report's statement covers (``check.json``, and any record the run writes
    after its reports) with ``run.intoto.json``, so every file of a run folder is signed."""
    predicate = {"report": "run", "as_of": iso(as_of), "config_hash": config.digest}
    attest(folder, RUN_STATEMENT, uncovered(folder), predicate, signer)


def known_entities(warehouse: Warehouse, config: Config) -> list[str]:
    """Every entity the config declares or a source named."""
    stored = warehouse.query("SELECT DISTINCT name FROM entities")["name"].to_list()
    return sorted(set(stored) | {e.name for e in config.entities})


def policy_problems(warehouse: Warehouse, config: Config, results: list[PolicyResult]) -> list[str]:
    """Policies naming an unknown entity, or finding no value: errors, not silent passes."""
    try:
        check_policies(config, known_entities(warehouse, config))
    except PolicyError as exc:
        return str(exc).splitlines()
    return unevaluated(config, results)


def write_index(out: Path, config: Config) -> Path:
    """Rewrite ``out/index.html``: every archived run, its status and reports, newest first."""
    return archive.write_index(out, jinja_env(config, []))
