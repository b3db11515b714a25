"""Every format shows who signed and for which as-of (EU AI Act Annex IV 2(g)); the signer's
name is escaped like any user string; signing keeps HTML, JSON and Markdown byte-identical."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.signing.conftest import AS_OF, invoke, make_org

HOSTILE = "<script>alert(1)</script> & *Co* | `x`"


def _report(root: Path, out: str, signing: str | None = None) -> tuple[Path, Path]:
    signer = json.dumps(HOSTILE)
    signing = (
        signing
        if signing is not None
        else (f'\n[signing]\nkey_file = "keys/mlreport.key"\nsigner = {signer}\n')
    )
    config = make_org(root, signing)
    if signing and not (root / "keys").exists():
        assert invoke("keygen", "--out", str(root / "keys")).exit_code == 0
    assert invoke("--config", str(config), "sync").exit_code == 0
    result = invoke(
        "--config", str(config), "report", "delivery", "--format", "html,pdf,json,md",
        "--out", str(root / out), "--as-of", AS_OF,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return config, root / out


@pytest.fixture(scope="module")
def signed_report(tmp_path_factory) -> tuple[Path, Path]:
    return _report(tmp_path_factory.mktemp("signed"), "a")


def _key_id(root: Path) -> str:
    return (root / "keys" / "mlreport.pub").read_text().splitlines()[0].rsplit(" ", 1)[1]


def test_json_carries_the_signature_block(signed_report):
    config, out = signed_report
    data = json.loads((out / "delivery.json").read_text())
    assert data["manifest"]["signature"] == {
        "status": "signed",
        "signer": HOSTILE,
        "key_id": _key_id(config.parent),
        "signed_at": "2026-04-01T00:00:00Z",
        "statement": "delivery.intoto.json",
        "signature": "delivery.intoto.json.minisig",
    }


def test_html_shows_the_signer_escaped(signed_report):
    config, out = signed_report
    html = (out / "delivery.html").read_text()
    assert "Signed by <strong>&lt;script&gt;alert(1)&lt;/script&gt; &amp; *Co*" in html
    assert "<script>" not in html
    assert _key_id(config.parent) in html and "2026-04-01T00:00:00Z" in html


def test_markdown_shows_the_signer_escaped(signed_report):
    config, out = signed_report
    md = (out / "delivery.md").read_text()
    line = next(x for x in md.splitlines() if x.startswith("_Signed by"))
    assert "<script>" not in line and "&lt;script&gt;" in line
    assert r"\*Co\*" in line  # Markdown emphasis in a name is shown, not applied
    assert _key_id(config.parent) in line and "2026-04-01T00:00:00Z" in line


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="pdftotext (poppler-utils) missing")
def test_pdf_shows_the_signer(signed_report):
    config, out = signed_report
    text = subprocess.run(
        ["pdftotext", str(out / "delivery.pdf"), "-"], capture_output=True, text=True, check=True
    ).stdout
    flat = " ".join(text.split())
    assert "Signed by <script>alert(1)</script> & *Co*" in flat  # as text, not markup
    assert _key_id(config.parent) in flat


def test_the_report_command_writes_a_verifiable_signed_run(signed_report):
    config, out = signed_report
    result = invoke("--config", str(config), "verify", str(out))
    assert result.exit_code == 0, result.output
    assert "OK, 5 file(s) match 1 statement(s)" in result.output


def test_signed_outputs_stay_byte_identical_across_runs(signed_report):
    config, out = signed_report
    again = invoke(
        "--config", str(config), "report", "delivery", "--format", "html,json,md",
        "--out", str(config.parent / "b"), "--as-of", AS_OF,
    )  # fmt: skip
    assert again.exit_code == 0
    for ext in ("html", "json", "md"):
        name = f"delivery.{ext}"
        assert (out / name).read_bytes() == (config.parent / "b" / name).read_bytes(), name


def test_an_unsigned_report_says_so(tmp_path):
    _, out = _report(tmp_path, "u", signing="")
    assert "Not signed" in (out / "delivery.html").read_text()
    assert "_Not signed: no signing key is configured._" in (out / "delivery.md").read_text()
    assert json.loads((out / "delivery.json").read_text())["manifest"]["signature"] == {
        "status": "unsigned",
        "statement": "delivery.intoto.json",
    }
    assert not list(out.glob("*.minisig"))
    assert invoke("verify", str(out)).exit_code == 0


def test_an_unsigned_rerun_removes_the_old_signature(tmp_path):
    config, out = _report(tmp_path, "r")
    assert (out / "delivery.intoto.json.minisig").exists()
    config.write_text(config.read_text().split("[signing]")[0])
    result = invoke(
        "--config", str(config), "report", "delivery", "--format", "html,pdf,json,md",
        "--out", str(out), "--as-of", AS_OF,
    )  # fmt: skip
    assert result.exit_code == 0
    assert not (out / "delivery.intoto.json.minisig").exists()
    assert invoke("verify", str(out)).exit_code == 0
