"""Loading plugins and collecting what they register.

Built-ins are listed in ``DEFAULT_PLUGINS`` and go through the same hooks as third-party
plugins from the ``mlreport`` entry-point group. A plugin that fails to import or register is
recorded in ``load_errors`` and skipped, so one broken package never breaks unrelated commands.
"""

from __future__ import annotations

import functools
import importlib
import importlib.metadata
import os
import sys
import traceback
from dataclasses import dataclass, field
from typing import Any

import pluggy

from mlreport import hookspecs

DEFAULT_PLUGINS: tuple[str, ...] = (
    "mlreport.connectors.git",
    "mlreport.connectors.events",
    "mlreport.connectors.predictions",
    "mlreport.connectors.mlflow",
    "mlreport.connectors.opencost",
    "mlreport.connectors.prometheus",
    "mlreport.plugins.usage",
    "mlreport.connectors.githosts",
    "mlreport.connectors.spark",
    "mlreport.plugins.dora",
    "mlreport.plugins.performance",
    "mlreport.plugins.drift",
    "mlreport.plugins.fairness",
    "mlreport.plugins.explain",
    "mlreport.plugins.lifecycle",
    "mlreport.plugins.delivery",
    "mlreport.reports.renderers",
    "mlreport.reports.delivery",
    "mlreport.reports.quality",
    "mlreport.reports.models",
    "mlreport.reports.model_card",
    "mlreport.reports.notify",
    "mlreport.reports.diff",
    "mlreport.scaffold",
    "mlreport.reports.audit",
    "mlreport.connectors.focus",
    "mlreport.plugins.cost",
    "mlreport.plugins.roi",
    "mlreport.reports.roi",
    "mlreport.plugins.monitoring",
    "mlreport.reports.governance.report",
)

# Built-ins that add commands: cheap to import (click and the standard library only until a
# command runs), so every ``mlreport`` invocation loads them, unlike the other built-ins.
COMMAND_PLUGINS: tuple[str, ...] = (
    "mlreport.reports.diff",
    "mlreport.scaffold",
    "mlreport.reports.audit",
)

REGISTRATION_HOOKS = (
    "register_sources",
    "register_metrics",
    "register_reports",
    "register_renderers",
    "register_notifiers",
    "register_template_helpers",
    "register_engines",
    "register_entity_settings",
)


class PluginError(Exception):
    """A plugin problem the user has to resolve (duplicate names, unknown types)."""


@dataclass
class LoadError:
    plugin: str
    stage: str  # "import" or the hook name
    error: str


@dataclass
class Registered:
    name: str
    obj: Any
    plugin: str
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class Registry:
    """Items of one kind (sources, metrics, ...) by name, with the plugin that gave each."""

    kind: str
    items: dict[str, Registered] = field(default_factory=dict)
    conflicts: dict[str, list[str]] = field(default_factory=dict)
    replaced: dict[str, str] = field(default_factory=dict)  # name -> built-in plugin replaced
    # name -> plugins whose item clashed with a built-in without replace=True (ignored)
    shadowed: dict[str, list[str]] = field(default_factory=dict)

    def add(self, name: str, obj: Any, plugin: str, **options: Any) -> None:
        """Add an item; a second plugin giving the same name is a conflict, unless it says
        ``replace=True`` and the first is built in (a plugin replacing a built-in family,
        say), in either order."""
        new = Registered(name, obj, plugin, options)
        old = self.items.get(name)
        replaces_builtin = old is not None and old.plugin in DEFAULT_PLUGINS
        if old is None or old.plugin == plugin:
            self.items[name] = new
        elif options.get("replace") and replaces_builtin:
            self.items[name] = new
            self.replaced[name] = old.plugin
        elif old.options.get("replace") and plugin in DEFAULT_PLUGINS:
            self.replaced[name] = plugin
        elif plugin in DEFAULT_PLUGINS:  # a clash with a built-in: the built-in is kept
            self.items[name] = new
            self.shadowed.setdefault(name, []).append(old.plugin)
        elif replaces_builtin:
            self.shadowed.setdefault(name, []).append(plugin)
        else:
            self.conflicts.setdefault(name, [old.plugin]).append(plugin)

    def get(self, name: str) -> Any:
        if name in self.conflicts:
            owners = " and ".join(self.conflicts[name])
            raise PluginError(
                f"{self.kind} {name!r} is registered by both {owners}; uninstall one of them "
                "or limit plugins with MLREPORT_LOAD_PLUGINS"
            )
        try:
            return self.items[name].obj
        except KeyError:
            known = ", ".join(sorted(self.items)) or "none"
            raise PluginError(
                f"unknown {self.kind} {name!r} (known: {known}); "
                "check the spelling or install the plugin that provides it"
            ) from None

    def names(self) -> list[str]:
        return sorted(self.items)


