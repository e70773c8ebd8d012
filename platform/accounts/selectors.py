"""Reads of users and memberships."""

import uuid

from django.db.models import QuerySet

from accounts.models import Membership, User


def membership_for(*, user: User, tenant_id: uuid.UUID) -> Membership | None:
    """The user's membership in a tenant, or None. Only active users have memberships that count."""
    if not user.is_active:
        return None
    return Membership.objects.filter(user=user, tenant_id=tenant_id).first()


def memberships_of_user(*, user: User) -> QuerySet[Membership]:
    return Membership.objects.filter(user=user).select_related("tenant").order_by("tenant__name")


def members_of_tenant(*, tenant_id: uuid.UUID) -> QuerySet[Membership]:
    return Membership.objects.filter(tenant_id=tenant_id).select_related("user").order_by("id")


def is_member(*, user_id: int, tenant_id: uuid.UUID) -> bool:
    return Membership.objects.filter(user_id=user_id, tenant_id=tenant_id, user__is_active=True).exists()
