"""Writes to users and memberships.

The invariant kept here: a tenant always has at least one ADMIN. Changes that could remove the last one
lock the tenant's ADMIN rows first, so two concurrent demotions cannot both pass the check.
"""

from django.db import transaction

from accounts.models import Membership, Role, User
from accounts.selectors import membership_cache_key
from api.cache import public_cache
from api.errors import ProblemError
from tenancy.models import Tenant


class LastAdminError(ProblemError):
    status_code = 400
    default_code = "last_admin"
    default_detail = "A tenant must keep at least one ADMIN; promote someone else first."


class AlreadyMemberError(ProblemError):
    status_code = 409
    default_code = "already_member"
    default_detail = "This user is already a member of the tenant."


class PasswordRequiredError(ProblemError):
    status_code = 400
    default_code = "password_required"
    default_detail = "No account has this email yet: give a password to create one."


def _forget_cached_membership(membership: Membership) -> None:
    """Every membership write ends here: the role check of the next request must see it."""
    public_cache.delete_now_and_on_commit(
        membership_cache_key(tenant_id=membership.tenant_id, user_id=membership.user_id)
    )


def _lock_admins(*, tenant: Tenant) -> list[int]:
    return list(
        Membership.objects.select_for_update()
        .filter(tenant=tenant, role=Role.ADMIN)
        .order_by("id")
        .values_list("id", flat=True)
    )


def add_member(
    *, tenant: Tenant, email: str, role: str, full_name: str = "", password: str | None = None
) -> Membership:
    """Add a user (found by email, or created with `password`) to the tenant with `role`."""
    normalized = User.objects.normalize_email(email).strip().lower()
    with transaction.atomic():
        user = User.objects.filter(email=normalized).first()
        if user is None:
            if not password:
                raise PasswordRequiredError()
            user = User.objects.create_user(normalized, password, full_name=full_name)
        if Membership.objects.filter(user=user, tenant=tenant).exists():
            raise AlreadyMemberError()
        membership = Membership.objects.create(user=user, tenant=tenant, role=role)
        _forget_cached_membership(membership)  # a cached "not a member" would otherwise outlive this
        return membership


def change_role(*, membership: Membership, role: str) -> Membership:
    with transaction.atomic():
        admin_ids = _lock_admins(tenant=membership.tenant)
        membership.refresh_from_db()
        if membership.role == Role.ADMIN and role != Role.ADMIN and admin_ids == [membership.id]:
            raise LastAdminError()
        membership.role = role
        membership.save(update_fields=["role"])
        _forget_cached_membership(membership)
    return membership


def remove_member(*, membership: Membership) -> None:
    with transaction.atomic():
        admin_ids = _lock_admins(tenant=membership.tenant)
        membership.refresh_from_db()
        if membership.role == Role.ADMIN and admin_ids == [membership.id]:
            raise LastAdminError()
        membership.delete()
        _forget_cached_membership(membership)


def deactivate_user(*, user: User) -> None:
    """The only way to 'delete' a user: their history in tenant schemas stays intact."""
    user.is_active = False
    user.save(update_fields=["is_active"])
