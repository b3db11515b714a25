"""SVG building blocks and the palette every chart shares: escaped text, the document
wrapper with its accessible label, and the "no data" placeholder."""

from __future__ import annotations

from markupsafe import Markup, escape

from mlreport.reports.charts.numbers import _f

FONT = "Inter, 'Helvetica Neue', 'Liberation Sans', Arial, 'DejaVu Sans', sans-serif"
INK = "#1f2933"
MUTED = "#616e7c"
GRID = "#e4e7eb"
AXIS = "#9aa5b1"
POLICY = "#b42318"
SERIES = ("#2357c6", "#7c3aed", "#0e7490", "#b45309")
LABEL_LIMIT = 300  # characters of a chart's accessible name and <title>: subjects are user data
DESC_LIMIT = 4000  # characters of its <desc>, which lists every value (and category name)
NAME_LIMIT = 200  # characters of one user string (a group, category, feature) in a <desc>
TONES = {
    "best": "#0e6b3f",
    "good": "#3f9142",
    "fair": "#b7791f",
    "poor": "#c53030",
    "none": "#7b8794",
}


def clip(text: str, limit: int) -> str:
    """A string that fits: a longer one is cut to ``limit`` characters ending in an ellipsis.
    Charts clip every user string they draw; an unbounded one costs layout time."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _text(x: float, y: float, content: str, **attrs: str | float) -> str:
    extra = "".join(f' {k.replace("_", "-")}="{escape(str(v))}"' for k, v in attrs.items())
    return f'<text x="{_f(x)}" y="{_f(y)}"{extra}>{escape(content)}</text>'


def _svg(
    width: int, height: int, label: str, desc: str, body: list[str], font_size: float = 10.5
) -> Markup:
    label, desc = clip(label, LABEL_LIMIT), clip(desc, DESC_LIMIT)
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-label="{escape(label)}" '
        f'class="chart" font-family="{escape(FONT)}" font-size="{font_size:g}" fill="{INK}">'
        f"<title>{escape(label)}</title><desc>{escape(desc)}</desc>"
    )
    return Markup(head + "".join(body) + "</svg>")


def _no_data(width: int, height: int, label: str, message: str) -> Markup:
    body = [
        f'<rect x="0.5" y="0.5" width="{width - 1}" height="{height - 1}" rx="4" '
        f'fill="#f8f9fb" stroke="{GRID}"/>',
        _text(width / 2, height / 2 + 4, message, text_anchor="middle", fill=MUTED),
    ]
    return _svg(width, height, label, message, body)
