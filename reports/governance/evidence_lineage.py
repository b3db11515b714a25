"""Lineage and validation evidence: each production version traced to its run, commit,
datasets and logged model, and tested on recorded test data."""

from __future__ import annotations

from typing import Any

from mlreport.reports.governance.evidence import (
    NOT_RECORDED,
    Evidence,
    Fact,
    Inputs,
    share_status,
)

TEST_CONTEXTS = ("testing", "test", "evaluation", "validation")
INPUT_COLUMNS = ("run_id", "dataset_name", "dataset_digest", "dataset_source", "context")


def _no_production(eid: str, inputs: Inputs) -> Evidence | None:
    if inputs.registry is None:
        return Evidence(
            eid,
            "missing",
            "No registry history is recorded for this run (no lifecycle metrics), so no "
            "production version can be traced.",
        )
    if not inputs.production():
        return Evidence(
            eid,
            "missing",
            "No version of this model is in production at the end of the window, so there is "
            "nothing to trace.",
        )
    return None


def _run(inputs: Inputs, source: str, run_id: str | None) -> dict[str, Any] | None:
    if not run_id:
        return None
    rows = inputs.query(
        "SELECT run_id, git_sha FROM runs WHERE source = ? AND run_id = ?", [source, run_id]
    )
    return rows[0] if rows else None


def _datasets(inputs: Inputs, source: str, run_id: str | None) -> list[dict[str, Any]] | None:
    """The run's ``log_input`` datasets; None when the warehouse does not record them."""
    if inputs.lacks("run_inputs", *INPUT_COLUMNS):
        return None
    if not run_id:
        return []
    return inputs.query(
        "SELECT dataset_name, dataset_digest, dataset_source, context FROM run_inputs "
        "WHERE source = ? AND run_id = ? ORDER BY context, dataset_name, dataset_digest",
        [source, run_id],
    )


def run_commit_dataset(inputs: Inputs) -> Evidence:
    eid = "lineage.run_commit_dataset"
    if (none := _no_production(eid, inputs)) is not None:
        return none
    rows, traced = [], 0
    no_inputs = inputs.lacks("run_inputs", *INPUT_COLUMNS)
    for source, alias, version in inputs.production():
        vrow = inputs.version_row(source, version)
        run = _run(inputs, source, vrow.get("run_id"))
        datasets = _datasets(inputs, source, vrow.get("run_id"))
        commit = run.get("git_sha") if run else None
        ok = run is not None and bool(commit) and bool(datasets)
        traced += ok
        rows.append(
            {
                "version": version,
                "alias": alias,
                "run_id": run["run_id"] if run else None,
                "commit": commit,
                "datasets": (
                    NOT_RECORDED
                    if datasets is None
                    else ", ".join(f"{d['dataset_name']} ({d['context']})" for d in datasets)
                    or None
                ),
                "traced": ok,
            }
        )
    total = len(rows)
    with_run = sum(r["run_id"] is not None for r in rows)
    status = share_status(traced, total)
    if status == "missing" and with_run:
        status = "partial"
    why = f" ({no_inputs}, so training datasets are not recorded)" if no_inputs else ""
    summary = (
        f"{traced} of {total} production versions are traced to their training run, source "
        f"commit and datasets{why}."
    )
    facts = (
        Fact("Production versions", total),
        Fact("Traced to run, commit and datasets", traced, threshold=f"all {total}"),
        Fact("Traced to a run", with_run),
    )
    return Evidence(eid, status, summary, facts, tuple(rows))


def logged_model(inputs: Inputs) -> Evidence:
    eid = "lineage.logged_model"
    if (none := _no_production(eid, inputs)) is not None:
        return none
    lacking = inputs.lacks("model_versions", "model_id") or inputs.lacks(
        "logged_models", "model_id", "params"
    )
    if lacking:
        return Evidence(
            eid,
            "missing",
            f"Logged models are not recorded: {lacking}; sync an MLflow 3 registry with a "
            "version of mlreport that stores them.",
        )
    rows, good = [], 0
    for source, alias, version in inputs.production():
        found = inputs.query(
            "SELECT v.model_id, l.name, l.model_type, CAST(l.params AS VARCHAR) AS params, "
            "l.artifact_location FROM model_versions v LEFT JOIN logged_models l "
            "ON l.source = v.source AND l.model_id = v.model_id "
            "WHERE v.source = ? AND v.name = ? AND v.version = ?",
            [source, inputs.model, version],
        )
        r = found[0] if found else {}
        has_model = r.get("name") is not None or r.get("artifact_location") is not None
        has_params = r.get("params") not in (None, "", "{}", "null")
        good += has_model and has_params
        rows.append(
            {
                "version": version,
                "alias": alias,
                "model_id": r.get("model_id"),
                "logged_model": r.get("name"),
                "model_type": r.get("model_type"),
                "params_recorded": has_params,
            }
        )
    total = len(rows)
    linked = sum(r["model_id"] is not None for r in rows)
    status = share_status(good, total)
    if status == "missing" and linked:
        status = "partial"
    summary = (
        f"{good} of {total} production versions come from a logged model whose parameters "
        "are recorded."
    )
    facts = (
        Fact("Production versions", total),
        Fact("With a logged model and parameters", good, threshold=f"all {total}"),
    )
    return Evidence(eid, status, summary, facts, tuple(rows))


def test_metrics(inputs: Inputs) -> Evidence:
    eid = "validation.test_metrics"
    if (none := _no_production(eid, inputs)) is not None:
        return none
    no_inputs = inputs.lacks("run_inputs", *INPUT_COLUMNS)
    rows, good, some = [], 0, 0
    for source, alias, version in inputs.production():
        run_id = inputs.version_row(source, version).get("run_id")
        keys = (
            inputs.query(
                "SELECT DISTINCT key FROM run_metrics WHERE source = ? AND run_id = ? ORDER BY key",
                [source, run_id],
            )
            if run_id
            else []
        )
        datasets = _datasets(inputs, source, run_id) or []
        tests = [d for d in datasets if str(d["context"] or "").lower() in TEST_CONTEXTS]
        ok = bool(keys) and bool(tests)
        good += ok
        some += bool(keys) or bool(tests)
        rows.append(
            {
                "version": version,
                "alias": alias,
                "run_id": run_id,
                "metrics": ", ".join(k["key"] for k in keys[:8]) or None,
                "test_data": (
                    NOT_RECORDED
                    if no_inputs
                    else ", ".join(f"{d['dataset_name']} ({d['dataset_digest']})" for d in tests)
                    or None
                ),
            }
        )
    total = len(rows)
    status = share_status(good, total)
    if status == "missing" and some:
        status = "partial"
    why = f" ({no_inputs})" if no_inputs else ""
    summary = (
        f"{good} of {total} production versions have test metrics and the test data they "
        f"were measured on{why}."
    )
    facts = (
        Fact("Production versions", total),
        Fact("With test metrics and test data", good, threshold=f"all {total}"),
    )
    return Evidence(eid, status, summary, facts, tuple(rows))


EVIDENCE = {
    "lineage.run_commit_dataset": run_commit_dataset,
    "lineage.logged_model": logged_model,
    "validation.test_metrics": test_metrics,
}
