"""The compliance map: the shipped file loads and validates, broken maps fail naming the file
and key, a user's file replaces and adds entries, and the met / partial / missing rule."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mlreport.config import ConfigError, parse_config
from mlreport.reports.governance.compliance import (
    ComplianceMapError,
    assess,
    combine,
    load_for_config,
    load_map,
    shipped_text,
    validate,
)

ROOT = Path(__file__).resolve().parents[2]

EVIDENCE = {
    "lineage.run_commit_dataset",
    "rollback.previous_version_loadable",
    "rollback.last_drill",
    "delivery.staged_before_production",
    "delivery.progressive",
    "monitoring.log_coverage",
    "monitoring.performance_policy",
    "monitoring.drift_policy",
    "monitoring.fairness_policy",
    "monitoring.retention_held",
    "change.approved_promotions",
    "change.incident_recovery",
    "records.signed_report_runs",
}
REFS = {
    ("EU AI Act", "Annex IV 2(b)"),
    ("EU AI Act", "Annex IV 2(d)"),
    ("EU AI Act", "Annex IV 2(g)"),
    ("EU AI Act", "Annex IV 3"),
    ("EU AI Act", "Annex IV 6"),
    ("EU AI Act", "Annex IV 9"),
    ("EU AI Act", "Art. 12"),
    ("EU AI Act", "Art. 72"),
    ("NIST AI RMF 1.0", "MEASURE 2.1"),
    ("NIST AI RMF 1.0", "MEASURE 2.3"),
    ("NIST AI RMF 1.0", "MEASURE 2.4"),
    ("NIST AI RMF 1.0", "MEASURE 2.5"),
    ("NIST AI RMF 1.0", "MEASURE 2.11"),
    ("NIST AI RMF 1.0", "MANAGE 2.4"),
    ("NIST AI RMF 1.0", "MANAGE 4.1"),
    ("ISO/IEC 42001:2023", "Annex A A.6.2.4"),
    ("ISO/IEC 42001:2023", "Annex A A.6.2.6"),
    ("ISO/IEC 42001:2023", "Annex A A.6.2.7"),
    ("ISO/IEC 42001:2023", "Annex A A.6.2.8"),
}


def write(tmp_path: Path, text: str, name: str = "my_map.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def error_of(tmp_path: Path, text: str) -> str:
    path = write(tmp_path, text)
    with pytest.raises(ComplianceMapError) as info:
        load_map(path)
    return str(info.value)


# --- the shipped map ----------------------------------------------------------------------


def test_shipped_map_loads_and_validates():
    cmap = load_map()
    assert validate(cmap) == []
    assert set(cmap.evidence) >= EVIDENCE
    refs = {(f.framework, f.ref) for f in cmap.framework.values()}
    assert refs >= REFS
    assert {r for f, r in refs if f == "NIST AI RMF 1.0" and r.startswith("GOVERN 1.")}
    for item in cmap.evidence.values():
        assert item.title and item.closes
    for item in cmap.framework.values():
        assert cmap.supporting(item.id), item.id
        assert item.source and item.source.startswith("https://"), item.id


def test_shipped_map_carries_the_cited_wording():
    cmap = load_map()
    by_ref = {(f.framework, f.ref): f for f in cmap.framework.values()}
    assert "dated and signed" in by_ref[("EU AI Act", "Annex IV 2(g)")].quote
    assert "groups of persons" in by_ref[("EU AI Act", "Annex IV 3")].quote
    assert "automatic recording of events" in by_ref[("EU AI Act", "Art. 12")].quote
    g = [e.id for e in cmap.supporting("eu_ai_act.annex_iv.2g")]
    assert g == [
        "validation.test_metrics",
        "monitoring.fairness_policy",
        "records.signed_report_runs",
    ]


def test_shipped_map_is_package_data():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    setuptools = pyproject["tool"]["setuptools"]
    assert "mlreport.reports.governance" in setuptools["packages"]
    assert setuptools["package-data"]["mlreport.reports.governance"] == ["*.toml"]
    assert shipped_text() == (ROOT / "reports/governance/compliance_map.toml").read_text()


# --- broken maps --------------------------------------------------------------------------


def test_unknown_framework_item_in_mapping(tmp_path):
    msg = error_of(tmp_path, '[mapping]\n"rollback.last_drill" = ["nist_ai_rmf.manage_2_44"]\n')
    assert msg == (
        f'{tmp_path / "my_map.toml"}: mapping."rollback.last_drill": unknown framework item '
        "'nist_ai_rmf.manage_2_44' (did you mean 'nist_ai_rmf.manage_2_4' or "
        "'nist_ai_rmf.manage_4_1'?)"
    )


def test_unknown_evidence_item_in_mapping(tmp_path):
    msg = error_of(tmp_path, '[mapping]\n"rollback.last_dril" = ["nist_ai_rmf.manage_2_4"]\n')
    assert msg.startswith(f'{tmp_path / "my_map.toml"}: mapping."rollback.last_dril": unknown ')
    assert "did you mean 'rollback.last_drill'?" in msg


def test_duplicate_id_in_one_file_names_the_line(tmp_path):
    text = (
        '[evidence."custom.a"]\ntitle = "A"\ncloses = "do A"\n\n'
        '[evidence."custom.a"]\ntitle = "B"\ncloses = "do B"\n'
    )
    msg = error_of(tmp_path, text)
    assert msg.startswith(f"{tmp_path / 'my_map.toml'}: not valid TOML: ")
    assert "line 5" in msg and "declared only once" in msg


def test_orphan_framework_item(tmp_path):
    text = (
        '[framework."eu_ai_act.art_19"]\nframework = "EU AI Act"\nref = "Art. 19"\ntitle = "Logs"\n'
    )
    msg = error_of(tmp_path, text)
    assert msg == (
        f'{tmp_path / "my_map.toml"}: framework."eu_ai_act.art_19": no evidence item supports '
        "it; add 'eu_ai_act.art_19' to an evidence item's list under [mapping]"
    )


def test_evidence_supporting_nothing(tmp_path):
    msg = error_of(tmp_path, '[evidence."custom.a"]\ntitle = "A"\ncloses = "do A"\n')
    assert msg.startswith(f'{tmp_path / "my_map.toml"}: evidence."custom.a": supports no ')


def test_bad_toml_names_file_and_line(tmp_path):
    msg = error_of(tmp_path, '[mapping]\n"rollback.last_drill" = ["a" "b"]\n')
    assert msg.startswith(f"{tmp_path / 'my_map.toml'}: not valid TOML: ")
    assert "(at line 2, column" in msg and "\n" not in msg and "twice" not in msg


def test_misspelt_field_and_bad_id(tmp_path):
    msg = error_of(tmp_path, '[evidence."custom.a"]\ntittle = "A"\ncloses = "do A"\n')
    assert f"{tmp_path / 'my_map.toml'}: evidence.custom.a.tittle: unknown key" in msg
    assert "evidence.custom.a.title: Field required" in msg
    msg = error_of(tmp_path, '[evidence."Custom A"]\ntitle = "A"\ncloses = "do A"\n')
    assert msg.startswith(f"{tmp_path / 'my_map.toml'}: evidence.Custom A: String should match")
    msg = error_of(tmp_path, "[shortcuts]\na = 1\n")
    assert msg.startswith(f"{tmp_path / 'my_map.toml'}: shortcuts: unknown key")


def test_hostile_source_and_oversized_file(tmp_path):
    text = (
        '[framework."x.y"]\nframework = "X"\nref = "1"\ntitle = "t"\n'
        'source = "javascript:alert(1)"\n'
    )
    msg = error_of(tmp_path, text)
    assert msg.startswith(f"{tmp_path / 'my_map.toml'}: framework.x.y.source: String should match")
    msg = error_of(tmp_path, "# padding\n" * 100_001)
    assert msg == (
        f"{tmp_path / 'my_map.toml'}: 1000010 bytes is too large for a compliance map "
        "(at most 1000000); is this the right file?"
    )


def test_unquoted_dotted_id(tmp_path):
    msg = error_of(tmp_path, '[evidence.custom.a]\ntitle = "A"\ncloses = "do A"\n')
    assert 'write [evidence."custom.…"]' in msg or "write [evidence." in msg
    assert msg.startswith(f"{tmp_path / 'my_map.toml'}: evidence.custom: looks like a dotted id")


def test_repeated_target_same_id_twice_and_same_reference_twice(tmp_path):
    msg = error_of(
        tmp_path,
        '[mapping]\n"rollback.last_drill" = ["nist_ai_rmf.manage_2_4", "nist_ai_rmf.manage_2_4"]\n',
    )
    assert msg.endswith("'nist_ai_rmf.manage_2_4' is listed more than once")
    text = (
        '[framework."rollback.last_drill"]\nframework = "X"\nref = "1"\ntitle = "t"\n'
        '[mapping]\n"change.incident_recovery" = ["rollback.last_drill"]\n'
    )
    assert "the id is also an evidence item's" in error_of(tmp_path, text)
    text = (
        '[framework."eu.annex4_2g"]\nframework = "EU AI Act"\nref = "Annex  IV 2(g)"\n'
        'title = "t"\n[mapping]\n"change.incident_recovery" = ["eu.annex4_2g"]\n'
    )
    msg = error_of(tmp_path, text)
    assert msg == (
        f'{tmp_path / "my_map.toml"}: framework."eu.annex4_2g": EU AI Act Annex  IV 2(g) is '
        'already framework."eu_ai_act.annex_iv.2g"; replace that entry instead of adding another'
    )


def test_every_problem_is_reported_one_per_line(tmp_path):
    text = (
        '[evidence."custom.a"]\ntitle = "A"\ncloses = "do A"\n'
        '[framework."custom.f"]\nframework = "Internal"\nref = "P-1"\ntitle = "Policy 1"\n'
    )
    lines = error_of(tmp_path, text).splitlines()
    assert len(lines) == 2
    assert all(line.startswith(str(tmp_path / "my_map.toml")) for line in lines)


# --- the user's override -----------------------------------------------------------------

OVERRIDE = """
[evidence."monitoring.retention_held"]
title = "Prediction logs are kept for the 400 days our records policy requires"
closes = "Raise the log store's retention to 400 days"

