"""Minisign keys and signatures for report runs.

Signatures are Ed25519 in minisign's format (prehashed ``ED`` with BLAKE2b-512, plus a trusted
comment covered by a global signature), written by ``py-minisign`` on top of ``cryptography``,
so Debian's ``minisign -V -p key.pub -m FILE`` verifies them offline. The secret key is read
from ``[signing] key_file`` (decrypted with ``key_password`` when it is scrypt-encrypted), held
only in memory and never written, printed or logged.
"""

from __future__ import annotations

import hashlib
import stat
from dataclasses import dataclass
from pathlib import Path

import minisign

from mlreport.atomic import write_atomically
from mlreport.config import CONFIG_NAME, Config

KEY_NAME = "mlreport.key"
PUB_NAME = "mlreport.pub"
SIG_SUFFIX = ".minisig"
MAX_KEY_BYTES = 4096  # a minisign key file is ~350 bytes; anything far bigger is not one


class SigningError(ValueError):
    """A key or signature cannot be used; the message names the file and what to do."""


@dataclass
class Signer:
    """A loaded secret key and the name it signs as. ``repr`` never shows the key."""

    name: str
    key_id: str  # minisign key id, upper-case hex as minisign prints it
    _key: minisign.SecretKey

    def __repr__(self) -> str:
        return f"Signer(name={self.name!r}, key_id={self.key_id!r})"

    def sign(self, data: bytes, trusted_comment: str, untrusted_comment: str) -> bytes:
        """A prehashed (``ED``) minisign signature of ``data``, as the ``.minisig`` file bytes."""
        sig = self._key.sign(
            data,
            prehash=True,
            trusted_comment=trusted_comment,
            untrusted_comment=untrusted_comment,
        )
        return bytes(sig) + b"\n"


_loaded: dict[tuple, Signer] = {}


def load_signer(config: Config) -> Signer | None:
    """The configured signer, or None when ``[signing] key_file`` is not set. The key is
    decrypted once per process (scrypt is slow on purpose)."""
    sc = config.signing
    if sc.key_file is None:
        return None
    where = f"{config.file or CONFIG_NAME}: signing.key_file"
    path = Path(sc.key_file)
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise SigningError(
            f"{where}: {path} does not exist; create a key pair with `mlreport keygen --out "
            f"{path.parent}` or fix the path"
        ) from None
    except OSError as exc:
        raise SigningError(f"{where}: {path} cannot be read: {exc.strerror}") from None
    password = sc.key_password.get_secret_value() if sc.key_password else None
    secret = hashlib.sha256(password.encode()).hexdigest() if password else None
    cache_key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size, secret, sc.signer)
    if cache_key not in _loaded:
        key = read_secret_key(path, where)
        unlock(key, password, path, where)
        key_id = key_id_of(key)
        _loaded.clear()  # one key at a time: do not keep old secrets around
        _loaded[cache_key] = Signer(sc.signer or f"key {key_id}", key_id, key)
    return _loaded[cache_key]


def read_secret_key(path: Path, where: str) -> minisign.SecretKey:
    if not path.is_file():
        raise SigningError(f"{where}: {path} is not a file; point it at a minisign secret key")
    if path.stat().st_size > MAX_KEY_BYTES:
        raise SigningError(
            f"{where}: {path} is {path.stat().st_size:,} bytes, too big for a minisign secret "
            "key; point it at the file `mlreport keygen` or `minisign -G` wrote"
        )
    data = path.read_bytes()
    try:
        key = minisign.SecretKey.from_bytes(data.strip())
    except (minisign.Error, ValueError, UnicodeDecodeError, IndexError) as exc:
        hint = "it is a public key; " if b"public key" in data[:80] else ""
        raise SigningError(
            f"{where}: {path} is not a minisign secret key ({hint}{_reason(exc)}); point it "
            "at the secret key `mlreport keygen` or `minisign -G` wrote"
        ) from None
    return key


def unlock(key: minisign.SecretKey, password: str | None, path: Path, where: str) -> None:
    """Decrypt an encrypted key in place; errors never include the password."""
    if not key.is_encrypted():
        return
    if not password:
        raise SigningError(
            f'{where}: {path} is encrypted; set [signing] key_password = "${{VAR}}" and '
            "export VAR with its password"
        )
    try:
        key.decrypt(password)
    except minisign.Error:
        raise SigningError(
            f"{where}: {path} cannot be decrypted: wrong [signing] key_password (or the key "
            "file is damaged)"
        ) from None


def key_id_of(key: minisign.SecretKey | minisign.PublicKey) -> str:
    pub = key.get_public_key() if isinstance(key, minisign.SecretKey) else key
    return pub._keynum_pk.key_id[::-1].hex().upper()  # minisign prints the id little-endian


def _reason(exc: Exception) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:120]


