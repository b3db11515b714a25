"""`mlreport verify` and the real minisign binary on a signed run: it passes fresh, and fails,
naming the file, after any change to an output, the statement or the signature."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.signing.conftest import invoke

MINISIGN = shutil.which("minisign")
needs_minisign = pytest.mark.skipif(
    MINISIGN is None, reason="the minisign binary is not installed (apt-get install minisign)"
)


def verify(folder: Path, *extra: str):
    return invoke("verify", str(folder), *extra)


def key(signed_org: Path) -> str:
    return str(signed_org / "keys" / "mlreport.pub")


def minisign_verify(pub: str, statement: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [MINISIGN, "-V", "-p", pub, "-m", str(statement)], capture_output=True, text=True
    )


def test_a_fresh_signed_run_verifies(signed_org, run_copy):
    folder = run_copy()
    result = verify(folder, "--key", key(signed_org))
    assert result.exit_code == 0, result.output
    names = {p.name for p in folder.iterdir()}
    reports = {"delivery.html", "delivery.json", "delivery.md", "delivery.manifest.json"}
    statements = {"delivery.intoto.json", "run.intoto.json"}
    assert reports | {"check.json"} <= names
    assert statements | {s + ".minisig" for s in statements} <= names
    files = [n for n in names if not n.endswith((".intoto.json", ".minisig"))]
    assert len(statements) * 2 + len(files) == len(names)  # nothing else: every file is covered
    assert f"OK, {len(files)} file(s) match 2 statement(s)" in result.output
    assert "good signature by key" in result.output


def test_the_config_public_key_is_the_default(signed_org):
    config = str(signed_org / "mlreport.toml")
    result = invoke("--config", config, "verify", str(signed_org / "out" / "2026-04-01"))
    assert result.exit_code == 0, result.output


def test_the_statement_is_an_in_toto_statement_of_every_output(signed_org, run_copy):
    folder = run_copy()
    statement = json.loads((folder / "delivery.intoto.json").read_text())
    assert statement["_type"] == "https://in-toto.io/Statement/v1"
    assert statement["predicateType"] == "https://mlreport.dev/attestation/report-run/v1"
    subjects = {s["name"]: s["digest"]["sha256"] for s in statement["subject"]}
    assert set(subjects) == {
        "delivery.html",
        "delivery.json",
        "delivery.md",
        "delivery.manifest.json",
    }
    for name, digest in subjects.items():
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest
    predicate = statement["predicate"]
    manifest = json.loads((folder / "delivery.manifest.json").read_text())
    assert predicate["as_of"] == "2026-04-01T00:00:00Z"
    assert predicate["config_hash"] == manifest["config_hash"]
    assert predicate["inputs"] == manifest["inputs"] and predicate["inputs"]
    assert "mlreport.reports.audit" in predicate["plugins"]
    assert predicate["mlreport_version"] == manifest["mlreport_version"]
    assert predicate["run_id"] == manifest["run_id"]
    assert predicate["signer"]["name"] == "Risk Office <risk@example.com>"
    assert predicate["signer"]["key_id"] == manifest["signature"]["key_id"]
    assert predicate["signer"]["signed_at"].endswith("Z")


@needs_minisign
def test_the_real_minisign_binary_verifies_the_statements(signed_org, run_copy):
    folder = run_copy()
    for name in ("delivery.intoto.json", "run.intoto.json"):
        done = minisign_verify(key(signed_org), folder / name)
        assert done.returncode == 0, done.stderr
        assert "Signature and comment signature verified" in done.stdout + done.stderr
        assert f"file:{name}\thashed\tsigner:Risk Office <risk@example.com>" in done.stdout
    sig = (folder / "delivery.intoto.json.minisig").read_text().splitlines()
    assert base64.b64decode(sig[1])[:2] == b"ED"  # prehashed (BLAKE2b-512), minisign's default


@needs_minisign
def test_minisign_rejects_a_changed_statement(signed_org, run_copy):
    folder = run_copy()
    path = folder / "delivery.intoto.json"
    path.write_bytes(path.read_bytes().replace(b"2026-04-01T00:00:00Z", b"2026-04-02T00:00:00Z"))
    assert minisign_verify(key(signed_org), path).returncode != 0


def _flip_one_byte(path: Path, at: int = 200) -> None:
    data = bytearray(path.read_bytes())
    data[at] = ord("X") if data[at] != ord("X") else ord("Y")
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("name", ["delivery.html", "delivery.json", "delivery.md", "check.json"])
def test_one_changed_byte_of_an_output_names_it(signed_org, run_copy, name):
    folder = run_copy()
    _flip_one_byte(folder / name, at=min(50, (folder / name).stat().st_size - 2))
    result = verify(folder, "--key", key(signed_org))
    assert result.exit_code == 1, result.output
    assert f"FAILED {name}: output changed" in result.output
    assert result.output.count("FAILED") == 1


def test_a_changed_statement_is_named(signed_org, run_copy):
    folder = run_copy()
    path = folder / "delivery.intoto.json"
    statement = json.loads(path.read_text())
    statement["predicate"]["signer"]["name"] = "Mallory"
    path.write_text(json.dumps(statement, indent=2, sort_keys=True) + "\n")
    result = verify(folder, "--key", key(signed_org))
    assert result.exit_code == 1
    assert "FAILED delivery.intoto.json: statement changed after it was signed" in result.output


def test_a_statement_rewritten_with_new_hashes_for_a_changed_output_fails(signed_org, run_copy):
    """The attack that matters: change an output and update its sha256 in the statement."""
    folder = run_copy()
    html = folder / "delivery.html"
    html.write_text(html.read_text().replace("Delivery", "Forged", 1))
    path = folder / "delivery.intoto.json"
    statement = json.loads(path.read_text())
    for s in statement["subject"]:
        if s["name"] == "delivery.html":
            s["digest"]["sha256"] = hashlib.sha256(html.read_bytes()).hexdigest()
    path.write_text(json.dumps(statement, indent=2, sort_keys=True) + "\n")
    result = verify(folder, "--key", key(signed_org))
    assert result.exit_code == 1
    assert "FAILED delivery.intoto.json: statement changed" in result.output


@pytest.mark.parametrize("line", [1, 2, 3])
def test_a_changed_signature_is_named(signed_org, run_copy, line):
    folder = run_copy()
    sig = folder / "delivery.intoto.json.minisig"
    lines = sig.read_text().splitlines()
    if line == 2:  # the trusted comment: covered by the global signature
        lines[2] = lines[2].replace("signer:Risk Office", "signer:Mallory")
    else:  # a byte of the signature or of the global signature
        b = lines[line]
        lines[line] = b[:20] + ("A" if b[20] != "A" else "B") + b[21:]
    sig.write_text("\n".join(lines) + "\n")
    result = verify(folder, "--key", key(signed_org))
    assert result.exit_code == 1, result.output
    assert "FAILED delivery.intoto.json.minisig: signature changed" in result.output
    assert result.output.count("FAILED") == 1


def test_the_wrong_public_key_fails(signed_org, run_copy, tmp_path):
    folder = run_copy()
    assert invoke("keygen", "--out", str(tmp_path / "other")).exit_code == 0
    result = verify(folder, "--key", str(tmp_path / "other" / "mlreport.pub"))
    assert result.exit_code == 1
    assert "FAILED delivery.intoto.json: signed by key" in result.output
    assert "not by the given public key" in result.output


def test_a_missing_output_and_an_extra_file_are_named(signed_org, run_copy):
    folder = run_copy()
    (folder / "delivery.md").unlink()
    (folder / "delivery.csv").write_text("smuggled\n")
    result = verify(folder, "--key", key(signed_org))
    assert result.exit_code == 1
    assert "FAILED delivery.md: output missing" in result.output
    assert "FAILED delivery.csv: extra file" in result.output


def test_a_removed_signature_fails_when_a_key_is_given(signed_org, run_copy):
    folder = run_copy()
    (folder / "delivery.intoto.json.minisig").unlink()
    result = verify(folder, "--key", key(signed_org))
    assert result.exit_code == 1
    assert "FAILED delivery.intoto.json.minisig: signature missing" in result.output


@pytest.mark.parametrize(
    "subject",
    [
        {"name": "../../etc/passwd", "digest": {"sha256": "0" * 64}},
        {"name": "delivery.html", "digest": {"sha256": "not-a-hash"}},
        "just a string",
    ],
)
def test_a_hostile_unsigned_statement_is_refused_and_named(run_copy, subject):
    folder = run_copy()
    for sig in folder.glob("*.minisig"):
        sig.unlink()
    path = folder / "delivery.intoto.json"
    statement = json.loads(path.read_text())
    statement["subject"].append(subject)
    path.write_text(json.dumps(statement))
    result = verify(folder)
    assert result.exit_code == 1
    assert "FAILED delivery.intoto.json: statement changed: not a valid in-toto Statement" in (
        result.output
    )


def test_an_unsigned_run_verifies_its_hashes_and_says_it_is_unsigned(run_copy):
    folder = run_copy()
    for sig in folder.glob("*.minisig"):
        sig.unlink()
    result = verify(folder)
    assert result.exit_code == 0
    assert "delivery.intoto.json is not signed" in result.output


@pytest.mark.parametrize(
    "case, message",
    [
        ("no folder", "not a folder"),
        ("empty folder", "no *.intoto.json statement here"),
        ("signed, no key", "the statement is signed; pass the signer's public key"),
        ("bad key", "is not a minisign public key"),
        ("secret key as --key", "it is a secret key"),
    ],
)
def test_what_cannot_be_checked_exits_2(signed_org, run_copy, tmp_path, case, message):
    folder = run_copy()
    args = [str(folder)]
    if case == "no folder":
        args = [str(tmp_path / "nope")]
    elif case == "empty folder":
        (tmp_path / "empty").mkdir()
        args = [str(tmp_path / "empty")]
    elif case == "bad key":
        (tmp_path / "bad.pub").write_bytes(b"\x00\xff garbage")
        args += ["--key", str(tmp_path / "bad.pub")]
    elif case == "secret key as --key":
        args += ["--key", str(signed_org / "keys" / "mlreport.key")]
    result = invoke("verify", *args)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_the_installed_command_exits_with_the_documented_codes(signed_org, run_copy):
    """The real console entry point (subprocess), not only CliRunner."""
    folder = run_copy()
    cmd = [sys.executable, "-c", "from mlreport.cli import main; main()", "verify", str(folder)]
    ok = subprocess.run([*cmd, "--key", key(signed_org)], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert ok.stderr == ""
    _flip_one_byte(folder / "delivery.json", 10)
    bad = subprocess.run([*cmd, "--key", key(signed_org)], capture_output=True, text=True)
    assert bad.returncode == 1 and "FAILED delivery.json: output changed" in bad.stdout
    err = subprocess.run([*cmd[:-1], str(folder / "nope")], capture_output=True, text=True)
    assert err.returncode == 2 and err.stderr.startswith("Error: ")


@pytest.mark.parametrize("what", ["statement", "signature"])
def test_a_folder_in_place_of_a_statement_or_signature_is_named(signed_org, run_copy, what):
    folder = run_copy()
    name = "delivery.intoto.json" + ("" if what == "statement" else ".minisig")
    (folder / name).unlink()
    (folder / name).mkdir()
    result = verify(folder, "--key", key(signed_org))
    assert result.exit_code == 1, result.output
    assert f"FAILED {name}:" in result.output


def test_a_hostile_extra_file_name_is_shown_escaped(signed_org, run_copy):
    folder = run_copy()
    (folder / "evil\nFAILED nothing\x1b[2J.html").write_text("x")
    result = verify(folder, "--key", key(signed_org))
    assert result.exit_code == 1
    assert "FAILED 'evil\\nFAILED nothing\\x1b[2J.html': extra file" in result.output
    assert "\x1b" not in result.output


def test_the_run_statement_covers_what_the_run_wrote_after_its_reports(signed_org, run_copy):
    """`run.intoto.json` covers every file no report statement lists: check.json, and any
    record a later step of the run adds before publishing (an archive's run.json, say)."""
    from datetime import UTC, datetime

    from mlreport.config import load_config
    from mlreport.pipeline import attest_run
    from mlreport.signing import load_signer

    folder = run_copy()
    (folder / "run.intoto.json").unlink()
    (folder / "run.intoto.json.minisig").unlink()
    (folder / "run.json").write_text('{"status": "ok"}\n')
    config = load_config(signed_org / "mlreport.toml")
    attest_run(folder, config, datetime(2026, 4, 1, tzinfo=UTC), load_signer(config))
    statement = json.loads((folder / "run.intoto.json").read_text())
    assert [s["name"] for s in statement["subject"]] == ["check.json", "run.json"]
    result = verify(folder, "--key", key(signed_org))
    assert result.exit_code == 0, result.output
