"""The one shape every benchmark reports in, and the table `make bench` prints.

A figure means little on a shared 2-core machine; its ratio to a baseline measured in the same run, on the
same machine, a moment apart, means much more. So every result carries its baseline.
"""

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class BenchResult:
    name: str
    value: float
    baseline_name: str
    baseline: float
    unit: str
    goal: str = ""

    @property
    def ratio(self) -> float:
        return self.value / self.baseline if self.baseline else float("nan")


def median_seconds(action: Callable[[], object], *, runs: int) -> float:
    """Median wall time of `runs` calls; the median shrugs off a neighbour's burst on a shared machine."""
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def format_table(results: list[BenchResult]) -> str:
    header = ("measured", "value", "baseline", "baseline value", "ratio", "goal")
    rows = [
        (
            r.name,
            f"{r.value:.4g} {r.unit}",
            r.baseline_name,
            f"{r.baseline:.4g} {r.unit}",
            f"{r.ratio:.2f}",
            r.goal,
        )
        for r in results
    ]
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    lines = [f"cores: {os.cpu_count()}"]
    for row in [header, tuple("-" * w for w in widths), *rows]:
        lines.append(" | ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)))
    return "\n".join(lines)


def add_report_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--results-json", help="also write the results here (used by `python -m bench`)")


def report(results: list[BenchResult], *, results_json: str | None) -> list[BenchResult]:
    """Print the table; write JSON for the suite runner, which runs each benchmark in its own process
    (each sets Django up against its own scratch database)."""
    print(format_table(results), flush=True)
    if results_json:
        Path(results_json).write_text(json.dumps([asdict(result) for result in results]))
    return results


def load_results(path: str) -> list[BenchResult]:
    return [BenchResult(**item) for item in json.loads(Path(path).read_text())]
