"""The built-in ``mlflow`` source, registered as a plugin (this module is in DEFAULT_PLUGINS).

The source lives in ``source``; it reads MLflow through ``rest`` (a tracking server) or
``sqlite`` (the file ``mlflow server`` writes) and never imports mlflow.
"""

from __future__ import annotations

from mlreport import hookimpl
from mlreport.connectors.mlflow.source import MlflowOptions, MlflowSource

__all__ = ["MlflowOptions", "MlflowSource", "register_sources"]


@hookimpl
def register_sources(register) -> None:
    register("mlflow", MlflowSource)
