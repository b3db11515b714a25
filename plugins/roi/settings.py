"""The ROI keys of an ``[[entities]]`` entry, validated, and the calendar months ROI counts in.

The kernel keeps keys it does not know on the entity (``EntityConfig`` allows extras) and has
them checked when the config is loaded by the plugin that registered them
(``register_entity_settings``): these keys are registered here with ``RoiSettings``, so a bad
value or a misspelt key fails ``mlreport`` before any command runs.
"""

from __future__ import annotations

import calendar
import math
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from mlreport import hookimpl
from mlreport.config import Config

MONTH_DAYS = 365.25 / 12  # the days of an average month, for pro-rata monthly amounts

MONEY_KEYS = (
    "value_per_prediction",
    "value_per_true_positive",
    "cost_per_false_positive",
    "value_per_month",
    "people_cost_per_month",
    "tooling_cost_per_month",
)
KEYS = (*MONEY_KEYS, "roi_start", "discount_rate", "currency")


class RoiSettings(BaseModel):
    """One entity's ROI inputs. Amounts are in ``currency`` (default: the currency of the
    entity's cloud cost); monthly amounts are spread pro rata over a window's days."""

    model_config = ConfigDict(extra="forbid", strict=False)
    value_per_prediction: float = 0.0
    value_per_true_positive: float = 0.0
    cost_per_false_positive: float = Field(default=0.0, ge=0)
    value_per_month: float = 0.0
    people_cost_per_month: float = Field(default=0.0, ge=0)
    tooling_cost_per_month: float = Field(default=0.0, ge=0)
    roi_start: date | None = None
    discount_rate: float | None = Field(default=None, gt=-1, le=10)
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")

    @field_validator(*MONEY_KEYS, "discount_rate", mode="before")
    @classmethod
    def _number(cls, v: Any) -> Any:
        if isinstance(v, bool) or not isinstance(v, int | float):
            if v is None:
                return v
            raise ValueError("must be a number")
        if not math.isfinite(v):
            raise ValueError("must be a finite number")
        return v

    @field_validator("roi_start", mode="before")
    @classmethod
    def _date(cls, v: Any) -> Any:
        if isinstance(v, datetime):
            raise ValueError("must be a date (YYYY-MM-DD), not a date and time")
        return v

    @property
    def uses_confusion(self) -> bool:
        return bool(self.value_per_true_positive or self.cost_per_false_positive)

    @property
    def monthly_cost(self) -> float:
        return self.people_cost_per_month + self.tooling_cost_per_month

    @property
    def start(self) -> datetime | None:
        s = self.roi_start
        return None if s is None else datetime(s.year, s.month, s.day, tzinfo=UTC)


@hookimpl
def register_entity_settings(register) -> None:
    register(KEYS, RoiSettings)


def roi_settings(config: Config) -> dict[str, RoiSettings]:
    """Settings of every entity with at least one ROI key, by entity name."""
    out = {}
    for ent in config.entities:
        extra = {k: v for k, v in (ent.model_extra or {}).items() if k in KEYS}
        if not extra:
            continue
        try:
            out[ent.name] = RoiSettings(**extra)
        except ValidationError as exc:
            err = exc.errors()[0]
            key = ".".join(str(p) for p in err["loc"])
            raise ValueError(
                f"[[entities]] {ent.name!r}: {key} = {extra.get(key)!r}: {err['msg']}; "
                "fix it in the config (see docs/metrics-roi.md)"
            ) from None
    return out


@dataclass(frozen=True)
class Month:
    """Month ``index`` (0-based) counted from a start: ``[start, end)``, the last one cut at
    the horizon."""

    index: int
    start: datetime
    end: datetime


def add_months(day: datetime, n: int) -> datetime:
    """``day`` plus ``n`` calendar months; the 31st becomes the month's last day."""
    y, m = divmod(day.month - 1 + n, 12)
    year, month = day.year + y, m + 1
    last = calendar.monthrange(year, month)[1]
    return day.replace(year=year, month=month, day=min(day.day, last))


def months(start: datetime, horizon: datetime) -> list[Month]:
    """The months from ``start`` up to ``horizon`` (the last one partial when the horizon
    falls inside it); none when ``start >= horizon``."""
    out: list[Month] = []
    while True:
        a = add_months(start, len(out))
        if a >= horizon:
            return out
        out.append(Month(len(out), a, min(add_months(start, len(out) + 1), horizon)))
