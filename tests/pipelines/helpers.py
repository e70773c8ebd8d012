"""Helpers of the pipeline tests: one run over a tenant's days, the rows stored, check outcomes."""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg

from analytics.models import AnalyticsSnapshot, TaskSLA
from pipelines.assets import ASSETS
from pipelines.checks import RUN_CHECKS
from pipelines.partitions import TenantDays, range_tags
from pipelines.resources import TenantDatabase

SLA_COLUMNS = (
    "seconds",
    "in_status_at_end",
    "project_id",
    "priority",
    "start_clock_seconds",
    "done_clock_seconds",
    "start_target_state",
    "done_target_state",
)
SNAPSHOT_COLUMNS = tuple(
    field.attname
    for field in AnalyticsSnapshot._meta.concrete_fields
    if field.attname not in ("id", "project_id", "day", "built_at")
)


@contextmanager
def memory_instance() -> Iterator[dg.DagsterInstance]:
    """A real Dagster instance (SQLite storage) in /dev/shm when there is one: every Dagster event is a
    SQLite commit, and an fsync per event on a slow disk would dominate the suite's time."""
    shm = Path("/dev/shm")
    with (
        tempfile.TemporaryDirectory(dir=shm if shm.is_dir() else None) as home,
        dg.instance_for_test(temp_dir=home) as instance,
    ):
        yield instance


def build(
    instance: dg.DagsterInstance,
    tenant: str,
    first_day: dt.date,
    last_day: dt.date | None = None,
    *,
    checks: bool = True,
) -> dg.ExecuteInProcessResult:
    """Materialize the three assets (and their run checks) for one tenant's days, as ONE run."""
    span = TenantDays(tenant, first_day, last_day or first_day)
    return dg.materialize(
        [*ASSETS, *(RUN_CHECKS if checks else [])],
        instance=instance,
        resources={"tenant_db": TenantDatabase()},
        tags=range_tags(span),
    )


def stored_sla() -> dict[tuple[str, dt.date, str], dict[str, Any]]:
    return {
        (str(row["task_id"]), row["day"], row["status"]): {
            column: str(row[column]) if column == "project_id" else row[column] for column in SLA_COLUMNS
        }
        for row in TaskSLA.objects.values("task_id", "day", "status", *SLA_COLUMNS)
    }


def stored_snapshots() -> dict[tuple[str, dt.date], dict[str, Any]]:
    return {
        (str(row["project_id"]), row["day"]): {column: row[column] for column in SNAPSHOT_COLUMNS}
        for row in AnalyticsSnapshot.objects.values("project_id", "day", *SNAPSHOT_COLUMNS)
    }


def check_results(result: dg.ExecuteInProcessResult) -> dict[str, bool]:
    return {
        f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}": evaluation.passed
        for evaluation in result.get_asset_check_evaluations()
    }
