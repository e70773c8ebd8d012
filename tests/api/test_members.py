"""/api/v1/members/: any member reads, only an ADMIN changes, and the last ADMIN always stays."""

from collections.abc import Callable

import pytest

from accounts.models import Membership, Role, User
from tests.conftest import TenantClient, assert_problem

MEMBERS = "/api/v1/members/"


def test_member_lists_members(client_for: Callable[..., TenantClient]) -> None:
    response = client_for(Role.MEMBER).get(MEMBERS)
    assert response.status_code == 200
    assert response.json()["results"]


def test_admin_adds_an_existing_user(
    client_for: Callable[..., TenantClient], make_user: Callable[..., User]
) -> None:
    admin = client_for(Role.ADMIN)
    outsider = make_user()
    response = admin.post(MEMBERS, {"email": outsider.email, "role": "MANAGER"})
    assert response.status_code == 201, response.json()
    assert response.json()["role"] == "MANAGER"
    assert Membership.objects.get(user=outsider, tenant=admin.tenant).role == Role.MANAGER


def test_admin_adds_a_new_account_with_password(client_for: Callable[..., TenantClient]) -> None:
    admin = client_for(Role.ADMIN)
    response = admin.post(MEMBERS, {"email": "New.Person@Example.test", "password": "long-enough-pw"})
    assert response.status_code == 201
    assert User.objects.get(email="new.person@example.test").check_password("long-enough-pw")


def test_new_account_without_password_is_400(client_for: Callable[..., TenantClient]) -> None:
    assert_problem(
        client_for(Role.ADMIN).post(MEMBERS, {"email": "nobody@example.test"}), 400, "password_required"
    )


def test_adding_twice_is_409(client_for: Callable[..., TenantClient], make_user: Callable[..., User]) -> None:
    admin = client_for(Role.ADMIN)
    outsider = make_user()
    assert admin.post(MEMBERS, {"email": outsider.email}).status_code == 201
    assert_problem(admin.post(MEMBERS, {"email": outsider.email}), 409, "already_member")


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"email": "not-an-email"},
        {"email": "a@b.test", "role": "OWNER"},
        {"email": "a@b.test", "color": "red"},
    ],
)
def test_bad_member_input_is_400(client_for: Callable[..., TenantClient], payload: dict) -> None:
    assert_problem(client_for(Role.ADMIN).post(MEMBERS, payload), 400, "validation_error")


@pytest.mark.parametrize("role", [Role.MANAGER, Role.MEMBER])
def test_non_admins_cannot_add_change_or_remove(
    client_for: Callable[..., TenantClient], make_user: Callable[..., User], role: str
) -> None:
    caller = client_for(role)
    other = Membership.objects.get(user=make_user(tenant=caller.tenant))
    assert_problem(caller.post(MEMBERS, {"email": "x@example.test"}), 403, "role_too_low")
    assert_problem(caller.patch(f"{MEMBERS}{other.id}/", {"role": "ADMIN"}), 403, "role_too_low")
    assert_problem(caller.delete(f"{MEMBERS}{other.id}/"), 403, "role_too_low")


def test_admin_changes_a_role_and_removes_a_member(
    client_for: Callable[..., TenantClient], make_user: Callable[..., User]
) -> None:
    admin = client_for(Role.ADMIN)
    other = Membership.objects.get(user=make_user(tenant=admin.tenant))
    assert admin.patch(f"{MEMBERS}{other.id}/", {"role": "MANAGER"}).json()["role"] == "MANAGER"
    assert admin.delete(f"{MEMBERS}{other.id}/").status_code == 204
    assert not Membership.objects.filter(pk=other.pk).exists()
    assert User.objects.filter(pk=other.user_id).exists(), "removing a membership keeps the account"


def test_last_admin_cannot_be_demoted_or_removed(client_for: Callable[..., TenantClient]) -> None:
    admin = client_for(Role.ADMIN)
    # The fixture tenant's founder is an ADMIN too: remove that one first, leaving exactly one.
    Membership.objects.filter(tenant=admin.tenant, role=Role.ADMIN).exclude(user=admin.user).delete()
    mine = Membership.objects.get(user=admin.user, tenant=admin.tenant)
    assert_problem(admin.patch(f"{MEMBERS}{mine.id}/", {"role": "MEMBER"}), 400, "last_admin")
    assert_problem(admin.delete(f"{MEMBERS}{mine.id}/"), 400, "last_admin")
    assert Membership.objects.get(pk=mine.pk).role == Role.ADMIN


def test_member_of_another_tenant_is_404(client_for: Callable[..., TenantClient], other_tenant) -> None:  # type: ignore[no-untyped-def]
    admin = client_for(Role.ADMIN)
    foreign = client_for(Role.MEMBER, on_tenant=other_tenant)
    foreign_membership = Membership.objects.get(user=foreign.user)
    assert_problem(admin.get(f"{MEMBERS}{foreign_membership.id}/"), 404, "not_found")
    assert_problem(admin.patch(f"{MEMBERS}{foreign_membership.id}/", {"role": "ADMIN"}), 404, "not_found")
    assert_problem(admin.get(f"{MEMBERS}abc/"), 404, "not_found")
