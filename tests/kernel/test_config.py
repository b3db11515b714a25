from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from mlreport.cli import cli
from mlreport.config import ConfigError, load_config, parse_config


def test_relative_paths_are_taken_from_the_config_folder(write_config, tmp_path):
    path = write_config('[warehouse]\npath = "data/w.duckdb"\n[output]\ndir = "../out"\n')
    config = load_config(path)
    assert config.warehouse.path == tmp_path / "data" / "w.duckdb"
    assert config.output.dir == tmp_path / "data" / ".." / "out" or config.output.dir == (
        tmp_path / ".." / "out"
    )


def test_env_vars_are_expanded_and_remembered_as_secrets(write_config, monkeypatch):
    monkeypatch.setenv("MY_TOKEN", "s3cr3t-value")
    path = write_config('[[sources]]\nname = "x"\ntype = "t"\ntoken = "Bearer ${MY_TOKEN}"\n')
    config = load_config(path)
    assert config.sources[0].options["token"] == "Bearer s3cr3t-value"
    assert "s3cr3t-value" in config.secrets
    assert config.redact("auth: Bearer s3cr3t-value") == "auth: Bearer ***"


def test_config_hash_does_not_depend_on_secret_values(write_config, monkeypatch):
    text = '[[sources]]\nname = "x"\ntype = "t"\ntoken = "${MY_TOKEN}"\n'
    monkeypatch.setenv("MY_TOKEN", "one")
    first = load_config(write_config(text)).digest
    monkeypatch.setenv("MY_TOKEN", "two")
    assert load_config(write_config(text)).digest == first


def test_missing_env_var_names_file_key_and_variable(write_config, monkeypatch):
    monkeypatch.delenv("NOPE_TOKEN", raising=False)
    path = write_config('[[sources]]\nname = "x"\ntype = "t"\ntoken = "${NOPE_TOKEN}"\n')
    with pytest.raises(ConfigError) as err:
        load_config(path)
    msg = str(err.value)
    assert str(path) in msg and "sources[0].token" in msg and "NOPE_TOKEN" in msg


@pytest.mark.parametrize(
    ("text", "key", "expected"),
    [
        ("[warehouse]\npath = 3\n", "warehouse.path", "path"),
        (
            '[metrics]\nattribution_window_days = "a week"\n',
            "metrics.attribution_window_days",
            "number",
        ),
        ('[[entities]]\nkind = "robot"\nname = "x"\n', "entities[0].kind", "'model' or 'service'"),
        ('[[sources]]\ntype = "git"\n', "sources[0].name", "Field required"),
        ('[warehouse]\npaht = "x"\n', "warehouse.paht", "unknown key"),
        ('[policies]\n"dora.x" = { min = "low" }\n', "policies.dora.x.min", "number"),
        ('[policies]\n"x.y" = { severity = "fatal" }\n', "policies.x.y.severity", "got 'fatal'"),
        ("[metrics]\nwindow_dayz = 3\n", "metrics.window_dayz", "did you mean `window_days`?"),
    ],
)
def test_validation_errors_name_file_key_and_expectation(write_config, text, key, expected):
    path = write_config(text)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    msg = str(err.value)
    assert str(path) in msg
    assert f": {key}: " in msg
    assert expected in msg


def test_invalid_toml_is_reported_with_its_position(write_config):
    path = write_config("[warehouse\npath = 1\n")
    with pytest.raises(ConfigError, match=r"not valid TOML.*line 1"):
        load_config(path)


def test_invalid_utf8_is_reported(write_config, tmp_path):
    path = tmp_path / "mlreport.toml"
    path.write_bytes(b'[warehouse]\npath = "\xff"\n')
    with pytest.raises(ConfigError, match="not valid UTF-8"):
        load_config(path)


def test_duplicate_source_names_are_refused(write_config):
    path = write_config(
        '[[sources]]\nname = "a"\ntype = "t"\n[[sources]]\nname = "a"\ntype = "u"\n'
    )
    with pytest.raises(ConfigError, match="duplicate source name"):
        load_config(path)


