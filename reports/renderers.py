"""The built-in output formats: html, pdf, json and md.

One HTML document (autoescaped Jinja, CSS and SVG charts inline, no external URL) is the
source of both the HTML output and the PDF. The PDF is made by WeasyPrint with a URL fetcher
that serves only files packaged under ``mlreport.reports/static`` (and ``data:`` URLs), so
nothing in a report — not even a hostile string that escaped escaping — can pull a local file
or a network resource into it.

Every user string a template shows passes the ``clip`` filter: an unbroken string of 8,000
characters took WeasyPrint 7 s to wrap, 100,000 did not finish in 15 minutes. The JSON keeps
the full value. The PDF is printed in a child process that is killed after
``MLREPORT_RENDER_TIMEOUT`` seconds, so no input can hang a run.
"""

from __future__ import annotations

import json
import logging
import math
import mimetypes
import os
import re
import subprocess
import sys
from datetime import datetime
from importlib import resources
from typing import Any

from jinja2 import pass_eval_context
from jinja2.nodes import EvalContext
from markupsafe import Markup

from mlreport import hookimpl
from mlreport.reporting import BuiltReport, RenderEnv, Renderer, ReportError, markdown_env
from mlreport.reports.charts.numbers import band_label, format_value, table_label
from mlreport.reports.charts.svg import clip
from mlreport.times import iso, parse_time
from mlreport.wording import plural

STATIC_PACKAGE = "mlreport.reports"
STATIC_SCHEME = "mlreport-static"
CLIP_LIMIT = 200  # characters shown of one user string: a name, title, id, version, value
RENDER_TIMEOUT_ENV = "MLREPORT_RENDER_TIMEOUT"
RENDER_TIMEOUT = 120.0  # seconds one PDF may take, unless the variable above says otherwise
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


# -- template helpers -------------------------------------------------------------------------


def static_text(name: str) -> str:
    return resources.files(STATIC_PACKAGE).joinpath("static", name).read_text(encoding="utf-8")


def _as_datetime(value: datetime | str | None) -> datetime | None:
    return value if isinstance(value, datetime) or value is None else parse_time(value)


def format_datetime(value: datetime | str | None) -> str:
    """``30 Jun 2026 14:05 UTC``; midnight drops the time."""
    dt = _as_datetime(value)
    if dt is None:
        return "—"
    day = f"{dt.day} {MONTHS[dt.month - 1]} {dt.year}"
    return day if (dt.hour, dt.minute) == (0, 0) else f"{day} {dt:%H:%M} UTC"


def format_date(value: datetime | str | None) -> str:
    dt = _as_datetime(value)
    return "—" if dt is None else f"{dt.day} {MONTHS[dt.month - 1]} {dt.year}"


def format_days(days: float) -> str:
    """A window's length: "90 days", "1 day", "2.5 days"; under a day in hours or minutes."""
    if days < 1:
        return format_value(days * 24, "hours")
    text = f"{days:g}" if days == int(days) else f"{days:.1f}"
    return plural_text(text, days == 1, "day")


def plural_text(number: str, one: bool, word: str) -> str:
    return f"{number} {word}" + ("" if one else "s")


def format_plural(n: Any, word: str, words: str | None = None) -> str:
    """``{{ n|plural("rollback") }}``: "1 rollback", "2 rollbacks", "—" for no number."""
    if n is None:
        return "—"
    return plural(int(n), word, words)


def md_escape(value: Any) -> str:
    """Text safe inside Markdown (and GitHub's HTML): no markup, links, tables or newlines."""
    text = "" if value is None else str(value)
    # only an "&" that would start an entity is escaped: "sex & age" stays readable as text
    text = re.sub(r"&(?=#?\w+;)", "&amp;", text).replace("<", "&lt;").replace(">", "&gt;")
    text = re.sub(r"([\\`*_{}\[\]#|~])", r"\\\1", text)
    text = re.sub(r"\s+", " ", text).strip()
    text = re.sub(r"^(\d+)([.)])", r"\1\\\2", text)  # not an ordered list item
    return "\\" + text if text[:1] in ("-", "+", "=") else text


def _clipped(value: Any, limit: int) -> str | None:
    """The shortened text of ``value``, or None when it is shown whole. Markup is never cut
    (it would cut its tags); templates clip raw data, which is never Markup."""
    if value is None or isinstance(value, Markup):
        return None
    text = str(value)
    return None if len(text) <= limit else clip(text, limit)


@pass_eval_context
def clip_filter(eval_ctx: EvalContext, value: Any, limit: int = CLIP_LIMIT) -> Any:
    """``{{ name|clip }}``: at most ``limit`` characters, ending in "…" when cut. In HTML the
    cut text is a ``<span class="clipped">`` whose ``title`` holds the full value (a tooltip);
    in Markdown it is plain text. A value that fits is returned unchanged, so reports of
    normal data are byte-identical to unclipped ones. Templates pass 600 for sentences built
    around user strings (notes, headlines, errors), which run longer than a name."""
    short = _clipped(value, limit)
    if short is None:
        return value
    if eval_ctx.autoescape:
        return Markup('<span class="clipped" title="{}">{}</span>').format(str(value), short)
    return short