def read_public_key(path: Path, where: str = "--key") -> minisign.PublicKey:
    """A minisign public key file (two lines) or a bare base64 public key line."""
    try:
        if path.stat().st_size > MAX_KEY_BYTES:
            raise SigningError(f"{where}: {path} is too big for a minisign public key")
        data = path.read_bytes().strip()
    except FileNotFoundError:
        raise SigningError(f"{where}: {path} does not exist") from None
    except OSError as exc:
        raise SigningError(f"{where}: {path} cannot be read: {exc.strerror}") from None
    try:
        if b"\n" in data:
            return minisign.PublicKey.from_bytes(data)
        return minisign.PublicKey.from_base64(data)
    except (minisign.Error, ValueError, UnicodeDecodeError, IndexError) as exc:
        hint = "it is a secret key; " if b"secret key" in data[:80] else ""
        raise SigningError(
            f"{where}: {path} is not a minisign public key ({hint}{_reason(exc)}); pass the "
            ".pub file `mlreport keygen` or `minisign -G` wrote"
        ) from None


def public_key_path(config: Config) -> Path | None:
    """Where the configured public key is: ``public_key_file``, else ``key_file`` with the
    suffix ``.pub`` (as ``mlreport keygen`` and ``minisign -G`` name them)."""
    sc = config.signing
    if sc.public_key_file is not None:
        return Path(sc.public_key_file)
    if sc.key_file is not None:
        return Path(sc.key_file).with_suffix(".pub")
    return None


def generate_key_pair(out: Path, force: bool, password: str | None) -> tuple[Path, Path, str]:
    """Write ``mlreport.key`` (mode 0600; scrypt-encrypted when ``password`` is given) and
    ``mlreport.pub`` into ``out``; return their paths and the key id."""
    out.mkdir(parents=True, exist_ok=True)
    secret_path, public_path = out / KEY_NAME, out / PUB_NAME
    for p in (secret_path, public_path):
        if (p.exists() or p.is_symlink()) and not force:
            raise SigningError(
                f"{p} already exists; keep it (signatures made with it verify only with its "
                "public key), or pass --force to replace the key pair"
            )
    pair = minisign.KeyPair.generate()
    with pair.secret_key as secret:
        if password:
            secret.encrypt(password)
        _write_private(secret_path, bytes(secret) + b"\n")
    key_id = key_id_of(pair.public_key)
    pair.public_key.untrusted_comment = f"minisign public key {key_id}"
    write_atomically(public_path, bytes(pair.public_key) + b"\n", 0o644)
    return secret_path, public_path, key_id


def _write_private(path: Path, data: bytes) -> None:
    write_atomically(path, data, 0o600)


def doctor_check(config: Config) -> tuple[bool, str]:
    """``mlreport doctor``'s signing line: the key file is a readable minisign secret key that
    only its owner can read (and that opens with ``key_password``), and the public key, when
    one is configured or sits next to it, is the secret key's. Never shows key material."""
    sc = config.signing
    if sc.key_file is None:
        return True, "not configured (report runs are not signed; see docs/signing.md)"
    where = f"{config.file or CONFIG_NAME}: signing.key_file"
    path = Path(sc.key_file)
    try:
        problem = _key_file_problem(path, where)
        if problem:
            return False, problem
        key = read_secret_key(path, where)
        password = sc.key_password.get_secret_value() if sc.key_password else None
        unlock(key, password, path, where)
        key_id = key_id_of(key)
        return _public_key_line(config, key, key_id, path)
    except SigningError as exc:
        return False, str(exc)


def _key_file_problem(path: Path, where: str) -> str | None:
    """Missing, not a file, unreadable, or open to group or others (as ssh refuses keys)."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        if not path.is_file():
            return f"{where}: {path} is not a file; point it at a minisign secret key"
        with path.open("rb"):
            pass
    except FileNotFoundError:
        return (
            f"{where}: {path} does not exist; create a key pair with `mlreport keygen --out "
            f"{path.parent}` or fix the path"
        )
    except OSError as exc:
        return f"{where}: {path} cannot be read: {exc.strerror}; check its owner and mode"
    if mode & 0o077:
        return (
            f"{where}: {path} is open to group or others (mode {mode:04o}); a secret key must "
            f"be readable by its owner only: run `chmod 600 {path}`"
        )
    return None


def _public_key_line(
    config: Config, key: minisign.SecretKey, key_id: str, path: Path
) -> tuple[bool, str]:
    explicit = config.signing.public_key_file is not None
    pub_path = public_key_path(config)
    assert pub_path is not None
    where = f"{config.file or CONFIG_NAME}: signing.public_key_file"
    if not pub_path.exists():
        if explicit:
            return False, (
                f"{where}: {pub_path} does not exist; write it from the key pair "
                "(`mlreport keygen` writes both) or fix the path"
            )
        return True, (
            f"ok (key {key_id} in {path}); no public key at {pub_path}: verifiers need it "
            "(`mlreport verify --key`), so keep it next to the reports"
        )
    public = read_public_key(pub_path, where)
    if key_id_of(public) != key_id or bytes(public) != _public_of(key, public):
        return False, (
            f"{where}: {pub_path} is the public key {key_id_of(public)}, not the one of the "
            f"secret key {key_id}; signatures would not verify with it: use the .pub file "
            "written with the secret key"
        )
    return True, f"ok (key {key_id} in {path}; public key {pub_path} matches)"


def _public_of(key: minisign.SecretKey, like: minisign.PublicKey) -> bytes:
    """The secret key's public key, serialised with ``like``'s comment for comparison."""
    mine = key.get_public_key()
    mine.untrusted_comment = like.untrusted_comment
    return bytes(mine)
