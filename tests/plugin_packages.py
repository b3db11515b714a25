"""Installing a plugin package the way pip would, for the tests that need entry points."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, module_code: str) -> None:
    """An installed distribution ``name`` 1.2.3 with an ``mlreport`` entry point, on sys.path,
    and allowed to load (the suite loads no entry-point plugin otherwise)."""
    site = tmp_path / "site"
    site.mkdir(exist_ok=True)
    (site / f"{name}.py").write_text(module_code)
    dist = site / f"{name}-1.2.3.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.2.3\n")
    (dist / "entry_points.txt").write_text(f"[mlreport]\n{name} = {name}\n")
    monkeypatch.syspath_prepend(str(site))
    allowed = [p for p in os.environ.get("MLREPORT_LOAD_PLUGINS", "").split(",") if p]
    monkeypatch.setenv("MLREPORT_LOAD_PLUGINS", ",".join([*allowed, name]))