def test_missing_explicit_config_file(tmp_path):
    with pytest.raises(ConfigError, match="mlreport init"):
        load_config(tmp_path / "nope.toml")


def test_config_found_via_environment(write_config, monkeypatch):
    path = write_config('[warehouse]\npath = "env.duckdb"\n', name="other.toml")
    monkeypatch.setenv("MLREPORT_CONFIG", str(path))
    assert load_config().warehouse.path.name == "env.duckdb"


def test_no_config_file_gives_defaults(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = load_config()
    assert config.file is None and config.warehouse.path == tmp_path / "mlreport.duckdb"


def test_init_writes_a_commented_config_that_validates(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["init"])
    assert result.exit_code == 0, result.output
    text = Path("mlreport.toml").read_text()
    assert text.count("#") > 10
    config = load_config("mlreport.toml")
    assert [r.type for r in config.reports] == ["delivery"]
    again = CliRunner().invoke(cli, ["init"])
    assert again.exit_code == 2 and "--force" in again.output


def test_unknown_source_option_names_the_key(write_config, tmp_path):
    from mlreport.plugin_manager import get_plugins
    from mlreport.sources import build_source
    from tests.kernel import fakes

    get_plugins().register_module(fakes, "fakes")
    config = parse_config(
        '[[sources]]\nname = "c"\ntype = "counter"\nnn = 3\n', tmp_path / "m.toml", tmp_path
    )
    with pytest.raises(ConfigError, match=r"m.toml: sources\[0\].nn: unknown key"):
        build_source(config.sources[0], config, 0)


def test_an_unknown_report_format_is_refused_naming_the_known_ones(write_config, tmp_path):
    from click.testing import CliRunner

    from mlreport.cli import cli

    write_config('[[reports]]\ntype = "delivery"\nformats = ["docx"]\n')
    result = CliRunner().invoke(cli, ["--config", str(tmp_path / "mlreport.toml"), "run"])
    assert result.exit_code == 2
    assert "unknown renderer 'docx' (known: html, json, md, pdf)" in result.output


def test_init_writes_a_commented_example_of_every_built_in_source(tmp_path):
    """Each commented [[sources]] block of the template, uncommented, is a valid source of its
    type, and every built-in source type has one."""
    import re
    from importlib import resources

    from mlreport.plugin_manager import DEFAULT_PLUGINS, get_plugins
    from mlreport.sources import build_source

    text = resources.files("mlreport").joinpath("templates/mlreport.toml").read_text()
    blocks = re.findall(r"^# \[\[sources\]\]\n((?:# .*\n)+)", text, flags=re.M)
    (tmp_path / "logs").mkdir()
    seen = set()
    for block in blocks:
        body = "[[sources]]\n" + re.sub(r"^# ?", "", block, flags=re.M)
        body = re.sub(r"^\[\[reports\]\][\s\S]*", "", body, flags=re.M)
        body = re.sub(r"\$\{[A-Z_]+\}", "t", body)  # ${MLFLOW_TOKEN}, ${GITHUB_TOKEN}, ...
        config = parse_config(body, tmp_path / "x.toml", tmp_path)
        (src,) = config.sources
        build_source(src, config, 0)  # validates the options of its type
        seen.add(src.type)
    plugins = get_plugins()
    builtin = {
        n for n in plugins.sources().names() if plugins.sources().items[n].plugin in DEFAULT_PLUGINS
    }
    assert seen == builtin


def test_mlflow_experiments_and_an_alias_may_be_one_string(tmp_path):
    from mlreport.sources import source_options

    config = parse_config(
        '[[sources]]\nname = "m"\ntype = "mlflow"\nstore = "m.db"\nexperiments = "credit-*"\n'
        'aliases = { production = "live" }\n',
        tmp_path / "mlreport.toml",
        tmp_path,
    )
    options = source_options(config, "mlflow")["m"]
    assert options.experiments == ["credit-*"]
    assert options.production_aliases == ("live",)
