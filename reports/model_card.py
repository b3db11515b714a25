"""The ``model-card`` report: one card per model entity, after Mitchell et al., "Model Cards for
Model Reporting" (2019): model details, intended use, factors, metrics, evaluation and training
data, quantitative analyses, ethical considerations, caveats and recommendations.

Everything is read from the warehouse and the stored metrics run: the entity's declaration
(owner, team, risk tier, description, ``intended_use``), the registry facts the ``lifecycle``
family published (versions, production aliases), the prediction logs (sensitive features,
reference windows), the training runs' dataset tags, and the ``performance.*`` and
``fairness.*`` values of the report window. Where the warehouse holds nothing, a card says
"not recorded"; it never fills a gap. Each card also carries the same facts as a Model Card
Toolkit v0.0.2 document (:mod:`mlreport.reports.model_card_mct`) under ``model_card``.
"""

from __future__ import annotations

import json
from typing import Any

import polars as pl

from mlreport import hookimpl
from mlreport import report_facts as rf
from mlreport.coerce import blank
from mlreport.policies import outcome
from mlreport.prediction_logs import PredictionLog, prediction_logs
from mlreport.reporting import MetricNeed, ReportContext, ReportType, Section
from mlreport.reports import models_data as md
from mlreport.reports.charts.numbers import finite
from mlreport.reports.model_card_mct import mct_document
from mlreport.reports.models_registry import Registry, registry
from mlreport.reports.quality.labels import GROUP_METRICS, label_of, unit_of
from mlreport.times import iso

NOT_RECORDED = "not recorded"
FAMILIES = ("performance", "fairness", "lifecycle")
MAX_VERSIONS = 10  # newest versions listed with their dates
PARITY_RATIO = "fairness.demographic_parity_ratio"
FOUR_FIFTHS = 0.8


def cards(ctx: ReportContext) -> list[dict[str, Any]]:
    """Every card of the report, computed once per context."""
    if "model_cards" not in ctx.cache:
        ctx.cache["model_cards"] = _collect(ctx)
    return ctx.cache["model_cards"]


def _collect(ctx: ReportContext) -> list[dict[str, Any]]:
    reg = registry(ctx) if rf.installed("lifecycle") else None
    declared = _declared(ctx)
    names = sorted(set(declared) | set(reg.names if reg else []))
    if ctx.entities is not None:
        names = [n for n in names if n in ctx.entities]
    logs = prediction_logs(ctx.warehouse, names or None) if names else []
    table = rf.metric_table(ctx, ("performance.", "fairness."))
    policies = rf.policy_outcomes(ctx, table.frame)
    failed = rf.failed_families(ctx, FAMILIES)
    missing = [f for f in FAMILIES if not rf.installed(f)]
    out = []
    for name in names:
        card = Card(ctx, name, declared.get(name, {}), reg, [g for g in logs if g.entity == name])
        out.append(card.build(table.rows, policies, failed, missing))
    return out


def _declared(ctx: ReportContext) -> dict[str, dict[str, Any]]:
    """Model entities as declared (``[[entities]]`` or a source), by name."""
    frame = ctx.warehouse.query(
        "SELECT name, owner, team, risk_tier, description, intended_use FROM entities "
        "WHERE kind = 'model' ORDER BY name, source"
    )
    found: dict[str, dict[str, Any]] = {}
    for r in frame.iter_rows(named=True):
        found.setdefault(r["name"], r)
    return found


def _text(value: Any) -> str | None:
    return None if blank(value) else str(value)


