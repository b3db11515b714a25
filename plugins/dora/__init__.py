"""The ``dora`` plugin (listed in ``DEFAULT_PLUGINS``): pluggy scans this module for the
``register_metrics`` hookimpl, so it re-exports it, with ``DoraMetrics`` for plugins that
subclass the built-in family, and ``OpsMetrics`` beside it.

Modules: ``family`` (the ``dora`` and ``ops`` families, the facts they share, the hookimpl),
``bands`` (the ``dora-2023`` band table), ``data`` (window-free facts: previous deployment,
attribution, rework, failures), ``changes`` (the commits each deployment ships),
``commit_graph`` (the commits as arrays, and ``git rev-list D ^P`` for all deployments at
once), ``rows`` (facts to metric rows) and ``details`` (the published ``details.dora_changes``).
"""

from mlreport.plugins.dora.family import DoraMetrics, OpsMetrics, register_metrics

__all__ = ["DoraMetrics", "OpsMetrics", "register_metrics"]
