"""`make bench`: run every benchmark of the project and print one table of ratios.

Each benchmark is a module with a `main(argv)` that can run alone (`python -m bench.<name> --help`);
here each runs in its own process (each sets Django up against its own scratch database) and reports
its results as JSON. `python -m bench --quick` uses small sizes for a fast look.
"""

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.results import BenchResult, format_table, load_results

# (module, arguments for a full run, arguments for --quick). The full sizes keep `make bench` within about
# 15 minutes on a 2-core machine (docs/performance.md). Two are smaller than the figures, which
# run alone: `python -m bench.migrate_schemas` (200 tenants, twice each way: 20-30 min on 2 cores) and
# `python -m bench.pipeline_backfill --rows 1000000` (~6 min on 2 cores, loading included).
BENCHMARKS: list[tuple[str, list[str], list[str]]] = [
    (
        "bench.tenant_provisioning",
        ["--runs", "5", "--existing", "10,500"],
        ["--runs", "3", "--existing", "5"],
    ),
    (
        "bench.migrate_schemas",
        ["--tenants", "20", "--rounds", "2"],
        ["--tenants", "20", "--rounds", "1"],
    ),
    (
        "bench.rate_limit_middleware",
        ["--seconds", "4", "--rounds", "6"],
        ["--seconds", "2", "--rounds", "2"],
    ),
    (
        "bench.analytics_endpoint",
        ["--seconds", "4", "--rounds", "5"],
        ["--seconds", "2", "--rounds", "2"],
    ),
    (
        "bench.task_api",
        ["--seconds", "4", "--rounds", "5"],
        ["--seconds", "2", "--rounds", "2", "--days", "30", "--tasks-per-project", "60"],
    ),
    (
        "bench.notification_latency",
        ["--clients", "4", "--rate", "1", "--seconds", "20"],
        ["--clients", "4", "--rate", "1", "--seconds", "6"],
    ),
    (
        "bench.pipeline_backfill",
        ["--rows", "50000", "--days", "365"],
        ["--rows", "20000", "--days", "365"],
    ),
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes, for a fast look")
    parser.add_argument("--only", help="run only benchmarks whose module name contains this")
    args = parser.parse_args(argv)
    results: list[BenchResult] = []
    failed: list[str] = []
    suite_started = time.monotonic()
    with tempfile.TemporaryDirectory() as scratch:
        for module_name, full_args, quick_args in BENCHMARKS:
            if args.only and args.only not in module_name:
                continue
            print(f"== {module_name}", flush=True)
            results_json = str(Path(scratch) / f"{module_name}.json")
            command = [sys.executable, "-m", module_name, *(quick_args if args.quick else full_args)]
            started = time.monotonic()
            finished = subprocess.run([*command, "--results-json", results_json], check=False)
            print(f"== {module_name}: {time.monotonic() - started:.0f} s", flush=True)
            if finished.returncode == 0 and Path(results_json).exists():
                results.extend(load_results(results_json))
            else:
                failed.append(module_name)
    print(f"\n== all benchmarks ({time.monotonic() - suite_started:.0f} s)")
    print(format_table(results))
    if failed:
        print(f"failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
