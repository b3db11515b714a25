"""Built-in plugin: ``mlreport keygen``, ``verify`` and ``history`` — signed, verifiable report
runs and their audit trail. Registered through ``register_commands`` like a third-party
plugin's commands; it imports only click until a command runs, so ``mlreport --help`` stays fast.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import click

from mlreport.cli import EXIT_ERROR, EXIT_OK, EXIT_POLICY, _print_rows, handle_errors
from mlreport.hookspecs import hookimpl

HISTORY_COLUMNS = [
    "as_of",
    "report",
    "status",
    "signature",
    "signer",
    "out_dir",
    "run_id",
    "finished_at",
]


@hookimpl
def register_commands(cli):
    cli.add_command(keygen)
    cli.add_command(verify)
    cli.add_command(history)


@click.command()
@click.option("--out", type=click.Path(file_okay=False), default=".", show_default=True)
@click.option("--force", is_flag=True, help="Replace an existing key pair.")
@click.option(
    "--password-env",
    metavar="VAR",
    help="Encrypt the secret key with the password in environment variable VAR.",
)
def keygen(out: str, force: bool, password_env: str | None) -> None:
    """Write a minisign key pair: mlreport.key (mode 0600) and mlreport.pub."""
    from mlreport.signing import SigningError, generate_key_pair

    password = None
    if password_env:
        password = os.environ.get(password_env)
        if not password:
            click.echo(f"Error: --password-env: {password_env} is not set or empty", err=True)
            sys.exit(EXIT_ERROR)
    try:
        secret, public, key_id = generate_key_pair(Path(out), force, password)
    except (SigningError, OSError) as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(EXIT_ERROR)
    click.echo(str(secret))
    click.echo(str(public))
    key_file = json.dumps(str(secret.resolve()))  # a TOML basic string
    click.echo(
        f"key {key_id}: add to mlreport.toml\n  [signing]\n  key_file = {key_file}\n"
        + ('  key_password = "${' + password_env + '}"\n' if password_env else "")
        + '  signer = "Your Name <you@example.com>"\n'
        f"Keep {secret.name} secret; give {public.name} to whoever verifies the reports.",
        err=True,
    )


@click.command()
@click.argument("folder", type=click.Path(file_okay=False))
@click.option(
    "--key",
    "key_path",
    type=click.Path(dir_okay=False),
    help="The signer's minisign public key (default: [signing] public_key_file, or "
    "key_file with .pub).",
)
@click.pass_obj
@handle_errors
def verify(state: Any, folder: str, key_path: str | None) -> None:
    """Check a report run's folder against its signed statements.

    Exit 0: every output matches and every signature is good; 1: a file changed, is missing
    or extra, or the signature is not by that key; 2: nothing could be checked.
    """
    from mlreport.attestation import verify_folder
    from mlreport.signing import public_key_path, read_public_key

    if key_path:
        public_key = read_public_key(Path(key_path))
    else:
        configured = public_key_path(state.config)
        where = "[signing] public_key_file (or key_file with .pub)"
        public_key = read_public_key(configured, where) if configured else None
    result = verify_folder(Path(folder), public_key)
    for note in result.notes:
        click.echo(f"note: {note}")
    for name, problem in result.problems:
        click.echo(f"FAILED {_printable(name)}: {problem}")
    if result.problems:
        click.echo(f"{folder}: {len(result.problems)} problem(s); do not trust this run")
        sys.exit(EXIT_POLICY)
    click.echo(
        f"{folder}: OK, {len(result.checked)} file(s) match {len(result.statements)} statement(s)"
    )
    sys.exit(EXIT_OK)


@click.command()
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@click.option("--report", "report_type", help="Only runs of this report type.")
@click.option("--limit", type=click.IntRange(min=1), default=100, show_default=True)
@click.option("--verify", "check", is_flag=True, help="Check each run's folder now.")
@click.pass_obj
@handle_errors
def history(state: Any, fmt: str, report_type: str | None, limit: int, check: bool) -> None:
    """List past report runs, newest first: as-of, type, outcome, signature, folder."""
    rows = past_runs(state, report_type, limit)
    if check:
        for row in rows:
            row["signature"] = current_signature(state, row)
    _print_rows(rows, HISTORY_COLUMNS, fmt)


def _printable(name: str) -> str:
    """A file name as it can be shown on a terminal: one with control characters (a hostile
    name with a line break or an escape sequence) is shown quoted and escaped."""
    return name if name.isprintable() else repr(name)


def past_runs(state: Any, report_type: str | None, limit: int) -> list[dict[str, Any]]:
    from mlreport.times import iso

    if not state.warehouse_path.exists():
        raise ValueError(
            f"{state.warehouse_path}: no warehouse yet, so no report runs; run `mlreport run`"
        )
    with state.warehouse(read_only=True) as wh:
        where = "WHERE report = ?" if report_type else ""
        have = set(wh.columns("report_runs"))  # a warehouse not yet migrated to 006 lacks some
        columns = ", ".join(c if c in have else f"NULL AS {c}" for c in HISTORY_COLUMNS)
        frame = wh.query(
            f"SELECT {columns} FROM report_runs {where} "
            "ORDER BY as_of DESC, started_at DESC, run_id LIMIT ?",
            [report_type, limit] if report_type else [limit],
        )
    rows = frame.to_dicts()
    for row in rows:
        row["as_of"], row["finished_at"] = iso(row["as_of"]), iso(row["finished_at"])
        row["signature"] = row["signature"] or "unrecorded"  # runs from before migration 006
    return rows


def current_signature(state: Any, row: dict[str, Any]) -> str:
    """``valid``, ``unsigned``, ``tampered``, ``folder missing`` or ``unverifiable: …`` now."""
    from mlreport.attestation import statement_name, verify_folder
    from mlreport.signing import SigningError, public_key_path, read_public_key

    folder = Path(row["out_dir"]) if row["out_dir"] else None
    if folder is None or not (folder / statement_name(row["report"])).exists():
        return "folder missing"
    try:
        configured = public_key_path(state.config) if row["signature"] == "signed" else None
        public_key = read_public_key(configured) if configured else None
        result = verify_folder(folder, public_key, only=statement_name(row["report"]))
    except SigningError as exc:
        return f"unverifiable: {exc}"
    except OSError as exc:
        return f"unverifiable: {exc.strerror}"
    if result.problems:
        return "tampered"
    return "valid" if public_key is not None else "unsigned"
