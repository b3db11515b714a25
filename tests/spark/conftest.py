"""One local Spark session per test run (``local[2]``), shared by every Spark test: the tests
all carry ``xdist_group("spark")`` so one xdist worker runs them (``--dist loadgroup``), and
the session is cached by :mod:`mlreport.connectors.spark.session` and stopped at the end.
Tests skip, saying why, when pyspark or Java is missing."""

from __future__ import annotations

import importlib.util
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

HAVE_SPARK = importlib.util.find_spec("pyspark") is not None and shutil.which("java") is not None
SKIP_REASON = "Spark tests need pyspark (pip install 'mlreport[spark]') and Java 17+ on PATH"


def spark_settings(root: Path) -> str:
    """The body of ``[sources.spark]`` every local test config uses (one session)."""
    return (
        'master = "local[2]"\n'
        "conf = { "
        '"spark.sql.shuffle.partitions" = 2, '
        '"spark.default.parallelism" = 2, '
        f'"spark.sql.warehouse.dir" = "{root / "spark-warehouse"}" '
        "}"
    )


@pytest.fixture(scope="session")
def spark_root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    if not HAVE_SPARK:
        pytest.skip(SKIP_REASON)
    root = tmp_path_factory.mktemp("spark")
    yield root
    from mlreport.connectors.spark.session import stop_all

    stop_all()
