"""The ``drift`` plugin (listed in ``DEFAULT_PLUGINS``): pluggy scans this module for the
``register_metrics`` hookimpl, so it re-exports it along with the names other code imports
from here (``reports/quality.py`` takes the policy helpers).

Modules: ``family`` (the MetricFamily and its hookimpl), ``policies`` (which policies flag a
feature), ``numeric`` (PSI, KS, Wasserstein per column, driving ``binned`` and ``cells`` or
the ``exact`` fallback), ``categorical`` (Jensen–Shannon, unseen categories), ``psi`` and
``ks`` (the maths of those statistics) and ``sql`` (relations, usable values, scratch copies).
"""

from mlreport.plugins.drift.family import DriftMetrics, register_metrics
from mlreport.plugins.drift.policies import DEFAULT_POLICIES, feature_policies, violates

__all__ = ["DEFAULT_POLICIES", "DriftMetrics", "feature_policies", "register_metrics", "violates"]
