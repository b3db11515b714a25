"""The built-in ``lifecycle`` metric family: the model lifecycle from the registry and runs.

Entity = registered model name (one name in several MLflow sources is one entity). Every rule
is documented in ``docs/metrics-lifecycle.md``. The registry history comes from
``model_events`` (the snapshots the ``mlflow`` source diffs at each sync); which aliases mean
"production", and which version tag means "approved", are the ``mlflow`` sources' own options
(``aliases.production``, ``approval_tag``), read through the kernel's ``source_options``.
Window-free facts are loaded once per metric context (``ctx.cache["lifecycle"]``) and
published for the ``models`` report (:mod:`mlreport.plugins.lifecycle.details`).
"""

from mlreport.plugins.lifecycle.family import LifecycleMetrics, register_metrics
from mlreport.plugins.lifecycle.settings import is_rollback, settings

__all__ = ["LifecycleMetrics", "is_rollback", "register_metrics", "settings"]
