"""The ``roi`` plugin (listed in ``DEFAULT_PLUGINS``): the ``roi`` metric family.

Modules: ``settings`` (the validated ``[[entities]]`` keys and calendar months), ``inputs``
(predictions, confusion counts and allocated cloud cost per window, read through the cost and
performance families' own functions), ``family`` (metric rows, the hookimpl).
"""

from mlreport.plugins.roi.family import RoiMetrics, register_metrics
from mlreport.plugins.roi.settings import register_entity_settings

__all__ = ["RoiMetrics", "register_entity_settings", "register_metrics"]
