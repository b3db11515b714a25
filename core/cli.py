"""The ``mlreport`` command line. Results go to stdout; logs and progress to stderr.

Each command imports what it needs when it runs, so ``mlreport --version`` and ``--help`` do
not pay for polars, DuckDB, pydantic, scikit-learn or WeasyPrint (benchmarks/bench_cli_startup.py).
"""

from __future__ import annotations

import csv
import errno
import io
import json
import logging
import sys
import time
from collections.abc import Callable
from functools import wraps
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from mlreport import CONFIG_NAME, __version__
from mlreport.schedule import SCHEDULES, render_schedule
from mlreport.terminal import Redact, one_line, run_cli, setup_logging
from mlreport.terminal import progress as show_progress
from mlreport.wording import plural

if TYPE_CHECKING:
    from mlreport.config import Config
    from mlreport.warehouse import Warehouse

EXIT_OK, EXIT_POLICY, EXIT_ERROR = 0, 1, 2
# Errors of the machine, not of mlreport: say what to do instead of "this is a bug".
DISK_ERRORS = {
    errno.ENOSPC: "free some space on that file system, or point [output] dir or "
    "[warehouse] path elsewhere, and run again",
    errno.EDQUOT: "the disk quota is exhausted; free some space and run again",
    errno.EROFS: "that file system is read-only; point [output] dir or [warehouse] path "
    "at a writable one",
    errno.EACCES: "this user may not write there; fix the permissions or choose another folder",
    errno.EPERM: "this user may not write there; fix the permissions or choose another folder",
}

log = logging.getLogger("mlreport")


class State:
    def __init__(self, config_path: str | None, warehouse: str | None, verbosity: int) -> None:
        self.config_path = config_path
        self.warehouse_override = warehouse
        self.verbosity = verbosity
        self._config: Config | None = None

    @property
    def config(self) -> Config:
        if self._config is None:
            from mlreport.config import load_config

            self._config = load_config(self.config_path)
            for handler in logging.getLogger().handlers:
                handler.setFormatter(Redact(handler.formatter, self._config.secrets))
        return self._config

    @property
    def warehouse_path(self) -> Path:
        if self.warehouse_override:
            return Path(self.warehouse_override)
        return self.config.warehouse.path

    def warehouse(self, read_only: bool = False) -> Warehouse:
        """The warehouse; a file this user may not write is opened read-only for commands that
        only read (metrics, check, report compute what they need without storing it)."""
        import os

        from mlreport.warehouse import Warehouse

        path = self.warehouse_path
        if not read_only and path.exists() and not os.access(path, os.W_OK):
            log.info("%s is read-only: metrics are computed but not stored", path)
            read_only = True
        return Warehouse(path, read_only=read_only)


def _fail(message: str, state: State | None) -> None:
    """``Error: ...`` on one line of stderr (a multi-line message is joined), exit 2."""
    if state is not None and state._config is not None:
        message = state._config.redact(message)
    click.echo(f"Error: {one_line(message)}", err=True)
    sys.exit(EXIT_ERROR)


