"""`/api/v1/webhooks/` and `/api/v1/webhooks/{id}/deliveries/`: ADMIN only."""

import uuid
from collections.abc import Callable

import pytest
from django.test import override_settings

from accounts.models import Role
from tenancy.models import Tenant
from tests.conftest import TenantClient, assert_problem
from tests.jobs.helpers import in_tenant
from webhooks.models import Webhook, WebhookDelivery

URL = "/api/v1/webhooks/"
PUBLIC_URL = "https://93.184.216.34/hooks/task-platform"  # an IP literal: no DNS needed


@pytest.fixture
def admin(client_for: Callable[..., TenantClient]) -> TenantClient:
    return client_for(Role.ADMIN)


def create(admin: TenantClient, **overrides: object) -> dict:
    response = admin.post(URL, {"url": PUBLIC_URL, "event_types": ["task.status_changed"], **overrides})
    assert response.status_code == 201, response.json()
    return response.json()


def test_an_admin_registers_a_webhook_and_sees_the_secret_only_once(admin: TenantClient) -> None:
    created = create(admin, description="CI bot")

    assert len(created["secret"]) >= 32 and created["is_active"] is True
    assert created["event_types"] == ["task.status_changed"]
    listed = admin.get(URL).json()["results"]
    assert [hook["id"] for hook in listed] == [created["id"]]
    assert "secret" not in listed[0] and "secret" not in admin.get(f"{URL}{created['id']}/").json()


def test_a_given_secret_is_kept(admin: TenantClient, tenant: Tenant) -> None:
    created = create(admin, secret="a-long-enough-shared-secret")
    with in_tenant(tenant):
        assert Webhook.objects.get(id=created["id"]).secret == "a-long-enough-shared-secret"


@pytest.mark.parametrize("role", [Role.MANAGER, Role.MEMBER])
def test_only_admins_manage_webhooks(
    role: str, client_for: Callable[..., TenantClient], admin: TenantClient
) -> None:
    hook = create(admin)
    other = client_for(role)
    assert_problem(other.get(URL), 403, "role_too_low")
    assert_problem(other.post(URL, {"url": PUBLIC_URL, "event_types": ["task.created"]}), 403, "role_too_low")
    assert_problem(other.patch(f"{URL}{hook['id']}/", {"is_active": False}), 403, "role_too_low")
    assert_problem(other.delete(f"{URL}{hook['id']}/"), 403, "role_too_low")
    assert_problem(other.get(f"{URL}{hook['id']}/deliveries/"), 403, "role_too_low")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "not a url", "event_types": ["task.created"]}, "url"),
        ({"url": PUBLIC_URL, "event_types": ["task.exploded"]}, "event_types.0"),
        ({"url": PUBLIC_URL, "event_types": []}, "event_types"),
        ({"url": PUBLIC_URL, "event_types": ["task.created"], "secret": "short"}, "secret"),
        ({"url": PUBLIC_URL, "event_types": ["task.created"], "colour": "red"}, "colour"),
    ],
)
def test_invalid_input_is_a_validation_error(admin: TenantClient, body: dict, field: str) -> None:
    problem = assert_problem(admin.post(URL, body), 400, "validation_error")
    assert field in problem["errors"]


@override_settings(WEBHOOKS_ALLOW_PRIVATE_URLS=False)
@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8080/hook", "http://169.254.169.254/latest", "http://10.0.0.7/x"]
)
def test_urls_into_private_networks_are_refused_in_production(admin: TenantClient, url: str) -> None:
    problem = assert_problem(
        admin.post(URL, {"url": url, "event_types": ["task.created"]}), 400, "webhook_url_refused"
    )
    assert "url" in problem["errors"]
    hook = create(admin)
    assert_problem(admin.patch(f"{URL}{hook['id']}/", {"url": url}), 400, "webhook_url_refused")


def test_disable_and_re_enable_clears_the_failure_count(admin: TenantClient, tenant: Tenant) -> None:
    hook = create(admin)
    disabled = admin.patch(f"{URL}{hook['id']}/", {"is_active": False}).json()
    assert disabled["is_active"] is False and disabled["disabled_reason"] == "Disabled by an admin."
    with in_tenant(tenant):
        Webhook.objects.filter(id=hook["id"]).update(consecutive_failures=5)

    enabled = admin.patch(
        f"{URL}{hook['id']}/", {"is_active": True, "event_types": ["task.created", "task.deleted"]}
    )

    assert enabled.status_code == 200
    assert enabled.json() | {"updated_at": None} == enabled.json() | {
        "is_active": True, "consecutive_failures": 0, "disabled_at": None, "disabled_reason": "",
        "event_types": ["task.created", "task.deleted"], "updated_at": None,
    }  # fmt: skip


def test_delete_removes_the_webhook(admin: TenantClient) -> None:
    hook = create(admin)
    assert admin.delete(f"{URL}{hook['id']}/").status_code == 204
    assert_problem(admin.get(f"{URL}{hook['id']}/"), 404, "not_found")
    assert_problem(admin.delete(f"{URL}{uuid.uuid4()}/"), 404, "not_found")


def test_the_delivery_log_lists_newest_first_with_the_body_sent(admin: TenantClient, tenant: Tenant) -> None:
    hook = create(admin)
    with in_tenant(tenant):
        webhook = Webhook.objects.get(id=hook["id"])
        old, new = (
            WebhookDelivery.objects.create(
                webhook=webhook,
                event_id=event_id,
                event_type="task.status_changed",
                body=f'{{"event_id":{event_id}}}',
            )
            for event_id in (1, 2)
        )

    response = admin.get(f"{URL}{hook['id']}/deliveries/")

    assert response.status_code == 200
    results = response.json()["results"]
    assert [item["id"] for item in results] == [str(new.delivery_id), str(old.delivery_id)]
    assert results[0]["status"] == "pending" and results[0]["request_body"] == {"event_id": 2}
    assert_problem(admin.get(f"{URL}{uuid.uuid4()}/deliveries/"), 404, "not_found")
