"""Writes to users and memberships.

The invariant kept here: a tenant always has at least one ADMIN. Membership changes of a tenant take turns
(a lock on its registry row, `_take_turn`), so two concurrent demotions cannot both pass the check.
"""

from django.db import IntegrityError, transaction

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


class MemberNotFoundError(ProblemError):
    status_code = 404
    default_code = "not_found"
    default_detail = "No member of this tenant has this id."


def _forget_cached_membership(membership: Membership) -> None:
    """Every membership write ends here: the role check of the next request must see it."""
    public_cache.delete_now_and_on_commit(
        membership_cache_key(tenant_id=membership.tenant_id, user_id=membership.user_id)
    )


def _take_turn(*, tenant: Tenant) -> list[int]:
    """Membership changes of one tenant take turns: lock its registry row, then read its ADMINs.

    One lock that every change takes first cannot deadlock. Locking the ADMIN rows one by one could: two
    changes that see different ADMIN sets (one was demoted in between) lock them in different orders.
    FOR NO KEY UPDATE leaves rows that merely reference the tenant (foreign keys) free to be written.
    """
    list(Tenant.objects.select_for_update(no_key=True).filter(pk=tenant.pk).values_list("pk", flat=True))
    return list(
        Membership.objects.filter(tenant=tenant, role=Role.ADMIN).order_by("id").values_list("id", flat=True)
    )


def _relocked(membership: Membership) -> Membership:
    """The membership as committed now (read after `_take_turn`): a concurrent request may have removed it
    or changed its role after the view read it, and a removed one is a 404, not a crash."""
    current = Membership.objects.select_for_update().filter(pk=membership.pk).first()
    if current is None:
        raise MemberNotFoundError()
    return current


def add_member(
    *, tenant: Tenant, email: str, role: str, full_name: str = "", password: str | None = None
) -> Membership:
    """Add a user (found by email, or created with `password`) to the tenant with `role`."""
    normalized = User.objects.normalize_email(email).strip().lower()
    with transaction.atomic():
        _take_turn(tenant=tenant)  # two adds of one user to this tenant: the second finds the first
        user = User.objects.filter(email=normalized).first()
        if user is None:
            if not password:
                raise PasswordRequiredError()
            try:
                with transaction.atomic():
                    user = User.objects.create_user(normalized, password, full_name=full_name)
            except IntegrityError:  # created a moment ago, by an add to another tenant
                user = User.objects.get(email=normalized)
        if Membership.objects.filter(user=user, tenant=tenant).exists():
            raise AlreadyMemberError()
        membership = Membership.objects.create(user=user, tenant=tenant, role=role)
        _forget_cached_membership(membership)  # a cached "not a member" would otherwise outlive this
        return membership


def change_role(*, membership: Membership, role: str) -> Membership:
    with transaction.atomic():
        admin_ids = _take_turn(tenant=membership.tenant)
        membership = _relocked(membership)
        if membership.role == Role.ADMIN and role != Role.ADMIN and admin_ids == [membership.id]:
            raise LastAdminError()
        membership.role = role
        membership.save(update_fields=["role"])
        _forget_cached_membership(membership)
    return membership


def remove_member(*, membership: Membership) -> None:
    with transaction.atomic():
        admin_ids = _take_turn(tenant=membership.tenant)
        membership = _relocked(membership)
        if membership.role == Role.ADMIN and admin_ids == [membership.id]:
            raise LastAdminError()
        membership.delete()
        _forget_cached_membership(membership)


def deactivate_user(*, user: User) -> None:
    """The only way to 'delete' a user: their history in tenant schemas stays intact."""
    user.is_active = False
    user.save(update_fields=["is_active"])
