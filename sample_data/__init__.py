"""The sample organisation that ``mlreport demo`` runs on (see docs/sample-data.md)."""

from mlreport.sample_data.build import materialize
from mlreport.sample_data.org import AS_OF

__all__ = ["AS_OF", "materialize"]
