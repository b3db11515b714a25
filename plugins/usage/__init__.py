"""The ``usage`` plugin (listed in ``DEFAULT_PLUGINS``): ``usage.<metric>`` from the usage
table, and ``cost.idle`` / efficiency from OpenCost data. See ``family``."""

from mlreport.plugins.usage.family import UsageMetrics, register_metrics

__all__ = ["UsageMetrics", "register_metrics"]