def handle_errors(fn: Callable) -> Callable:
    """Turn the errors a user can fix into one clear line and exit code 2."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        state = click.get_current_context().find_object(State)
        try:
            return fn(*args, **kwargs)
        except (click.exceptions.Exit, click.ClickException, SystemExit, KeyboardInterrupt):
            raise
        except Exception as exc:  # never let a crash look like a policy failure (exit 1)
            import duckdb

            from mlreport.errors import USER_ERRORS

            log.debug("%s failed", click.get_current_context().command_path, exc_info=True)
            if isinstance(exc, USER_ERRORS):
                _fail(str(exc), state)
            if isinstance(exc, duckdb.Error):
                _fail(f"warehouse: {exc}", state)
            if isinstance(exc, OSError) and exc.errno in DISK_ERRORS:
                where = f"{exc.filename}: " if exc.filename else ""
                _fail(f"{where}{exc.strerror}: {DISK_ERRORS[exc.errno]}", state)
            _fail(
                f"unexpected {type(exc).__name__}: {exc} (run with -vv for the traceback; "
                "this is a bug, please report it)",
                state,
            )

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="mlreport")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    help=f"Config file (default: $MLREPORT_CONFIG or ./{CONFIG_NAME}).",
)
@click.option(
    "--warehouse",
    type=click.Path(dir_okay=False),
    help="DuckDB warehouse file (overrides [warehouse] path).",
)
@click.option(
    "-v",
    "--verbose",
    count=True,
    help="-v: progress notes and other libraries' warnings; -vv: debug and tracebacks.",
)
@click.option("-q", "--quiet", is_flag=True, help="Only errors on stderr.")
@click.pass_context
def cli(ctx: click.Context, config_path, warehouse, verbose, quiet) -> None:
    """Metrics and governance reports for ML operations."""
    setup_logging(verbose, quiet)
    ctx.obj = State(config_path, warehouse, verbose)


@cli.command()
@click.option("--path", default=CONFIG_NAME, type=click.Path(dir_okay=False), show_default=True)
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
def init(path: str, force: bool) -> None:
    """Write a commented mlreport.toml."""
    target = Path(path)
    if target.exists() and not force:
        click.echo(f"Error: {target} exists; pass --force to overwrite it", err=True)
        sys.exit(EXIT_ERROR)
    text = resources.files("mlreport").joinpath("templates/mlreport.toml").read_text()
    target.write_text(text, encoding="utf-8")
    click.echo(str(target))


@cli.command()
@click.argument("sources", nargs=-1)
@click.option("--full", is_flag=True, help="Ignore cursors and re-read everything.")
@click.option("--fail-fast", is_flag=True, help="Stop at the first source that fails.")
@click.pass_obj
@handle_errors
def sync(state: State, sources: tuple[str, ...], full: bool, fail_fast: bool) -> None:
    """Pull sources into the warehouse (incrementally by default)."""
    from mlreport.lock import run_lock
    from mlreport.pipeline import sync_all

    with run_lock(state.warehouse_path), state.warehouse() as wh, show_progress() as progress:
        results = sync_all(wh, state.config, list(sources), full, progress, fail_fast)
    for st in results:
        if st.error is None:
            click.echo(
                f"{st.source}\t{plural(st.rows, 'row')}\t{json.dumps(st.reads, sort_keys=True)}"
            )
    failures = [st for st in results if st.error is not None]
    for st in failures:
        error = one_line(f"source {st.source}: {st.error}")
        click.echo(f"Error: {error} (its previous data is kept)", err=True)
    sys.exit(EXIT_ERROR if failures else EXIT_OK)


def _window_options(fn: Callable) -> Callable:
    fn = click.option("--as-of", help="Evaluate as of this time (default now).")(fn)
    fn = click.option("--until", help="Window end, exclusive (default --as-of).")(fn)
    fn = click.option("--since", help="Window start (default 90 days before --until).")(fn)
    return fn


def _json_safe(value: Any) -> Any:
    """JSON has no NaN or infinity: they print as null (the docs say so)."""
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


def _print_rows(rows: list[dict[str, Any]], columns: list[str], fmt: str) -> None:
    if fmt == "json":
        click.echo(json.dumps(_json_safe(rows), indent=2, default=str, allow_nan=False))
    elif fmt == "csv":
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        for r in rows:
            writer.writerow(
                {k: json.dumps(v) if isinstance(v, dict | list) else v for k, v in r.items()}
            )
        click.echo(buf.getvalue(), nl=False)
    else:
        from rich.console import Console
        from rich.table import Table

        table = Table(*columns, box=None, header_style="bold")
        for r in rows:
            table.add_row(*[_cell(r[c]) for c in columns])
        Console(width=200 if not sys.stdout.isatty() else None).print(table)


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, dict):
        return ",".join(f"{k}={x}" for k, x in v.items())
    return str(v)


@cli.command()
@click.option(
    "--metric",
    "patterns",
    multiple=True,
    help="Glob over metric names (dora.*); repeatable, or a comma list. Default: all.",
)
@click.option("--entity", "entities", multiple=True, help="Only this entity (repeatable).")
@_window_options
@click.option("--by", type=click.Choice(["week", "month"]), help="A series, one row per period.")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table")
@click.pass_obj
@handle_errors
def metrics(state: State, patterns, entities, since, until, as_of, by, fmt) -> None:
    """Compute metrics and print them."""
    from mlreport.metrics import (
        METRIC_COLUMNS,
        check_patterns,
        compute_metrics,
        default_window,
        split_window,
        to_records,
    )

    wanted = [p.strip() for value in patterns for p in value.split(",") if p.strip()] or ["*"]
    check_patterns(wanted)
    window = default_window(state.config, since, until, as_of)
    with state.warehouse() as wh:
        frame = compute_metrics(
            wh, state.config, split_window(window, by), wanted, list(entities) or None
        )
    _print_rows(to_records(frame), METRIC_COLUMNS, fmt)


@cli.command()
@click.argument("report_type")
@click.option("--format", "formats", help="Comma list of html,pdf,json,md.")
@click.option("--out", type=click.Path(file_okay=False), default=".", show_default=True)
@_window_options
@click.option("--title", help="Report title.")
@click.option("--entity", "entities", multiple=True, help="Only this entity (repeatable).")
@click.pass_obj
@handle_errors
def report(state: State, report_type, formats, out, since, until, as_of, title, entities):
    """Render one report."""
    from mlreport.metrics import default_window
    from mlreport.pipeline import report_formats
    from mlreport.plugin_manager import get_plugins
    from mlreport.reporting import ReportContext, failed_families, render_report
    from mlreport.times import parse_time, utcnow

    as_of_dt = parse_time(as_of, "--as-of") or utcnow()
    window = default_window(state.config, since, until, as_of_dt)
    fmts = report_formats(
        state.config, report_type, [f.strip() for f in formats.split(",")] if formats else None
    )
    with state.warehouse() as wh:
        ctx = ReportContext(wh, state.config, window, as_of_dt, title, list(entities) or None)
        outputs = render_report(ctx, report_type, fmts, Path(out))
        failed = failed_families(ctx, get_plugins().reports().get(report_type))
    for path in outputs.values():
        click.echo(str(path))
    for family, error in failed.items():
        error = one_line(f"metric family {family} failed, its parts are empty: {error}")
        click.echo(f"Error: {error}", err=True)
    for error in ctx.errors:
        click.echo(f"Error: {one_line(error)}", err=True)
    sys.exit(EXIT_ERROR if failed or ctx.errors else EXIT_OK)


@cli.command()
@click.option(
    "--out", type=click.Path(file_okay=False), help="Archive folder (default [output] dir)."
)
@click.option("--as-of", help="Run as of this time (default now).")
@click.option("--wait", type=float, default=0, help="Seconds to wait for another run's lock.")
@click.option("--fail-fast", is_flag=True, help="Stop at the first source that fails.")
@click.pass_obj
@handle_errors
def run(state: State, out, as_of, wait, fail_fast) -> None:
    """The nightly job: sync, metrics, reports, archive, check, notify."""
    from mlreport import pipeline
    from mlreport.lock import run_lock

    out_dir = Path(out) if out else state.config.output.dir
    deadline = time.monotonic() + wait
    with run_lock(state.warehouse_path, wait):
        wh = _open_waiting(state, deadline)
        with wh, show_progress() as progress:
            outcome = pipeline.run(wh, state.config, out_dir, as_of, progress, fail_fast)
    _print_outcome(outcome, out_dir)
    sys.exit(outcome_code(outcome))


def _open_waiting(state: State, deadline: float) -> Warehouse:
    """Open the warehouse, waiting until ``deadline`` while another process (an audit's
    ``mlreport sql``, say) holds DuckDB's own lock on the file: ``--wait`` covers both locks."""
    from mlreport.warehouse import WarehouseError

    while True:
        try:
            return state.warehouse()
        except WarehouseError as exc:
            if "in use by another" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(0.2)


