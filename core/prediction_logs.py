"""What metric families and reports know about prediction logs: the ``prediction_logs`` rows
the ``predictions`` source writes, and relations over its views for a window.

A relation is ``(sql, params)`` in the form the SQL cores (``drift.sql``, ``fairness_counts``)
accept; window bounds travel as parameters, never as text.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mlreport.metrics import Window
from mlreport.sql import quote_identifier
from mlreport.warehouse import Warehouse

Relation = tuple[str, list[Any]]


@dataclass(frozen=True)
class PredictionLog:
    log: str  # the source's name
    entity: str
    task: str  # "classification" or "regression"
    view: str
    reference_view: str | None
    reference_kind: str | None  # "window" or "files"
    reference_since: datetime | None
    reference_until: datetime | None
    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    sensitive: tuple[str, ...]
    intersections: tuple[tuple[str, ...], ...]
    shap_columns: dict[str, str]
    files: tuple[dict[str, Any], ...]
    reference_files: tuple[dict[str, Any], ...]
    row_count: int | None

    @property
    def features(self) -> tuple[str, ...]:
        return self.numeric + self.categorical

    def window(self, window: Window) -> Relation:
        """The log's rows with ``ts`` in ``[start, end)``."""
        return (
            f"SELECT * FROM {quote_identifier(self.view)} WHERE ts >= ? AND ts < ?",
            [window.start, window.end],
        )

    def reference(self) -> Relation | None:
        """The reference rows, or None when the log has no reference."""
        if self.reference_view is None:
            return None
        return (f"SELECT * FROM {quote_identifier(self.reference_view)}", [])

    def reference_window(self) -> Window | None:
        if self.reference_since is None or self.reference_until is None:
            return None
        return Window(self.reference_since, self.reference_until)


def prediction_logs(warehouse: Warehouse, entities: list[str] | None = None) -> list[PredictionLog]:
    """Every synced prediction log (ordered by name), optionally only those of ``entities``."""
    rows = warehouse.con.execute(
        "SELECT log, entity, task, view_name, reference_view, reference_kind, reference_since, "
        "reference_until, numeric_features, categorical_features, sensitive_features, "
        "intersections, shap_columns, files, reference_files, row_count "
        "FROM prediction_logs ORDER BY log"
    ).fetchall()
    logs = [_log(r) for r in rows]
    return [g for g in logs if entities is None or g.entity in entities]


def _log(r: tuple[Any, ...]) -> PredictionLog:
    return PredictionLog(
        log=r[0],
        entity=r[1],
        task=r[2],
        view=r[3],
        reference_view=r[4],
        reference_kind=r[5],
        reference_since=r[6],
        reference_until=r[7],
        numeric=tuple(r[8] or ()),
        categorical=tuple(r[9] or ()),
        sensitive=tuple(r[10] or ()),
        intersections=tuple(tuple(i) for i in _json(r[11], [])),
        shap_columns=dict(_json(r[12], {})),
        files=tuple(_json(r[13], [])),
        reference_files=tuple(_json(r[14], [])),
        row_count=r[15],
    )


def _json(text: str | None, default: Any) -> Any:
    return default if text is None else json.loads(text)
