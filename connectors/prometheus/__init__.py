"""The built-in ``prometheus`` source (named PromQL queries over ``query_range``), registered as
a plugin; this module is in DEFAULT_PLUGINS."""

from __future__ import annotations

from mlreport import hookimpl
from mlreport.connectors.prometheus.options import PrometheusOptions, PromQuery
from mlreport.connectors.prometheus.source import PrometheusSource

__all__ = ["PromQuery", "PrometheusOptions", "PrometheusSource", "register_sources"]


@hookimpl
def register_sources(register) -> None:
    register("prometheus", PrometheusSource)
