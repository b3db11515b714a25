"""`mlreport doctor` checks the `[signing]` key file: readable, a minisign secret key, open to
its owner only, opened by its password, and the public key its own; never shows key material."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.signing.conftest import invoke, make_org

PASSWORD = "correct horse battery staple 7"
MINISIGN = shutil.which("minisign")


def doctor(config: Path, env: dict[str, str] | None = None):
    result = invoke("--config", str(config), "doctor", env=env)
    lines = [line for line in result.output.splitlines() if line.startswith("signing:")]
    assert len(lines) == 1, result.output
    return result.exit_code, lines[0], result.output


def keygen(root: Path, *extra: str, env: dict[str, str] | None = None) -> Path:
    result = invoke("keygen", "--out", str(root / "keys"), *extra, env=env)
    assert result.exit_code == 0, result.output
    return root / "keys"


def secret_lines(keys: Path) -> list[str]:
    """The base64 lines of both key files (what must never be printed)."""
    return [(keys / n).read_text().splitlines()[1] for n in ("mlreport.key", "mlreport.pub")]


def test_a_good_key_pair_is_ok_and_named_by_its_id(tmp_path):
    config = make_org(tmp_path)
    keys = keygen(tmp_path)
    code, line, output = doctor(config)
    key_id = (keys / "mlreport.pub").read_text().splitlines()[0].rsplit(" ", 1)[1]
    assert code == 0, output
    assert line.startswith(f"signing: ok (key {key_id} in ")
    assert "public key" in line and "matches" in line
    assert not any(s in output for s in secret_lines(keys))


def test_without_signing_doctor_says_not_configured(tmp_path):
    config = make_org(tmp_path, signing="")
    code, line, _ = doctor(config)
    assert code == 0 and line.startswith("signing: not configured")


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660, 0o644])
def test_a_key_open_to_group_or_others_fails(tmp_path, mode):
    config = make_org(tmp_path)
    keys = keygen(tmp_path)
    os.chmod(keys / "mlreport.key", mode)
    code, line, output = doctor(config)
    assert code == 2
    assert "signing.key_file" in line and f"mode {mode:04o}" in line and "chmod 600" in line
    assert not any(s in output for s in secret_lines(keys))


def test_a_missing_key_file_or_a_folder_fails(tmp_path):
    config = make_org(tmp_path)
    code, line, _ = doctor(config)
    assert code == 2 and "does not exist" in line and "mlreport keygen" in line
    (tmp_path / "keys" / "mlreport.key").mkdir(parents=True)
    code, line, _ = doctor(config)
    assert code == 2 and "is not a file" in line


def test_a_file_that_is_not_a_secret_key_fails(tmp_path):
    config = make_org(tmp_path)
    keys = keygen(tmp_path)
    shutil.copy(keys / "mlreport.pub", keys / "mlreport.key")
    os.chmod(keys / "mlreport.key", 0o600)
    code, line, _ = doctor(config)
    assert code == 2 and "not a minisign secret key (it is a public key" in line
    (keys / "mlreport.key").write_text("<script>alert(1)</script>\n")
    code, line, _ = doctor(config)
    assert code == 2 and "not a minisign secret key" in line


def test_a_public_key_of_another_pair_fails(tmp_path):
    config = make_org(tmp_path)
    keys = keygen(tmp_path)
    other = keygen(tmp_path / "other")
    shutil.copy(other / "mlreport.pub", keys / "mlreport.pub")
    code, line, output = doctor(config)
    assert code == 2
    assert "signing.public_key_file" in line and "not the one of the secret key" in line
    assert not any(s in output for s in secret_lines(keys) + secret_lines(other))


def test_a_configured_public_key_must_exist_and_a_default_one_may_be_missing(tmp_path):
    config = make_org(tmp_path)
    keys = keygen(tmp_path)
    (keys / "mlreport.pub").unlink()
    code, line, _ = doctor(config)
    assert code == 0 and "no public key at" in line
    text = config.read_text() + 'public_key_file = "keys/elsewhere.pub"\n'
    config.write_text(text)
    code, line, _ = doctor(config)
    assert code == 2 and "signing.public_key_file" in line and "elsewhere.pub" in line


def test_an_encrypted_key_needs_its_password_and_never_shows_it(tmp_path):
    env = {"KEY_PASSWORD": PASSWORD}
    config = make_org(tmp_path)
    keygen(tmp_path, "--password-env", "KEY_PASSWORD", env=env)
    code, line, _ = doctor(config)
    assert code == 2 and "encrypted" in line and "key_password" in line
    config.write_text(config.read_text() + 'key_password = "${KEY_PASSWORD}"\n')
    code, line, output = doctor(config, env=env)
    assert code == 0, output
    code, line, output = doctor(config, env={"KEY_PASSWORD": "wrong " + PASSWORD})
    assert code == 2 and "wrong [signing] key_password" in line
    assert PASSWORD not in output


@pytest.mark.skipif(MINISIGN is None, reason="the minisign binary is not installed")
def test_keys_made_by_the_real_minisign_pass(tmp_path):
    keys = tmp_path / "keys"
    keys.mkdir()
    subprocess.run(
        [MINISIGN, "-G", "-W", "-p", str(keys / "mlreport.pub"), "-s", str(keys / "mlreport.key")],
        check=True,
        capture_output=True,
    )
    os.chmod(keys / "mlreport.key", 0o600)
    config = make_org(tmp_path)
    code, line, output = doctor(config)
    assert code == 0, output
    assert "matches" in line
