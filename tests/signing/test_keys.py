"""Keys: `mlreport keygen`, password-protected keys, keys made by the real minisign, hostile
key files, and the secret key never reaching outputs, logs or the warehouse."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from mlreport.config import ConfigError, parse_config
from tests.signing.conftest import AS_OF, invoke, make_org, run

MINISIGN = shutil.which("minisign")
needs_minisign = pytest.mark.skipif(
    MINISIGN is None, reason="the minisign binary is not installed (apt-get install minisign)"
)
PASSWORD = "correct horse battery staple 7"


def test_keygen_writes_a_private_secret_key_and_never_prints_it(tmp_path):
    result = invoke("keygen", "--out", str(tmp_path / "k"))
    assert result.exit_code == 0, result.output
    secret = tmp_path / "k" / "mlreport.key"
    public = tmp_path / "k" / "mlreport.pub"
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert secret.read_text().startswith("untrusted comment: minisign secret key\n")
    secret_line = secret.read_text().splitlines()[1]
    assert secret_line not in result.output
    assert str(secret) in result.output and str(public) in result.output
    key_id = public.read_text().splitlines()[0].rsplit(" ", 1)[1]
    assert f"key {key_id}" in result.output


def test_keygen_refuses_to_replace_a_key_pair_without_force(tmp_path):
    assert invoke("keygen", "--out", str(tmp_path)).exit_code == 0
    before = (tmp_path / "mlreport.key").read_bytes()
    again = invoke("keygen", "--out", str(tmp_path))
    assert again.exit_code == 2
    assert "already exists" in again.output and "--force" in again.output
    assert (tmp_path / "mlreport.key").read_bytes() == before
    forced = invoke("keygen", "--out", str(tmp_path), "--force")
    assert forced.exit_code == 0
    assert (tmp_path / "mlreport.key").read_bytes() != before
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_keygen_force_replaces_a_symlink_instead_of_writing_through_it(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me\n")
    (tmp_path / "k").mkdir()
    os.symlink(victim, tmp_path / "k" / "mlreport.key")
    assert invoke("keygen", "--out", str(tmp_path / "k"), "--force").exit_code == 0
    assert victim.read_text() == "keep me\n"
    assert not (tmp_path / "k" / "mlreport.key").is_symlink()
    assert stat.S_IMODE((tmp_path / "k" / "mlreport.key").stat().st_mode) == 0o600


def test_keygen_password_env_must_be_set(tmp_path, monkeypatch):
    monkeypatch.delenv("NO_SUCH_PW", raising=False)
    result = invoke("keygen", "--out", str(tmp_path), "--password-env", "NO_SUCH_PW")
    assert result.exit_code == 2 and "NO_SUCH_PW is not set" in result.output
    assert not (tmp_path / "mlreport.key").exists()


def _signed_with_password(root: Path, monkeypatch) -> Path:
    monkeypatch.setenv("MLR_TEST_PW", PASSWORD)
    assert (
        invoke("keygen", "--out", str(root / "keys"), "--password-env", "MLR_TEST_PW").exit_code
        == 0
    )
    assert "encrypted secret key" in (root / "keys" / "mlreport.key").read_text()
    signing = (
        '\n[signing]\nkey_file = "keys/mlreport.key"\nkey_password = "${MLR_TEST_PW}"\n'
        'signer = "Risk Office"\n'
    )
    return make_org(root, signing)


def test_a_password_protected_key_signs_and_the_real_minisign_verifies(tmp_path, monkeypatch):
    config = _signed_with_password(tmp_path, monkeypatch)
    result = run(config)
    assert result.exit_code in (0, 1), result.output
    folder = tmp_path / "out" / AS_OF
    pub = str(tmp_path / "keys" / "mlreport.pub")
    assert invoke("verify", str(folder), "--key", pub).exit_code == 0
    if MINISIGN:
        done = subprocess.run(
            [MINISIGN, "-V", "-p", pub, "-m", str(folder / "delivery.intoto.json")],
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("password", ["wrong password", None])
def test_a_wrong_or_missing_password_is_one_clear_line(tmp_path, monkeypatch, password):
    config = _signed_with_password(tmp_path, monkeypatch)
    if password is None:
        config.write_text(config.read_text().replace('key_password = "${MLR_TEST_PW}"\n', ""))
    else:
        monkeypatch.setenv("MLR_TEST_PW", password)
    result = run(config)
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "signing.key_file" in lines[0]
    assert ("wrong [signing] key_password" if password else "is encrypted") in lines[0]
    assert PASSWORD not in result.output and (password is None or password not in result.output)
    assert not (tmp_path / "out" / AS_OF).exists()  # failed before any work


@needs_minisign
def test_keys_made_by_the_real_minisign_sign_for_mlreport(tmp_path):
    keys = tmp_path / "keys"
    keys.mkdir()
    subprocess.run(
        [MINISIGN, "-G", "-W", "-p", str(keys / "mlreport.pub"), "-s", str(keys / "mlreport.key")],
        check=True,
        capture_output=True,
    )
    config = make_org(tmp_path)
    assert run(config).exit_code in (0, 1)
    verified = invoke("--config", str(config), "verify", str(tmp_path / "out" / AS_OF))
    assert verified.exit_code == 0, verified.output  # with the config's .pub


@needs_minisign
def test_an_encrypted_key_from_the_real_minisign_is_decrypted(tmp_path, monkeypatch):
    keys = tmp_path / "keys"
    keys.mkdir()
    subprocess.run(
        [MINISIGN, "-G", "-p", str(keys / "mlreport.pub"), "-s", str(keys / "mlreport.key")],
        input=f"{PASSWORD}\n{PASSWORD}\n",
        text=True,
        check=True,
        capture_output=True,
    )
    monkeypatch.setenv("MLR_TEST_PW", PASSWORD)
    signing = '\n[signing]\nkey_file = "keys/mlreport.key"\nkey_password = "${MLR_TEST_PW}"\n'
    config = make_org(tmp_path, signing)
    assert run(config).exit_code in (0, 1)
    folder = tmp_path / "out" / AS_OF
    assert invoke("--config", str(config), "verify", str(folder)).exit_code == 0


@needs_minisign
def test_the_real_minisign_signs_with_a_key_from_keygen(tmp_path, monkeypatch):
    monkeypatch.setenv("MLR_TEST_PW", PASSWORD)
    assert invoke("keygen", "--out", str(tmp_path), "--password-env", "MLR_TEST_PW").exit_code == 0
    (tmp_path / "f").write_text("hello\n")
    subprocess.run(
        [MINISIGN, "-S", "-s", str(tmp_path / "mlreport.key"), "-m", str(tmp_path / "f")],
        input=f"{PASSWORD}\n",
        text=True,
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [MINISIGN, "-V", "-p", str(tmp_path / "mlreport.pub"), "-m", str(tmp_path / "f")],
        check=True,
        capture_output=True,
    )


HOSTILE_KEYS = {
    "missing": (None, "does not exist; create a key pair with `mlreport keygen"),
    "empty": (b"", "is not a minisign secret key"),
    "garbage": (b"untrusted comment: x\n<script>alert(1)</script>\n", "not a minisign secret key"),
    "binary": (bytes(range(256)), "is not a minisign secret key"),
    "huge": (b"A" * 100_000, "too big for a minisign secret key"),
    "folder": ("dir", "is not a file"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE_KEYS))
def test_a_hostile_or_missing_key_file_is_one_clear_line(tmp_path, case):
    content, message = HOSTILE_KEYS[case]
    keys = tmp_path / "keys"
    keys.mkdir()
    if content == "dir":
        (keys / "mlreport.key").mkdir()
    elif content is not None:
        (keys / "mlreport.key").write_bytes(content)
    result = run(make_org(tmp_path))
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith("Error: ") and "signing.key_file" in lines[0]
    assert message in lines[0]
    assert "<script>" not in lines[0]


def test_a_public_key_given_as_the_secret_key_is_named(tmp_path):
    assert invoke("keygen", "--out", str(tmp_path / "other")).exit_code == 0
    (tmp_path / "keys").mkdir()
    shutil.copy(tmp_path / "other" / "mlreport.pub", tmp_path / "keys" / "mlreport.key")
    result = run(make_org(tmp_path))
    assert result.exit_code == 2 and "it is a public key" in result.output


def test_the_secret_key_and_password_never_reach_outputs_logs_or_the_warehouse(
    tmp_path, monkeypatch
):
    config = _signed_with_password(tmp_path, monkeypatch)
    secret_line = (tmp_path / "keys" / "mlreport.key").read_text().splitlines()[1]
    proc = subprocess.run(
        [sys.executable, "-c", "from mlreport.cli import main; main()", "-vv"]
        + ["--config", str(config), "run", "--as-of", AS_OF],
        capture_output=True,
        text=True,
        env={**os.environ, "MLR_TEST_PW": PASSWORD, "MLREPORT_LOAD_PLUGINS": ""},
    )
    assert proc.returncode in (0, 1), proc.stderr
    assert proc.stderr  # -vv logs something: the check below is not vacuous
    needles = [secret_line, PASSWORD, secret_line[:40]]
    for needle in needles:
        assert needle not in proc.stdout + proc.stderr
    for path in (tmp_path / "out").rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            for needle in needles:
                assert needle.encode() not in data, path
    wh = (tmp_path / "wh.duckdb").read_bytes()
    for needle in needles:
        assert needle.encode() not in wh
    history = invoke(
        "--config", str(config), "history", "--format", "json", env={"MLR_TEST_PW": PASSWORD}
    )
    assert history.exit_code == 0 and '"signature": "signed"' in history.output
    assert PASSWORD not in history.output and secret_line not in history.output


def test_var_is_allowed_for_the_key_password_only(tmp_path, monkeypatch):
    monkeypatch.setenv("X", "value")
    ok = parse_config('[signing]\nkey_password = "${X}"\n', None, tmp_path)
    assert ok.signing.key_password.get_secret_value() == "value"
    assert "value" in ok.secrets
    with pytest.raises(ConfigError, match=r"signing.signer: \$\{VAR\} is only for credentials"):
        parse_config('[signing]\nsigner = "${X}"\n', None, tmp_path)


@pytest.mark.parametrize("signer", ["line\nbreak", "tab\there", "Zoë", "x" * 101, ""])
def test_a_signer_name_that_cannot_go_into_a_trusted_comment_is_refused(tmp_path, signer):
    text = f"[signing]\nsigner = {json.dumps(signer)}\n"
    with pytest.raises(ConfigError, match=r"signing\.signer"):
        parse_config(text, tmp_path / "mlreport.toml", tmp_path)
