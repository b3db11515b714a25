"""Time as mlreport stores and shows it: UTC always; ISO text in, ``…Z`` text out. One home for
these so a source, a family and a report agree (and a source need not import ``metrics``)."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def to_utc(value: datetime) -> datetime:
    """A datetime in UTC; one without a zone is read as UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def parse_time(text: str | datetime | None, field_name: str = "time") -> datetime | None:
    """Parse an ISO date or datetime; a value without a zone is read as UTC."""
    if text is None or isinstance(text, datetime):
        return to_utc(text) if text else None
    try:
        value = datetime.fromisoformat(str(text).strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"{field_name}: {text!r} is not an ISO date or time (e.g. 2026-03-01 or "
            "2026-03-01T12:00:00Z)"
        ) from None
    return to_utc(value)


def iso(value: datetime | None) -> str | None:
    """``2026-03-01T12:00:00Z`` (whole seconds, UTC); None stays None."""
    if value is None:
        return None
    return to_utc(value).strftime("%Y-%m-%dT%H:%M:%SZ")
