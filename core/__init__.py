"""mlreport: a pluggable metrics and governance reporting kernel for ML operations."""

from importlib.metadata import PackageNotFoundError, version

from mlreport.hookspecs import hookimpl

try:
    __version__ = version("mlreport")
except PackageNotFoundError:  # running from a source tree without metadata
    __version__ = "0.0.0"

__all__ = ["hookimpl", "__version__"]
