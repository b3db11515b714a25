"""Every public name of ``mlreport`` is documented in docs/plugins.md with its signature, its
class attributes and methods (the datasette-style meta-test, for the API as for the hooks)."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

import mlreport

DOCS = Path(__file__).parents[2] / "docs" / "plugins.md"
NAMES = [n for n in mlreport.__all__ if not n.startswith("__")]


def _entries() -> dict[str, str]:
    text = DOCS.read_text()
    parts = re.split(r"^#### `(\w+)`\n", text, flags=re.M)
    return {parts[i]: parts[i + 1].split("\n#", 1)[0] for i in range(1, len(parts), 2)}


def _documented_params(name: str, entry: str) -> list[str] | None:
    m = re.search(rf"`{name}\(([^`]*)\)`", entry)
    if m is None:
        return None
    inner = m.group(1).replace("\n", " ")
    return [p.split("=")[0].strip() for p in inner.split(",") if p.strip()]


def _own_members(cls: type) -> list[str]:
    """Public attributes and methods a class defines itself (not pydantic's or object's)."""
    names = set(getattr(cls, "__annotations__", {})) | set(vars(cls))
    fields = {**getattr(cls, "__dataclass_fields__", {}), **getattr(cls, "model_fields", {})}
    return sorted(
        n for n in names if not n.startswith("_") and n not in fields and n not in ("model_config",)
    )


def test_the_docs_list_no_public_name_that_does_not_exist():
    assert sorted(_entries()) == sorted(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_every_public_name_is_documented_with_its_signature(name):
    entry = _entries().get(name)
    assert entry is not None, f"{name} is not documented in {DOCS} (#### `{name}`)"
    obj = getattr(mlreport, name)
    try:
        signature = inspect.signature(obj)
    except (TypeError, ValueError):
        signature = None
    if signature is not None and name != "hookimpl":
        wanted = [p for p in signature.parameters if p not in ("self", "args", "kwargs")]
        assert _documented_params(name, entry) == wanted, f"{name}: document `{name}{signature}`"
    if inspect.isclass(obj):
        for member in _own_members(obj):
            assert f"`{member}" in entry, f"{name}.{member} is not documented in {DOCS}"
        if getattr(obj, "__annotations__", None) and signature is None:  # a TypedDict
            for key in obj.__annotations__:
                assert f"`{key}`" in entry, f"{name}[{key!r}] is not documented"
