"""Start-up of the ``mlreport`` command against a bare ``python -c pass``.

Target (issue 10): ``mlreport --version`` and ``mlreport --help`` under 0.3 s on the 2-core
machine. Each command runs ``--repeat`` times in a fresh process after one warm-up run (so
the page cache is warm for both); the median wall time and its ratio to ``python -c pass``
are printed.

    python benchmarks/bench_cli_startup.py [--repeat 15]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time

COMMANDS = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "mlreport --version": [shutil.which("mlreport") or "mlreport", "--version"],
    "mlreport --help": [shutil.which("mlreport") or "mlreport", "--help"],
    "python -c 'import mlreport.cli'": [sys.executable, "-c", "import mlreport.cli"],
}


def median_seconds(argv: list[str], repeat: int) -> float:
    subprocess.run(argv, capture_output=True, check=True)  # warm-up
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        subprocess.run(argv, capture_output=True, check=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    base = median_seconds(COMMANDS["python -c pass"], args.repeat)
    print(f"{'command':<34} {'median':>8} {'ratio':>7}  (n = {args.repeat} runs each)")
    for name, argv in COMMANDS.items():
        seconds = base if name == "python -c pass" else median_seconds(argv, args.repeat)
        print(f"{name:<34} {seconds:>7.3f}s {seconds / base:>6.1f}x")


if __name__ == "__main__":
    main()
