"""Templates for running the nightly job from a scheduler (`mlreport schedule --print`).

Kept apart from the CLI so the templates and their placeholders live in one place; this module
imports only the standard library, since the CLI imports it at start-up for the choices.
"""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path
from string import Template
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlreport.config import Config

SCHEDULES = {
    "cron": "cron.txt",
    "systemd": "systemd.txt",
    "kubernetes": "kubernetes.yaml",
    "github-actions": "github-actions.yaml",
    "gitlab-ci": "gitlab-ci.yaml",
}


def render_schedule(kind: str, config: Config, at: str, wait: int, image: str) -> str:
    """The template for ``kind`` filled with absolute paths, so it can be pasted as it is."""
    from mlreport import CONFIG_NAME

    hour, _, minute = at.partition(":")
    if not (hour.isdigit() and minute.isdigit() and int(hour) < 24 and int(minute) < 60):
        raise ValueError(f"--at {at!r}: give a time of day as HH:MM, e.g. 02:30")
    workdir = (config.file.parent if config.file else Path.cwd()).resolve()
    out = config.output.dir.resolve()
    text = resources.files("mlreport").joinpath("templates/schedule", SCHEDULES[kind]).read_text()
    return Template(text).safe_substitute(
        minute=int(minute),
        hour=int(hour),
        wait=wait,
        workdir=workdir,
        config=(config.file or workdir / CONFIG_NAME).resolve(),
        mlreport=shutil.which("mlreport") or "mlreport",
        out=out,
        log=out / "mlreport.log",
        image=image,
    )
