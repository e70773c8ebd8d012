"""Reads of users and memberships."""

import uuid

from django.db.models import QuerySet

from accounts.models import Membership, User
from api.cache import MISSING, public_cache, row_from_cache, row_to_cache

# Read on every tenant-scoped request. accounts.services invalidates on every membership write; the
# timeout bounds staleness after a write that bypassed the services (a shell) or a lost invalidation.
MEMBERSHIP_CACHE_SECONDS = 120


def membership_cache_key(*, tenant_id: uuid.UUID, user_id: int) -> str:
    return f"membership:{tenant_id}:{user_id}"


def membership_for(*, user: User, tenant_id: uuid.UUID) -> Membership | None:
    """The user's membership in a tenant, or None. Only active users have memberships that count.

    Read through the public cache; "not a member" is cached too (as None), so a stream of requests to a
    foreign tenant costs no queries. `is_active` comes from the request's user, read fresh by JWT auth.
    """
    if not user.is_active:
        return None
    key = membership_cache_key(tenant_id=tenant_id, user_id=user.pk)
    cached = public_cache.get(key)
    if cached is None:
        return None
    if cached is not MISSING:
        membership = row_from_cache(Membership, cached)
        if membership is not None:
            return membership
    membership = Membership.objects.filter(user=user, tenant_id=tenant_id).first()
    public_cache.set(key, None if membership is None else row_to_cache(membership), MEMBERSHIP_CACHE_SECONDS)
    return membership


def memberships_of_user(*, user: User) -> QuerySet[Membership]:
    return Membership.objects.filter(user=user).select_related("tenant").order_by("tenant__name")


def members_of_tenant(*, tenant_id: uuid.UUID) -> QuerySet[Membership]:
    return Membership.objects.filter(tenant_id=tenant_id).select_related("user").order_by("id")


def is_member(*, user_id: int, tenant_id: uuid.UUID) -> bool:
    return Membership.objects.filter(user_id=user_id, tenant_id=tenant_id, user__is_active=True).exists()