def outcome_code(outcome: Any) -> int:
    """2 when a source or a family failed (the reports are written all the same), else 1 when
    a policy failed, else 0."""
    if outcome.errors:
        return EXIT_ERROR
    return EXIT_POLICY if outcome.failed else EXIT_OK


def _print_outcome(outcome: Any, out_dir: Path, policies_to_log: bool = False) -> None:
    """Output paths on stdout; policies that did not pass on stderr (or, for the demo, whose
    sample fails some on purpose, in the log that ``-v`` shows)."""
    for outputs in outcome.outputs.values():
        for path in outputs.values():
            click.echo(str(path))
    click.echo(str(out_dir / "index.html"))
    for p in outcome.policies:
        if not p.passed and policies_to_log:
            log.info("%s", p.message)
        elif not p.passed:
            click.echo(p.message, err=True)
    for error in outcome.errors:
        click.echo(f"Error: {one_line(error)}", err=True)


@cli.command()
@_window_options
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@click.pass_obj
@handle_errors
def check(state: State, since, until, as_of, fmt) -> None:
    """Evaluate policies: exit 0 all pass, 1 a policy failed, 2 an error."""
    from mlreport.metrics import compute_metrics, default_window
    from mlreport.pipeline import policy_problems
    from mlreport.policies import check_policies, evaluate, failed

    check_policies(state.config)
    window = default_window(state.config, since, until, as_of)
    with state.warehouse() as wh:
        results = evaluate(state.config, compute_metrics(wh, state.config, [window]))
        problems = policy_problems(wh, state.config, results)
    if fmt == "json":
        click.echo(json.dumps([r.as_dict() for r in results], indent=2))
    else:
        for r in results:
            click.echo(r.message)
        if not results and not problems:
            click.echo("no policies are configured")
    for problem in problems:
        click.echo(f"Error: {problem}", err=True)
    if problems:
        sys.exit(EXIT_ERROR)
    sys.exit(EXIT_POLICY if failed(results) else EXIT_OK)


