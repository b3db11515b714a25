"""Working-hours arithmetic for the simulation (all results are UTC, whole seconds)."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

from mlreport.sample_data.org import HOLIDAYS, PERIOD_END, PERIOD_START, Person

DAY_START, DAY_END = 9 * 60, 18 * 60  # local minutes of the working day


def is_working_day(day: date) -> bool:
    return day.weekday() < 5 and day not in HOLIDAYS


def working_days(start: date = PERIOD_START, end: date | None = None) -> list[date]:
    """Working days in ``[start, end)``; ``end`` defaults to the end of the sample period."""
    end = end or PERIOD_END.date()
    days, day = [], start
    while day < end:
        if is_working_day(day):
            days.append(day)
        day += timedelta(days=1)
    return days


def local_time(day: date, minute: int, person: Person, second: int = 0) -> datetime:
    """``minute`` past local midnight on ``day`` for ``person``, as UTC."""
    local = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return local + timedelta(minutes=minute - person.utc_offset_minutes, seconds=second)


def at_work(rng: random.Random, day: date, person: Person) -> datetime:
    """A moment in ``person``'s working hours on ``day`` (mornings and afternoons busier)."""
    minute = DAY_START + int(rng.triangular(0, DAY_END - DAY_START, 330))
    return local_time(day, minute, person, rng.randint(0, 59))


def local_day(t: datetime, person: Person) -> date:
    return (t + timedelta(minutes=person.utc_offset_minutes)).date()


def is_at_work(t: datetime, person: Person) -> bool:
    local = t + timedelta(minutes=person.utc_offset_minutes)
    minute = local.hour * 60 + local.minute
    return is_working_day(local.date()) and DAY_START <= minute < DAY_END


def next_at_work(rng: random.Random, t: datetime, person: Person) -> datetime:
    """``t`` if ``person`` is working then, else early on their next working day."""
    if is_at_work(t, person):
        return t
    local = t + timedelta(minutes=person.utc_offset_minutes)
    day = local.date()
    if local.hour * 60 + local.minute >= DAY_START or not is_working_day(day):
        day += timedelta(days=1)
    while not is_working_day(day):
        day += timedelta(days=1)
    return local_time(day, DAY_START + rng.randint(5, 75), person, rng.randint(0, 59))


def minutes(n: int) -> timedelta:
    return timedelta(minutes=n)


def hours(n: float) -> timedelta:
    return timedelta(seconds=round(n * 3600))
