"""Small sklearn models trained once per session and saved with skops and joblib."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import joblib
import pytest
import skops.io as sio
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.naive_bayes import GaussianNB
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from tests.explain.builder import CATEGORICAL, FEATURES, NUMERIC, log_frame


@dataclass
class Models:
    folder: Path
    gb: Pipeline
    lr: Pipeline
    rf: RandomForestClassifier
    nb: Pipeline


def _pipeline(final) -> Pipeline:
    pre = ColumnTransformer(
        [("num", StandardScaler(), list(NUMERIC)), ("cat", OneHotEncoder(), list(CATEGORICAL))]
    )
    return Pipeline([("pre", pre), ("model", final)])


@pytest.fixture(scope="session")
def models(tmp_path_factory: pytest.TempPathFactory) -> Models:
    folder = tmp_path_factory.mktemp("models")
    frame = log_frame(seed=11)
    x, y = frame[list(FEATURES)], frame["label"]
    gb = _pipeline(GradientBoostingClassifier(n_estimators=30, max_depth=3, random_state=0))
    lr = _pipeline(LogisticRegression())
    nb = _pipeline(GaussianNB())
    for model in (gb, lr, nb):
        model.fit(x, y)
    rf = RandomForestClassifier(n_estimators=20, max_depth=4, random_state=0)
    rf.fit(frame[list(NUMERIC)], y)
    sio.dump(gb, folder / "gb.skops")
    sio.dump(lr, folder / "lr.skops")
    sio.dump(nb, folder / "nb.skops")
    joblib.dump(lr, folder / "lr.joblib")
    joblib.dump(rf, folder / "rf.joblib")
    return Models(folder, gb, lr, rf, nb)
