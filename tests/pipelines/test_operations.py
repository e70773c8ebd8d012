"""The operator's ways in: `manage.py backfill_snapshots`, and the code location as `dagster` loads it."""

from __future__ import annotations

import datetime as dt
import io
import subprocess

import dagster as dg
import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from analytics.models import AnalyticsSnapshot, PartitionBuild
from tenancy.models import Tenant
from tests.pipelines.activity import ActivityWriter, at


def test_backfill_command_builds_the_range_in_runs_with_progress(
    instance: dg.DagsterInstance, writer: ActivityWriter, in_tenant: Tenant
) -> None:
    project = writer.project("BF", created_at=at("2025-04-01"))
    task = writer.create(project, at("2025-04-02", "10:00"))
    writer.move(task, "IN_PROGRESS", at("2025-04-03", "10:00"))
    out, err = io.StringIO(), io.StringIO()

    call_command(
        "backfill_snapshots",
        "--from",
        "2025-04-01",
        "--to",
        "2025-04-05",
        "--tenant",
        in_tenant.slug,
        "--days-per-run",
        "3",
        stdout=out,
        stderr=err,
    )

    lines = out.getvalue().splitlines()
    assert lines[0].startswith(f"{in_tenant.slug} 2025-04-01..2025-04-03: run ")
    assert lines[1].startswith(f"{in_tenant.slug} 2025-04-04..2025-04-05: run ")
    assert lines[2] == "Built 1 tenant(s) x 5 day(s) in 2 run(s)."
    assert "5/5" in err.getvalue()  # the progress bar's last state
    assert AnalyticsSnapshot.objects.filter(project=project).count() == 5
    assert PartitionBuild.objects.filter(day__range=(dt.date(2025, 4, 1), dt.date(2025, 4, 5))).count() == 5


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--from", "2025-04-05", "--to", "2025-04-01"], "is after"),
        (["--from", "2024-12-31", "--to", "2025-01-01"], "ANALYTICS_START_DATE"),
        (["--from", "2025-04-01", "--to", "2025-04-01", "--tenant", "nobody"], "No tenant"),
        (["--from", "April", "--to", "2025-04-01"], "not a date"),
    ],
)
def test_backfill_command_refuses_bad_input(tenant: Tenant, arguments: list[str], message: str) -> None:
    with pytest.raises(CommandError, match=message):
        call_command("backfill_snapshots", *arguments, "--no-progress", stdout=io.StringIO())


def test_backfill_command_refuses_days_after_today(tenant: Tenant) -> None:
    tomorrow = (timezone.now() + dt.timedelta(days=1)).date().isoformat()
    with pytest.raises(CommandError, match="today"):
        call_command("backfill_snapshots", "--from", "2025-04-01", "--to", tomorrow, stdout=io.StringIO())


def test_dagster_definitions_validate_loads_the_workspace(
    definitions_validation: subprocess.Popen[str],
) -> None:
    """What `dagster dev -w workspace.yaml` loads (the process starts in conftest.py)."""
    output, _ = definitions_validation.communicate(timeout=300)
    assert definitions_validation.returncode == 0, output[-4000:]
    assert "Validation successful for code location task-platform" in output
