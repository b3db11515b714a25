"""The built-in ``opencost`` source (OpenCost ``/allocation``, Kubecost ``/model/allocation``),
registered as a plugin; this module is in DEFAULT_PLUGINS."""

from __future__ import annotations

from mlreport import hookimpl
from mlreport.connectors.opencost.options import OpencostOptions
from mlreport.connectors.opencost.source import OpencostSource

__all__ = ["OpencostOptions", "OpencostSource", "register_sources"]


@hookimpl
def register_sources(register) -> None:
    register("opencost", OpencostSource)
