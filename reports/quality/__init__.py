"""The ``quality`` report: per model (prediction log), is it still accurate, has its input
moved, does it treat groups fairly, and what drives it.

Numbers are read from the stored metrics run: the values of the ``performance``, ``drift``,
``fairness`` and ``explain`` families, and the detail rows ``performance`` and ``drift``
publish with it (row counts, confusion counts, calibration bins, drift verdicts and
histograms). Everything is read once per report and ordered deterministically, so the same
warehouse, config and ``as_of`` give byte-identical HTML, JSON and Markdown. A family that is
missing, fails or emits nothing for a model leaves a note, never a crash.
"""

from __future__ import annotations

from mlreport import hookimpl
from mlreport.reports.quality.charts import CHARTS
from mlreport.reports.quality.sections import QualityReport


def quality_chart(kind: str, *args):
    """``quality_chart("drift", histogram, feature, subject)`` in templates: one SVG."""
    return CHARTS[kind](*args)


@hookimpl
def register_reports(register):
    register("quality", QualityReport)


@hookimpl
def register_template_helpers(register):
    register("quality_chart", quality_chart)
