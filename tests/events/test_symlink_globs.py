"""Events globs never step through folder symlinks and read each file once."""

from __future__ import annotations

import time

from mlreport.connectors.events.files import expand_paths
from tests.events.conftest import deploy_csv, deploy_row


def test_folder_symlinks_are_not_followed_and_each_file_is_read_once(world):
    world.write("events/a.csv", deploy_csv(deploy_row(1)))
    world.write("events/2026/b.csv", deploy_csv(deploy_row(2)))
    (world.root / "events" / "up").symlink_to("..")
    (world.root / "events" / "2026" / "up2").symlink_to("../..")
    (world.root / "events" / "latest.csv").symlink_to("2026/b.csv")  # b.csv again
    started = time.monotonic()
    paths = expand_paths([world.root / "events/**/*.csv", world.root / "events/a.csv"])
    assert time.monotonic() - started < 5
    assert paths == [world.root / "events/2026/b.csv", world.root / "events/a.csv"]

    world.config(deployments="events/**/*.csv")
    stats = world.sync()
    assert stats.reads["files"] == 2
    assert sorted(world.by_id("deployments")) == ["d1", "d2"]
