"""`make bench`: run every benchmark of the project and print one table of ratios.

Each benchmark is a module with a `main(argv)` that can run alone (`python -m bench.<name> --help`);
here each runs in its own process (each sets Django up against its own scratch database) and reports
its results as JSON. `python -m bench --quick` uses small sizes for a fast look.
"""

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.results import BenchResult, format_table, load_results

# (module, arguments for a full run, arguments for --quick)
BENCHMARKS: list[tuple[str, list[str], list[str]]] = [
    (
        "bench.tenant_provisioning",
        ["--runs", "5", "--existing", "10,500"],
        ["--runs", "3", "--existing", "5"],
    ),
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes, for a fast look")
    parser.add_argument("--only", help="run only benchmarks whose module name contains this")
    args = parser.parse_args(argv)
    results: list[BenchResult] = []
    failed: list[str] = []
    with tempfile.TemporaryDirectory() as scratch:
        for module_name, full_args, quick_args in BENCHMARKS:
            if args.only and args.only not in module_name:
                continue
            print(f"== {module_name}", flush=True)
            results_json = str(Path(scratch) / f"{module_name}.json")
            command = [sys.executable, "-m", module_name, *(quick_args if args.quick else full_args)]
            finished = subprocess.run([*command, "--results-json", results_json], check=False)
            if finished.returncode == 0 and Path(results_json).exists():
                results.extend(load_results(results_json))
            else:
                failed.append(module_name)
    print("\n== all benchmarks")
    print(format_table(results))
    if failed:
        print(f"failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
