"""X-Tenant-ID: 400 when missing or malformed, 404 when unknown, 403 for non-members — and no query ever
runs in a schema the caller is not a member of."""

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from rest_framework.test import APIClient

from accounts.models import Role, User
from tenancy.models import Tenant
from tests.conftest import TenantClient, assert_problem, bearer_client

pytestmark = pytest.mark.external_services

MEMBERS = "/api/v1/members/"


def test_missing_header_is_400(client_for: Callable[..., TenantClient]) -> None:
    member = client_for(Role.MEMBER)
    assert_problem(member.client.get(MEMBERS), 400, "tenant_header_missing")


@pytest.mark.parametrize("value", ["not-a-uuid", "1", "'; SET search_path TO public; --", "public", " "])
def test_malformed_header_is_400(client_for: Callable[..., TenantClient], value: str) -> None:
    member = client_for(Role.MEMBER)
    response = member.client.get(MEMBERS, headers={"X-Tenant-ID": value})
    code = "tenant_header_missing" if not value.strip() else "tenant_header_invalid"
    assert_problem(response, 400, code)


def test_unknown_tenant_is_404(client_for: Callable[..., TenantClient]) -> None:
    member = client_for(Role.MEMBER)
    response = member.client.get(MEMBERS, headers={"X-Tenant-ID": str(uuid.uuid4())})
    assert_problem(response, 404, "tenant_not_found")


def test_no_token_is_401(tenant: Tenant) -> None:
    response = APIClient().get(MEMBERS, headers={"X-Tenant-ID": str(tenant.id)})
    assert_problem(response, 401, "not_authenticated")


def test_forged_token_is_401(tenant: Tenant) -> None:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer eyJhbGciOiJIUzI1NiJ9.eyJ1c2VyX2lkIjoxfQ.forged")
    assert_problem(client.get(MEMBERS, headers={"X-Tenant-ID": str(tenant.id)}), 401, "token_not_valid")


def test_tenant_scoped_responses_vary_on_the_tenant_header(client_for: Callable[..., TenantClient]) -> None:
    response = client_for(Role.MEMBER).get(MEMBERS)
    assert response.status_code == 200
    assert "X-Tenant-ID" in response["Vary"]


def test_member_of_a_presenting_b_is_403_and_no_query_runs_in_b(
    make_user: Callable[..., User], tenant: Tenant, other_tenant: Tenant
) -> None:
    user = make_user(tenant=tenant, role=Role.ADMIN)
    schemas_seen: list[str] = []

    def record_schema(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        schemas_seen.append(connection.schema_name)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record_schema):
        response = bearer_client(user).get(MEMBERS, headers={"X-Tenant-ID": str(other_tenant.id)})

    assert_problem(response, 403, "not_a_member")
    assert schemas_seen, "the membership check must have queried the public schema"
    assert other_tenant.schema_name not in schemas_seen
    assert set(schemas_seen) == {"public"}


def test_member_sees_only_their_own_tenant(
    client_for: Callable[..., TenantClient], other_tenant: Tenant
) -> None:
    member = client_for(Role.MEMBER)
    client_for(Role.MEMBER, on_tenant=other_tenant)
    emails = {row["user"]["email"] for row in member.get(MEMBERS).json()["results"]}
    assert member.user.email in emails
    assert not any(email.endswith("@beta.test") for email in emails)
