"""Small readers of stored values that sources, families and reports share."""

from __future__ import annotations

import json
from typing import Any


def as_dict(value: Any) -> dict[str, Any]:
    """A JSON object column as a dict; a list of ``{key, value}`` pairs is accepted too."""
    if value is None:
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return {}
    if isinstance(value, dict):
        return value
    if isinstance(value, list):
        out = {}
        for item in value:
            if isinstance(item, dict) and "key" in item:
                out[str(item["key"])] = item.get("value")
        return out
    return {}


def blank(text: Any) -> bool:
    """None or only whitespace."""
    return text is None or not str(text).strip()
