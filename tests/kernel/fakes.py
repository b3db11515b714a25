"""A small third-party-style plugin used by the kernel tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import click
import polars as pl
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from mlreport import hookimpl
from mlreport.metrics import MetricFamily, MetricInfo
from mlreport.reporting import Renderer, ReportType, Section
from mlreport.sources import Checkpoint, Rows, Source, SourceError, SourceOptions, Stream

CALLS: list[tuple[str, object]] = []
T0 = datetime(2026, 1, 1, tzinfo=UTC)


class CounterOptions(SourceOptions):
    n: int = 3
    fail_after: int | None = None  # raise after this many rows (fault injection)
    checkpoint_every: int | None = None
    entity: str = "svc"
    token: SecretStr | None = None


class CounterSource(Source):
    """Yields n deployments, one per day; the cursor is the number already read."""

    Options = CounterOptions

    def streams(self):
        return [Stream("deploys", "deployments", ("source", "deployment_id"), "entity")]

    def read(self, stream, cursor):
        start = cursor or 0
        for i in range(start, self.options.n):
            if self.options.fail_after is not None and i >= self.options.fail_after:
                raise SourceError(f"counter: row {i} is broken")
            self.count("rows_read")
            yield Rows(
                pl.DataFrame(
                    {
                        "deployment_id": [f"d{i}"],
                        "entity": [self.options.entity],
                        "environment": ["production"],
                        "finished_at": [T0 + timedelta(days=i)],
                        "status": ["success"],
                        "kind": ["planned"],
                        "version": ["v1"],
                    }
                )
            )
            every = self.options.checkpoint_every
            if every and (i + 1) % every == 0:
                yield Checkpoint(i + 1)
        yield Checkpoint(self.options.n)

    def check(self):
        return f"{self.options.n} rows available"


class CountMetrics(MetricFamily):
    name = "fake"
    metrics = (MetricInfo("fake.deploys", "count", "Deployments in the window"),)
    band_tables = {"fake-bands": {"fake.deploys": []}}

    def compute(self, ctx):
        for w in ctx.windows:
            for (entity,) in ctx.warehouse.con.execute(
                "SELECT DISTINCT entity FROM deployments ORDER BY 1"
            ).fetchall():
                (n,) = ctx.warehouse.con.execute(
                    "SELECT count(*) FROM deployments WHERE entity = ? "
                    "AND finished_at >= ? AND finished_at < ?",
                    [entity, w.start, w.end],
                ).fetchone()
                yield {
                    "metric": "fake.deploys",
                    "entity": entity,
                    "window_start": w.start,
                    "window_end": w.end,
                    "dimensions": {},
                    "value": float(n),
                    "unit": "count",
                    "n": n,
                }


class Count(Section):
    name = "count"
    title = "Count"
    template = "fake_count.html.j2"

    def data(self, ctx):
        (n,) = ctx.warehouse.con.execute("SELECT count(*) FROM deployments").fetchone()
        return {"deployments": n, "title": ctx.title}


class FakeReport(ReportType):
    name = "fake"
    title = "Fake report"
    inputs = ("deployments",)
    sections = (Count,)
    default_formats = ("txt",)


class Text(Renderer):
    extension = "txt"
    media_type = "text/plain"

    def render(self, report, env):
        lines = [report.title] + [f"{s.name}={s.data['deployments']}" for s in report.sections]
        return ("\n".join(lines) + "\n").encode()


class Recorder:
    def __init__(self, options, config):
        self.options = options

    def notify(self, outcome):
        CALLS.append(("notify", outcome))


@hookimpl
def register_sources(register):
    register("counter", CounterSource)


@hookimpl
def register_metrics(register):
    register("fake", CountMetrics)


@hookimpl
def register_reports(register):
    register("fake", FakeReport)


@hookimpl
def register_renderers(register):
    register("txt", Text)


@hookimpl
def register_notifiers(register):
    register("recorder", Recorder)


@hookimpl
def register_template_helpers(register):
    register("fake_badge", lambda text: f"[{text}]")
    register("shout", lambda text: str(text).upper(), kind="filter")


@hookimpl
def register_commands(cli):
    @cli.command(name="fake-hello")
    def fake_hello():
        """Say hello from a plugin command."""
        click.echo("hello from fake")


@hookimpl
def after_sync(warehouse, source, stats):
    CALLS.append(("after_sync", (source.name, stats.rows)))


@hookimpl
def after_report(report, outputs):
    CALLS.append(("after_report", (report.type, sorted(outputs))))


class Stewardship(BaseModel):
    """Entity keys of the fake plugin: a prefix claim validated by a strict model."""

    model_config = ConfigDict(extra="forbid")
    steward_email: str = Field(pattern=r"^[^@\s]+@[^@\s]+$")
    steward_backup: str | None = None


def _sla_hours(values: dict) -> None:
    hours = values["sla_hours"]
    if isinstance(hours, bool) or not isinstance(hours, int) or hours <= 0:
        raise ValueError("must be a whole number of hours above 0")


@hookimpl
def register_entity_settings(register):
    register("steward_", Stewardship)
    register(["sla_hours"], _sla_hours)
