"""Model files load only as far as the config trusts them; every refusal says what to do."""

from __future__ import annotations

import shutil

import pytest

from mlreport.config import ConfigError
from mlreport.plugins.explain import ExplainError, ExplainMetrics
from tests.explain.builder import build_log, log_frame

WHERE = "[sources.explain] of source 'credit'"


@pytest.fixture
def log(tmp_path):
    return build_log(tmp_path, log_frame(rows=200))


def run(log, toml):
    return list(ExplainMetrics().compute(log.context(toml)))


def refusal(log, toml) -> str:
    with pytest.raises(ExplainError) as info:
        run(log, toml)
    return str(info.value)


@pytest.mark.parametrize("name", ["gb.skops", "lr.joblib"])
def test_a_model_without_trusted_is_refused_naming_the_key(log, models, name):
    message = refusal(log, f'model = "{models.folder}/{name}"\n')
    assert WHERE in message and "mlreport.toml" in message
    assert f"{models.folder}/{name}" in message
    assert "set `trusted = true`" in message


def test_trusted_false_is_refused(log, models):
    message = refusal(log, f'model = "{models.folder}/gb.skops"\ntrusted = false\n')
    assert "not marked trusted" in message and "set `trusted = true`" in message


def test_an_untrusted_skops_type_is_refused_listing_it(log, models):
    message = refusal(log, f'model = "{models.folder}/gb.skops"\ntrusted = []\n')
    assert "types that are not trusted: sklearn.tree._tree.Tree" in message
    assert "trusted = [...]" in message and "trusted = true" in message
    assert WHERE in message


def test_listing_the_skops_types_loads_the_model(log, models):
    rows = run(log, f'model = "{models.folder}/gb.skops"\ntrusted = ["sklearn.tree._tree.Tree"]\n')
    assert len(rows) == 4


def test_a_skops_file_with_only_default_types_loads_with_an_empty_list(log, models):
    assert len(run(log, f'model = "{models.folder}/lr.skops"\ntrusted = []\n')) == 4


def test_joblib_with_a_type_list_is_refused(log, models):
    toml = f'model = "{models.folder}/lr.joblib"\ntrusted = ["sklearn.pipeline.Pipeline"]\n'
    message = refusal(log, toml)
    assert "unpickling runs arbitrary code" in message
    assert "set `trusted = true`" in message.lower() and WHERE in message


def test_a_missing_model_file(log, models):
    message = refusal(log, 'model = "models/nope.skops"\ntrusted = true\n')
    assert str(log.folder / "models" / "nope.skops") in message
    assert "does not exist" in message and WHERE in message


def test_a_relative_model_path_is_read_from_the_config_folder(log, models):
    shutil.copy(models.folder / "lr.skops", log.folder / "model.skops")
    assert len(run(log, 'model = "model.skops"\ntrusted = true\n')) == 4


def test_an_unknown_model_file_type(log, tmp_path):
    (tmp_path / "model.onnx").write_bytes(b"x")
    message = refusal(log, 'model = "model.onnx"\ntrusted = true\n')
    assert "unknown file type '.onnx'" in message


def test_a_corrupt_skops_file(log, tmp_path):
    (tmp_path / "model.skops").write_bytes(b"not a zip")
    message = refusal(log, 'model = "model.skops"\ntrusted = true\n')
    assert "cannot be read as skops" in message and WHERE in message


def test_neither_model_nor_shap_prefix(log):
    # One model validates [sources.explain]: the predictions source's (the sync says the same).
    with pytest.raises(ConfigError) as info:
        run(log, "sample = 10\n")
    message = str(info.value)
    assert "sources[0].explain" in message and "give either `model`" in message


def test_features_the_model_does_not_take(log, models):
    toml = f'model = "{models.folder}/rf.joblib"\ntrusted = true\nfeatures = ["x1", "x2"]\n'
    message = refusal(log, toml)
    assert "takes columns x1, x2, x3" in message and "set `features`" in message


def test_unknown_and_bad_option_keys_name_the_key(log):
    with pytest.raises(ConfigError, match=r"sources\[0\]\.explain\.modle: unknown key"):
        run(log, 'modle = "m.skops"\n')
    with pytest.raises(ConfigError, match=r"sources\[0\]\.explain\.sample"):
        run(log, 'model = "m.skops"\nsample = 0\n')
