"""The ``delivery`` report: the DORA four per entity, trends, lead times, pull requests and
data quality.

Every section's ``data()`` holds every number it shows, read from the stored metrics run
(``dora.*``, ``ops.*`` and pull-request ``delivery.*`` values, the ``details.dora_changes``
the lead-time family published) and from the ``deployments`` and ``incidents`` tables.
Ordering is fixed (entity, environment, time, id) so the output is byte-identical for the same
warehouse, config and ``as_of``.
"""

from __future__ import annotations

from mlreport import hookimpl
from mlreport.reporting import MetricNeed, ReportType
from mlreport.reports.charts.report_charts import lead_time_svg, trend_svg
from mlreport.reports.delivery.entities import Entities, quantile
from mlreport.reports.delivery.facts import MAX_ROWS
from mlreport.reports.delivery.grading import band_segments, tone
from mlreport.reports.delivery.notes import Quality
from mlreport.reports.delivery.pull_requests import PullRequests
from mlreport.reports.delivery.summary import Summary

__all__ = ["MAX_ROWS", "DeliveryReport", "band_segments", "quantile", "tone"]


class DeliveryReport(ReportType):
    name = "delivery"
    title = "Software delivery performance"
    sections = (Summary, Entities, PullRequests, Quality)
    inputs = ("commits", "deployments", "incidents", "entities")
    needs = (
        MetricNeed("dora.*", details=True),
        MetricNeed("ops.*"),
        MetricNeed("dora.*", by="week"),
        MetricNeed("delivery.*"),
    )


@hookimpl
def register_reports(register):
    register("delivery", DeliveryReport)


@hookimpl
def register_template_helpers(register):
    register("trend_chart", trend_svg)
    register("lead_time_chart", lead_time_svg)