@cli.command()
@click.argument("query")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table")
@click.pass_obj
@handle_errors
def sql(state: State, query: str, fmt: str) -> None:
    """Read-only SQL over the warehouse (no other file, no network)."""
    import duckdb

    from mlreport.warehouse import Warehouse

    with Warehouse(state.warehouse_path, sandbox=True) as wh:
        try:
            rel = wh.con.execute(query)
        except duckdb.ParserException as exc:
            raise ValueError(f"SQL does not parse: {exc}") from None
        except (duckdb.PermissionException, duckdb.InvalidInputException) as exc:
            raise ValueError(
                f"mlreport sql is read-only and reads only the warehouse and the prediction-log "
                f"files it synced: {str(exc).splitlines()[0]}"
            ) from None
        columns = [d[0] for d in rel.description or []]
        rows = [dict(zip(columns, r, strict=True)) for r in rel.fetchall()]
    _print_rows(rows, columns, fmt)


@cli.command()
@click.option("--all", "show_all", is_flag=True, help="Include built-in plugins.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
def plugins(show_all: bool, fmt: str) -> None:
    """List plugins, their versions, hooks and load errors."""
    from mlreport.plugin_manager import get_plugins

    rows = get_plugins().describe(include_builtin=show_all)
    if fmt == "json":
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("no third-party plugins installed (--all lists the built-in ones)")
    for r in rows:
        click.echo(f"{r['name']} {r['version'] or ''}".rstrip())
        if r["hooks"]:
            click.echo(f"  hooks: {', '.join(r['hooks'])}")
        for what in r.get("replaces", []):
            click.echo(f"  replaces: {what}")
        for e in r["errors"]:
            click.echo(f"  error: {e}")


@cli.command()
@click.pass_obj
def doctor(state: State) -> None:
    """Check the config and that each source is reachable."""
    from mlreport.config import ConfigError
    from mlreport.errors import USER_ERRORS
    from mlreport.plugin_manager import get_plugins
    from mlreport.sources import build_source

    ok = True
    try:
        config = state.config
        click.echo(f"config: ok ({config.file or 'no file, defaults'})")
    except ConfigError as exc:
        click.echo(f"config: {exc}")
        sys.exit(EXIT_ERROR)
    for err in get_plugins().load_errors:
        click.echo(f"plugin {err.plugin}: {err.stage} failed: {err.error}")
        ok = False
    from mlreport.signing import doctor_check

    signing_ok, line = doctor_check(config)
    click.echo(f"signing: {config.redact(line)}")
    ok = ok and signing_ok
    for i, src in enumerate(config.sources):
        try:
            msg = build_source(src, config, i).check()
            click.echo(f"source {src.name}: {msg}")
        except USER_ERRORS as exc:
            click.echo(f"source {src.name}: {config.redact(str(exc))}")
            ok = False
    try:
        with state.warehouse() as wh:
            click.echo(f"warehouse: ok ({wh.path}, schema {wh.schema_version()})")
    except USER_ERRORS as exc:
        click.echo(f"warehouse: {exc}")
        ok = False
    sys.exit(EXIT_OK if ok else EXIT_ERROR)


@cli.command()
@click.option("--out", type=click.Path(file_okay=False), default="mlreport-demo", show_default=True)
@click.option("--force", is_flag=True, help="Use a folder that holds something else.")
@click.pass_obj
@handle_errors
def demo(state: State, out: str, force: bool) -> None:
    """Run the whole pipeline on the bundled sample organisation (no network)."""
    from mlreport import pipeline
    from mlreport.lock import run_lock
    from mlreport.sample_data import materialize
    from mlreport.warehouse import Warehouse

    out_dir = Path(out).resolve()
    if not force and _holds_other_things(out_dir):
        raise ValueError(
            f"{out_dir} is not empty and is not a demo folder; the demo would overwrite its "
            "mlreport.toml and add sample rows to its warehouse. Pick an empty folder, or pass "
            "--force"
        )
    config, as_of = materialize(out_dir)
    (out_dir / DEMO_MARK).write_text("written by `mlreport demo`\n", encoding="utf-8")
    state._config = config
    with (
        run_lock(config.warehouse.path),
        Warehouse(config.warehouse.path) as wh,
        show_progress() as progress,
    ):
        outcome = pipeline.run(wh, config, config.output.dir, as_of, progress)
    log.info("demo outputs in %s", outcome.out_dir)
    _print_outcome(outcome, config.output.dir, policies_to_log=True)
    sys.exit(EXIT_ERROR if outcome.errors else EXIT_OK)


@cli.command()
@click.option("--print", "kind", type=click.Choice(sorted(SCHEDULES)), required=True)
@click.option("--at", "at", default="02:30", show_default=True, help="Time of day, HH:MM.")
@click.option("--wait", type=int, default=600, show_default=True, help="Seconds to queue.")
@click.option("--image", default="python:3.11", show_default=True, help="Kubernetes image.")
@click.pass_obj
@handle_errors
def schedule(state: State, kind: str, at: str, wait: int, image: str) -> None:
    """Print a ready template for the nightly job (cron, systemd, kubernetes, CI)."""
    click.echo(render_schedule(kind, state.config, at, wait, image), nl=False)


DEMO_MARK = ".mlreport-demo"  # written by the demo, so running it again in place is fine


def _holds_other_things(folder: Path) -> bool:
    if not folder.exists():
        return False
    if not folder.is_dir():
        return True
    return any(folder.iterdir()) and not (folder / DEMO_MARK).exists()


def _load_command_plugins() -> None:
    """Add the commands of third-party plugins; built-in plugins add none, so they are not
    imported here (``mlreport --help`` stays fast)."""
    from mlreport.plugin_manager import add_plugin_commands

    add_plugin_commands(cli)


def main() -> None:
    _load_command_plugins()
    run_cli(cli)
