"""JWT flow: obtain, refresh, /me/."""

from collections.abc import Callable

from rest_framework.test import APIClient

from accounts.models import Role, User
from tenancy.models import Tenant
from tests.conftest import TEST_PASSWORD, assert_problem


def obtain(client: APIClient, email: str, password: str) -> object:
    return client.post("/api/v1/auth/token/", {"email": email, "password": password}, format="json")


def test_token_refresh_and_me(make_user: Callable[..., User], tenant: Tenant) -> None:
    user = make_user(tenant=tenant, role=Role.MANAGER)
    client = APIClient()
    tokens = obtain(client, user.email, TEST_PASSWORD)
    assert tokens.status_code == 200
    body = tokens.json()
    refreshed = client.post("/api/v1/auth/token/refresh/", {"refresh": body["refresh"]}, format="json")
    assert refreshed.status_code == 200
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {refreshed.json()['access']}")
    me = client.get("/api/v1/me/").json()
    assert me["user"]["email"] == user.email
    assert me["memberships"] == [
        {
            "tenant_id": str(tenant.id),
            "tenant_name": tenant.name,
            "tenant_slug": tenant.slug,
            "role": "MANAGER",
        }
    ]


def test_wrong_password_is_401(make_user: Callable[..., User]) -> None:
    user = make_user()
    assert_problem(obtain(APIClient(), user.email, "wrong-password"), 401, "authentication_failed")


def test_missing_credentials_is_400_with_field_errors() -> None:
    body = assert_problem(APIClient().post("/api/v1/auth/token/", {}, format="json"), 400, "validation_error")
    assert set(body["errors"]) == {"email", "password"}


def test_me_without_token_is_401() -> None:
    assert_problem(APIClient().get("/api/v1/me/"), 401, "not_authenticated")


def test_bad_refresh_token_is_401() -> None:
    response = APIClient().post("/api/v1/auth/token/refresh/", {"refresh": "nope"}, format="json")
    assert_problem(response, 401, "token_not_valid")
