"""A built mlreport wheel carries the scaffold templates and the pytest11 entry point, so
`mlreport plugin new` and `mlreport.testing` work from a regular (non-editable) install."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).parents[2]
TEMPLATES = ROOT / "core" / "templates" / "plugin"


def test_the_wheel_carries_the_kit(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
         "--no-index", "--disable-pip-version-check", "-w", str(tmp_path), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    (wheel,) = tmp_path.glob("mlreport-*.whl")
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        (points,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
        entry_points = z.read(points).decode()
    wanted = {
        "mlreport/templates/plugin/" + p.relative_to(TEMPLATES).as_posix()
        for p in TEMPLATES.rglob("*.tmpl")
    }
    assert len(wanted) == 14
    assert wanted <= names, sorted(wanted - names)
    assert {"mlreport/testing.py", "mlreport/scaffold.py"} <= names
    assert "[pytest11]\nmlreport = mlreport.testing\n" in entry_points
