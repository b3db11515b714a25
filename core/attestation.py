"""In-toto statements of report runs, and checking them.

Every report run writes ``<report>.intoto.json``: an in-toto Statement v1 whose subjects are the
run's output files (name and sha256) and whose predicate is the run's provenance (as-of, config
hash, input fingerprints, versions, signer). With a signing key configured it also writes
``<report>.intoto.json.minisig``, a minisign signature of the statement's bytes. Checking a
folder needs only the folder and the public key: ``minisign -V`` checks the statement, and the
statement's sha256s check the outputs.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import minisign

from mlreport.atomic import write_atomically
from mlreport.hashing import sha256_file
from mlreport.signing import SIG_SUFFIX, Signer, SigningError, key_id_of
from mlreport.times import iso, utcnow

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://mlreport.dev/attestation/report-run/v1"
STATEMENT_SUFFIX = ".intoto.json"
RUN_STATEMENT = "run"  # run.intoto.json: what `mlreport run` writes besides its reports
MAX_STATEMENT_BYTES = 16 * 1024 * 1024
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def statement_name(name: str) -> str:
    return f"{name}{STATEMENT_SUFFIX}"


def signature_info(signer: Signer | None, name: str, as_of: datetime) -> dict[str, Any]:
    """What the rendered report shows about its signature (Annex IV 2(g)). It is known before
    the outputs exist (config and as-of only), so the signed outputs can show it."""
    info: dict[str, Any] = {
        "status": "unsigned" if signer is None else "signed",
        "statement": statement_name(name),
    }
    if signer is not None:
        info |= {
            "signer": signer.name,
            "key_id": signer.key_id,
            "signed_at": iso(as_of),
            "signature": statement_name(name) + SIG_SUFFIX,
        }
    return info


@dataclass
class Attestation:
    statement: Path
    sha256: str
    signed: bool


def attest(
    folder: Path, name: str, files: list[Path], predicate: dict[str, Any], signer: Signer | None
) -> Attestation:
    """Write ``<name>.intoto.json`` over ``files`` and, with a signer, its ``.minisig``. An old
    signature left by an earlier run in the same folder is removed when this run is unsigned."""
    signed_at = utcnow()
    predicate = dict(predicate)
    predicate["signer"] = (
        None
        if signer is None
        else {"name": signer.name, "key_id": signer.key_id, "signed_at": iso(signed_at)}
    )
    statement = {
        "_type": STATEMENT_TYPE,
        "subject": [
            {"name": p.name, "digest": {"sha256": sha256_file(p)}}
            for p in sorted(files, key=lambda p: p.name)
        ],
        "predicateType": PREDICATE_TYPE,
        "predicate": predicate,
    }
    data = (json.dumps(statement, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()
    path = folder / statement_name(name)
    sig_path = path.with_name(path.name + SIG_SUFFIX)
    sig_path.unlink(missing_ok=True)  # never leave a signature of another statement beside it
    write_atomically(path, data)
    if signer is not None:
        comment = f"timestamp:{int(time.time())}\tfile:{path.name}\thashed\tsigner:{signer.name}"
        digest = hashlib.sha256(data).hexdigest()
        untrusted = f"mlreport statement sha256 {digest}"
        write_atomically(sig_path, signer.sign(data, comment, untrusted))
    return Attestation(path, hashlib.sha256(data).hexdigest(), signer is not None)


def uncovered(folder: Path) -> list[Path]:
    """The files of ``folder`` that no statement in it lists (nor are statements themselves)."""
    covered: set[str] = set()
    for path in folder.glob(f"*{STATEMENT_SUFFIX}"):
        covered |= {path.name, path.name + SIG_SUFFIX}
        statement = json.loads(path.read_bytes())
        covered |= {s["name"] for s in statement["subject"]}
    return sorted(p for p in folder.iterdir() if p.is_file() and p.name not in covered)


# -- verification ------------------------------------------------------------------------------


@dataclass
class Verification:
    """What ``mlreport verify`` found: ``problems`` (file, what is wrong) mean tampering or the
    wrong key (exit 1); ``notes`` are facts worth showing (who signed, unsigned statements)."""

    folder: Path
    statements: list[str] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_folder(
    folder: Path, public_key: minisign.PublicKey | None, only: str | None = None
) -> Verification:
    """Check every statement in ``folder`` (or just the one named ``only``): its signature
    (required when a public key is given), then each subject's sha256; then, for the whole
    folder, that no file in it is left uncovered. Raises SigningError when nothing can be
    checked (no folder, no statement, no key for a signed statement)."""
    if not folder.is_dir():
        raise SigningError(f"{folder}: not a folder; pass the folder a report run wrote")
    result = Verification(folder)
    statements = sorted(
        p
        for p in folder.iterdir()
        if p.name.endswith(STATEMENT_SUFFIX) and (only is None or p.name == only)
    )
    if not statements:
        raise SigningError(
            f"{folder}: no *{STATEMENT_SUFFIX} statement here; pass the folder a report run "
            "wrote (`mlreport history` lists them)"
        )
    covered: set[str] = set()
    for path in statements:
        result.statements.append(path.name)
        covered |= {path.name, path.name + SIG_SUFFIX}
        subjects = _check_statement(path, public_key, result)
        for name, digest in subjects:
            covered.add(name)
            _check_subject(folder, name, digest, path.name, result)
    for p in [] if only else sorted(folder.iterdir()):
        if p.name not in covered:
            result.problems.append(
                (p.name, "extra file: no statement in this folder covers it (added after the run)")
            )
    return result


def _check_statement(
    path: Path, public_key: minisign.PublicKey | None, result: Verification
) -> list[tuple[str, str]]:
    """Check one statement's signature and form; return its (name, sha256) subjects."""
    sig_path = path.with_name(path.name + SIG_SUFFIX)
    if not path.is_file():
        result.problems.append((path.name, "statement is not a file; it was replaced"))
        return []
    if path.stat().st_size > MAX_STATEMENT_BYTES:
        result.problems.append((path.name, "statement is implausibly large; it was replaced"))
        return []
    data = path.read_bytes()
    if sig_path.exists():
        if public_key is None:
            raise SigningError(
                f"{sig_path}: the statement is signed; pass the signer's public key with "
                "--key FILE (or set [signing] key_file or public_key_file in the config)"
            )
        if not _check_signature(data, path.name, sig_path, public_key, result):
            return _subjects(data, path.name, result)
    elif public_key is not None:
        result.problems.append(
            (sig_path.name, f"signature missing: {path.name} is not signed by the given key")
        )
    else:
        result.notes.append(
            f"{path.name} is not signed: the outputs match it, but anyone could have written it"
        )
    return _subjects(data, path.name, result)