def _plugin_name(pm: pluggy.PluginManager, plugin: object) -> str:
    return pm.get_name(plugin) or getattr(plugin, "__name__", repr(plugin))


class Plugins:
    """The plugin manager plus the registries built from it."""

    def __init__(self) -> None:
        self.pm = pluggy.PluginManager("mlreport")
        self.pm.add_hookspecs(hookspecs)
        self.load_errors: list[LoadError] = []
        self._registries: dict[str, Registry] = {}

    def load_defaults(self) -> None:
        for name in DEFAULT_PLUGINS:
            self._import_and_register(name, name)

    def load_entrypoints(self) -> None:
        allowed = os.environ.get("MLREPORT_LOAD_PLUGINS")
        allow = None if allowed is None else {p.strip() for p in allowed.split(",") if p.strip()}
        for ep in importlib.metadata.entry_points(group="mlreport"):
            if allow is not None and ep.name not in allow and ep.value not in allow:
                continue
            if self.pm.has_plugin(ep.name):
                continue
            try:
                module = ep.load()
            except (Exception, SystemExit):  # a plugin calling sys.exit must not end the CLI
                self._record(ep.name, "import")
                continue
            self._register(module, ep.name)

    def register_module(self, module: object, name: str | None = None) -> None:
        """Register an already imported plugin object (tests and embedding use this)."""
        self._register(module, name or getattr(module, "__name__", repr(module)))

    def block(self, name: str) -> None:
        """Unregister plugin ``name`` and keep it out (tests and embedding use this)."""
        self.pm.set_blocked(name)
        self._registries.clear()

    def _import_and_register(self, module_name: str, name: str) -> None:
        try:
            module = importlib.import_module(module_name)
        except (Exception, SystemExit):  # a plugin calling sys.exit must not end the CLI
            self._record(name, "import")
            return
        self._register(module, name)

    def _register(self, module: object, name: str) -> None:
        try:
            self.pm.register(module, name=name)
        except Exception:
            self._record(name, "register")
        self._registries.clear()

    def _record(self, name: str, stage: str) -> None:
        exc = sys.exc_info()[1]
        detail = traceback.format_exception_only(type(exc), exc)[-1].strip()
        self.load_errors.append(LoadError(name, stage, detail))

    def call_each(self, hook_name: str, **kwargs: Any) -> list[str]:
        """Call every implementation of a hook, each isolated: a failure (an exception, or a
        plugin calling ``sys.exit``) is recorded, so ``mlreport plugins`` and ``doctor`` show
        it, and the others still run. Returns the failures as "plugin: error" lines."""
        failures = []
        for impl in getattr(self.pm.hook, hook_name).get_hookimpls():
            try:
                impl.function(**kwargs)
            except (Exception, SystemExit):
                name = _plugin_name(self.pm, impl.plugin)
                self._record(name, hook_name)
                failures.append(f"{hook_name} of plugin {name}: {self.load_errors[-1].error}")
        return failures

    def registry(self, hook_name: str) -> Registry:
        """Call one registration hook, plugin by plugin, isolating failures."""
        if hook_name in self._registries:
            return self._registries[hook_name]
        registry = Registry(hook_name.removeprefix("register_").rstrip("s"))
        for impl in getattr(self.pm.hook, hook_name).get_hookimpls():
            plugin = _plugin_name(self.pm, impl.plugin)

            def register(name: Any, obj: Any, _plugin: str = plugin, **options: Any) -> None:
                if isinstance(name, list):  # register_entity_settings takes a list of keys
                    name = tuple(name)
                registry.add(name, obj, _plugin, **options)

            try:
                impl.function(register=register)
            except (Exception, SystemExit):
                self._record(plugin, hook_name)
        self._registries[hook_name] = registry
        return registry

    def sources(self) -> Registry:
        return self.registry("register_sources")

    def metrics(self) -> Registry:
        return self.registry("register_metrics")

    def reports(self) -> Registry:
        return self.registry("register_reports")

    def renderers(self) -> Registry:
        return self.registry("register_renderers")

    def notifiers(self) -> Registry:
        return self.registry("register_notifiers")

    def template_helpers(self) -> Registry:
        return self.registry("register_template_helpers")

    def engines(self) -> Registry:
        return self.registry("register_engines")

    def describe(self, include_builtin: bool = True) -> list[dict[str, Any]]:
        """What ``mlreport plugins`` prints: name, version, hooks, errors."""
        for hook in REGISTRATION_HOOKS:
            self.registry(hook)  # surfaces registration errors
        rows: dict[str, dict[str, Any]] = {}
        for plugin in self.pm.get_plugins():
            name = _plugin_name(self.pm, plugin)
            if not include_builtin and name in DEFAULT_PLUGINS:
                continue
            hooks = sorted(h.name for h in self.pm.get_hookcallers(plugin) or [])
            rows[name] = {
                "name": name,
                "version": _version_of(plugin),
                "hooks": hooks,
                "errors": [],
            }
        for err in self.load_errors:
            row = rows.setdefault(
                err.plugin, {"name": err.plugin, "version": None, "hooks": [], "errors": []}
            )
            row["errors"].append(f"{err.stage}: {err.error}")
        for hook in REGISTRATION_HOOKS:
            registry = self.registry(hook)
            for name, builtin in registry.replaced.items():
                owner = registry.items[name].plugin
                if owner in rows:
                    rows[owner].setdefault("replaces", []).append(f"{hook}: {name!r} of {builtin}")
            for name, owners in registry.shadowed.items():
                for owner in owners:
                    if owner in rows:
                        rows[owner]["errors"].append(
                            f"{hook}: {name!r} clashes with a built-in one, which is kept "
                            "(register it with replace=True to replace the built-in)"
                        )
            for name, owners in registry.conflicts.items():
                for owner in owners:
                    if owner in rows:
                        others = " and ".join(o for o in owners if o != owner)
                        rows[owner]["errors"].append(
                            f"{hook}: {name!r} is also registered by {others}"
                        )
        return sorted(rows.values(), key=lambda r: r["name"])


