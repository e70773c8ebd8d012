"""No input produces a 500 or a partial write: random JSON bodies and query strings against the task API."""

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.models import Role
from tenancy.models import Tenant
from tests.tracker.conftest import Tracker, table_counts
from tracker.filters import TaskFilter

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=6,
)
plausible = st.sampled_from(
    [
        "OPEN",
        "IN_PROGRESS",
        "DONE",
        "HIGH",
        "URGENT",
        "2030-01-01T00:00:00Z",
        "2030-01-01",
        "me",
        "",
        " ",
        "{project}",
    ]
)
task_fields = ["project", "title", "description", "priority", "assignee", "due_at", "status", "reporter", "x"]
bodies = st.dictionaries(st.sampled_from(task_fields), st.one_of(json_values, plausible), max_size=5)
query_values = st.one_of(st.text(max_size=30), plausible, st.integers().map(str))
queries = st.dictionaries(
    st.sampled_from([*TaskFilter.base_filters, "cursor", "page_size", "zzz"]), query_values
)

FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture
def fuzzer(tracker_as: Callable[..., Tracker]) -> tuple[Tracker, dict[str, Any]]:
    manager = tracker_as(Role.MANAGER)
    return manager, manager.task()


def _fill(body: dict[str, Any], task: dict[str, Any]) -> dict[str, Any]:
    return {name: task["project"] if value == "{project}" else value for name, value in body.items()}


@FUZZ
@given(body=bodies)
def test_random_creates_never_fail_on_our_side(
    fuzzer: tuple[Tracker, dict[str, Any]], tenant: Tenant, body: dict[str, Any]
) -> None:
    manager, task = fuzzer
    before = table_counts(tenant)
    response = manager.post_task(_fill(body, task))
    assert response.status_code in (201, 400, 403), response.content[:300]
    if response.status_code != 201:
        assert table_counts(tenant) == before


@FUZZ
@given(body=bodies)
def test_random_patches_never_fail_on_our_side(
    fuzzer: tuple[Tracker, dict[str, Any]], tenant: Tenant, body: dict[str, Any]
) -> None:
    manager, task = fuzzer
    before = table_counts(tenant)
    response = manager.patch(task, **_fill(body, task))
    assert response.status_code in (200, 400, 403), response.content[:300]
    if response.status_code != 200:
        assert table_counts(tenant) == before


@FUZZ
@given(params=queries)
def test_random_list_queries_are_answered_or_refused(
    fuzzer: tuple[Tracker, dict[str, Any]], params: dict[str, str]
) -> None:
    manager, task = fuzzer
    response = manager.list_tasks(
        **{name: value.replace("{project}", task["project"]) for name, value in params.items()}
    )
    assert response.status_code in (200, 400, 403), response.content[:300]
