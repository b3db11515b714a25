"""The ``roi`` family: what each entity's model is worth against what it costs, per window.

value = predictions × value_per_prediction + true positives × value_per_true_positive
− false positives × cost_per_false_positive + value_per_month pro rata; TCO = allocated cloud
cost (``cost.total``) + people and tooling cost per month pro rata. Payback and NPV run over
calendar months from ``roi_start`` to the window's end. Amounts never add two currencies.
Definitions and inputs: docs/metrics-roi.md.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import polars as pl

from mlreport import hookimpl
from mlreport.metrics import MetricContext, MetricFamily, MetricInfo, Window
from mlreport.plugins.roi.details import MonthFlow, months_frame, settings_frame
from mlreport.plugins.roi.inputs import Inputs, gather
from mlreport.plugins.roi.settings import MONTH_DAYS, RoiSettings, months, roi_settings

log = logging.getLogger("mlreport")


def _info(name: str, unit: str, description: str, better: bool) -> MetricInfo:
    return MetricInfo(f"roi.{name}", unit, description, higher_is_better=better)


class RoiMetrics(MetricFamily):
    name = "roi"
    metrics = (
        _info("value", "currency", "Value the model created in the window", True),
        _info("tco", "currency", "Cloud cost + people and tooling cost", False),
        _info("roi", "ratio", "(value - tco) / tco; null when tco is 0", True),
        _info("net", "currency", "value - tco", True),
        _info("payback_months", "months", "First month from roi_start paying back", False),
        _info("npv", "currency", "Monthly net flows from roi_start, discounted", True),
    )

    def compute(self, ctx: MetricContext) -> list[dict[str, Any]]:
        settings = roi_settings(ctx.config)
        if ctx.entities is not None:
            settings = {e: s for e, s in settings.items() if e in ctx.entities}
        if not settings:
            return []
        windows = list(ctx.windows)
        horizons = _month_windows(settings, windows)
        extra = [w for w in dict.fromkeys(w for ms in horizons.values() for w in ms)]
        extra = [w for w in extra if w not in windows]
        every = windows + extra
        index = {w: i for i, w in enumerate(every)}
        confusion = {e for e, s in settings.items() if s.uses_confusion}
        found = gather(ctx, every, set(settings), confusion)
        rows: list[dict[str, Any]] = []
        notes: list[dict[str, Any]] = []
        currencies: dict[str, Any] = {}
        monthly: list[MonthFlow] = []
        for entity, s in sorted(settings.items()):
            currency = _currency(entity, s, [found.get((i, entity)) for i in range(len(every))])
            currencies[entity] = currency
            if isinstance(currency, Note):
                notes.append(
                    {
                        "entity": entity,
                        "window_start": None,
                        "window_end": None,
                        "note": currency.text,
                    }
                )
                log.warning("roi: %s: %s", entity, currency.text)
                continue
            for w in windows:
                f = _flow(s, found.get((index[w], entity), Inputs()), w, currency)
                rows += _window_rows(entity, w, f, currency)
                month_flows = [
                    _flow(s, found.get((index[m], entity), Inputs()), m, currency)
                    for m in horizons.get((entity, w), [])
                ]
                monthly += [
                    MonthFlow(entity, w, k, m.start, m.end, mf.value, mf.tco, currency)
                    for k, (m, mf) in enumerate(
                        zip(horizons.get((entity, w), []), month_flows, strict=True)
                    )
                ]
                rows += _horizon_rows(entity, w, s, month_flows, currency, f.notes)
                notes += [
                    {"entity": entity, "window_start": w.start, "window_end": w.end, "note": n}
                    for n in f.notes
                ]
        if ctx.detail_windows:
            ctx.publish("roi_notes", _notes_frame(notes, ctx.detail_windows))
            ctx.publish("roi_settings", settings_frame(settings, currencies))
            ctx.publish("roi_months", months_frame(monthly, ctx.detail_windows))
        return rows


@dataclass(frozen=True)
class Note:
    text: str


@dataclass
class Flow:
    """One entity's value and cost in one window (cost None: not addable in its currency)."""

    value: float
    tco: float | None
    predictions: float
    notes: list[str]


def _month_windows(
    settings: dict[str, RoiSettings], windows: list[Window]
) -> dict[tuple[str, Window], list[Window]]:
    out = {}
    for entity, s in settings.items():
        if s.start is None:
            continue
        for w in windows:
            out[(entity, w)] = [Window(m.start, m.end) for m in months(s.start, w.end)]
    return out


