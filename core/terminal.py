"""What the command line shows on stderr: mlreport's own log lines, progress on a terminal only,
and other libraries' warnings only when asked for (``-v``).

A nightly job's stderr is mailed by cron and kept by CI, so on success it stays empty: font
subsetting notices from fontTools, CSS notes from WeasyPrint and Python ``warnings`` from any
library are hidden unless ``-v`` (their warnings) or ``-vv`` (everything, with tracebacks).
Imports of rich happen only when a terminal is attached (``mlreport --help`` stays fast).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import click

OURS = "mlreport"


def is_ours(name: str) -> bool:
    return name == OURS or name.startswith(OURS + ".")


def one_line(message: str) -> str:
    """An error message as one line of stderr: its lines joined, blank ones dropped."""
    return "; ".join(line.strip() for line in message.splitlines() if line.strip())


class ThirdPartyFilter(logging.Filter):
    """Lets mlreport's records through; other libraries' (``py.warnings`` included) only from
    ``-v`` on, and then only warnings and errors unless ``-vv``."""

    def __init__(self, verbose: int) -> None:
        super().__init__()
        self.verbose = verbose

    def filter(self, record: logging.LogRecord) -> bool:
        if is_ours(record.name) or self.verbose >= 2:
            return True
        return self.verbose == 1 and record.levelno >= logging.WARNING


class _Format(logging.Formatter):
    """``LEVEL message`` for mlreport's records; other libraries' also name their logger."""

    def __init__(self) -> None:
        super().__init__("%(levelname)s %(message)s")
        self.named = logging.Formatter("%(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        return super().format(record) if is_ours(record.name) else self.named.format(record)


class Redact(logging.Formatter):
    """Formats a log record, traceback included (``-vv``), with every secret replaced."""

    def __init__(self, base: logging.Formatter | None, secrets: frozenset[str]) -> None:
        super().__init__()
        self.base = base or logging.Formatter()
        self.secrets = sorted(secrets, key=len, reverse=True)

    def format(self, record: logging.LogRecord) -> str:
        text = self.base.format(record)
        for s in self.secrets:
            text = text.replace(s, "***")
        return text


# Cloud SDK loggers whose DEBUG/INFO records include request headers (session tokens) and
# credential responses (STS): capped at WARNING even under -vv, since no redaction knows them.
CREDENTIAL_LOGGERS = ("botocore", "boto3", "s3transfer", "urllib3")
CREDENTIAL_LOGGERS += ("google", "google_auth_httplib2", "requests", "azure", "msal")


def setup_logging(verbose: int, quiet: bool) -> None:
    """One stderr handler for the whole process; Python warnings become log records
    (``py.warnings``) so they are filtered like any other library's."""
    if quiet:
        level = logging.ERROR
    else:
        level = logging.DEBUG if verbose > 1 else logging.INFO if verbose else logging.WARNING
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Format())
    handler.addFilter(ThirdPartyFilter(0 if quiet else verbose))
    logging.basicConfig(level=level, handlers=[handler], force=True)
    logging.captureWarnings(True)
    for name in CREDENTIAL_LOGGERS:  # their debug records carry tokens and STS credentials
        logging.getLogger(name).setLevel(max(level, logging.WARNING))


class _Progress:
    """Rows-synced counters as rich progress bars, drawn on stderr (stdout carries results)."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        self.bars = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TextColumn("{task.completed:,} rows"),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            transient=True,
        )
        self.tasks: dict[str, Any] = {}

    def __call__(self, source: str, stream: str, rows: int) -> None:
        key = f"{source}/{stream}"
        if key not in self.tasks:
            self.tasks[key] = self.bars.add_task(key, total=None)
        self.bars.update(self.tasks[key], completed=rows)


@contextmanager
def progress() -> Iterator[Callable[..., None] | None]:
    """A progress callback on a terminal; ``None`` under cron, CI or a pipe, and with ``-q``."""
    if not sys.stderr.isatty() or logging.getLogger().getEffectiveLevel() > logging.WARNING:
        yield None
        return
    display = _Progress()
    with display.bars:
        yield display


_NO_ARGS = getattr(click.exceptions, "NoArgsIsHelpError", ())


def run_cli(cli: click.Group) -> None:
    """Run ``cli`` as the ``mlreport`` program, with a usage error in one line (click prints
    the usage, a hint and the error on three)."""
    try:
        code = cli.main(prog_name="mlreport", standalone_mode=False)
    except _NO_ARGS as exc:  # plain `mlreport`: the help is the answer, not an error
        exc.show()
        sys.exit(exc.exit_code)
    except click.UsageError as exc:
        where = exc.ctx.command_path if exc.ctx else "mlreport"
        click.echo(f"Error: {exc.format_message()} (see {where} --help)", err=True)
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.Abort:
        click.echo("Error: interrupted", err=True)
        sys.exit(130)
    except BrokenPipeError:  # `mlreport sql ... | head` closed the pipe: not an error of ours
        sys.stderr.close()
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)