class Card:
    """The facts of one model's card."""

    def __init__(self, ctx, name, entity, reg: Registry | None, logs: list[PredictionLog]):
        self.ctx, self.name, self.entity, self.reg, self.logs = ctx, name, entity, reg, logs

    def build(self, rows, policies, failed: dict[str, str], missing: list[str]) -> dict:
        mine = {k: r for k, r in rows.items() if k[1] == self.name}
        card: dict[str, Any] = {"name": self.name}
        card["details"] = self.details()
        card["intended_use"] = _text(self.entity.get("intended_use"))
        card["metrics"] = _overall(mine, policies)
        card["quantitative"] = _slices(mine, policies)
        card["factors"] = self.factors(card["quantitative"])
        card["evaluation_data"] = self.evaluation()
        card["training_data"] = self.training(card["details"])
        card["ethical_considerations"] = _ethics(card)
        card["caveats"] = self.caveats(card, failed, missing)
        card["model_card"] = mct_document(card)
        return card

    # -- model details ----------------------------------------------------------------------

    def details(self) -> dict[str, Any]:
        end = self.ctx.window.end
        e = self.entity
        info = {self.name: {k: e.get(k) for k in ("owner", "team", "risk_tier")}}
        if self.reg is not None and self.name in self.reg.names:
            row = md.inventory_row(self.reg, info, self.name, end)
            versions = self.reg.versions.filter(pl.col("name") == self.name)
            dated = [
                {
                    "version": str(v["version"]),
                    "source": v["source"],
                    "created_at": iso(v.get("created_at")),
                }
                for v in versions.iter_rows(named=True)
            ]
        else:
            row = {"owner": e.get("owner"), "description": None, "sources": [], "versions": 0}
            row |= {"latest_version": None, "production": []}
            dated = []
        tasks = sorted({g.task for g in self.logs})
        return {
            "owner": _text(row["owner"]),
            "team": _text(e.get("team")),
            "risk_tier": _text(e.get("risk_tier")),
            "description": _text(row["description"]) or _text(e.get("description")),
            "type": ", ".join(tasks) or None,
            "registry_sources": row["sources"],
            "versions_total": row["versions"],
            "latest_version": _text(row["latest_version"]),
            "production": row["production"],
            "versions": dated[-MAX_VERSIONS:][::-1],
        }

    # -- data --------------------------------------------------------------------------------

    def factors(self, slices: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Sensitive features the logs declare, with the groups the fairness values name."""
        declared = list(dict.fromkeys(f for g in self.logs for f in g.sensitive))
        seen = [s["feature"] for s in slices]
        out = []
        for feature in declared + [f for f in dict.fromkeys(seen) if f not in declared]:
            groups = [s["group"] for s in slices if s["feature"] == feature]
            out.append({"feature": feature, "groups": groups})
        return out

    def evaluation(self) -> list[dict[str, Any]]:
        """The prediction logs the window's metrics were computed on."""
        counts = {r["log"]: r for r in _detail_rows(self.ctx, "performance_log_counts")}
        return [
            {
                "log": g.log,
                "task": g.task,
                "since": iso(self.ctx.window.start),
                "until": iso(self.ctx.window.end),
                "rows": counts.get(g.log, {}).get("rows"),
                "labelled": counts.get(g.log, {}).get("labelled"),
                "sensitive": list(g.sensitive),
            }
            for g in self.logs
        ]

    def training(self, details: dict[str, Any]) -> dict[str, Any]:
        """Reference data of the logs, and the datasets the production versions' training
        runs name in their tags."""
        reference = []
        for g in self.logs:
            w = g.reference_window()
            if g.reference_kind is None:
                continue
            reference.append(
                {
                    "log": g.log,
                    "kind": g.reference_kind,
                    "since": iso(w.start) if w else None,
                    "until": iso(w.end) if w else None,
                    "files": len(g.reference_files),
                }
            )
        datasets = []
        if self.reg is not None:
            for held in details["production"]:
                row = self.reg.version_row(held["source"], self.name, held["version"]) or {}
                run = md.run_row(self.ctx.warehouse, held["source"], row.get("run_id"))
                for d in run["datasets"] if run else []:
                    datasets.append({**d, "version": held["version"], "run_id": run["run_id"]})
        return {"reference": reference, "datasets": datasets}

    # -- caveats -----------------------------------------------------------------------------

    def caveats(self, card, failed: dict[str, str], missing: list[str]) -> list[str]:
        out = [f"The {f} metrics failed in this run: {e}" for f, e in failed.items()]
        out += [
            f"No plugin provides {f}.* metrics; their parts of the card are empty." for f in missing
        ]
        if not self.logs:
            out.append("No prediction log is synced for this model: no evaluation data or metrics.")
        for g in card["evaluation_data"]:
            if g["rows"] is not None and g["labelled"] is not None and g["labelled"] < g["rows"]:
                out.append(
                    f"{g['log']}: {g['labelled']} of {g['rows']} predictions in the window have "
                    "labels; the metrics describe the labelled ones only."
                )
        for m in card["metrics"]:
            p = m["policy"]
            if p and not p.get("passed", True):
                out.append(f"{m['label']} is outside its policy ({_bounds(p)}).")
        if not card["details"]["production"] and self.reg is not None:
            out.append("No version is in production at the end of the window.")
        return out


def _detail_rows(ctx: ReportContext, name: str) -> list[dict[str, Any]]:
    frame = ctx.detail(name)
    if frame is None:
        return []
    w = ctx.window
    return frame.filter(
        (pl.col("window_start") == w.start) & (pl.col("window_end") == w.end)
    ).to_dicts()


def _metric(metric: str, row: dict[str, Any], policies, key) -> dict[str, Any]:
    return {
        "metric": metric,
        "label": label_of(metric),
        "unit": unit_of(metric),
        "value": finite(row["value"]),
        "n": row["n"],
        "policy": outcome(policies.get(key)),
    }


def _overall(rows, policies) -> list[dict[str, Any]]:
    """Un-sliced performance values of the window, in metric order."""
    return [
        _metric(k[0], r, policies, k)
        for k, r in sorted(rows.items())
        if k[0].startswith("performance.") and k[2] == "{}"
    ]


def _slices(rows, policies) -> list[dict[str, Any]]:
    """One entry per (sensitive feature, group): the group metrics of the fairness family."""
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for k, r in sorted(rows.items()):
        dims = json.loads(k[2])
        if not k[0].startswith("fairness.") or "group" not in dims or "feature" not in dims:
            continue
        g = groups.setdefault(
            (str(dims["feature"]), str(dims["group"])),
            {
                "feature": str(dims["feature"]),
                "group": str(dims["group"]),
                "small": False,
                "values": [],
            },
        )
        g["small"] = g["small"] or bool(dims.get("small"))
        g["values"].append(_metric(k[0], r, policies, k))
    order = {f"fairness.{m}": i for i, m in enumerate(GROUP_METRICS)}
    for g in groups.values():
        g["values"].sort(key=lambda v: (order.get(v["metric"], len(order)), v["metric"]))
    summaries: dict[str, list[dict[str, Any]]] = {}
    for k, r in sorted(rows.items()):
        dims = json.loads(k[2])
        if k[0].startswith("fairness.") and set(dims) == {"feature"}:
            summaries.setdefault(str(dims["feature"]), []).append(_metric(k[0], r, policies, k))
    out = [groups[k] for k in sorted(groups)]
    for g in out:
        g["summaries"] = summaries.get(g["feature"], [])
    return out


def _bounds(p: dict[str, Any]) -> str:
    parts = []
    if p.get("min") is not None:
        parts.append(f"min {p['min']}")
    if p.get("max") is not None:
        parts.append(f"max {p['max']}")
    return ", ".join(parts) or "policy"


def _ethics(card: dict[str, Any]) -> list[dict[str, Any]]:
    """Risks the warehouse records: the risk tier, sensitive features, and disparities by
    group that fail a policy or, without one, the four-fifths rule."""
    out = []
    tier = card["details"]["risk_tier"]
    if tier:
        out.append({"name": f"Risk tier {tier} (as declared for the entity).", "mitigation": None})
    for f in card["factors"]:
        out.append(
            {
                "name": f"Predictions may differ by {f['feature']}, a sensitive feature.",
                "mitigation": (
                    f"Monitored: per-group metrics for {len(f['groups'])} groups in this window."
                    if f["groups"]
                    else None
                ),
            }
        )
    seen = set()
    for s in card["quantitative"]:
        for m in s["summaries"]:
            key = (s["feature"], m["metric"])
            if key in seen:
                continue
            seen.add(key)
            p = m["policy"]
            failing = p is not None and not p.get("passed", True)
            v = m["value"]
            below = p is None and m["metric"] == PARITY_RATIO and v is not None and v < FOUR_FIFTHS
            if (failing or below) and v is not None:
                rule = _bounds(p) if p else "the four-fifths rule"
                out.append(
                    {
                        "name": f"{m['label']} by {s['feature']} is {v:.3g}, outside {rule}.",
                        "mitigation": None,
                    }
                )
    return out


# -- the report ---------------------------------------------------------------------------------


class Cards(Section):
    name = "cards"
    title = "Model cards"
    template = "model_card/cards.html.j2"
    markdown = "model_card/cards.md.j2"

    def data(self, ctx: ReportContext) -> dict[str, Any]:
        return dict(window=rf.window_json(ctx), not_recorded=NOT_RECORDED, models=cards(ctx))


class ModelCardReport(ReportType):
    name = "model-card"
    title = "Model cards"
    sections = (Cards,)
    inputs = ("entities", "prediction_logs", "registered_models", "model_versions", "runs")
    needs = (
        MetricNeed("performance.*", details=True),
        MetricNeed("fairness.*"),
        MetricNeed("lifecycle.*", details=True),
    )


@hookimpl
def register_reports(register):
    register("model-card", ModelCardReport)
