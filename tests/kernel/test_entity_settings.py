"""Entity keys registered by plugins (``register_entity_settings``) are checked when the config
loads: the kernel's own keys still work, a config without plugin keys loads no plugin, a
plugin that failed to load is named next to the key it would have claimed, and ``doctor`` and
``init`` behave."""

from __future__ import annotations

import types

import pytest
from click.testing import CliRunner

from mlreport import hookimpl, plugin_manager
from mlreport.cli import EXIT_ERROR, cli
from mlreport.config import ConfigError, EntityConfig, load_config, parse_config
from mlreport.plugin_manager import get_plugins

KERNEL = (
    '[[entities]]\nname = "fraud"\nkind = "model"\nowner = "risk@example.com"\nteam = "risk"\n'
    'risk_tier = "high"\ndescription = "Card fraud"\nintended_use = "Score payments"\n'
    'tags = { domain = "payments" }\n'
)


def test_kernel_keys_load_without_loading_plugins(tmp_path):
    config = parse_config(KERNEL, tmp_path / "mlreport.toml", tmp_path)
    assert config.entities[0].risk_tier == "high" and config.entities[0].tags == {
        "domain": "payments"
    }
    assert plugin_manager._plugins is None  # nothing to check, nothing imported
    assert set(EntityConfig.model_fields) >= {"name", "kind", "owner", "intended_use"}


def test_registered_keys_are_kept_for_their_plugin(tmp_path):
    config = parse_config(
        KERNEL + "value_per_prediction = 0.02\nroi_start = 2026-01-01\n",
        tmp_path / "mlreport.toml",
        tmp_path,
    )
    assert config.entities[0].model_extra["value_per_prediction"] == 0.02


def test_unknown_key_without_a_close_match_lists_the_known_keys(tmp_path):
    with pytest.raises(ConfigError) as err:
        parse_config(KERNEL + "budget_code = 7\n", tmp_path / "mlreport.toml", tmp_path)
    text = str(err.value)
    assert text.startswith(f"{tmp_path / 'mlreport.toml'}: entities[0].budget_code: unknown key")
    assert "known keys here: " in text and "value_per_prediction" in text and "owner" in text


def test_a_plugin_that_failed_is_named_next_to_the_unknown_key(tmp_path):
    broken = types.ModuleType("broken_governance")

    @hookimpl
    def register_entity_settings(register):
        raise RuntimeError("cannot import governance models")

    broken.register_entity_settings = register_entity_settings
    get_plugins().register_module(broken, "broken_governance")
    with pytest.raises(ConfigError) as err:
        parse_config(KERNEL + "review_cycle = 90\n", tmp_path / "mlreport.toml", tmp_path)
    assert "entities[0].review_cycle: unknown key" in str(err.value)
    assert "plugins that failed to load: broken_governance (`mlreport doctor`)" in str(err.value)


def test_doctor_stops_at_a_bad_entity_key_and_init_still_writes_a_loadable_config(
    tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["init"])
    assert result.exit_code == 0, result.output
    load_config(tmp_path / "mlreport.toml")
    path = tmp_path / "bad.toml"
    path.write_text(KERNEL + 'discount_rat = "0.1"\n', encoding="utf-8")
    result = CliRunner().invoke(cli, ["--config", str(path), "doctor"])
    assert result.exit_code == EXIT_ERROR
    assert result.output == (
        f"config: {path}: entities[0].discount_rat: unknown key (did you mean `discount_rate`?)\n"
    )