[evidence."records.dpia_reviewed"]
title = "The DPIA was reviewed in the last 12 months"
closes = "Review the DPIA and record the date in the model's settings"

[framework."eu_ai_act.art_19"]
framework = "EU AI Act"
ref = "Art. 19"
title = "Automatically generated logs kept for a period appropriate to the intended purpose"

[mapping]
"monitoring.retention_held" = ["eu_ai_act.art_12", "eu_ai_act.art_19"]
"records.dpia_reviewed" = ["nist_ai_rmf.govern_1_4"]
"""


def test_override_replaces_an_entry_and_adds_one(tmp_path):
    path = write(tmp_path, OVERRIDE)
    shipped, cmap = load_map(), load_map(path)
    replaced = cmap.evidence["monitoring.retention_held"]
    assert replaced.title.startswith("Prediction logs are kept for the 400 days")
    assert cmap.origin["evidence.monitoring.retention_held"] == str(path)
    assert cmap.evidence["records.dpia_reviewed"].closes.startswith("Review the DPIA")
    assert cmap.framework["eu_ai_act.art_19"].ref == "Art. 19"
    # a mapping entry replaces the evidence item's whole list: A.6.2.8 loses it
    assert cmap.mapping["monitoring.retention_held"] == ("eu_ai_act.art_12", "eu_ai_act.art_19")
    assert "monitoring.retention_held" not in [e.id for e in cmap.supporting("iso_42001.a_6_2_8")]
    assert "monitoring.retention_held" in [e.id for e in shipped.supporting("iso_42001.a_6_2_8")]
    # untouched entries stay as shipped, in the shipped order, new ones after them
    assert cmap.evidence["rollback.last_drill"] == shipped.evidence["rollback.last_drill"]
    assert list(cmap.framework)[: len(shipped.framework)] == list(shipped.framework)
    assert list(cmap.framework)[-1] == "eu_ai_act.art_19"


def test_override_through_the_config_key(tmp_path):
    (tmp_path / "governance").mkdir()
    write(tmp_path / "governance", OVERRIDE, "map.toml")
    config = parse_config('[governance]\ncompliance_map = "governance/map.toml"\n', None, tmp_path)
    assert config.governance.compliance_map == tmp_path / "governance/map.toml"
    assert "eu_ai_act.art_19" in load_for_config(config).framework
    text = '[governance]\ncompliance_map = "nope.toml"\n'
    config = parse_config(text, tmp_path / "m.toml", tmp_path)
    with pytest.raises(ComplianceMapError) as info:
        load_for_config(config)
    assert str(info.value) == (
        f"{tmp_path / 'nope.toml'}: compliance map file not found (set by "
        f"{tmp_path / 'm.toml'}: governance.compliance_map); fix the path or remove the "
        "setting to use the shipped map"
    )
    assert "evidence" not in load_for_config(parse_config("", None, tmp_path)).origin
    with pytest.raises(ConfigError, match=r"governance\.compliance_mapp: unknown key"):
        parse_config('[governance]\ncompliance_mapp = "x.toml"\n', None, tmp_path)


# --- the status rule ----------------------------------------------------------------------


def by_id(results):
    return {a.item.id: a for a in results}


def test_status_rule_on_hand_built_evidence():
    cmap = load_map()
    closes = {e.id: e.closes for e in cmap.evidence.values()}
    everything_met = by_id(assess(cmap, dict.fromkeys(cmap.evidence, "met")))
    assert {a.status for a in everything_met.values()} == {"met"}
    assert all(a.to_close == () for a in everything_met.values())

    results = by_id(
        assess(
            cmap,
            {
                "validation.test_metrics": "met",
                "monitoring.fairness_policy": "partial",
                "records.signed_report_runs": "met",
                "rollback.previous_version_loadable": "missing",
                "rollback.last_drill": "missing",
                "delivery.progressive": "missing",
                "monitoring.retention_held": "met",
                "monitoring.log_coverage": "met",
            },
        )
    )
    g = results["eu_ai_act.annex_iv.2g"]
    assert g.status == "partial"
    assert [(e.item.id, e.status, e.measured) for e in g.evidence] == [
        ("validation.test_metrics", "met", True),
        ("monitoring.fairness_policy", "partial", True),
        ("records.signed_report_runs", "met", True),
    ]
    assert g.to_close == (closes["monitoring.fairness_policy"],)
    assert results["nist_ai_rmf.manage_2_4"].status == "missing"  # every supporter missing
    assert results["iso_42001.a_6_2_8"].status == "met"  # log coverage + retention met
    assert results["eu_ai_act.art_12"].status == "met"
    # not measured counts as missing, and says so
    d = results["eu_ai_act.annex_iv.2d"]
    assert d.status == "missing"
    assert [(e.item.id, e.measured) for e in d.evidence] == [("lineage.run_commit_dataset", False)]
    assert d.to_close == (closes["lineage.run_commit_dataset"],)
    # one met, one missing: partial
    assert results["eu_ai_act.annex_iv.9"].status == "partial"


def test_status_input_is_checked():
    cmap = load_map()
    with pytest.raises(ValueError, match=r"unknown evidence item\(s\) 'rollback.drill'"):
        assess(cmap, {"rollback.drill": "met"})
    with pytest.raises(ValueError, match=r"'rollback.last_drill' has status 'ok'; expected one"):
        assess(cmap, {"rollback.last_drill": "ok"})


@given(st.lists(st.sampled_from(["met", "partial", "missing"]), min_size=1, max_size=8))
def test_combine_matches_the_documented_rule(statuses):
    kinds = set(statuses)
    expected = "met" if kinds == {"met"} else "missing" if kinds == {"missing"} else "partial"
    assert combine(statuses) == expected