def _currency(entity: str, s: RoiSettings, found: list[Inputs | None]) -> str | None | Note:
    """The currency of the entity's figures: configured, else its cloud cost's one."""
    if s.currency:
        return s.currency
    seen = sorted({c for f in found if f is not None for c in f.cloud})
    if len(seen) > 1:
        return Note(
            f"cloud cost in {', '.join(seen)}: set `currency` on the entity to say which "
            "its ROI is in (the others are not converted)"
        )
    return seen[0] if seen else None


def _flow(s: RoiSettings, got: Inputs, w: Window, currency: str | None) -> Flow:
    share = w.days / MONTH_DAYS
    value = (
        got.predictions * s.value_per_prediction
        + got.true_positives * s.value_per_true_positive
        - got.false_positives * s.cost_per_false_positive
        + s.value_per_month * share
    )
    notes = []
    if s.value_per_prediction and not got.predictions:
        notes.append("no predictions in the window (prediction log or requests usage)")
    if s.uses_confusion and not got.labelled:
        notes.append("no labelled predictions in the window: no true or false positives")
    foreign = sorted(c for c in got.cloud if c != currency)
    if foreign:
        notes.append(f"cloud cost in {', '.join(foreign)} cannot be added to {currency}")
        return Flow(value, None, got.predictions, notes)
    tco = got.cloud.get(currency, 0.0) if currency else 0.0
    return Flow(value, tco + s.monthly_cost * share, got.predictions, notes)


def _row(metric: str, entity: str, w: Window, value, unit: str, currency, n=None) -> dict:
    return {
        "metric": metric,
        "entity": entity,
        "window_start": w.start,
        "window_end": w.end,
        "dimensions": {"currency": currency} if currency else {},
        "value": value,
        "unit": unit,
        "n": n,
    }


def _window_rows(entity: str, w: Window, f: Flow, currency: str | None) -> list[dict]:
    unit = currency or "currency"
    rows = [_row("roi.value", entity, w, f.value, unit, currency, int(f.predictions))]
    if f.tco is None:
        return rows
    net = f.value - f.tco
    if f.tco == 0:
        f.notes.append("TCO is 0: roi.roi is undefined (null)")
    roi = net / f.tco if f.tco else None
    rows += [
        _row("roi.tco", entity, w, f.tco, unit, currency),
        _row("roi.net", entity, w, net, unit, currency),
        _row("roi.roi", entity, w, roi, "ratio", currency),
    ]
    return rows


def _horizon_rows(
    entity: str,
    w: Window,
    s: RoiSettings,
    flows: list[Flow],
    currency: str | None,
    notes: list[str],
) -> list[dict]:
    """Payback and NPV over the months from ``roi_start`` to the window's end (a note in
    ``notes`` says why one is null or missing)."""
    if not flows:
        if s.roi_start is not None:
            notes.append(f"roi_start {s.roi_start} is not before the window's end: no payback, NPV")
        return []
    if any(f.tco is None for f in flows):
        notes.append("a month since roi_start has cloud cost in another currency: no payback, NPV")
        return []
    payback, cum = None, 0.0
    for m, f in enumerate(flows):
        cum += f.value - (f.tco or 0.0)
        if cum >= 0:
            payback = m + 1
            break
    rows = [_row("roi.payback_months", entity, w, payback, "months", currency, len(flows))]
    if payback is None:
        notes.append(f"never pays back within the {len(flows)} months from {s.roi_start}")
    if s.discount_rate is not None:
        r = s.discount_rate
        npv = sum((f.value - (f.tco or 0.0)) / (1 + r) ** (m / 12) for m, f in enumerate(flows))
        rows.append(_row("roi.npv", entity, w, npv, currency or "currency", currency, len(flows)))
    return rows


def _notes_frame(notes: list[dict], detail_windows: list[Window]) -> pl.DataFrame:
    bounds = {(w.start, w.end) for w in detail_windows}
    keep = [
        n
        for n in notes
        if n["window_start"] is None or (n["window_start"], n["window_end"]) in bounds
    ]
    schema = {
        "entity": pl.String,
        "window_start": pl.Datetime("us", "UTC"),
        "window_end": pl.Datetime("us", "UTC"),
        "note": pl.String,
    }
    return pl.DataFrame(keep, schema=schema)


@hookimpl
def register_metrics(register: Callable[[str, type[MetricFamily]], None]) -> None:
    register("roi", RoiMetrics)
