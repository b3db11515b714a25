"""Is a rendered output well-formed for its format? One question per format, answered with
the problem in words (or None), so tests and tools can say exactly what is wrong with a file.

Standard library only: HTML is checked with ``html.parser`` for balanced elements, which is
what a broken template (an unclosed ``{% if %}`` branch, a missing ``</div>``) breaks.
"""

from __future__ import annotations

import json
from html.parser import HTMLParser


def problem(fmt: str, data: bytes) -> str | None:
    """What is wrong with ``data`` as a ``fmt`` output, or None: HTML is a document with
    balanced elements and no unrendered template syntax, JSON parses and carries the
    manifest, a PDF is complete, Markdown is UTF-8 and not blank; any other format is
    non-empty."""
    if not data:
        return f"the {fmt} output is empty"
    checks = {"html": _check_html, "json": _check_json, "pdf": _check_pdf, "md": _check_md}
    return checks.get(fmt, lambda _: None)(data)


# elements without an end tag, and those whose end tag HTML lets a document leave out
_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source"}
_VOID |= {"track", "wbr", "path", "circle", "rect", "line", "polyline", "stop", "use"}
_OPTIONAL_END = {"p", "li", "dt", "dd", "tr", "td", "th", "thead", "tbody", "tfoot", "option"}


class _Balance(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.problem: str | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag not in _VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list) -> None:
        pass  # <br/>, <path .../>: self-closed

    def handle_endtag(self, tag: str) -> None:
        if tag in _VOID or self.problem:
            return
        while self.stack and self.stack[-1] != tag and self.stack[-1] in _OPTIONAL_END:
            self.stack.pop()
        if not self.stack or self.stack[-1] != tag:
            line, col = self.getpos()
            open_tag = self.stack[-1] if self.stack else "nothing"
            self.problem = f"line {line}: </{tag}> closes {open_tag}"
            return
        self.stack.pop()


def _check_html(data: bytes) -> str | None:
    text = data.decode("utf-8")
    if "<html" not in text.lower():
        return "not an HTML document (no <html> element)"
    for marker in ("{{", "{%"):  # not "}}": CSS closes nested blocks that way
        if marker in text:
            return f"unrendered template syntax {marker!r} at offset {text.index(marker)}"
    parser = _Balance()
    parser.feed(text)
    parser.close()
    if parser.problem:
        return f"unbalanced HTML: {parser.problem}"
    left = [t for t in parser.stack if t not in _OPTIONAL_END]
    return f"unbalanced HTML: <{left[-1]}> is never closed" if left else None


def _check_json(data: bytes) -> str | None:
    try:
        body = json.loads(data)
    except ValueError as exc:
        return f"not valid JSON: {exc}"
    if not isinstance(body, dict) or "manifest" not in body:
        return "the JSON output carries no manifest"
    return None


def _check_pdf(data: bytes) -> str | None:
    if not data.startswith(b"%PDF-"):
        return "not a PDF (no %PDF- header)"
    if b"%%EOF" not in data[-1024:]:
        return "a truncated PDF (no %%EOF at the end)"
    return None


def _check_md(data: bytes) -> str | None:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"not UTF-8 at byte {exc.start}"
    return None if text.strip() else "the Markdown output is blank"
