"""``mlreport diff [RUN_A] [RUN_B]``: what changed between two stored metrics runs — the same
comparison every report's "Since last run" block shows (:mod:`mlreport.changes`).

Added through ``register_commands`` like a third-party command; it imports nothing heavy until
it runs, so ``mlreport --help`` stays fast.
"""

from __future__ import annotations

import json
import math
from typing import Any

import click

from mlreport import hookimpl


@hookimpl
def register_commands(cli: click.Group) -> None:
    @cli.command()
    @click.argument("run_a", required=False)
    @click.argument("run_b", required=False)
    @click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
    @click.option(
        "--limit",
        type=click.IntRange(min=0),
        default=10,
        show_default=True,
        help="Largest moves listed (0: all).",
    )
    @click.option("--list", "list_runs", is_flag=True, help="List the stored runs and exit.")
    @click.pass_obj
    def diff(
        state: Any, run_a: str | None, run_b: str | None, fmt: str, limit: int, list_runs: bool
    ) -> None:
        """Changes between two metrics runs (default: the last run and the one before it).

        RUN_A is the earlier run, RUN_B the later; a unique prefix of a run id is enough
        (`--list` shows them)."""
        from mlreport.cli import handle_errors

        handle_errors(_diff)(state, run_a, run_b, fmt, limit, list_runs)


def _diff(
    state: Any, run_a: str | None, run_b: str | None, fmt: str, limit: int, list_runs: bool
) -> None:
    from mlreport.changes import compare, previous_run
    from mlreport.metric_store import load_run

    with state.warehouse(read_only=True) as wh:
        if list_runs:
            _print_runs(wh, fmt)
            return
        if run_b is None and run_a is not None:
            raise ValueError("give two runs (RUN_A earlier, RUN_B later), or none for the last two")
        if run_a is None:
            after = load_run(wh, _latest(wh))
            before = previous_run(wh, after)
            if before is None:
                raise ValueError(
                    f"run {after.run_id} has no earlier run of the same scope to compare with; "
                    "name two runs (see `mlreport diff --list`)"
                )
        else:
            before, after = load_run(wh, _resolve(wh, run_a)), load_run(wh, _resolve(wh, run_b))
        changes = compare(state.config, before, after, limit=limit)
    data = changes.as_json(with_ids=True)
    if fmt == "json":
        click.echo(json.dumps(_finite(data), indent=2, sort_keys=True, allow_nan=False))
    else:
        _print_table(data)


def _latest(wh: Any) -> str:
    from mlreport.metric_store import has_scopes

    if not has_scopes(wh):
        raise ValueError(
            f"{wh.path} predates run scopes (migration 008); open it once read-write (any "
            "`mlreport run`) or name two runs (see `mlreport diff --list`)"
        )
    rows = wh.con.execute(
        "SELECT run_id FROM metric_runs WHERE as_of IS NOT NULL "
        "ORDER BY as_of DESC, computed_at DESC, run_id LIMIT 1"
    ).fetchall()
    if not rows:
        raise ValueError(
            "the warehouse holds no run of `mlreport run` or `mlreport report` yet; run one first"
        )
    return rows[0][0]


def _resolve(wh: Any, text: str) -> str:
    """A run id from the id or a unique prefix of it."""
    if not text or not all(c in "0123456789abcdef" for c in text.lower()):
        raise ValueError(f"{text!r} is not a run id (see `mlreport diff --list`)")
    rows = wh.con.execute(
        "SELECT run_id FROM metric_runs WHERE starts_with(run_id, ?) ORDER BY run_id",
        [text.lower()],
    ).fetchall()
    if not rows:
        raise ValueError(f"no metrics run {text!r} in the warehouse (see `mlreport diff --list`)")
    if len(rows) > 1:
        raise ValueError(
            f"{text!r} names {len(rows)} runs ({', '.join(r[0][:12] for r in rows[:3])}…); "
            "give more of the id"
        )
    return rows[0][0]


def _print_runs(wh: Any, fmt: str) -> None:
    from mlreport.metric_store import has_scopes

    scope = "as_of, computed_at, scope" if has_scopes(wh) else "NULL, computed_at, NULL"
    rows = wh.con.execute(
        f"SELECT run_id, {scope} FROM metric_runs ORDER BY computed_at DESC, run_id"
    ).fetchall()
    from mlreport.times import iso

    runs = [
        {
            "run_id": r[0],
            "as_of": iso(r[1]),
            "computed_at": iso(r[2]),
            "entities": json.loads(r[3]) if r[3] else None,
        }
        for r in rows
    ]
    if fmt == "json":
        click.echo(json.dumps(runs, indent=2))
        return
    for r in runs:
        scope = ", ".join(r["entities"]) if r["entities"] else "all entities"
        as_of = r["as_of"] or "(metrics/check)"
        click.echo(f"{r['run_id']}  as of {as_of}  computed {r['computed_at']}  {scope}")


def _print_table(data: dict[str, Any]) -> None:
    prev, cur = data["previous"], data["current"]
    click.echo(f"from run {prev['run_id']} (as of {prev['as_of'] or '-'})")
    click.echo(f"to   run {cur['run_id']} (as of {cur['as_of'] or '-'})")
    for title, items, now, then in (
        ("new failures", data["new_failures"], "failing_value", "other_value"),
        ("resolved failures", data["resolved_failures"], "other_value", "failing_value"),
    ):
        click.echo(f"\n{title}: {len(items)}")
        for f in items:
            click.echo(f"  {_where(f)}: {_num(f[then])} -> {_num(f[now])}")
    click.echo(f"\nlargest moves: {len(data['moves'])} of {data['moved']} changed values")
    for m in data["moves"]:
        rel = (
            "new value"
            if m["before"] is None
            else "no value now"
            if m["after"] is None
            else "from zero"
            if m["relative"] is None
            else f"{m['relative'] * 100:+.1f}%"
        )
        click.echo(f"  {_where(m)}: {_num(m['before'])} -> {_num(m['after'])} ({rel})")


def _where(item: dict[str, Any]) -> str:
    dims = "".join(f" {k}={v}" for k, v in sorted(item["dimensions"].items()))
    return f"{item['metric']} {item['entity']}{dims}"


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.6g}"


def _finite(obj: Any) -> Any:
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_finite(v) for v in obj]
    return obj
