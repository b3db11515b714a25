"""The registry history the ``lifecycle`` family publishes for reports, so that reports and
metrics agree on which aliases are production, what a rollback is and what "governed" means
without a report importing this plugin.

- ``details.lifecycle_alias_events``: every alias event in history order (``seq``), with
  ``production`` (the alias means production for its source), ``move`` (it is the one
  production move of its version at that instant), ``previous`` (the version the alias left)
  and ``rollback``.
- ``details.lifecycle_versions``: each registered version with its governance flags
  (``has_owner``, ``has_description``, ``approved``) and the ``approval_tag`` of its source.
- ``details.lifecycle_models``: each registered model with its production aliases as they
  stand in the last registry snapshot (``production_aliases``, JSON ``{alias: version}``).
"""

from __future__ import annotations

import json

import polars as pl

from mlreport.coerce import as_dict
from mlreport.metrics import MetricContext
from mlreport.plugins.lifecycle.registry import Facts

TIME = pl.Datetime("us", "UTC")


def publish(ctx: MetricContext, f: Facts) -> None:
    ctx.publish("lifecycle_alias_events", alias_events(f))
    ctx.publish("lifecycle_versions", versions(f))
    ctx.publish("lifecycle_models", models(f))


def alias_events(f: Facts) -> pl.DataFrame:
    moves = {(m.source, m.name, m.version, m.at, m.alias): m for m in f.moves}
    rows = []
    for seq, e in enumerate(f.events):
        move = moves.get((e["source"], e["name"], e["version"], e["at"], e["alias"]))
        rows.append(
            {
                "seq": seq,
                **{k: e[k] for k in ("source", "name", "version", "event", "at", "at_kind")},
                "alias": e["alias"],
                "production": f.settings.is_production(e["source"], e["alias"]),
                "move": move is not None,
                "previous": move.previous if move else e["previous"],
                "rollback": move.rollback if move else None,
            }
        )
    schema = {
        "seq": pl.Int64,
        "source": pl.String,
        "name": pl.String,
        "version": pl.String,
        "event": pl.String,
        "at": TIME,
        "at_kind": pl.String,
        "alias": pl.String,
        "production": pl.Boolean,
        "move": pl.Boolean,
        "previous": pl.String,
        "rollback": pl.Boolean,
    }
    return pl.DataFrame(rows, schema=schema)


def versions(f: Facts) -> pl.DataFrame:
    flags = [
        f.governed(r["source"], r["name"], r["version"]) for r in f.versions.iter_rows(named=True)
    ]
    return f.versions.select(
        "source",
        "name",
        "version",
        "run_id",
        "model_source",
        "status",
        "description",
        "created_at",
    ).with_columns(
        pl.Series("has_owner", [g["owner"] for g in flags], pl.Boolean),
        pl.Series("has_description", [g["description"] for g in flags], pl.Boolean),
        pl.Series("approved", [g["approval"] for g in flags], pl.Boolean),
        pl.Series(
            "approval_tag",
            [f.settings.approval_tag(s) for s in f.versions["source"].to_list()],
            pl.String,
        ),
        pl.int_range(pl.len()).alias("seq"),
    )


def models(f: Facts) -> pl.DataFrame:
    rows = []
    for (source, name), m in sorted(f.models.items()):
        held = {
            str(a): str(v)
            for a, v in sorted(as_dict(m.get("aliases")).items())
            if f.settings.is_production(source, str(a))
        }
        rows.append(
            {
                "source": source,
                "name": name,
                "owner": m.get("owner"),
                "description": m.get("description"),
                "production_aliases": json.dumps(held, sort_keys=True),
            }
        )
    schema = {c: pl.String for c in ("source", "name", "owner", "description")}
    return pl.DataFrame(rows, schema={**schema, "production_aliases": pl.String})
