"""The README section and the OpenAPI document show what the code does (and cannot drift from it)."""

from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from api.idempotency import IdempotencyInFlightError, IdempotencyKeyInvalidError, IdempotencyKeyReusedError
from tracker import errors
from tracker.filters import TaskFilter
from tracker.lifecycle import lifecycle_markdown
from tracker.roles import matrix_markdown

DOC = Path(__file__).resolve().parents[2] / "README.md"


# pytest-django creates the test database only when a collected test asks for one: run alone, this module
# would otherwise read the OpenAPI document through a connection to DATABASE_URL's own database.
pytestmark = pytest.mark.django_db


def test_the_readme_section_shows_the_lifecycle_and_the_role_matrix_as_the_code_has_them() -> None:
    text = DOC.read_text()
    assert lifecycle_markdown() in text
    assert matrix_markdown() in text


def test_the_readme_section_lists_every_error_code() -> None:
    text = DOC.read_text()
    problems = [
        errors.InvalidTransitionError,
        errors.ProjectArchivedError,
        errors.NotTaskParticipantError,
        errors.PreconditionFailedError,
        errors.TaskNotFoundError,
        IdempotencyKeyInvalidError,
        IdempotencyInFlightError,
        IdempotencyKeyReusedError,
    ]
    for problem in problems:
        assert f"| {problem.status_code} | `{problem.default_code}` |" in text, problem


@pytest.fixture(scope="module")
def schema(django_db_setup: None, django_db_blocker: Any) -> dict[str, Any]:
    with django_db_blocker.unblock():
        return Client().get("/api/v1/schema/?format=json").json()


def _parameters(operation: dict[str, Any]) -> set[str]:
    return {parameter["name"] for parameter in operation.get("parameters", [])}


def test_openapi_lists_every_task_filter(schema: dict[str, Any]) -> None:
    listing = schema["paths"]["/api/v1/tasks/"]["get"]
    assert set(TaskFilter.base_filters) | {"cursor", "page_size", "X-Tenant-ID"} == _parameters(listing)
    status = next(p for p in listing["parameters"] if p["name"] == "status")
    assert status["schema"]["type"] == "array" and status["explode"] is True


def test_openapi_documents_headers_bodies_and_errors_of_a_task_change(schema: dict[str, Any]) -> None:
    patch = schema["paths"]["/api/v1/tasks/{id}/"]["patch"]
    assert {"If-Match", "Idempotency-Key", "X-Tenant-ID"} <= _parameters(patch)
    assert {"200", "400", "401", "403", "404", "409", "412", "422", "429"} <= patch["responses"].keys()
    assert lifecycle_markdown() in patch["description"]
    assert "invalid_transition" in patch["responses"]["400"]["description"]
    assert patch["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "PatchedTaskUpdateInputRequest"
    )


@pytest.mark.parametrize(
    ("path", "methods"),
    [
        ("/api/v1/projects/", {"get", "post"}),
        ("/api/v1/projects/{id}/", {"get", "patch", "delete"}),
        ("/api/v1/tasks/", {"get", "post"}),
        ("/api/v1/tasks/{id}/", {"get", "patch", "delete"}),
        ("/api/v1/tasks/{id}/restore/", {"post"}),
        ("/api/v1/tasks/{id}/activity/", {"get"}),
        ("/api/v1/tasks/{id}/sla/", {"get"}),
    ],
)
def test_openapi_has_every_endpoint_with_its_problems(
    schema: dict[str, Any], path: str, methods: set[str]
) -> None:
    operations = schema["paths"][path]
    assert set(operations) == methods
    for operation in operations.values():
        assert {"400", "401", "403", "404"} <= operation["responses"].keys()
        assert "X-Tenant-ID" in _parameters(operation)
