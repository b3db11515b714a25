"""mlreport: a pluggable metrics and governance reporting kernel for ML operations.

The names a plugin author needs are importable from here (``from mlreport import Source``);
docs/plugins.md documents each one with its signature. They load on first use, so importing
``mlreport`` for ``hookimpl`` stays cheap.
"""

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from mlreport.hookspecs import hookimpl

CONFIG_NAME = "mlreport.toml"  # the config file looked for in the current folder

try:
    __version__ = version("mlreport")
except PackageNotFoundError:  # running from a source tree without metadata
    __version__ = "0.0.0"

# public name -> the kernel module that defines it
PUBLIC = {
    "Source": "mlreport.sources",
    "SourceOptions": "mlreport.sources",
    "SourceError": "mlreport.sources",
    "Stream": "mlreport.sources",
    "Rows": "mlreport.sources",
    "Checkpoint": "mlreport.sources",
    "View": "mlreport.sources",
    "source_options": "mlreport.sources",
    "MetricFamily": "mlreport.metrics",
    "MetricInfo": "mlreport.metrics",
    "MetricContext": "mlreport.metrics",
    "MetricRow": "mlreport.metrics",
    "Window": "mlreport.metrics",
    "BandLevel": "mlreport.config",
    "ReportType": "mlreport.reporting",
    "Section": "mlreport.reporting",
    "MetricNeed": "mlreport.reporting",
    "ReportContext": "mlreport.reporting",
    "Renderer": "mlreport.reporting",
}

__all__ = ["hookimpl", "__version__", *PUBLIC]


def __getattr__(name: str) -> Any:
    if name in PUBLIC:
        return getattr(import_module(PUBLIC[name]), name)
    raise AttributeError(f"module 'mlreport' has no attribute {name!r}")
