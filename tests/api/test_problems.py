"""Every /api/ error is problem+json: unknown paths, wrong methods, bad JSON, unhandled errors."""

from collections.abc import Callable

from django.test import Client

from accounts.models import Role
from tests.conftest import TenantClient, assert_problem


def test_unknown_api_path_is_problem_404(db: None) -> None:
    body = assert_problem(Client().get("/api/v1/does-not-exist/"), 404, "not_found")
    assert body["instance"] == "/api/v1/does-not-exist/"


def test_wrong_method_is_problem_405(client_for: Callable[..., TenantClient]) -> None:
    assert_problem(client_for(Role.ADMIN).client.put("/api/v1/me/", {}), 405, "method_not_allowed")


def test_malformed_json_is_problem_400(client_for: Callable[..., TenantClient]) -> None:
    admin = client_for(Role.ADMIN)
    response = admin.client.post(
        "/api/v1/members/",
        "{not json",
        content_type="application/json",
        headers={"X-Tenant-ID": str(admin.tenant.id)},
    )
    assert_problem(response, 400, "malformed_request")


def test_request_id_is_in_header_and_body(db: None) -> None:
    response = Client().get("/api/v1/me/", headers={"X-Request-ID": "abcdef123456"})
    assert response["X-Request-ID"] == "abcdef123456"
    assert response.json()["request_id"] == "abcdef123456"


def test_openapi_documents_tenant_header_and_problem_responses(db: None) -> None:
    schema = Client().get("/api/v1/schema/?format=json").json()
    members = schema["paths"]["/api/v1/members/"]["get"]
    assert any(p["name"] == "X-Tenant-ID" and p["in"] == "header" for p in members["parameters"])
    assert {"400", "401", "403", "404"} <= members["responses"].keys()
    assert "jwtAuth" in schema["components"]["securitySchemes"]


def test_docs_are_served_offline(db: None) -> None:
    page = Client().get("/api/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "swagger-ui" in html and "cdn" not in html.lower() and "unpkg" not in html
    assert Client().get("/api/redoc/").status_code == 200


def test_pages_send_a_strict_content_security_policy(db: None) -> None:
    policy = Client().get("/api/docs/")["Content-Security-Policy"]
    assert (
        "script-src 'self'" in policy and "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]
    )
    # Swagger UI's init script is a separate file (no inline script), so the policy allows it.
    assert Client().get("/api/docs/?script=").status_code == 200
