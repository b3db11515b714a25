from __future__ import annotations

from pathlib import Path

import pytest

from tests.focus.builder import FocusWorld


@pytest.fixture
def world(tmp_path: Path) -> FocusWorld:
    return FocusWorld(tmp_path)
