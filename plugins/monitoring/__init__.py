"""The ``monitoring`` plugin (listed in ``DEFAULT_PLUGINS``): prediction-log coverage, label
lag and retention per model. See ``family`` and docs/metrics-monitoring.md."""

from mlreport.plugins.monitoring.family import MonitoringMetrics, register_metrics

__all__ = ["MonitoringMetrics", "register_metrics"]
