"""A second `mlreport run` with no new data reads nothing beyond cursor checks.

Runs the pipeline twice on the sample organisation and prints, per source, what each sync
read (files opened, bytes, git commands, commits) and the rows it wrote.

    python benchmarks/bench_second_run.py [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from mlreport import pipeline
from mlreport.sample_data import materialize
from mlreport.warehouse import Warehouse


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="mlreport-bench-"))
    config, as_of = materialize(out)
    for attempt in ("first", "second"):
        started = time.perf_counter()
        with Warehouse(config.warehouse.path) as wh:
            outcome = pipeline.run(wh, config, config.output.dir, as_of)
        seconds = time.perf_counter() - started
        print(f"{attempt} run: {seconds:.2f} s")
        for st in outcome.syncs:
            print(f"  {st.source:<24} rows written {st.rows:>7,}  reads {json.dumps(st.reads)}")


if __name__ == "__main__":
    main()
