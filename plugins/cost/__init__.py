"""The ``cost`` plugin (listed in ``DEFAULT_PLUGINS``): the ``cost`` metric family.

Modules: ``sql`` (the scans: cost sums and prediction counts per window), ``allocation``
(direct, shared and unattributed cost), ``family`` (metric rows, details, the hookimpl).
"""

from mlreport.plugins.cost.family import CostMetrics, register_metrics

__all__ = ["CostMetrics", "register_metrics"]
