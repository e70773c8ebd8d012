"""Reads of users and memberships."""

import uuid

from django.db.models import QuerySet

from accounts.models import Membership, User, user_cache_key
from api.cache import cached_row, public_cache, user_memo

# Read on every tenant-scoped request. accounts.services invalidates on every membership write; the
# timeout bounds staleness after a write that bypassed the services (a shell) or a lost invalidation.
MEMBERSHIP_CACHE_SECONDS = 120


def membership_cache_key(*, tenant_id: uuid.UUID, user_id: int) -> str:
    return f"membership:{tenant_id}:{user_id}"


def membership_for(*, user: User, tenant_id: uuid.UUID) -> Membership | None:
    """The user's membership in a tenant, or None. Only active users have memberships that count.

    Read through the public cache; "not a member" is cached too (as None), so a stream of requests to a
    foreign tenant costs no queries. `is_active` comes from the request's user, read by JWT auth through
    `user_for_authentication` (at most `api.cache.LOCAL_MEMO_SECONDS` old).
    """
    if not user.is_active:
        return None
    key = membership_cache_key(tenant_id=tenant_id, user_id=user.pk)
    return cached_row(
        Membership,
        get=lambda: public_cache.get(key),
        put=lambda row: public_cache.set(key, row, MEMBERSHIP_CACHE_SECONDS),
        load=lambda: Membership.objects.filter(user=user, tenant_id=tenant_id).first(),
        remember_absence=True,
    )


def memberships_of_user(*, user: User) -> QuerySet[Membership]:
    return Membership.objects.filter(user=user).select_related("tenant").order_by("tenant__name")


def members_of_tenant(*, tenant_id: uuid.UUID) -> QuerySet[Membership]:
    return Membership.objects.filter(tenant_id=tenant_id).select_related("user").order_by("id")


def is_member(*, user_id: int, tenant_id: uuid.UUID) -> bool:
    return Membership.objects.filter(user_id=user_id, tenant_id=tenant_id, user__is_active=True).exists()


def user_for_authentication(*, user_id: int | str) -> User | None:
    """The user a valid access token names, or None; active or not (the caller decides).

    Every API request authenticates, and reading the user row was one of its two queries (plus the
    `SET search_path` before it). A copy of the row is kept in this process for at most
    `api.cache.LOCAL_MEMO_SECONDS`: every save of a user clears it here at once (api.signals), other
    worker processes see a deactivation within that bound, as they see a membership change. Each call
    returns a new instance, so a caller that changes its user never changes another request's.
    """
    key = user_cache_key(user_id)
    # Unknown ids are not kept: a miss costs one query, and ids come from signed tokens.
    return cached_row(
        User,
        get=lambda: user_memo.get(key),
        put=lambda row: user_memo.put(key, row),
        load=lambda: User.objects.filter(pk=user_id).first(),
    )
