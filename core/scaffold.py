"""``mlreport plugin new``: write a pip-installable plugin package to start from.

A built-in plugin like any other: it adds its command through ``register_commands``. It imports
only the standard library and click, because command plugins are loaded when the CLI starts.
The templates live in ``mlreport/templates/plugin/<kind>/`` as package data; every file ends in
``.tmpl`` (so no tool mistakes a template for code) and ``__module__`` in a path stands for the
package's import name.
"""

from __future__ import annotations

import keyword
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from string import Template

import click

from mlreport import __version__, hookimpl

KINDS = ("source", "metrics", "report")
# PEP 508 distribution names: letters, digits, '.', '_', '-'; alphanumeric at both ends.
DIST_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$")
MAX_NAME = 64


class ScaffoldError(ValueError):
    """The package cannot be written as asked; the message says what to change."""


@dataclass(frozen=True)
class Names:
    """The names a package needs, all derived from the one the user gave."""

    dist: str  # distribution and entry-point name: mlreport-deploytool
    module: str  # import name: mlreport_deploytool
    type_name: str  # what the plugin registers: deploytool
    cls: str  # class-name prefix: Deploytool

    def substitutions(self, kind: str) -> dict[str, str]:
        major_minor = ".".join(__version__.split(".")[:2])
        return {
            "dist": self.dist,
            "module": self.module,
            "type_name": self.type_name,
            "cls": self.cls,
            "kind": kind,
            "mlreport_requirement": f"mlreport>={major_minor}",
        }


def plugin_names(name: str) -> Names:
    """Check ``name`` and derive the module, type and class names from it."""
    if not name or len(name) > MAX_NAME or not DIST_NAME.match(name):
        raise ScaffoldError(
            f"{name!r} is not a valid package name: use letters, digits, '-', '_' or '.', "
            f"starting and ending with a letter or digit, at most {MAX_NAME} characters "
            "(e.g. mlreport-deploytool)"
        )
    dist = re.sub(r"[-_.]+", "-", name).lower()
    module = dist.replace("-", "_")
    short = re.sub(r"^mlreport_", "", module) or module
    if not module.isidentifier() or keyword.iskeyword(module) or not short.isidentifier():
        raise ScaffoldError(
            f"{name!r} gives the module name {module!r}, which Python cannot import: "
            "start the name with a letter (e.g. mlreport-deploytool)"
        )
    if module == "mlreport" or module in sys.stdlib_module_names:
        raise ScaffoldError(
            f"{name!r} gives the module name {module!r}, which would shadow "
            f"{'mlreport itself' if module == 'mlreport' else 'a standard-library module'}; "
            f"choose another name (e.g. mlreport-{dist})"
        )
    cls = "".join(part.capitalize() for part in short.split("_"))
    return Names(dist, module, short, cls)


def new_plugin(
    name: str,
    kind: str,
    parent: Path,
    force: bool = False,
    taken: Mapping[str, str] | None = None,
) -> tuple[Path, list[Path]]:
    """Write the package for a ``kind`` plugin into ``parent/<name>``; return its folder and
    the files written. An existing non-empty folder is refused unless ``force``, and so is a
    name ``taken`` (registered name -> plugin) by another plugin."""
    if kind not in KINDS:
        raise ScaffoldError(f"unknown kind {kind!r}: choose one of {', '.join(KINDS)}")
    names = plugin_names(name)
    owner = (taken or {}).get(names.type_name)
    if owner is not None and owner != names.dist:
        raise ScaffoldError(
            f"there is already a {kind} named {names.type_name!r} (from plugin {owner}); "
            "choose another NAME, or your plugin would clash with it"
        )
    target = Path(parent) / names.dist
    if target.exists() and not target.is_dir():
        raise ScaffoldError(f"{target} exists and is not a folder; choose another --dir or name")
    if target.is_dir() and any(target.iterdir()) and not force:
        raise ScaffoldError(
            f"{target} is not empty; choose another --dir or name, or pass --force to "
            "overwrite the files the scaffold writes (other files are left alone)"
        )
    values = names.substitutions(kind)
    root = resources.files("mlreport").joinpath("templates", "plugin", kind)
    files = []
    for template, relative in _templates(root, Path()):
        path = target / Path(str(relative).replace("__module__", names.module))
        text = Template(template.read_text(encoding="utf-8")).substitute(values)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        files.append(path)
    return target, sorted(files)


def _templates(folder: Traversable, relative: Path) -> list[tuple[Traversable, Path]]:
    out = []
    for item in sorted(folder.iterdir(), key=lambda t: t.name):
        if item.is_dir():
            out += _templates(item, relative / item.name)
        elif item.name.endswith(".tmpl"):
            out.append((item, relative / item.name.removesuffix(".tmpl")))
    return out


def registered_names(kind: str) -> dict[str, str]:
    """The names plugins already register for ``kind`` (built-in and installed), with the plugin
    of each: a scaffold reusing one would be shadowed by, or clash with, that plugin."""
    from mlreport.plugin_manager import get_plugins

    plugins = get_plugins()
    registry = {"source": plugins.sources, "metrics": plugins.metrics, "report": plugins.reports}
    return {n: item.plugin for n, item in registry[kind]().items.items()}


@click.group(name="plugin")
def plugin_group() -> None:
    """Tools for plugin authors."""


@plugin_group.command(name="new")
@click.argument("name")
@click.option("--kind", type=click.Choice(KINDS), required=True, help="What the plugin adds.")
@click.option(
    "--dir",
    "parent",
    type=click.Path(file_okay=False),
    default=".",
    show_default=True,
    help="Folder to create the package in.",
)
@click.option("--force", is_flag=True, help="Write into a non-empty folder.")
def new(name: str, kind: str, parent: str, force: bool) -> None:
    """Write a pip-installable plugin package NAME with one KIND plugin, its tests and a README."""
    try:
        target, files = new_plugin(name, kind, Path(parent), force, registered_names(kind))
    except (ScaffoldError, OSError) as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(2)
    for path in files:
        click.echo(path)
    click.echo(
        f"next: cd {target} && pip install -e . && pytest   (then `mlreport plugins` lists it)",
        err=True,
    )


@hookimpl
def register_commands(cli: click.Group) -> None:
    cli.add_command(plugin_group)