@functools.cache
def _distributions() -> dict[str, list[str]]:
    return importlib.metadata.packages_distributions()


def _version_of(plugin: object) -> str | None:
    module_name = getattr(plugin, "__name__", "")
    top = module_name.split(".")[0]
    try:
        dist = _distributions().get(top, [top])[0]
        return importlib.metadata.version(dist)
    except Exception:
        return None


_plugins: Plugins | None = None
_command_errors: list[LoadError] = []  # register_commands failures, kept for get_plugins()


def get_plugins() -> Plugins:
    """The process-wide plugin set, loaded on first use."""
    global _plugins
    if _plugins is None:
        _plugins = Plugins()
        _plugins.load_defaults()
        _plugins.load_entrypoints()
        _plugins.load_errors.extend(_command_errors)
    return _plugins


def add_plugin_commands(cli: Any) -> None:
    """Call ``register_commands`` of the ``COMMAND_PLUGINS`` built-ins, then of the third-party
    plugins: importing every built-in (polars, scikit-learn, WeasyPrint …) would make every
    ``mlreport --help`` slow. Failures are recorded for ``mlreport plugins`` and ``doctor``."""
    plugins = _plugins
    if plugins is None:  # load the built-ins that add commands and the third-party plugins
        plugins = Plugins()
        for module in COMMAND_PLUGINS:
            plugins._import_and_register(module, module)
        plugins.load_entrypoints()
    impls = plugins.pm.hook.register_commands.get_hookimpls()
    for impl in [i for i in impls if _plugin_name(plugins.pm, i.plugin) in COMMAND_PLUGINS]:
        impl.function(cli=cli)  # built-in: a failure is a bug and must show
    builtin = dict(cli.commands)
    for impl in impls:
        name = _plugin_name(plugins.pm, impl.plugin)
        if name in DEFAULT_PLUGINS:
            continue
        try:
            impl.function(cli=cli)
        except (Exception, SystemExit):
            plugins._record(name, "register_commands")
        if name in COMMAND_PLUGINS:
            builtin = dict(cli.commands)
            continue
        for command, original in builtin.items():  # a plugin may not replace a built-in
            if cli.commands.get(command) is not original:
                cli.commands[command] = original
                plugins.load_errors.append(
                    LoadError(
                        name,
                        "register_commands",
                        f"command {command!r} clashes with the built-in one, which is kept",
                    )
                )
    if plugins is not _plugins:
        _command_errors[:] = [e for e in plugins.load_errors if e.stage == "register_commands"]


def reset_plugins() -> None:
    """Forget loaded plugins (tests use this after changing the environment)."""
    global _plugins
    _plugins = None
    _command_errors.clear()
