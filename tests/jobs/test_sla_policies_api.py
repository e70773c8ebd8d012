"""`/api/v1/sla-policies/`: everyone reads the targets in force; ADMINs set and reset them."""

from collections.abc import Callable

import pytest
from django.test import Client

from accounts.models import Role
from analytics.sla import DEFAULT_TARGETS
from tests.conftest import TenantClient, assert_problem

URL = "/api/v1/sla-policies/"


def test_every_priority_is_listed_with_its_default_targets(client_for: Callable[..., TenantClient]) -> None:
    response = client_for(Role.MEMBER).get(URL)

    assert response.status_code == 200
    results = response.json()["results"]
    assert [item["priority"] for item in results] == ["URGENT", "HIGH", "MEDIUM", "LOW"]
    for item in results:
        default = DEFAULT_TARGETS[item["priority"]]
        assert item == {
            "priority": item["priority"],
            "time_to_start_seconds": default.time_to_start_seconds,
            "time_to_done_seconds": default.time_to_done_seconds,
            "is_default": True,
        }


def test_an_admin_sets_changes_and_resets_a_priority(client_for: Callable[..., TenantClient]) -> None:
    admin = client_for(Role.ADMIN)

    put = admin.client.put(
        f"{URL}HIGH/", {"time_to_start_seconds": 600, "time_to_done_seconds": 7200}, format="json",
        headers={"X-Tenant-ID": str(admin.tenant.id)},
    )  # fmt: skip
    assert put.status_code == 200
    assert put.json() == {
        "priority": "HIGH",
        "time_to_start_seconds": 600,
        "time_to_done_seconds": 7200,
        "is_default": False,
    }

    patched = admin.patch(f"{URL}HIGH/", {"time_to_done_seconds": 3600}).json()
    assert patched["time_to_start_seconds"] == 600 and patched["time_to_done_seconds"] == 3600
    assert client_for(Role.MEMBER).get(f"{URL}HIGH/").json() == patched

    assert admin.delete(f"{URL}HIGH/").status_code == 204
    assert admin.get(f"{URL}HIGH/").json()["is_default"] is True


@pytest.mark.parametrize(
    "body",
    [
        {"time_to_start_seconds": 0},
        {"time_to_start_seconds": "soon"},
        {"time_to_start_seconds": 7200},  # later than the 3600 s time-to-done
        {"time_to_done_seconds": 1},  # earlier than the 60 s time-to-start
        {"time_to_start_seconds": 60, "nonsense": 1},
    ],
)
def test_invalid_targets_are_refused(client_for: Callable[..., TenantClient], body: dict) -> None:
    admin = client_for(Role.ADMIN)
    assert (
        admin.patch(f"{URL}URGENT/", {"time_to_start_seconds": 60, "time_to_done_seconds": 3600}).status_code
        == 200
    )
    assert_problem(admin.patch(f"{URL}URGENT/", body), 400, "validation_error")


@pytest.mark.parametrize("role", [Role.MANAGER, Role.MEMBER])
def test_only_admins_change_policies(client_for: Callable[..., TenantClient], role: str) -> None:
    other = client_for(role)
    assert_problem(other.patch(f"{URL}LOW/", {"time_to_start_seconds": 60}), 403, "role_too_low")
    assert_problem(other.delete(f"{URL}LOW/"), 403, "role_too_low")


def test_an_unknown_priority_is_404(client_for: Callable[..., TenantClient]) -> None:
    assert_problem(client_for(Role.ADMIN).get(f"{URL}SOMEDAY/"), 404, "not_found")


@pytest.mark.django_db
def test_the_list_is_documented_as_the_page_it_returns() -> None:
    schema = Client().get("/api/v1/schema/?format=json").json()
    documented = schema["paths"]["/api/v1/sla-policies/"]["get"]["responses"]["200"]["content"]
    reference = documented["application/json"]["schema"]["$ref"]
    page = schema["components"]["schemas"][reference.rsplit("/", 1)[-1]]
    assert page["type"] == "object" and set(page["properties"]) == {"next", "previous", "results"}
