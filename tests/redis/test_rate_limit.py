"""Rate limiting in-process, against the real Redis: the sliding-window script, the tenant and per-user
limits with their headers on every tenant-scoped response, login throttling, and failing open."""

import logging
import threading
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import redis
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from accounts.models import Role, User
from api.cache import FALLBACKS
from api.rate_limit import Bucket, limiter, tenant_bucket_key, verified_tokens
from tenancy.models import Tenant
from tests.conftest import TEST_PASSWORD, TenantClient, assert_problem, bearer_client

MEMBERS = "/api/v1/members/"
LOGIN = "/api/v1/auth/token/"
HEADERS = ("RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset")
DEAD_REDIS = "redis://127.0.0.1:1/0"  # nothing listens on port 1: connections are refused at once


def bucket(limit: int, window: int = 60) -> Bucket:
    return Bucket("test", f"tp:rl:test:{uuid.uuid4().hex}", limit, window)


def assert_rate_limit_headers(response: Any) -> None:
    for name in HEADERS:
        assert name in response, (name, response.status_code, dict(response.items()))
        assert int(response[name]) >= 0


# --- The script ---


def test_concurrent_hits_accept_exactly_the_limit() -> None:
    target = bucket(limit=25)
    results: list[bool] = []
    lock = threading.Lock()

    def fire() -> None:
        for _ in range(10):
            decision = limiter.hit([target])
            assert decision is not None
            with lock:
                results.append(decision.allowed)

    threads = [threading.Thread(target=fire) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count(True) == 25
    assert len(results) == 80


def test_window_slides_instead_of_resetting_at_an_edge() -> None:
    """Two requests per second: after the first expires, exactly one more fits, because the second one
    (half a second younger) still counts. A fixed window would have reset to two."""
    target = bucket(limit=2, window=1)
    assert limiter.hit([target]).allowed  # type: ignore[union-attr]
    time.sleep(0.5)
    assert limiter.hit([target]).allowed  # type: ignore[union-attr]
    refused = limiter.hit([target])
    assert refused is not None and not refused.allowed
    assert refused.retry_after == 1
    time.sleep(0.6)  # the first request has left the window, the second has not
    assert limiter.hit([target]).allowed  # type: ignore[union-attr]
    assert not limiter.hit([target]).allowed  # type: ignore[union-attr]


def test_a_refusal_by_one_bucket_charges_none(redis_client: redis.Redis) -> None:
    roomy, tight = bucket(limit=10), bucket(limit=1)
    assert limiter.hit([roomy, tight]).allowed  # type: ignore[union-attr]
    refused = limiter.hit([roomy, tight])
    assert refused is not None and not refused.allowed
    assert refused.reported.bucket is tight
    assert redis_client.zcard(roomy.key) == 1


def test_remaining_and_reset_count_down() -> None:
    target = bucket(limit=3, window=30)
    states = [limiter.hit([target]).reported for _ in range(3)]  # type: ignore[union-attr]
    assert [state.remaining for state in states] == [2, 1, 0]
    assert all(1 <= state.reset <= 30 for state in states)


# --- Tenant and user limits through the API ---


def test_every_tenant_scoped_response_carries_the_headers(
    client_for: Callable[..., TenantClient], other_tenant: Tenant, tenant: Tenant, settings: Any
) -> None:
    settings.RATE_LIMIT_REQUESTS = 4
    admin = client_for(Role.ADMIN)
    responses = {
        "ok": admin.get(MEMBERS),
        "not found": admin.get(f"{MEMBERS}999999999/"),
        "invalid": admin.post(MEMBERS, {"email": "not-an-email"}),
        "not a member": admin.client.get(MEMBERS, headers={"X-Tenant-ID": str(other_tenant.id)}),
        "no token": APIClient().get(MEMBERS, headers={"X-Tenant-ID": str(tenant.id)}),
    }
    assert [r.status_code for r in responses.values()] == [200, 404, 400, 403, 401]
    for response in responses.values():
        assert_rate_limit_headers(response)
    admin.get(MEMBERS)
    limited = admin.get(MEMBERS)  # the fifth of the admin's requests to alpha with a limit of four
    assert_problem(limited, 429, "rate_limited")
    assert_rate_limit_headers(limited)


def test_tenant_limit_answers_429_with_retry_after(
    client_for: Callable[..., TenantClient], settings: Any
) -> None:
    settings.RATE_LIMIT_REQUESTS = 3
    settings.RATE_LIMIT_WINDOW = 20
    first, second = client_for(Role.MEMBER), client_for(Role.MEMBER)
    remaining = [int(client.get(MEMBERS)["RateLimit-Remaining"]) for client in (first, second, first)]
    assert remaining == [2, 1, 0]
    limited = second.get(MEMBERS)
    body = assert_problem(limited, 429, "rate_limited")
    assert body["scope"] == "tenant"
    assert 1 <= int(limited["Retry-After"]) <= 20
    assert limited["RateLimit-Limit"] == "3"
    assert limited["RateLimit-Remaining"] == "0"
    assert "X-Tenant-ID" in limited["Vary"]


def test_tenant_row_overrides_the_default(
    client_for: Callable[..., TenantClient], tenant: Tenant, settings: Any
) -> None:
    settings.RATE_LIMIT_REQUESTS = 100
    member = client_for(Role.MEMBER)
    assert member.get(MEMBERS)["RateLimit-Limit"] == "100"  # also caches the tenant row
    row = Tenant.objects.get(pk=tenant.pk)  # not the session's shared instance: the rollback can't undo that
    row.rate_limit_requests = 2
    row.rate_limit_window = 45
    row.save()  # invalidates the cached row
    assert member.get(MEMBERS)["RateLimit-Limit"] == "2"  # the earlier request still counts
    assert_problem(member.get(MEMBERS), 429, "rate_limited")


def test_one_user_cannot_spend_the_tenant_budget(
    client_for: Callable[..., TenantClient], settings: Any
) -> None:
    settings.RATE_LIMIT_USER_REQUESTS = 2
    runaway, colleague = client_for(Role.MEMBER), client_for(Role.MEMBER)
    assert [runaway.get(MEMBERS).status_code for _ in range(2)] == [200, 200]
    body = assert_problem(runaway.get(MEMBERS), 429, "rate_limited")
    assert body["scope"] == "user"
    assert colleague.get(MEMBERS).status_code == 200


def test_requests_without_a_valid_token_do_not_spend_the_tenant_budget(
    client_for: Callable[..., TenantClient], tenant: Tenant, settings: Any, redis_client: redis.Redis
) -> None:
    settings.RATE_LIMIT_REQUESTS = 2
    settings.RATE_LIMIT_USER_REQUESTS = 3
    outsider = APIClient(REMOTE_ADDR="198.51.100.7")
    outsider.credentials(HTTP_AUTHORIZATION="Bearer not.a.token")
    statuses = [outsider.get(MEMBERS, headers={"X-Tenant-ID": str(tenant.id)}).status_code for _ in range(4)]
    assert statuses == [401, 401, 401, 429]  # limited per source address instead
    assert redis_client.zcard(tenant_bucket_key(tenant.pk)) == 0
    assert client_for(Role.MEMBER).get(MEMBERS).status_code == 200


def test_the_user_bucket_needs_a_valid_unexpired_token(make_user: Callable[..., User]) -> None:
    user = make_user()
    token = AccessToken.for_user(user)
    token.set_exp(lifetime=timedelta(seconds=1))
    raw = str(token).encode()
    assert verified_tokens.user_id(raw) == str(user.pk)
    assert verified_tokens.user_id(raw) == str(user.pk)  # remembered, not verified again
    assert verified_tokens.user_id(raw[:-2] + b"xx") is None  # a forged signature is never remembered
    time.sleep(1.1)
    assert verified_tokens.user_id(raw) is None  # expired: forgotten and refused


def test_responses_outside_a_tenant_have_no_quota_headers(make_user: Callable[..., User]) -> None:
    response = bearer_client(make_user()).get("/api/v1/me/")
    assert response.status_code == 200
    assert "RateLimit-Limit" not in response


# --- Login ---


@pytest.fixture
def fast_login(settings: Any) -> Any:
    """Small login limits; each test logs in from its own address (the buckets outlive the run)."""
    settings.RATE_LIMIT_LOGIN_ACCOUNT_REQUESTS = 3
    settings.RATE_LIMIT_LOGIN_ADDRESS_REQUESTS = 5
    return settings


def login_from(address: str, email: str, password: str) -> Any:
    return APIClient(REMOTE_ADDR=address).post(LOGIN, {"email": email, "password": password}, format="json")


def random_address() -> str:
    return f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250 + 1}"