def clip_text(value: Any, limit: int = CLIP_LIMIT) -> Any:
    """``{{ name|clip_text }}``: as ``clip`` but always plain text, for places markup cannot
    go (``<title>``, attributes) and for arguments of chart helpers."""
    short = _clipped(value, limit)
    return value if short is None else short


def format_isodt(value: datetime | str | None) -> str | None:
    return iso(_as_datetime(value))


FILTERS = {
    "value": format_value,
    "band_label": band_label,
    "table_label": table_label,
    "dt": format_datetime,
    "date": format_date,
    "days": format_days,
    "isodt": format_isodt,
    "md": md_escape,
    "plural": format_plural,
    "clip": clip_filter,
    "clip_text": clip_text,
}


@hookimpl
def register_template_helpers(register):
    for name, fn in FILTERS.items():
        register(name, fn, kind="filter")


JSON_DIGITS = 13  # significant digits of floats in JSON reports


def _finite(obj: Any) -> Any:
    """JSON has no NaN or infinity: they become null. Other floats keep 13 significant
    digits: DuckDB's parallel float sums (drift bins, log loss, standard deviations) can
    differ in the last bit between runs, and the same inputs must give the same bytes. The
    full values stay in ``metric_values``."""
    if isinstance(obj, float):
        return float(f"{obj:.{JSON_DIGITS}g}") if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(v) for v in obj]
    return obj


# -- renderers --------------------------------------------------------------------------------


class HtmlRenderer(Renderer):
    """A self-contained HTML document: inline CSS, inline SVG, no scripts, no external URLs."""

    extension = "html"
    media_type = "text/html"

    def render(self, report: BuiltReport, env: RenderEnv) -> bytes:
        jinja = env.jinja
        css = Markup(static_text("report.css"))  # packaged file, not user data
        html = jinja.get_template("base.html.j2").render(report=report, css=css)
        return html.encode("utf-8")


class JsonRenderer(Renderer):
    """Every number the report shows plus the manifest; sorted keys, so byte-stable."""

    extension = "json"
    media_type = "application/json"

    def render(self, report: BuiltReport, env: RenderEnv) -> bytes:
        data = _finite(report.as_json())
        text = json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False)
        return (text + "\n").encode("utf-8")


class MarkdownRenderer(Renderer):
    """A short summary for pull-request comments and chat."""

    extension = "md"
    media_type = "text/markdown"

    def render(self, report: BuiltReport, env: RenderEnv) -> bytes:
        jinja = markdown_env(env.config, report.template_packages)
        text = jinja.get_template("base.md.j2").render(report=report)
        text = re.sub(r"[ \t]+\n", "\n", text)
        return (re.sub(r"\n{3,}", "\n\n", text).strip() + "\n").encode("utf-8")


class PdfRenderer(Renderer):
    """The HTML output printed by WeasyPrint with the packaged-assets-only fetcher, in a
    child process with a time limit (``render_timeout``)."""

    extension = "pdf"
    media_type = "application/pdf"

    def render(self, report: BuiltReport, env: RenderEnv) -> bytes:
        html = env.output(report, "html").decode("utf-8")
        timeout = render_timeout(env.config.output.render_timeout)
        if timeout is None:
            return html_to_pdf(html)
        try:
            return html_to_pdf_limited(html, timeout)
        except subprocess.TimeoutExpired:
            raise ReportError(
                f"report {report.type!r}: the pdf output took longer than {timeout:g} s to "
                f"render and was stopped. Look for very long text in the report's data (the "
                f"html output shows what the pdf would print), raise {RENDER_TIMEOUT_ENV} "
                f"(seconds; 0 for no limit) or leave pdf out of the report's formats"
            ) from None
        except PdfWorkerError as exc:
            raise ReportError(f"report {report.type!r}: the pdf output failed: {exc}") from None


# -- PDF ----------------------------------------------------------------------------------------


def _fetcher_class():
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    class PackagedAssetFetcher(URLFetcher):
        """Serves ``mlreport-static:<name>`` from the packaged static folder and ``data:``
        URLs; refuses every other URL (file, http, https, ftp, ...) without opening it."""

        def __init__(self) -> None:
            super().__init__(timeout=1, allowed_protocols=("data",), allow_redirects=False)
            self.refused: list[str] = []
            self.served: list[str] = []

        def fetch(self, url: str, headers: dict | None = None) -> URLFetcherResponse:
            scheme = url.split(":", 1)[0].lower()
            if scheme == STATIC_SCHEME:
                return self._static(url)
            if scheme == "data":
                return super().fetch(url, headers)
            self.refused.append(url)
            raise ValueError(f"refused {url!r}: reports may only use packaged assets")

        def _static(self, url: str) -> URLFetcherResponse:
            name = url.split(":", 1)[1].split("?")[0].split("#")[0].lstrip("/")
            parts = name.split("/")
            if not name or "\\" in name or any(p in ("", ".", "..") for p in parts):
                self.refused.append(url)
                raise ValueError(f"refused {url!r}: not a packaged asset name")
            item = resources.files(STATIC_PACKAGE).joinpath("static", *parts)
            if not item.is_file():
                self.refused.append(url)
                raise ValueError(f"refused {url!r}: no such packaged asset")
            self.served.append(url)
            mime = mimetypes.guess_type(name)[0] or "application/octet-stream"
            return URLFetcherResponse(url, item.read_bytes(), {"Content-Type": mime})

    return PackagedAssetFetcher


