"""The sample organisation's governance: settings per model with deliberate gaps, a signing key
made on the fly in the demo folder, and the governance and model-card reports.

The gaps are the stories the governance report tells (docs/sample-data.md):

- credit-risk keeps prediction logs for 400 days by policy, but its logs reach back only to
  the start of the simulation: a retention shortfall;
- fraud-detector has a DPIA reference but no review date, makes solely automated decisions
  with no human review declared, and its 2.12.0 release promoted a version without the
  approval tag.
"""

from __future__ import annotations

import json
from pathlib import Path

from mlreport.signing import KEY_NAME, generate_key_pair

KEY_DIR = "keys"
SIGNER = "Sample Org Model Risk Office <model-risk@example.com>"

SETTINGS: dict[str, dict[str, object]] = {
    "credit-risk": {
        "lawful_basis": "GDPR Art. 6(1)(b): necessary for the credit agreement",
        "dpia_id": "DPIA-2026-004",
        "dpia_reviewed": "2026-03-02",  # a TOML date, written bare
        "personal_data": ["income", "age band", "sex", "employment status"],
        "solely_automated": False,
        "human_review": "A credit officer reviews every decline on request within 5 working days",
        "retention_days": 400,
        "approvers": ["Head of Credit Risk <cro@example.com>"],
        "approval_tags": ["approved=true"],
    },
    "fraud-detector": {
        "lawful_basis": "GDPR Art. 6(1)(f): legitimate interest in preventing fraud",
        "dpia_id": "DPIA-2025-017",
        "personal_data": ["card number (tokenised)", "merchant", "location"],
        "solely_automated": True,
        "retention_days": 180,
        "approvers": ["Payments Risk Lead <payments-risk@example.com>"],
        "approval_tags": ["approved=true"],
    },
}

REPORTS = """\
[[reports]]
type = "governance"
title = "Model governance: sample organisation"
formats = ["html", "pdf", "json", "md"]

[[reports]]
type = "model-card"
title = "Model cards: sample organisation"
formats = ["html", "pdf", "json", "md"]
"""


def _value(key: str, value: object) -> str:
    if key == "dpia_reviewed":
        return str(value)  # a TOML local date
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value)  # strings, lists of strings and integers are valid TOML


def entity_table(entity: str) -> str:
    """The ``[entities.governance]`` table of ``entity`` (empty for entities without one); it
    must come after all of the entity's plain keys, or TOML puts those keys inside it."""
    settings = SETTINGS.get(entity)
    if not settings:
        return ""
    lines = ["[entities.governance]"] + [f"{k} = {_value(k, v)}" for k, v in settings.items()]
    return "\n".join(lines) + "\n"


def signing_toml(out_dir: Path) -> str:
    """A minisign key pair in ``out_dir/keys`` (made once, never printed) and the
    ``[signing]`` table that uses it."""
    keys = Path(out_dir) / KEY_DIR
    if not (keys / KEY_NAME).exists():
        generate_key_pair(keys, False, None)
    return f'[signing]\nkey_file = "{KEY_DIR}/{KEY_NAME}"\nsigner = {json.dumps(SIGNER)}\n\n'
