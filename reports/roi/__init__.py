"""The ``roi`` report: per model, what it costs (by month and service category, per 1,000
predictions), how well its resources are used, and whether the value it brings pays for it.

Numbers are read from the stored metrics run: the values of the ``cost``, ``usage`` and ``roi``
families and the detail rows they publish (``cost_credits``, ``roi_settings``, ``roi_months``,
``roi_notes``). Amounts are per currency, never added across currencies. Documented in
docs/report-roi.md.
"""

from __future__ import annotations

from mlreport import hookimpl
from mlreport.reports.charts.money import amount
from mlreport.reports.roi.charts import roi_chart
from mlreport.reports.roi.sections import RoiReport


@hookimpl
def register_reports(register):
    register("roi", RoiReport)


@hookimpl
def register_template_helpers(register):
    register("roi_chart", roi_chart)
    register("amount", amount, kind="filter")
