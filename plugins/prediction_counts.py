"""The one scan of a prediction log that the ``performance`` and ``fairness`` families share.

Both need rows counted by (window, label, prediction): performance per model version,
fairness per sensitive group. One ``GROUP BY`` over all of those columns serves both, each
family summing away what it does not need; sums of integer counts are exact, so sharing
changes no value. The result is kept on the metric context, so in one ``compute_metrics`` run
a log is scanned once however many families read it.
"""

from __future__ import annotations

from collections.abc import Sequence

from mlreport.engines import scan_connection
from mlreport.metrics import MetricContext, Window
from mlreport.plugins import performance_sql as ps
from mlreport.prediction_logs import PredictionLog
from mlreport.sql import quote_identifier


def label_counts(ctx: MetricContext, log: PredictionLog, run: Sequence[Window]) -> list[tuple]:
    """Rows ``(w, model_version, label, prediction, *log.sensitive, n)`` for a run of
    contiguous windows (``w`` indexes ``run``); see ``performance_sql.count_rows``."""
    key = ("label_counts", log.log, tuple(run))
    if key not in ctx.cache:
        relation = log.window(Window(run[0].start, run[-1].end))
        extra = [quote_identifier(f) for f in log.sensitive]
        name = f"log {log.log!r} ({log.view})"
        ctx.cache[key] = ps.count_rows(scan_connection(ctx, log), relation, run, name, extra)
    return ctx.cache[key]
