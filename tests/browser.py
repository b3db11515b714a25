"""Real renderers for report tests: headless Chromium, started the way this machine's closed
network needs, and poppler's pdftoppm / pdftotext for PDFs."""

from __future__ import annotations

import subprocess
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    """Run Chromium with a fresh profile under ``tmp_path``; output is captured as text."""
    return subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def pdf_pages(pdf: Path, out: Path, dpi: int = 40) -> list[Path]:
    """The PDF's pages as PNG files under ``out`` (pdftoppm), in page order."""
    subprocess.run(["pdftoppm", "-png", "-r", str(dpi), str(pdf), str(out / "p")], check=True)
    return sorted(out.glob("p-*.png"))


def pdf_text(pdf: Path) -> str:
    """The PDF's text (pdftotext); pages are separated by form feeds."""
    return subprocess.run(
        ["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout


def assert_not_blank(png: Path) -> None:
    from PIL import Image

    lo, hi = Image.open(png).convert("L").getextrema()
    assert hi - lo > 150, "no contrast: blank page"