def _check_signature(
    data: bytes, name: str, sig_path: Path, public_key: minisign.PublicKey, result: Verification
) -> bool:
    try:
        sig = minisign.Signature.from_bytes(_read_small(sig_path).strip())
    except (minisign.Error, ValueError, UnicodeDecodeError, IndexError, OSError) as exc:
        result.problems.append((sig_path.name, f"signature file changed: not minisign ({exc})"))
        return False
    signed_by = sig._key_id[::-1].hex().upper()
    expected = key_id_of(public_key)
    if signed_by != expected:
        result.problems.append(
            (name, f"signed by key {signed_by}, not by the given public key {expected}")
        )
        return False
    try:
        public_key.verify(data, sig)
    except minisign.Error:
        result.problems.append((_which_changed(data, name, sig), _mismatch(data, name, sig)))
        return False
    if f"file:{name}" not in sig.trusted_comment.split("\t"):
        result.problems.append(
            (sig_path.name, f"signature is of another file ({sig.trusted_comment!r})")
        )
        return False
    result.notes.append(f"{name}: good signature by key {signed_by} ({sig.trusted_comment})")
    return True


def _read_small(path: Path, limit: int = 4096) -> bytes:
    """At most ``limit`` bytes: a minisign signature is ~300; a huge file is not one."""
    with open(path, "rb") as fh:
        return fh.read(limit)


def _which_changed(data: bytes, name: str, sig: minisign.Signature) -> str:
    """The statement when its bytes no longer match the sha256 the signer noted beside the
    signature (an untrusted hint, used only to name the file), else the signature file."""
    noted = sig.untrusted_comment.rpartition(" ")[2]
    if _SHA256.match(noted) and noted != hashlib.sha256(data).hexdigest():
        return name
    return name + SIG_SUFFIX


def _mismatch(data: bytes, name: str, sig: minisign.Signature) -> str:
    if _which_changed(data, name, sig) == name:
        return "statement changed after it was signed: the signature does not match it"
    return "signature changed: it does not match the statement"


def _subjects(data: bytes, name: str, result: Verification) -> list[tuple[str, str]]:
    try:
        statement = json.loads(data)
        if not isinstance(statement, dict) or statement.get("_type") != STATEMENT_TYPE:
            raise ValueError(f"_type is not {STATEMENT_TYPE}")
        subjects = statement.get("subject")
        if not isinstance(subjects, list) or not subjects:
            raise ValueError("subject is not a non-empty list")
        out = []
        for i, s in enumerate(subjects):
            file = s.get("name") if isinstance(s, dict) else None
            digest = (s.get("digest") or {}).get("sha256") if isinstance(s, dict) else None
            if not isinstance(file, str) or not _plain_name(file):
                raise ValueError(f"subject[{i}].name is not a file name in this folder")
            if not isinstance(digest, str) or not _SHA256.match(digest):
                raise ValueError(f"subject[{i}].digest.sha256 is not a sha256")
            out.append((file, digest))
        return out
    except (ValueError, AttributeError, TypeError) as exc:
        result.problems.append((name, f"statement changed: not a valid in-toto Statement ({exc})"))
        return []


def _plain_name(name: str) -> bool:
    return name not in ("", ".", "..") and Path(name).name == name and "\\" not in name


def _check_subject(folder: Path, name: str, digest: str, stmt: str, result: Verification) -> None:
    path = folder / name
    if not path.is_file():
        result.problems.append((name, f"output missing: {stmt} lists it"))
        return
    if sha256_file(path) != digest:
        result.problems.append((name, f"output changed: its sha256 differs from {stmt}"))
        return
    result.checked.append(name)
