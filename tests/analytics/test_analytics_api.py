"""/api/v1/analytics/*: each endpoint's success path, 304, and its error codes (400 range, 404, 403).

The projections are written here as rows (the pipeline's own tests prove how they are built), so the
expected totals, percentiles and SLA figures can be stated exactly. Everything runs in the test's
transaction; each test starts with a fresh analytics version, so no cached document leaks between tests.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from accounts.models import Membership, Role, User
from analytics.models import AnalyticsSnapshot, PartitionBuild, SlaState, TaskSLA
from analytics.selectors import MAX_RANGE_DAYS, SNAPSHOT_METRICS, utc_today
from analytics.serializers import OverviewOutput, ProjectAnalyticsOutput, ProjectSlaOutput
from analytics_refresh.versions import bump_versions
from tenancy.models import Tenant
from tests.conftest import TenantClient, assert_problem, bearer_client
from tracker.models import PRIORITY_RANK, Priority, Project, Status, Task

pytestmark = pytest.mark.django_db

ANALYTICS = "/api/v1/analytics/"
OVERVIEW = f"{ANALYTICS}overview/"
TODAY = utc_today()
DAYS = [TODAY - dt.timedelta(days=2), TODAY - dt.timedelta(days=1), TODAY]
RANGE = {"from": DAYS[0].isoformat(), "to": DAYS[-1].isoformat()}
BUILT_AT = timezone.now().replace(microsecond=0)
_NULLABLE = {name for name in SNAPSHOT_METRICS if name.startswith(("cycle_time", "lead_time", "open_age"))}


def project_url(project: Project | uuid.UUID, suffix: str = "") -> str:
    project_id = project.pk if isinstance(project, Project) else project
    return f"{ANALYTICS}projects/{project_id}/{suffix}"


@dataclass
class History:
    project: Project
    tasks: dict[str, Task]


def snapshot(project: Project, day: dt.date, **values: Any) -> AnalyticsSnapshot:
    metrics = {name: None if name in _NULLABLE else 0 for name in SNAPSHOT_METRICS}
    metrics.update(values)
    return AnalyticsSnapshot.objects.create(project=project, day=day, built_at=BUILT_AT, **metrics)


def task(project: Project, reporter: User, title: str, status: str, priority: str) -> Task:
    now = timezone.now()
    return Task.objects.create(
        project=project,
        title=title,
        status=status,
        priority=priority,
        priority_rank=PRIORITY_RANK[priority],
        reporter=reporter,
        created_at=now,
        updated_at=now,
    )


def sla_row(task: Task, day: dt.date, status: str, **values: Any) -> TaskSLA:
    defaults: dict[str, Any] = {
        "seconds": 3600,
        "in_status_at_end": True,
        "start_clock_seconds": 0,
        "done_clock_seconds": 0,
        "start_target_state": SlaState.OPEN,
        "done_target_state": SlaState.OPEN,
    }
    defaults.update(values)
    return TaskSLA.objects.create(
        task=task,
        day=day,
        status=status,
        project_id=task.project_id,
        priority=task.priority,
        built_at=BUILT_AT,
        **defaults,
    )


@pytest.fixture(autouse=True)
def _fresh_analytics_version(tenant: Tenant, other_tenant: Tenant) -> Iterator[None]:
    """Cached documents outlive the rolled-back rows they were built from: move every test past them."""
    for each in (tenant, other_tenant):
        with tenant_context(each):
            bump_versions(project_id=None)
    yield


def passwordless(tenant: Tenant, role: str) -> User:
    """A member without a password: JWT needs none, and each password hash costs about a second."""
    user = User.objects.create_user(f"analytics-{uuid.uuid4().hex[:12]}@example.test", None)
    Membership.objects.create(user=user, tenant=tenant, role=role)
    return user


@pytest.fixture
def api_as(tenant: Tenant) -> Callable[..., TenantClient]:
    """`api_as(Role.MEMBER)`: a new member of the test tenant (or `on_tenant`) speaking to the API."""

    def build(role: str = Role.MEMBER, *, on_tenant: Tenant | None = None) -> TenantClient:
        target = on_tenant or tenant
        user = passwordless(target, role)
        return TenantClient(client=bearer_client(user), user=user, tenant=target)

    return build


@pytest.fixture
def history(tenant: Tenant) -> History:
    """One project with three built days (1, 2, 3 tasks completed), SLA rows for three tasks, and four
    tasks now: OPEN, IN_PROGRESS, DONE and a deleted one."""
    reporter = passwordless(tenant, Role.MANAGER)
    with tenant_context(tenant):
        project = Project.objects.create(
            name="Analytics",
            key=f"A{uuid.uuid4().hex[:6].upper()}",
            created_by=reporter,
            created_at=timezone.now(),
        )
        tasks = {
            "urgent": task(project, reporter, "Hot fix", Status.IN_PROGRESS, Priority.URGENT),
            "low": task(project, reporter, "Someday", Status.OPEN, Priority.LOW),
            "done": task(project, reporter, "Shipped", Status.DONE, Priority.MEDIUM),
        }
        deleted = task(project, reporter, "Deleted", Status.OPEN, Priority.LOW)
        Task.objects.filter(pk=deleted.pk).update(deleted_at=timezone.now())
        for completed, (day, p50, p85) in enumerate(
            zip(DAYS, [3600, 7200, 10800], [5400, 9000, 14400], strict=True), start=1
        ):
            snapshot(
                project,
                day,
                tasks_created=2,
                tasks_completed=completed,
                cycle_time_p50=p50,
                cycle_time_p85=p85,
                end_open=4 - completed,
                end_in_progress=1,
                end_done=completed,
                time_open_seconds=1000 * completed,
                open_age_max=86400 * completed,
            )
            PartitionBuild.objects.update_or_create(day=day, defaults={"built_at": BUILT_AT, "log_seq": 1})
        sla_row(
            tasks["urgent"],
            DAYS[-1],
            Status.IN_PROGRESS,
            start_clock_seconds=1800,
            start_target_state=SlaState.MET,
            done_clock_seconds=40_000,
            done_target_state=SlaState.BREACHED,
        )
        sla_row(tasks["low"], DAYS[-1], Status.OPEN, start_clock_seconds=250_000)
        sla_row(
            tasks["done"],
            DAYS[1],
            Status.DONE,
            start_clock_seconds=7200,
            start_target_state=SlaState.MET,
            done_clock_seconds=100_000,
            done_target_state=SlaState.MET,
        )
    return History(project=project, tasks=tasks)


# --- the project document ------------------------------------------------------------------------------


def test_project_analytics_has_the_series_the_totals_and_live_counts(
    api_as: Callable[..., TenantClient], history: History
) -> None:
    response = api_as(Role.MEMBER).get(project_url(history.project), RANGE)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response["ETag"].startswith('"')
    body = response.json()
    assert set(body) == set(ProjectAnalyticsOutput().fields)
    assert (body["from"], body["to"], body["days_in_range"], body["days_built"]) == (*RANGE.values(), 3, 3)
    assert body["as_of"] == BUILT_AT.isoformat()
    assert [row["day"] for row in body["series"]] == [day.isoformat() for day in DAYS]
    assert set(body["series"][0]) == {"day", *SNAPSHOT_METRICS} == {"day", *body["metrics"]}
    totals = body["totals"]
    assert (totals["tasks_created"], totals["tasks_completed"], totals["throughput_per_day"]) == (6, 6, 2.0)
    # Daily percentiles weighted by completions (1, 2, 3): the median completion falls on day 2.
    assert (totals["cycle_time_p50"], totals["cycle_time_p85"]) == (7200, 14400)
    assert totals["time_in_status_seconds"] == {"OPEN": 6000, "IN_PROGRESS": 0, "BLOCKED": 0}
    assert totals["wip_at_end"] == {"OPEN": 1, "IN_PROGRESS": 1, "BLOCKED": 0, "DONE": 3}
    assert totals["open_age_max_at_end"] == 3 * 86400
    assert body["sla"] == {"met": 3, "breached": 1, "open": 2, "breach_rate": 0.25}
    assert body["live"]["by_status"] == {
        "OPEN": 1,
        "IN_PROGRESS": 1,
        "BLOCKED": 0,
        "DONE": 1,
    }  # deleted left out


def test_project_analytics_defaults_to_the_last_30_days(
    api_as: Callable[..., TenantClient], history: History
) -> None:
    body = api_as(Role.MEMBER).get(project_url(history.project)).json()
    assert body["to"] == TODAY.isoformat()
    assert body["from"] == (TODAY - dt.timedelta(days=29)).isoformat()
    assert body["days_in_range"] == 30 and body["days_built"] == 3


def test_a_range_without_built_days_says_so(api_as: Callable[..., TenantClient], history: History) -> None:
    body = (
        api_as(Role.MEMBER)
        .get(project_url(history.project), {"from": "2025-01-01", "to": "2025-01-31"})
        .json()
    )
    assert (body["as_of"], body["days_built"], body["series"]) == (None, 0, [])
    assert body["totals"]["cycle_time_p50"] is None and body["totals"]["wip_at_end"] is None


# --- the SLA document ----------------------------------------------------------------------------------


def test_sla_per_target_and_priority_with_the_tasks_at_risk(
    api_as: Callable[..., TenantClient], history: History
) -> None:
    response = api_as(Role.MEMBER).get(project_url(history.project, "sla/"), RANGE)

    assert response.status_code == 200
    body = response.json()
    assert set(body) == set(ProjectSlaOutput().fields)
    assert body["tasks_measured"] == 3
    rows = {(row["target"], row["priority"]): row for row in body["by_target"]}
    assert len(rows) == 8  # two targets by four priorities, measured or not
    urgent_done = rows[("time_to_done", "URGENT")]
    assert (urgent_done["met"], urgent_done["breached"], urgent_done["breach_rate"]) == (0, 1, 1.0)
    assert urgent_done["target_seconds"] == 8 * 3600 and urgent_done["p50_seconds"] == 40_000
    medium_done = rows[("time_to_done", "MEDIUM")]
    assert (medium_done["met"], medium_done["breach_rate"], medium_done["p85_seconds"]) == (1, 0.0, 100_000)
    low_start = rows[("time_to_start", "LOW")]
    assert (low_start["open"], low_start["breach_rate"], low_start["p50_seconds"]) == (1, None, None)

    assert body["at_risk_as_of_day"] == TODAY.isoformat()
    at_risk = [(item["title"], item["target"], item["level"]) for item in body["at_risk"]]
    assert at_risk == [("Hot fix", "time_to_done", "breached"), ("Someday", "time_to_start", "warning")]


# --- the overview --------------------------------------------------------------------------------------


def test_overview_has_one_entry_per_project(
    api_as: Callable[..., TenantClient], history: History, tenant: Tenant
) -> None:
    with tenant_context(tenant):
        quiet = Project.objects.create(
            name="Quiet",
            key=f"Q{uuid.uuid4().hex[:6].upper()}",
            created_by=history.project.created_by,
            created_at=timezone.now(),
            archived_at=timezone.now(),
        )
    response = api_as(Role.MEMBER).get(OVERVIEW, RANGE)

    assert response.status_code == 200
    body = response.json()
    assert set(body) == set(OverviewOutput().fields)
    entries = {entry["project"]["id"]: entry for entry in body["projects"]}
    ours = entries[str(history.project.pk)]
    assert ours["totals"]["tasks_completed"] == 6 and ours["sla"]["breached"] == 1
    assert [point["completed"] for point in ours["throughput"]] == [1, 2, 3]
    assert ours["live"]["by_status"]["OPEN"] == 1
    assert entries[str(quiet.pk)]["project"]["archived"] is True
    assert entries[str(quiet.pk)]["days_built"] == 0
    order = [entry["project"]["id"] for entry in body["projects"]]
    assert order.index(str(history.project.pk)) < order.index(str(quiet.pk))  # archived projects last


def test_overview_is_cached_per_tenant(
    api_as: Callable[..., TenantClient], history: History, other_tenant: Tenant
) -> None:
    assert str(history.project.pk) in api_as(Role.MEMBER).get(OVERVIEW, RANGE).content.decode()
    other = api_as(Role.MEMBER, on_tenant=other_tenant).get(OVERVIEW, RANGE)
    assert other.status_code == 200
    assert str(history.project.pk) not in other.content.decode()


# --- caching: 304 and invalidation, for every endpoint -------------------------------------------------

ENDPOINTS: dict[str, Callable[[Project], str]] = {
    "project": lambda project: project_url(project),
    "sla": lambda project: project_url(project, "sla/"),
    "overview": lambda project: OVERVIEW,
}


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_if_none_match_answers_304(
    api_as: Callable[..., TenantClient], history: History, endpoint: str
) -> None:
    member = api_as(Role.MEMBER)
    url = ENDPOINTS[endpoint](history.project)
    first = member.get(url, RANGE)
    etag = first["ETag"]

    again = member.get(url, RANGE, headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b"" and again["ETag"] == etag
    assert member.get(url, RANGE, headers={"If-None-Match": f'"other", W/{etag}'}).status_code == 304
    assert member.get(url, RANGE, headers={"If-None-Match": '"stale"'}).status_code == 200
    assert "private" in first["Cache-Control"] and "X-Tenant-ID" in first["Vary"]


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_a_version_bump_invalidates_the_cached_document(
    api_as: Callable[..., TenantClient], history: History, tenant: Tenant, endpoint: str
) -> None:
    member = api_as(Role.MEMBER)
    url = ENDPOINTS[endpoint](history.project)
    before = member.get(url, RANGE)
    with tenant_context(tenant):
        Task.objects.filter(pk=history.tasks["low"].pk).update(status=Status.BLOCKED)
        AnalyticsSnapshot.objects.filter(project=history.project, day=DAYS[0]).update(tasks_completed=10)
        TaskSLA.objects.filter(task=history.tasks["low"]).update(start_clock_seconds=10)
    assert member.get(url, RANGE)["ETag"] == before["ETag"]  # served from the cache
    with tenant_context(tenant):
        bump_versions(project_id=history.project.pk)  # what the job does on every task event
    after = member.get(url, RANGE)
    assert after.status_code == 200 and after["ETag"] != before["ETag"]


# --- errors --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_a_range_longer_than_366_days_is_400(
    api_as: Callable[..., TenantClient], history: History, endpoint: str
) -> None:
    member = api_as(Role.MEMBER)
    url = ENDPOINTS[endpoint](history.project)
    longest = {
        "from": "2025-01-01",
        "to": (dt.date(2025, 1, 1) + dt.timedelta(days=MAX_RANGE_DAYS - 1)).isoformat(),
    }
    assert member.get(url, longest).status_code == 200
    too_long = {"from": "2024-12-31", "to": longest["to"]}
    body = assert_problem(member.get(url, too_long), 400, "range_too_long")
    assert body["max_days"] == MAX_RANGE_DAYS
    assert_problem(member.get(url, {"from": "2020-01-01"}), 400, "range_too_long")  # to defaults to today


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "2025-02-30"}, "from"),
        ({"to": "yesterday"}, "to"),
        ({"from": "2025-01-01T00:00:00Z"}, "from"),
        ({"form": "2025-01-01"}, "form"),
        ({"to": ""}, "to"),
        ({"from": ""}, "from"),
    ],
)
def test_bad_dates_and_unknown_parameters_are_400(
    api_as: Callable[..., TenantClient],
    history: History,
    endpoint: str,
    params: dict[str, str],
    field: str,
) -> None:
    response = api_as(Role.MEMBER).get(ENDPOINTS[endpoint](history.project), params)
    body = assert_problem(response, 400, "validation_error")
    assert set(body["errors"]) == {field}


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_from_after_to_is_400(api_as: Callable[..., TenantClient], history: History, endpoint: str) -> None:
    response = api_as(Role.MEMBER).get(
        ENDPOINTS[endpoint](history.project), {"from": "2025-02-02", "to": "2025-02-01"}
    )
    assert_problem(response, 400, "invalid_range")


@pytest.mark.parametrize("suffix", ["", "sla/"])
def test_an_unknown_project_is_404(
    api_as: Callable[..., TenantClient], history: History, other_tenant: Tenant, suffix: str
) -> None:
    member = api_as(Role.MEMBER)
    assert_problem(member.get(project_url(uuid.uuid4(), suffix)), 404, "not_found")
    # Another tenant's project does not exist here.
    elsewhere = api_as(Role.MEMBER, on_tenant=other_tenant)
    assert_problem(elsewhere.get(project_url(history.project, suffix)), 404, "not_found")
    assert_problem(member.client.get(f"{ANALYTICS}projects/not-a-uuid/{suffix}"), 404, "not_found")


def test_an_unknown_tenant_is_404(api_as: Callable[..., TenantClient]) -> None:
    member = api_as(Role.MEMBER)
    response = member.client.get(OVERVIEW, headers={"X-Tenant-ID": str(uuid.uuid4())})
    assert_problem(response, 404, "tenant_not_found")


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_a_non_member_is_403(history: History, tenant: Tenant, other_tenant: Tenant, endpoint: str) -> None:
    outsider = bearer_client(passwordless(other_tenant, Role.ADMIN))
    response = outsider.get(ENDPOINTS[endpoint](history.project), headers={"X-Tenant-ID": str(tenant.id)})
    assert_problem(response, 403, "not_a_member")


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_no_token_is_401(history: History, tenant: Tenant, endpoint: str) -> None:
    from rest_framework.test import APIClient

    response = APIClient().get(ENDPOINTS[endpoint](history.project), headers={"X-Tenant-ID": str(tenant.id)})
    assert_problem(response, 401, "not_authenticated")


def test_a_tenant_wide_bump_invalidates_project_documents_too(
    api_as: Callable[..., TenantClient], history: History, tenant: Tenant
) -> None:
    """What a pipeline run that rewrote days does: one bump of the tenant's version refreshes everything."""
    member = api_as(Role.MEMBER)
    before = member.get(project_url(history.project), RANGE)
    with tenant_context(tenant):
        AnalyticsSnapshot.objects.filter(project=history.project, day=DAYS[0]).update(tasks_completed=10)
        bump_versions(project_id=None)
    after = member.get(project_url(history.project), RANGE)
    assert after["ETag"] != before["ETag"]
    assert after.json()["totals"]["tasks_completed"] == 15
