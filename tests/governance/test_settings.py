"""Governance settings per entity: parsed from [entities.governance], strict, errors naming
entities[N].governance.key with "did you mean"."""

from __future__ import annotations

from datetime import date

import pytest

from mlreport.config import ConfigError
from mlreport.reports.governance.settings import (
    GovernanceSettings,
    all_settings,
    governance_settings,
    tag_matches,
)

from .world import config

FULL = """
[[entities]]
name = "svc"

[[entities]]
kind = "model"
name = "credit"
intended_use = "Consumer credit decisions"
risk_tier = "high"
[entities.governance]
lawful_basis = "Art. 6(1)(b) contract"
dpia_id = "DPIA-2026-004"
dpia_reviewed = 2026-03-01
personal_data = ["income", "age"]
solely_automated = true
human_review = "Credit officers review every decline on request"
retention_days = 365
approvers = ["Ada <ada@example.com>"]
approval_tags = ["risk_approved=yes", "signed_off"]
"""


def test_every_key_is_read(tmp_path):
    s = governance_settings(config(tmp_path, FULL), "credit")
    assert s == GovernanceSettings(
        lawful_basis="Art. 6(1)(b) contract",
        dpia_id="DPIA-2026-004",
        dpia_reviewed=date(2026, 3, 1),
        personal_data=("income", "age"),
        solely_automated=True,
        human_review="Credit officers review every decline on request",
        retention_days=365,
        approvers=("Ada <ada@example.com>",),
        approval_tags=("risk_approved=yes", "signed_off"),
    )
    assert governance_settings(config(tmp_path, FULL), "svc") is None
    assert governance_settings(config(tmp_path, FULL), "nobody") is None
    assert list(all_settings(config(tmp_path, FULL))) == ["credit"]


def test_an_empty_table_is_all_defaults(tmp_path):
    cfg = config(tmp_path, '[[entities]]\nkind = "model"\nname = "m"\n[entities.governance]\n')
    s = governance_settings(cfg, "m")
    assert s == GovernanceSettings() and s.human_review == "" and s.approves({"x": 1}) is None


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            "retension_days = 30",
            "mlreport.toml: entities[1].governance.retension_days: unknown key "
            "(did you mean `retention_days`?)",
        ),
        ("retention_days = 0", "entities[1].governance.retention_days: Input should be greater"),
        ('dpia_reviewed = "last spring"', "entities[1].governance.dpia_reviewed: Input should be"),
        ('solely_automated = "maybe"', "entities[1].governance.solely_automated:"),
        ('approval_tags = ["=yes"]', "entities[1].governance.approval_tags[0]:"),
        ('personal_data = "income"', "entities[1].governance.personal_data:"),
    ],
)
def test_bad_values_name_the_key(tmp_path, line, message):
    key = line.split(" = ")[0]
    kept = [x for x in FULL.splitlines() if not x.startswith(key + " = ")]
    text = "\n".join(kept).replace("[entities.governance]", "[entities.governance]\n" + line)
    with pytest.raises(ConfigError) as err:
        governance_settings(config(tmp_path, text), "credit")
    assert message in str(err.value)
    assert len(str(err.value).splitlines()) == 1


def test_a_bad_table_anywhere_fails_all_settings(tmp_path):
    text = '[[entities]]\nkind = "model"\nname = "m"\ngovernance = "yes"\n'
    with pytest.raises(ConfigError, match=r"entities\[0\]\.governance: .*(table|dict)"):
        all_settings(config(tmp_path, text))


def test_approval_tag_rules():
    assert tag_matches("risk_approved=yes", {"risk_approved": "yes"})
    assert not tag_matches("risk_approved=yes", {"risk_approved": "Yes "})
    assert tag_matches("signed_off", {"signed_off": "2026-05-01"})
    assert not tag_matches("signed_off", {"signed_off": "false"})
    assert not tag_matches("signed_off", {})
    s = GovernanceSettings(approval_tags=("a=1", "b"))
    assert s.approves({"b": "x"}) is True and s.approves({"a": "2"}) is False
