"""The data-quality section: why a number may mislead (missing links, open failures, thin
samples, idle entities)."""

from __future__ import annotations

from typing import Any

import polars as pl

from mlreport import report_facts as rf
from mlreport.reporting import ReportContext, Section
from mlreport.reports.delivery.facts import DORA_FOUR, Facts, facts
from mlreport.wording import plural

NOTE_KINDS = {
    "no_metrics": "Delivery metrics unavailable",
    "unmapped_repository": "Deployments without a repository",
    "unlinked_deployments": "Deployments not linked to a commit",
    "abbreviated_shas": "Abbreviated commit SHAs",
    "open_failures": "Unresolved failures",
    "small_sample": "Small samples",
    "no_activity": "Entities without activity",
}


def _note(kind: str, entity: str | None, count: int | None, message: str, env=None) -> dict:
    return {"kind": kind, "entity": entity, "environment": env, "count": count, "message": message}


def prefix_notes(f: Facts) -> list[dict[str, Any]]:
    """Deployments that named an abbreviated sha: resolved to the one commit it starts with,
    or ambiguous (several commits start with it) and so not linked."""
    if f.prefixes is None or f.prefixes.is_empty():
        return []
    per = f.prefixes.group_by("entity", "environment", "source", "deployment_id").agg(
        linked=pl.col("resolved").is_not_null().any(),
        sha=pl.col("commit_sha").first(),
        matches=pl.col("matches").max(),
    )
    notes = []
    for (entity, env), rows in sorted(per.group_by("entity", "environment"), key=lambda g: g[0]):
        ok = rows.filter(pl.col("linked")).height
        bad = rows.filter(~pl.col("linked")).sort("deployment_id")
        parts = []
        if ok:
            parts.append(
                f"{plural(ok, 'production deployment')} of {entity} ({env}) named an "
                "abbreviated commit SHA; each was resolved to the one commit it starts with."
            )
        if bad.height:
            example = bad.row(0, named=True)
            parts.append(
                f"{plural(bad.height, 'production deployment')} of {entity} ({env}) named an "
                f"ambiguous abbreviated SHA (e.g. {example['sha']!r} matches "
                f"{example['matches']} commits) and {'is' if bad.height == 1 else 'are'} not "
                "linked; give at least as many digits as `git rev-parse --short` does."
            )
        notes.append(_note("abbreviated_shas", entity, ok + bad.height, " ".join(parts), env))
    return notes


def quality_notes(f: Facts) -> list[dict[str, Any]]:
    """Why a number may mislead: missing links, open failures, thin samples, idle entities."""
    notes = prefix_notes(f)
    if not f.has_dora:
        notes.append(
            _note(
                "no_metrics",
                None,
                None,
                "No plugin provides dora.* metrics; only deployments and incidents are shown.",
            )
        )
    for entity, n in f.unmapped.items():
        notes.append(
            _note(
                "unmapped_repository",
                entity,
                n,
                f"{entity} has {plural(n, 'production deployment')} but no repository is "
                "mapped to it, so lead time cannot be computed. Name it as the entity of the "
                "git source that builds it.",
            )
        )
    for (metric, entity, env, _), r in f.rows.items():
        count = int(r["value"] or 0)
        if entity not in f.entities or not count:
            continue
        if metric == "dora.unlinked_deployments":
            notes.append(
                _note(
                    "unlinked_deployments",
                    entity,
                    count,
                    f"{plural(count, 'production deployment')} of {entity} ({env}) "
                    + (
                        "names a commit that is not in any synced repository; its changes are "
                        if count == 1
                        else "name commits that are not in any synced repository; their changes "
                        "are "
                    )
                    + "missing from lead time.",
                    env,
                )
            )
        elif metric == "dora.open_failures":
            notes.append(
                _note(
                    "open_failures",
                    entity,
                    count,
                    f"{plural(count, 'failed deployment')} of {entity} ({env}) "
                    f"{'is' if count == 1 else 'are'} not resolved yet; recovery time leaves "
                    f"{'it' if count == 1 else 'them'} out until resolved.",
                    env,
                )
            )
    for entity in f.entities:
        for env in f.environments.get(entity, []):
            thin = [
                (s, f.rows[(s.metric, entity, env, s.stat)]["n"])
                for s in DORA_FOUR
                if (s.metric, entity, env, s.stat) in f.rows
                and 0 < (f.rows[(s.metric, entity, env, s.stat)]["n"] or 0) < f.small
            ]
            if thin:
                parts = ", ".join(
                    f"{s.label.lower()} ({plural(n, s.noun.rstrip('s'))})" for s, n in thin
                )
                notes.append(
                    _note(
                        "small_sample",
                        entity,
                        len(thin),
                        f"{entity} ({env}): {parts} — fewer than {f.small}; bands are indicative.",
                        env,
                    )
                )
    for entity in f.idle:
        notes.append(
            _note(
                "no_activity",
                entity,
                0,
                f"{entity} had no deployments or incidents in this window.",
            )
        )
    order = list(NOTE_KINDS)
    return sorted(
        notes, key=lambda n: (order.index(n["kind"]), n["entity"] or "", n["environment"] or "")
    )


class Quality(Section):
    name = "quality"
    title = "Data-quality notes"
    template = "delivery/quality.html.j2"
    markdown = "delivery/quality.md.j2"

    def data(self, ctx: ReportContext) -> dict[str, Any]:
        f = facts(ctx)
        notes = quality_notes(f)
        return {
            "notes": notes,
            "counts": rf.count_kinds(notes),
            "kinds": NOTE_KINDS,
            "small_sample": f.small,
        }
