"""The closing summary of the security and reliability suites: probes tried, fuzz cases, faults injected, and
the leaks, 5xx and lost events they saw.

Suites feed it through the `security_counters` fixture (`security_counters.add("probes", 12)`). The numbers
only report: every suite asserts its own zero leaks / zero 5xx / zero lost events. Fault tests of other
suites (Redis outage, broker outage, worker kill) are counted from their outcomes, since they assert their
own guarantees.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pytest

# What each count means, in the order the summary prints them.
COUNTS = {
    "probes": "probes tried (tenant isolation, tokens, headers, filters, search)",
    "fuzz_cases": "fuzz cases (schemathesis, from the OpenAPI document)",
    "load_requests": "requests under concurrent multi-tenant load",
    "faults": "faults injected",
    "leaks": "leaks (another tenant's data, a secret in a log)",
    "server_errors": "5xx answers that should not be",
    "lost_events": "lost events (acknowledged writes missing afterwards)",
}

# Fault tests that live in other suites: (file, test name prefix) → what they inject and guarantee.
EXTERNAL_FAULTS = {
    ("tests/redis/test_live_outage.py", "test_no_5xx_while_redis_goes_away"): (
        "Redis stopped and restarted under load (no 5xx)"
    ),
    ("tests/jobs/test_delivery_guarantees_live.py", "test_with_the_broker_stopped_during_writes"): (
        "Celery broker down during writes (every event delivered exactly once)"
    ),
    ("tests/jobs/test_delivery_guarantees_live.py", "test_a_worker_killed_mid_job"): (
        "worker SIGKILLed mid-job (redelivered, no duplicate)"
    ),
}


@dataclass
class SecurityCounters:
    counts: Counter[str] = field(default_factory=Counter)
    details: list[str] = field(default_factory=list)

    def add(self, name: str, amount: int = 1) -> None:
        if name not in COUNTS:
            raise KeyError(f"unknown counter {name!r}; known: {', '.join(COUNTS)}")
        self.counts[name] += amount

    def note(self, line: str) -> None:
        """A line for the summary's detail list (e.g. what a fault test injected)."""
        self.details.append(line)


COUNTERS = SecurityCounters()


class SummaryPlugin:
    def __init__(self) -> None:
        self.external: dict[str, str] = {}  # description → outcome

    @pytest.hookimpl
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        path, _, name = report.nodeid.partition("::")
        for (file, prefix), description in EXTERNAL_FAULTS.items():
            relevant = report.when == "call" or report.outcome != "passed"
            if path == file and name.startswith(prefix) and relevant:
                self.external[description] = report.outcome

    @pytest.hookimpl(trylast=True)
    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not COUNTERS.counts and not COUNTERS.details and not self.external:
            return
        write = terminalreporter.write_line
        terminalreporter.section("security and reliability summary")
        external_passed = sum(outcome == "passed" for outcome in self.external.values())
        for name, label in COUNTS.items():
            value = COUNTERS.counts[name] + (external_passed if name == "faults" else 0)
            write(f"{label:<72} {value:>7}")
        for line in COUNTERS.details:
            write(f"  - {line}")
        for (_, _), description in EXTERNAL_FAULTS.items():
            outcome = self.external.get(description, "not run in this session")
            write(f"  - {description}: {outcome}")
