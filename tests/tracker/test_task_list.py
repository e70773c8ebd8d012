"""GET /api/v1/tasks/: filters, orderings, keyset pagination, strict parameters, constant query count."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import tenant_context

from accounts.models import Role, User
from tenancy.models import Tenant
from tests.conftest import assert_problem
from tests.tracker.conftest import Tracker, default_project_for
from tracker import services
from tracker.models import Project, Task

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def _iso(hours: float) -> str:
    return at(hours).isoformat().replace("+00:00", "Z")


@pytest.fixture
def board(
    tracker_as: Callable[..., Tracker], tenant: Tenant, make_user: Callable[..., User]
) -> dict[str, Any]:
    """Five tasks in two projects, written through the services with a history in the past."""
    me = tracker_as(Role.MANAGER)
    colleague = make_user(tenant=tenant, role=Role.MEMBER)
    with tenant_context(tenant):
        ops = services.create_project(actor=me.user, name="Ops", key="OPS", occurred_at=at(0))
        web = services.create_project(actor=me.user, name="Web", key="WEB", occurred_at=at(0))

        def task(title: str, project: Project, hours: float, **fields: Any) -> Task:
            return services.create_task(
                actor=me.user, project=project, title=title, occurred_at=at(hours), **fields
            )

        alpha = task("Alpha", ops, 1, priority="LOW", assignee=me.user, due_at=at(100))
        bravo = task("Bravo invoice", web, 2, priority="HIGH", assignee=colleague, due_at=at(200))
        charlie = task("Charlie", ops, 3, priority="URGENT", description="Send the INVOICE")
        delta = task("Delta", web, 3, priority="MEDIUM", due_at=at(150))
        echo = task("Echo", ops, 4, priority="HIGH")
        services.update_task(task=bravo, actor=me.user, status="IN_PROGRESS", occurred_at=at(10))
        services.update_task(task=charlie, actor=me.user, status="IN_PROGRESS", occurred_at=at(11))
        services.update_task(task=charlie, actor=me.user, status="BLOCKED", occurred_at=at(12))
        services.delete_task(task=echo, actor=me.user, occurred_at=at(13))
    return {
        "client": me,
        "colleague": colleague,
        "ops": ops,
        "web": web,
        "tasks": {t.title.split()[0]: t for t in (alpha, bravo, charlie, delta, echo)},
    }


def titles(response: Any) -> list[str]:
    assert response.status_code == 200, response.json()
    return [task["title"].split()[0] for task in response.json()["results"]]


def test_filters_narrow_the_list(board: dict[str, Any]) -> None:
    me: Tracker = board["client"]
    ops, web, colleague = board["ops"], board["web"], board["colleague"]
    cases: list[tuple[dict[str, Any], set[str]]] = [
        ({}, {"Alpha", "Bravo", "Charlie", "Delta"}),
        ({"project": str(ops.pk)}, {"Alpha", "Charlie"}),
        ({"status": "OPEN"}, {"Alpha", "Delta"}),
        ({"status": ["IN_PROGRESS", "BLOCKED"]}, {"Bravo", "Charlie"}),
        ({"priority": "HIGH"}, {"Bravo"}),
        ({"priority": ["LOW", "URGENT"]}, {"Alpha", "Charlie"}),
        ({"assignee": "me"}, {"Alpha"}),
        ({"assignee": str(colleague.pk)}, {"Bravo"}),
        ({"assignee": "none"}, {"Charlie", "Delta"}),
        ({"reporter": "me"}, {"Alpha", "Bravo", "Charlie", "Delta"}),
        ({"reporter": str(colleague.pk)}, set()),
        ({"due_before": _iso(150)}, {"Alpha"}),
        ({"due_after": _iso(150)}, {"Bravo", "Delta"}),
        ({"due_after": _iso(100), "due_before": _iso(200)}, {"Alpha", "Delta"}),
        ({"created_after": _iso(3)}, {"Charlie", "Delta"}),
        ({"created_before": _iso(3)}, {"Alpha", "Bravo"}),
        ({"created_after": "2025-03-01"}, {"Alpha", "Bravo", "Charlie", "Delta"}),
        ({"updated_after": _iso(10)}, {"Bravo", "Charlie"}),
        ({"updated_before": _iso(10)}, {"Alpha", "Delta"}),
        ({"q": "invoice"}, {"Bravo", "Charlie"}),
        ({"q": "INVOICE", "project": str(web.pk)}, {"Bravo"}),
        ({"q": "nothing like this"}, set()),
    ]
    for params, expected in cases:
        assert set(titles(me.list_tasks(**params))) == expected, params


def test_admin_lists_deleted_tasks_on_request(
    board: dict[str, Any], tracker_as: Callable[..., Tracker]
) -> None:
    admin = tracker_as(Role.ADMIN)
    assert "Echo" not in titles(admin.list_tasks())
    assert "Echo" in titles(admin.list_tasks(include_deleted="true"))
    assert "Echo" not in titles(admin.list_tasks(include_deleted="false"))


def _expected_order(tasks: list[Task], field: str, descending: bool) -> list[str]:
    present = sorted(
        (t for t in tasks if getattr(t, field) is not None),
        key=lambda t: (getattr(t, field), t.pk),
        reverse=descending,
    )
    missing = sorted((t for t in tasks if getattr(t, field) is None), key=lambda t: t.pk, reverse=descending)
    return [t.title.split()[0] for t in present + missing]


def _walk(me: Tracker, params: dict[str, Any]) -> tuple[list[list[str]], list[list[str]]]:
    """All pages forward through `next`, then back from the last page through `previous`."""
    forward: list[list[str]] = []
    response = me.list_tasks(**params)
    while True:
        forward.append(titles(response))
        if response.json()["next"] is None:
            break
        response = me.http.get(response.json()["next"])
    backward = [titles(response)]
    while response.json()["previous"] is not None:
        response = me.http.get(response.json()["previous"])
        backward.append(titles(response))
    return forward, backward[::-1]


@pytest.mark.parametrize(
    ("ordering", "field"),
    [
        ("-created_at", "created_at"),
        ("created_at", "created_at"),
        ("updated_at", "updated_at"),
        ("-updated_at", "updated_at"),
        ("due_at", "due_at"),
        ("-due_at", "due_at"),
        ("priority", "priority_rank"),
        ("-priority", "priority_rank"),
    ],
)
def test_every_ordering_pages_forward_and_back_without_gaps(
    board: dict[str, Any], tenant: Tenant, ordering: str, field: str
) -> None:
    with tenant_context(tenant):
        live = list(Task.objects.filter(deleted_at__isnull=True))
    expected = _expected_order(live, field, ordering.startswith("-"))
    forward, backward = _walk(board["client"], {"ordering": ordering, "page_size": 2})
    assert [title for page in forward for title in page] == expected
    assert backward == forward
    assert [len(page) for page in forward] == [2, 2]


def test_the_default_order_is_newest_first(board: dict[str, Any]) -> None:
    assert titles(board["client"].list_tasks())[-1] == "Alpha"


def test_urgency_not_the_alphabet_orders_priority(board: dict[str, Any]) -> None:
    assert titles(board["client"].list_tasks(ordering="-priority")) == ["Charlie", "Bravo", "Delta", "Alpha"]


def test_page_size_defaults_to_50_and_tops_out_at_200(board: dict[str, Any]) -> None:
    me: Tracker = board["client"]
    assert len(titles(me.list_tasks(page_size=200))) == 4
    first = me.list_tasks(page_size=1).json()
    assert first["previous"] is None and parse_qs(urlsplit(first["next"]).query)["page_size"] == ["1"]


@pytest.mark.parametrize(
    "params",
    [
        {"status": "WAITING"},
        {"status": ""},
        {"priority": "CRITICAL"},
        {"assignee": "someone"},
        {"assignee": "-1"},
        {"assignee": "999999999"},
        {"reporter": "none"},
        {"project": "not-a-uuid"},
        {"project": "00000000-0000-0000-0000-000000000000"},
        {"due_before": "tomorrow"},
        {"due_after": "2025-13-01"},
        {"created_after": "1700000000"},
        {"updated_after": "2025-02-30T00:00:00Z"},
        {"ordering": "title"},
        {"ordering": "-id"},
        {"include_deleted": "yes"},
        {"q": "x" * 201},
        {"q": "nul\x00"},
        {"page_size": "0"},
        {"page_size": "201"},
        {"page_size": "ten"},
        {"cursor": "garbage"},
        {"cursor": "eyJvIjoiLWNyZWF0ZWRfYXQiLCJyIjpmYWxzZSwidiI6Im5vdC1hLWRhdGUiLCJrIjoieCJ9"},
        {"stauts": "OPEN"},
    ],
)
def test_bad_list_parameters_are_400_never_ignored(
    tracker_as: Callable[..., Tracker], params: dict[str, str]
) -> None:
    body = assert_problem(tracker_as(Role.MEMBER).list_tasks(**params), 400, "validation_error")
    assert set(params) <= body["errors"].keys(), body


def test_a_cursor_only_fits_its_own_ordering(board: dict[str, Any]) -> None:
    me: Tracker = board["client"]
    next_link = me.list_tasks(ordering="due_at", page_size=1).json()["next"]
    cursor = parse_qs(urlsplit(next_link).query)["cursor"][0]
    body = assert_problem(me.list_tasks(ordering="-priority", cursor=cursor), 400, "validation_error")
    assert "cursor" in body["errors"]


def test_list_query_count_does_not_grow_with_the_page(
    tracker_as: Callable[..., Tracker],
    tenant: Tenant,
    make_user: Callable[..., User],
    django_assert_num_queries: Callable[..., Any],
) -> None:
    me = tracker_as(Role.MANAGER)
    people = [make_user(tenant=tenant) for _ in range(3)]
    with tenant_context(tenant):
        project = default_project_for(tenant)
        for index in range(30):
            services.create_task(
                actor=me.user, project=project, title=f"Task {index}", assignee=people[index % 3]
            )
    filtered = {
        "project": str(project.pk),
        "assignee": str(people[0].pk),
        "status": "OPEN",
        "ordering": "-priority",
    }
    for params, rows in ((filtered, 10), ({}, 30)):
        me.list_tasks(**params, page_size=1)  # warm the caches a deployment may have (membership, tenant)
        with CaptureQueriesContext(connection) as one_row:
            assert len(me.list_tasks(**params, page_size=1).json()["results"]) == 1
        with django_assert_num_queries(len(one_row.captured_queries)):
            assert len(me.list_tasks(**params, page_size=200).json()["results"]) == rows
