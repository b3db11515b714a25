"""The hooks a plugin may implement.

Registration hooks receive a ``register`` callable instead of returning values (the llm
pattern) so the kernel can tag every item with the plugin that registered it and report
duplicate names by naming both plugins.
"""

from __future__ import annotations

import pluggy

hookspec = pluggy.HookspecMarker("mlreport")
hookimpl = pluggy.HookimplMarker("mlreport")


@hookspec
def register_sources(register):
    """Register source types: ``register(type_name, SourceClass)``.

    ``type_name`` is what a config's ``[[sources]] type = "..."`` selects. The class
    subclasses :class:`mlreport.sources.Source`.
    """


@hookspec
def register_metrics(register):
    """Register metric families: ``register(family_name, MetricFamilyClass)``.

    The class subclasses :class:`mlreport.metrics.MetricFamily`; its metrics are named
    ``<family>.<metric>``.
    """


@hookspec
def register_reports(register):
    """Register report types: ``register(type_name, ReportTypeClass)``.

    The class subclasses :class:`mlreport.reporting.ReportType` and lists its sections.
    """


@hookspec
def register_renderers(register):
    """Register output formats: ``register(format_name, renderer)``.

    A renderer is a :class:`mlreport.reporting.Renderer`; it turns a built report into bytes.
    """


@hookspec
def register_notifiers(register):
    """Register notifiers: ``register(type_name, NotifierClass)``.

    A notifier receives the outcome of ``mlreport run`` (reports written, policy results).
    """


@hookspec
def register_template_helpers(register):
    """Register Jinja helpers for report templates: ``register(name, helper)`` adds a global
    (a chart function, say); ``register(name, helper, kind="filter")`` adds a filter.

    Every report environment (HTML, PDF and Markdown) gets every registered helper, so a
    report plugin draws its own charts without touching the renderers.
    """


@hookspec
def register_commands(cli):
    """Add commands to the ``mlreport`` click group ``cli``."""


@hookspec
def after_sync(warehouse, source, stats):
    """Called after a source synced successfully.

    ``warehouse`` is the open :class:`mlreport.warehouse.Warehouse`, ``source`` the source
    instance, ``stats`` a :class:`mlreport.sources.SyncStats`.
    """


@hookspec
def after_report(report, outputs):
    """Called after a report was rendered; ``outputs`` maps format name to the written path."""


@hookspec
def register_engines(register):
    """Register scan engines: ``register(engine_name, factory)``.

    A prediction log whose source says ``engine = "<engine_name>"`` has its aggregate scans
    run by ``factory(log, source_options, config)``, which returns a
    :class:`mlreport.engines.ScanEngine` (DuckDB-dialect SQL in, small results out). DuckDB,
    the default, needs no registration.
    """


@hookspec
def register_entity_settings(register):
    """Register the keys a plugin reads from ``[[entities]]`` entries:
    ``register(keys_or_prefix, validator)``.

    ``keys_or_prefix`` is a tuple or list of key names, or a string prefix claiming every key
    that starts with it. ``validator`` is a pydantic model, or a callable taking the entity's
    claimed keys as a dict and raising ``ValueError``. Checked when the config is loaded: a bad
    value, or a key no plugin and not the kernel knows, is an error naming
    ``entities[N].key`` (docs/plugins.md).
    """