def test_password_guessing_on_one_account_is_stopped(fast_login: Any, make_user: Callable[..., User]) -> None:
    victim = make_user(email=f"victim-{uuid.uuid4().hex[:12]}@example.test")  # buckets outlive the run
    address = random_address()
    assert [login_from(address, victim.email, "guess").status_code for _ in range(3)] == [401, 401, 401]
    limited = login_from(address, victim.email.upper(), TEST_PASSWORD)  # same account, however spelled
    body = assert_problem(limited, 429, "rate_limited")
    assert body["scope"] == "account"
    assert int(limited["Retry-After"]) >= 1
    # Per account, not per address: another address is refused too.
    assert login_from(random_address(), victim.email, TEST_PASSWORD).status_code == 429


def test_one_address_guessing_many_accounts_is_stopped(fast_login: Any, db: None) -> None:
    address = random_address()
    statuses = [
        login_from(address, f"{uuid.uuid4().hex}@example.test", "guess").status_code for _ in range(6)
    ]
    assert statuses == [401] * 5 + [429]
    assert login_from(address, "", "").status_code == 429


def test_a_login_email_with_a_lone_surrogate_is_refused_not_a_500(fast_login: Any, db: None) -> None:
    # Raw JSON: the escape decodes to a lone surrogate, which no encoder on our side would write.
    body = '{"email": "\\ud800@example.test", "password": "guess"}'
    response = APIClient(REMOTE_ADDR=random_address()).post(LOGIN, body, content_type="application/json")
    assert response.status_code in (400, 401), response.content[:300]