def asset_fetcher():
    """A new restricted fetcher (WeasyPrint is imported only when a PDF is made)."""
    return _fetcher_class()()


def html_to_pdf(html: str, fetcher=None) -> bytes:
    """Print ``html`` to PDF. Dates in the PDF come from the document's ``dcterms`` meta tags
    (the report's ``as_of``), and no file identifier is written, so the same HTML gives the
    same PDF."""
    from weasyprint import HTML

    document = HTML(
        string=html,
        base_url=f"{STATIC_SCHEME}:/",
        url_fetcher=fetcher or asset_fetcher(),
        media_type="print",
    )
    return document.write_pdf(pdf_identifier=False)


# -- PDF with a time limit ---------------------------------------------------------------------


class PdfWorkerError(Exception):
    """The child process that prints the PDF exited with an error."""


log = logging.getLogger(__name__)


def render_timeout(configured: float = RENDER_TIMEOUT) -> float | None:
    """Seconds one PDF may take: ``MLREPORT_RENDER_TIMEOUT``, else ``[output] render_timeout``
    (120 by default); 0 means no limit (the PDF is then printed in this process)."""
    raw = os.environ.get(RENDER_TIMEOUT_ENV, "").strip()
    if not raw:
        return configured or None
    try:
        seconds = float(raw)
    except ValueError:
        seconds = math.nan
    if not math.isfinite(seconds) or seconds < 0:
        raise ReportError(
            f"{RENDER_TIMEOUT_ENV}={raw!r} is not a number of seconds: set it to a number "
            f"(0 for no limit) or unset it for the default of {RENDER_TIMEOUT:g}"
        )
    return seconds or None


def html_to_pdf_limited(html: str, timeout: float) -> bytes:
    """``html_to_pdf`` in a child Python that is killed after ``timeout`` seconds (raises
    ``subprocess.TimeoutExpired``). A WeasyPrint call cannot be interrupted inside a thread;
    a process can. The child costs a Python start and a WeasyPrint import per PDF."""
    proc = subprocess.run(
        [sys.executable, "-m", __name__, str(logging.getLogger().getEffectiveLevel())],
        input=html.encode("utf-8"),
        capture_output=True,
        timeout=timeout,
        check=False,
    )
    errors = proc.stderr.decode("utf-8", "replace").strip()
    for line in errors.splitlines():
        _relog(line)
    if proc.returncode != 0 or not proc.stdout.startswith(b"%PDF"):
        last = errors.splitlines()[-1] if errors else f"exit status {proc.returncode}"
        raise PdfWorkerError(_message(last))
    return proc.stdout


def _relog(line: str) -> None:
    """Log one record of the child here, under its own logger (``weasyprint``, ``fontTools``,
    ``py.warnings``), so ``-v`` decides what shows; stray text is the libraries' too."""
    try:
        record = json.loads(line)
        name, level, message = record["name"], int(record["level"]), str(record["message"])
    except (ValueError, KeyError, TypeError):
        name, level, message = "weasyprint", logging.WARNING, line
    logging.getLogger(name).log(level, "%s", message)


def _message(line: str) -> str:
    try:
        return str(json.loads(line)["message"])
    except (ValueError, KeyError, TypeError):
        return line


class _JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if record.exc_info:
            message += "\n" + self.formatException(record.exc_info)
        return json.dumps({"name": record.name, "level": record.levelno, "message": message})


def _pdf_worker() -> None:
    """``python -m mlreport.reports.renderers [LEVEL]``: HTML on stdin, PDF on stdout, log
    records (Python warnings included) as JSON lines on stderr for the parent to re-log."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_JsonLines())
    level = int(sys.argv[1]) if len(sys.argv) > 1 else logging.WARNING
    logging.basicConfig(level=level, handlers=[handler], force=True)
    logging.captureWarnings(True)
    html = sys.stdin.buffer.read().decode("utf-8")
    sys.stdout.buffer.write(html_to_pdf(html))
    sys.stdout.buffer.flush()


@hookimpl
def register_renderers(register):
    register("html", HtmlRenderer)
    register("pdf", PdfRenderer)
    register("json", JsonRenderer)
    register("md", MarkdownRenderer)


if __name__ == "__main__":
    _pdf_worker()
