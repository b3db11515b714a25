"""Globs over prediction logs never step through folder symlinks and read each file once.

An ``up -> ..`` link inside a log folder made ``logs/**/*.parquet`` read one file 41 times
(glob.glob follows folder symlinks under ``**``); two such links never finished.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from mlreport.connectors.globs import glob_files
from mlreport.connectors.predictions.files import expand
from tests.predictions.conftest import log_frame


def _looping_logs(root: Path) -> Path:
    """logs/a.parquet, logs/day/b.parquet, and two links back up the tree."""
    logs = root / "logs"
    (logs / "day").mkdir(parents=True)
    log_frame(5).write_parquet(logs / "a.parquet")
    log_frame(7, seed=1).write_parquet(logs / "day" / "b.parquet")
    (logs / "up").symlink_to("..")
    (logs / "day" / "up2").symlink_to("../..")
    return logs


def test_folder_symlinks_are_not_followed_and_each_file_is_read_once(world):
    logs = _looping_logs(world.root)
    started = time.monotonic()
    files = expand([logs / "**" / "*.parquet"], "path")
    assert time.monotonic() - started < 5
    assert files == [logs / "a.parquet", logs / "day" / "b.parquet"]

    world.sync(path="logs/**/*.parquet")
    assert world.log_row()["row_count"] == 12  # 5 + 7, not a multiple


def test_a_file_symlink_the_glob_names_is_read_but_never_twice(tmp_path):
    logs = _looping_logs(tmp_path)
    (logs / "latest.parquet").symlink_to("day/b.parquet")  # same file as day/b.parquet
    (tmp_path / "other.parquet").write_bytes((logs / "a.parquet").read_bytes())
    (logs / "copy.parquet").symlink_to("../other.parquet")  # another file: a match
    files = expand([logs / "**" / "*.parquet", logs / "a.parquet"], "path")
    assert files == [logs / "a.parquet", logs / "copy.parquet", logs / "day" / "b.parquet"]


def test_literal_folders_in_a_pattern_are_taken_as_written(tmp_path):
    """Only wildcards stop at symlinks: a folder named in the path is the user's choice."""
    logs = _looping_logs(tmp_path)
    (tmp_path / "current").symlink_to("logs/day")
    assert glob_files(str(tmp_path / "current" / "*.parquet")) == [
        tmp_path / "current" / "b.parquet"
    ]
    assert glob_files(str(logs / "*" / "*.parquet")) == [logs / "day" / "b.parquet"]


def test_matches_glob_without_symlinks(tmp_path, monkeypatch):
    """Without symlinks the expansion is glob's, hidden names and all."""
    import glob

    for rel in ["a/1.csv", "a/b/2.csv", "a/b/c/3.csv", ".h/4.csv", "a/.5.csv", "top.csv"]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("x\n")
    monkeypatch.chdir(tmp_path)
    for pattern in ["**/*.csv", "a/**", "*/*.csv", "a/?/*.csv", "**/.*.csv", "[at]*", "**"]:
        expected = sorted({Path(p) for p in glob.glob(pattern, recursive=True)})
        assert glob_files(pattern) == [p for p in expected if p.is_file()], pattern
    assert glob_files(str(tmp_path / "a" / "**" / "*.csv"))[0].is_absolute()
    assert os.sep not in str(glob_files("*.csv")[0])