def test_successful_logins_are_not_counted(fast_login: Any, make_user: Callable[..., User]) -> None:
    user = make_user(email=f"regular-{uuid.uuid4().hex[:12]}@example.test")
    address = random_address()
    assert [login_from(address, user.email, TEST_PASSWORD).status_code for _ in range(6)] == [200] * 6
    assert "RateLimit-Remaining" not in login_from(address, user.email, TEST_PASSWORD)


# --- Redis down ---


def test_rate_limiting_fails_open_when_redis_is_down(
    client_for: Callable[..., TenantClient], settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    member = client_for(Role.MEMBER)
    settings.REDIS_URL = DEAD_REDIS
    settings.RATE_LIMIT_USER_REQUESTS = 1
    before = FALLBACKS.snapshot()["rate_limit_fail_open"]
    with caplog.at_level(logging.WARNING, logger="api.cache"):
        responses = [member.get(MEMBERS) for _ in range(3)]
    assert [r.status_code for r in responses] == [200, 200, 200]  # unlimited, not refused
    assert all("RateLimit-Limit" not in r for r in responses)  # no made-up quota
    assert FALLBACKS.snapshot()["rate_limit_fail_open"] - before == 3
    assert any("rate limiting" in record.getMessage() for record in caplog.records)


def test_limiter_resumes_when_redis_answers_again(
    client_for: Callable[..., TenantClient], settings: Any
) -> None:
    member = client_for(Role.MEMBER)
    settings.REDIS_URL = DEAD_REDIS
    assert "RateLimit-Limit" not in member.get(MEMBERS)
    limiter.breaker.reset()  # skip the one-second cooldown rather than sleep through it
    settings.REDIS_URL = settings.CACHES["default"]["LOCATION"]
    assert_rate_limit_headers(member.get(MEMBERS))
