"""CSV files that leave out optional columns, read through the exact (csv module) path.

A quoted multi-line value or a stray quote sends a file to the exact path; that path did not
add the columns the file leaves out, so validation crashed with an unexpected
ColumnNotFoundError and the stream stayed stuck on the file.
"""

from __future__ import annotations

import pytest

from mlreport.sources import SourceError

SHORT_DEPLOY = "deployment_id,entity,environment,version,finished_at,status"


def test_a_multi_line_value_in_a_file_without_optional_columns(world):
    world.write(
        "d.csv",
        f"{SHORT_DEPLOY}\n"
        'd1,svc,prod,"1.0\nbeta, with comma",2026-01-01T00:00:00Z,success\n'
        "d2,svc,prod,2.0,2026-01-02T00:00:00Z,failure\n",
    )
    world.write(
        "i.csv",
        "incident_id,entity,detected_at,title\n"
        'i1,svc,2026-01-01T00:00:00Z,"disk full\non ""db-1"""\n',
    )
    world.config(deployments="d.csv", incidents="i.csv")
    world.sync()
    d = world.by_id("deployments")
    assert d["d1"]["version"] == "1.0\nbeta, with comma"
    assert d["d1"]["trigger"] is None and d["d1"]["model_version"] is None
    assert d["d1"]["kind"] == "planned"  # the default still applies
    assert d["d2"]["status"] == "failure"
    assert world.by_id("incidents")["i1"]["title"] == 'disk full\non "db-1"'


def test_a_stray_quote_in_a_file_without_optional_columns(world):
    world.write(
        "d.csv",
        f'{SHORT_DEPLOY}\nd1,svc,prod,1.0 "beta,2026-01-01T00:00:00Z,success\n',
    )
    world.config(deployments="d.csv")
    world.sync()
    assert world.by_id("deployments")["d1"]["version"] == '1.0 "beta'


@pytest.mark.parametrize(
    ("row", "pattern"),
    [
        ('d2,svc,prod,"1.0,2026-01-01T00:00:00Z,success', r"line 3: malformed CSV row: a quoted"),
        ('d2,svc,prod,"1.0"x,2026-01-01T00:00:00Z,success', r"line 3: malformed CSV row: ','"),
        ('d2,svc,prod,"1\n0"', r"line 3: malformed CSV row: 4 fields where the header has 6"),
    ],
    ids=["unclosed-quote", "junk-after-quote", "multi-line-short-row"],
)
def test_invalid_csv_without_optional_columns_names_file_and_line(world, row, pattern):
    path = world.write(
        "d.csv", f"{SHORT_DEPLOY}\nd1,svc,prod,1.0,2026-01-01T00:00:00Z,success\n{row}\n"
    )
    world.config(deployments="d.csv")
    with pytest.raises(SourceError, match=pattern) as info:
        world.sync()
    assert str(info.value).startswith(f"{path}: ")
    assert world.rows("deployments") == []
