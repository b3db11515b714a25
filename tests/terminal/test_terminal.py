"""The real CLI in a subprocess: stderr stays empty on success, other libraries' warnings show
only with -v, every error is one line, tracebacks only with -vv, progress only on a terminal."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LAUNCH = (
    "from mlreport.plugin_manager import get_plugins\n"
    "from tests.terminal import noisy\n"
    "get_plugins().register_module(noisy, 'noisy')\n"
    "from mlreport.cli import main\n"
    "main()\n"
)
CONFIG = """{top}
[[sources]]
name = "noisy"
type = "noisy"
mode = "{mode}"
[[reports]]
type = "delivery"
formats = {formats}
"""


def write_config(root: Path, mode: str = "quiet", formats=("html", "json", "md"), top=""):
    text = CONFIG.format(top=top, mode=mode, formats=list(formats)).replace("'", '"')
    (root / "mlreport.toml").write_text(text, encoding="utf-8")


def mlreport(root: Path, *args: str, stderr=subprocess.PIPE) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "200"}
    env.pop("MLREPORT_CONFIG", None)
    return subprocess.run(
        [sys.executable, "-c", LAUNCH, *args],
        cwd=root,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
        timeout=300,
    )


def one_error_line(result: subprocess.CompletedProcess) -> str:
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: "), lines[0]
    return lines[0]


def test_run_prints_nothing_on_stderr_on_success(tmp_path):
    write_config(tmp_path)
    result = mlreport(tmp_path, "run", "--as-of", "2026-03-05")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    printed = [Path(line) for line in result.stdout.splitlines()]
    assert printed and all(p.is_file() for p in printed), result.stdout


def test_library_warnings_show_only_with_v(tmp_path):
    write_config(tmp_path, mode="warn")
    quiet = mlreport(tmp_path, "run", "--as-of", "2026-03-05")
    assert quiet.returncode == 0 and quiet.stderr == ""
    loud = mlreport(tmp_path, "-v", "run", "--as-of", "2026-03-06")
    assert loud.returncode == 0, loud.stderr
    assert "WARNING py.warnings:" in loud.stderr
    assert "UserWarning: noisylib: glyph table pruned while subsetting" in loud.stderr
    assert "WARNING noisylib.subset: noisylib: 3 glyphs dropped" in loud.stderr
    assert "INFO syncing noisy (noisy)" in loud.stderr  # -v also shows mlreport's notes
    assert "Traceback" not in loud.stderr


def test_weasyprint_warnings_from_the_pdf_worker_show_only_with_v(tmp_path):
    """A template override with a CSS property WeasyPrint does not know: a real library
    warning, raised in the child process that prints the PDF."""
    templates = tmp_path / "templates"
    templates.mkdir()
    original = resources.files("mlreport.reports").joinpath("templates/provenance.html.j2")
    override = '<p style="frobnicate: 1">styled</p>\n' + original.read_text(encoding="utf-8")
    (templates / "provenance.html.j2").write_text(override, encoding="utf-8")
    write_config(tmp_path, formats=("html", "pdf"), top='templates = "templates"')
    quiet = mlreport(tmp_path, "run", "--as-of", "2026-03-05")
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stderr == ""
    assert (tmp_path / "out" / "2026-03-05" / "delivery.pdf").read_bytes().startswith(b"%PDF")
    loud = mlreport(tmp_path, "-v", "run", "--as-of", "2026-03-06")
    assert loud.returncode == 0, loud.stderr
    assert "WARNING weasyprint: Ignored `frobnicate: 1`" in loud.stderr


@pytest.mark.parametrize(
    ("setup", "args", "expected"),
    [
        ("[output]\ndirr = 'x'\n", ["run"], "output.dirr"),
        ("[output]\nkeep_days = 0\n", ["run"], "output.keep_days"),
        ("", ["--config", "missing.toml", "run"], "missing.toml"),
        ("", ["run", "--bogus"], "No such option '--bogus'"),
        ("", ["report", "nosuchreport"], "nosuchreport"),
        ("", ["sync", "nosuchsource"], "nosuchsource"),
    ],
)
def test_errors_are_one_line(tmp_path, setup, args, expected):
    write_config(tmp_path)
    cfg = tmp_path / "mlreport.toml"
    cfg.write_text(setup + cfg.read_text())
    result = mlreport(tmp_path, *args)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert expected in one_error_line(result)


def test_a_bug_is_one_line_and_its_traceback_shows_with_vv(tmp_path):
    write_config(tmp_path, mode="bug")
    result = mlreport(tmp_path, "sync", "--fail-fast")
    assert result.returncode == 2
    line = one_error_line(result)
    assert "unexpected RuntimeError: noisy source tripped over its own feet" in line
    assert "-vv" in line
    verbose = mlreport(tmp_path, "-vv", "sync", "--fail-fast")
    assert verbose.returncode == 2
    assert "Traceback (most recent call last)" in verbose.stderr
    assert 'raise RuntimeError("noisy source tripped over its own feet")' in verbose.stderr
    assert verbose.stderr.splitlines()[-1] == line  # the error stays the last line


@pytest.mark.parametrize("command", [["sync"], ["run", "--as-of", "2026-03-05"]])
def test_a_multi_line_error_is_printed_as_one_line(tmp_path, command):
    write_config(tmp_path, mode="multiline")
    result = mlreport(tmp_path, *command)
    assert result.returncode == 2
    line = one_error_line(result)
    assert line.startswith("Error: source noisy: noisy: the feed said; line one; line two")


def test_a_failed_source_in_run_is_one_line_per_error(tmp_path):
    write_config(tmp_path, mode="bug")
    result = mlreport(tmp_path, "run", "--as-of", "2026-03-05")
    assert result.returncode == 2
    assert one_error_line(result) == (
        "Error: source noisy: RuntimeError: noisy source tripped over its own feet"
    )
    verbose = mlreport(tmp_path, "-vv", "run", "--as-of", "2026-03-06")
    assert "Traceback (most recent call last)" in verbose.stderr


def _on_a_terminal(root: Path, *args: str) -> tuple[subprocess.CompletedProcess, str]:
    """Run with stderr on a pseudo-terminal (stdout stays a pipe); returns what it drew."""
    leader, follower = pty.openpty()
    try:
        result = mlreport(root, *args, stderr=follower)
    finally:
        os.close(follower)
    drawn = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the child closed its end
            break
        if not chunk:
            break
        drawn += chunk
    os.close(leader)
    return result, drawn.decode("utf-8", "replace")


def test_progress_shows_on_a_terminal_only(tmp_path):
    """stderr on a pseudo-terminal: rich draws the sync progress there; stdout (a pipe) still
    carries only the results. ``-q`` draws nothing."""
    write_config(tmp_path)
    result, drawn = _on_a_terminal(tmp_path, "sync")
    assert result.returncode == 0
    assert result.stdout.startswith("noisy\t30 rows")
    assert "noisy/deploys" in drawn and "rows" in drawn, drawn
    assert "\x1b[" in drawn  # drawn with terminal control sequences
    assert "noisy/deploys" not in result.stdout
    quiet, drawn = _on_a_terminal(tmp_path, "-q", "sync", "--full")
    assert quiet.returncode == 0 and quiet.stdout.startswith("noisy\t30 rows")
    assert "noisy/deploys" not in drawn and drawn.strip() == ""


@pytest.mark.slow
def test_demo_prints_nothing_on_stderr(tmp_path):
    """The whole pipeline, PDFs included, on the sample organisation: results on stdout, and
    the index where the README says it is."""
    result = mlreport(tmp_path, "demo", "--out", "mlreport-demo")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    printed = result.stdout.splitlines()
    assert printed[-1] == str(tmp_path / "mlreport-demo" / "reports" / "index.html")
    assert any(line.endswith(".pdf") for line in printed)
    index = (tmp_path / "mlreport-demo" / "reports" / "index.html").read_text(encoding="utf-8")
    assert 'data-status="policy failure"' in index  # the sample fails some policies on purpose


def test_no_command_shows_the_help_not_an_error(tmp_path):
    result = mlreport(tmp_path)
    shown = result.stdout + result.stderr
    assert shown.startswith("Usage: mlreport [OPTIONS] COMMAND [ARGS]...")
    assert "Error" not in shown
    assert "-v, --verbose" in shown


def test_cloud_sdk_debug_records_stay_hidden_even_under_vv():
    """botocore logs request headers (session tokens) and STS responses at DEBUG; no redaction
    knows those values, so the SDK loggers are capped at WARNING whatever the verbosity."""
    import logging

    from mlreport.terminal import CREDENTIAL_LOGGERS, setup_logging

    try:
        setup_logging(verbose=2, quiet=False)
        assert logging.getLogger().level == logging.DEBUG
        for name in CREDENTIAL_LOGGERS:
            assert not logging.getLogger(name).isEnabledFor(logging.INFO), name
            assert logging.getLogger(f"{name}.endpoint").isEnabledFor(logging.WARNING), name
    finally:
        logging.basicConfig(level=logging.WARNING, force=True)
        for name in CREDENTIAL_LOGGERS:
            logging.getLogger(name).setLevel(logging.NOTSET)
