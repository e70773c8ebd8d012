"""Rate limits: per tenant, per user inside the tenant, and on login — one atomic Redis call per request.

Algorithm: a sliding-window log. Each bucket is a sorted set of the accepted requests' timestamps (Redis
server time, microseconds); a request is accepted when every bucket it belongs to holds fewer than `limit`
entries younger than `window`. Why this and not the alternatives:
- The contract (DESIGN.md §4) is "at most RATE_LIMIT_REQUESTS per RATE_LIMIT_WINDOW seconds". The log
  keeps exactly that promise for *every* window of that length, so the exactness test can demand
  `accepted == limit`.
- A fixed window lets twice the limit through across a window edge; GCRA (and token buckets) allow a full
  burst *plus* the steady refill, up to about twice the limit in one window; a sliding-window *counter*
  approximates the previous window's share and over- or under-admits. All three are cheaper in memory,
  but none is exact.
- The cost: one sorted-set entry per accepted request per bucket, so memory grows with the limit
  (600/min ≈ 600 small entries per tenant). Fine for API-sized limits, not for millions per window.

Atomicity: the Lua script trims, counts and records every bucket of a request in one EVALSHA, so there
is no read-then-write race between workers, and a request refused by one bucket (say the user's) is not
charged to another (the tenant's). Server time (`TIME`) keeps workers on different hosts in step. Keys
of one tenant share the hash tag `{<tenant id>}`, so the script also runs on a Redis Cluster.

Where the per-user limit lives: here, not in a DRF throttle. The user is only known after JWT
authentication, but the token is self-contained: validating its signature and reading its user id costs
microseconds and no query, and lets the tenant and user buckets be checked in the same single round trip
(a throttle class would need a second one). Requests without a valid token are not charged to the
tenant (an outsider who knows a tenant id must not be able to spend its budget); they are limited per
source address instead, with the per-user numbers. A valid token of a non-member is charged to the
named tenant; DRF then answers 403.

When Redis is down or slow: fail open. Calls time out after REDIS_SOCKET_TIMEOUT, the request proceeds
without rate-limit headers, a warning is logged, `api.cache.FALLBACKS["rate_limit_fail_open"]` counts
it, and a breaker skips Redis for a second so a hung server does not cost every request a timeout. No
broken connection is kept: redis-py's pool reconnects and EVALSHA reloads the script after a restart.
"""

import hashlib
import json
import logging
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import redis
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse
from django.urls import Resolver404, resolve
from redis.backoff import NoBackoff
from redis.commands.core import Script
from redis.retry import Retry
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.views import TokenObtainPairView

from api.cache import FALLBACKS, RedisBreaker
from api.errors import problem_response

logger = logging.getLogger(__name__)

KEY_PREFIX = "tp:rl"

# Login throttling (per source address and per account), counted before the password is checked so
# parallel guesses cannot race past it; successful logins are refunded, so in effect only failures count.
# Overridable in settings under these names.
LOGIN_DEFAULTS = {
    "RATE_LIMIT_LOGIN_ADDRESS_REQUESTS": 30,
    "RATE_LIMIT_LOGIN_ADDRESS_WINDOW": 300,
    "RATE_LIMIT_LOGIN_ACCOUNT_REQUESTS": 10,
    "RATE_LIMIT_LOGIN_ACCOUNT_WINDOW": 300,
}

# KEYS: one sorted set per bucket. ARGV[1]: a unique member for this request; then, per key, the limit
# and the window in microseconds. Returns {allowed, count_1, wait_1, count_2, wait_2, ...}: each bucket's
# entries inside the window before this request, and the microseconds until one more request fits (until
# its oldest entry leaves the window, when it is not full).
SLIDING_WINDOW_LOG = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local allowed = 1
local result = {0}
for i, key in ipairs(KEYS) do
    local limit = tonumber(ARGV[2 * i])
    local window = tonumber(ARGV[2 * i + 1])
    redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
    local count = redis.call('ZCARD', key)
    local wait = 0
    if count > 0 then
        local index = math.max(0, count - limit)
        local entry = redis.call('ZRANGE', key, index, index, 'WITHSCORES')
        wait = tonumber(entry[2]) + window - now
    end
    if count >= limit then
        allowed = 0
    end
    result[2 * i] = count
    result[2 * i + 1] = wait
end
if allowed == 1 then
    for i, key in ipairs(KEYS) do
        redis.call('ZADD', key, now, ARGV[1])
        redis.call('PEXPIRE', key, math.ceil(tonumber(ARGV[2 * i + 1]) / 1000))
    end
end
result[1] = allowed
return result
"""


@dataclass(frozen=True)
class Bucket:
    """One limit a request counts against: `limit` requests per `window` seconds under `key`."""

    scope: str  # "tenant", "user", "address", "account": named in the 429 body
    key: str
    limit: int
    window: int


@dataclass(frozen=True)
class BucketState:
    bucket: Bucket
    allowed: bool
    remaining: int
    reset: int  # seconds until `remaining` grows by one


@dataclass(frozen=True)
class Decision:
    allowed: bool
    states: tuple[BucketState, ...]
    member: str  # this request's entry, for a refund

    @property
    def reported(self) -> BucketState:
        """The bucket the headers describe: the one that refused, else the one closest to refusing."""
        refused = [state for state in self.states if not state.allowed]
        if refused:
            return max(refused, key=lambda state: state.reset)
        return min(self.states, key=lambda state: (state.remaining, -state.reset))

    @property
    def retry_after(self) -> int:
        return max((state.reset for state in self.states if not state.allowed), default=0)


def _seconds(microseconds: float) -> int:
    return max(1, math.ceil(microseconds / 1_000_000))


class RateLimiter:
    """Runs the script against REDIS_URL with short timeouts; answers None when Redis fails (fail open)."""

    def __init__(self) -> None:
        self.breaker = RedisBreaker("rate limiting")
        self._config: tuple[str, float] | None = None
        self._client: redis.Redis | None = None
        self._script: Script | None = None

    def _connect(self) -> tuple[redis.Redis, Script]:
        # Read settings per call (cheap) so tests and reconfigured processes get a client for the current URL.
        config = (settings.REDIS_URL, settings.REDIS_SOCKET_TIMEOUT)
        if self._client is None or self._script is None or config != self._config:
            if self._client is not None:
                self._client.close()
            self._client = redis.Redis.from_url(
                config[0],
                socket_timeout=config[1],
                socket_connect_timeout=config[1],
                # A pooled connection that Redis closed (a restart) fails once on use: retry that at once
                # on a fresh connection. Timeouts are not retried: a hung Redis costs one timeout, then
                # the breaker skips it.
                retry=Retry(NoBackoff(), 1, supported_errors=(redis.ConnectionError,)),
            )
            self._script = self._client.register_script(SLIDING_WINDOW_LOG)
            self._config = config
        return self._client, self._script

    def _failed(self, error: BaseException) -> None:
        FALLBACKS.add("rate_limit_fail_open")
        self.breaker.record_failure(error)

    def hit(self, buckets: Sequence[Bucket]) -> Decision | None:
        """Count one request against all `buckets` if every one has room; None when Redis is unavailable."""
        if not self.breaker.allows_call():
            FALLBACKS.add("rate_limit_fail_open")
            return None
        member = os.urandom(8).hex()
        args: list[str | int] = [member]
        for bucket in buckets:
            args += [bucket.limit, bucket.window * 1_000_000]
        try:
            _, script = self._connect()
            raw = script(keys=[bucket.key for bucket in buckets], args=args)
        except (redis.RedisError, OSError) as error:
            self._failed(error)
            return None
        allowed = bool(raw[0])
        states = []
        for index, bucket in enumerate(buckets):
            count, wait = int(raw[1 + 2 * index]), int(raw[2 + 2 * index])
            remaining = bucket.limit - count - 1 if allowed else max(0, bucket.limit - count)
            reset = _seconds(wait if count else bucket.window * 1_000_000)
            states.append(
                BucketState(bucket=bucket, allowed=count < bucket.limit, remaining=remaining, reset=reset)
            )
        return Decision(allowed=allowed, states=tuple(states), member=member)

    def refund(self, decision: Decision) -> None:
        """Take an accepted request back out of its buckets (a successful login is not a guess)."""
        if not decision.allowed or not self.breaker.allows_call():
            return
        try:
            client, _ = self._connect()
            with client.pipeline(transaction=False) as pipe:
                for state in decision.states:
                    pipe.zrem(state.bucket.key, decision.member)
                pipe.execute()
        except (redis.RedisError, OSError) as error:
            self._failed(error)


limiter = RateLimiter()


# --- Which buckets a request counts against ----------------------------------------------------------


def tenant_policy(tenant: Any) -> tuple[int, int]:
    """(requests, window seconds) for a tenant: its own override where set, else the global default."""
    requests = tenant.rate_limit_requests
    window = tenant.rate_limit_window
    return (
        settings.RATE_LIMIT_REQUESTS if requests is None else requests,
        window or settings.RATE_LIMIT_WINDOW,  # a zero-second window means nothing: use the default
    )


def tenant_bucket_key(tenant_id: object) -> str:
    return f"{KEY_PREFIX}:{{{tenant_id}}}:tenant"


def user_bucket_key(tenant_id: object, user_id: object) -> str:
    return f"{KEY_PREFIX}:{{{tenant_id}}}:user:{user_id}"


def anonymous_bucket_key(tenant_id: object, address: str) -> str:
    return f"{KEY_PREFIX}:{{{tenant_id}}}:address:{address}"


_jwt = JWTAuthentication()


class VerifiedTokens:
    """User ids of access tokens this process has verified, kept until each token expires.

    A client sends the same token for its whole lifetime, and PyJWT's verification costs about a third of
    the middleware stack; a token is immutable and signed, so verifying it once per process is enough to
    choose its bucket. (DRF still authenticates every request in full.) Bounded; invalid tokens are never
    remembered, so garbage cannot fill it.
    """

    MAX_ENTRIES = 10_000

    def __init__(self) -> None:
        self._entries: dict[bytes, tuple[float, str]] = {}

    def user_id(self, raw_token: bytes) -> str | None:
        entry = self._entries.get(raw_token)
        if entry is not None:
            if entry[0] > time.time():
                return entry[1]
            del self._entries[raw_token]
        try:
            token = _jwt.get_validated_token(raw_token)
        except (TokenError, InvalidToken):
            return None
        user_id, expires = token.get(jwt_settings.USER_ID_CLAIM), token.get("exp")
        if user_id is None:
            return None
        if isinstance(expires, int | float):
            if len(self._entries) >= self.MAX_ENTRIES:
                self._entries.clear()
            self._entries[raw_token] = (float(expires), str(user_id))
        return str(user_id)


verified_tokens = VerifiedTokens()


def bearer_user_id(request: HttpRequest) -> str | None:
    """The user id of a valid access token (signature and expiry checked, no query), else None."""
    header = _jwt.get_header(request)  # type: ignore[arg-type]
    if not header:
        return None
    try:
        raw_token = _jwt.get_raw_token(header)
    except AuthenticationFailed:
        return None
    return None if raw_token is None else verified_tokens.user_id(raw_token)


def source_address(request: HttpRequest) -> str:
    # REMOTE_ADDR only: X-Forwarded-For is client-controlled unless a trusted proxy rewrites it.
    return request.META.get("REMOTE_ADDR") or "unknown"


def tenant_request_buckets(request: HttpRequest, tenant: Any) -> list[Bucket]:
    user_requests, user_window = settings.RATE_LIMIT_USER_REQUESTS, settings.RATE_LIMIT_USER_WINDOW
    user_id = bearer_user_id(request)
    if user_id is None:
        key = anonymous_bucket_key(tenant.pk, source_address(request))
        return [Bucket("address", key, user_requests, user_window)]
    requests, window = tenant_policy(tenant)
    return [
        Bucket("tenant", tenant_bucket_key(tenant.pk), requests, window),
        Bucket("user", user_bucket_key(tenant.pk, user_id), user_requests, user_window),
    ]


def _login_setting(name: str) -> int:
    return int(getattr(settings, name, LOGIN_DEFAULTS[name]))


def login_email(request: HttpRequest) -> str | None:
    """The account a login names, normalised like stored emails; None when the body does not say."""
    try:
        body = json.loads(request.body or b"{}")
    except (ValueError, RequestDataTooBig):
        return None
    email = body.get("email") if isinstance(body, dict) else None
    if not isinstance(email, str) or not email.strip():
        return None
    return email.strip().lower()


def login_buckets(request: HttpRequest) -> list[Bucket]:
    buckets = [
        Bucket(
            "address",
            f"{KEY_PREFIX}:login:address:{source_address(request)}",
            _login_setting("RATE_LIMIT_LOGIN_ADDRESS_REQUESTS"),
            _login_setting("RATE_LIMIT_LOGIN_ADDRESS_WINDOW"),
        )
    ]
    email = login_email(request)
    if email is not None:
        # No addresses in Redis key names. JSON may carry lone surrogates ("\ud800"): hash them too, not 500.
        digest = hashlib.sha256(email.encode("utf-8", "surrogatepass")).hexdigest()[:32]
        buckets.append(
            Bucket(
                "account",
                f"{KEY_PREFIX}:login:account:{digest}",
                _login_setting("RATE_LIMIT_LOGIN_ACCOUNT_REQUESTS"),
                _login_setting("RATE_LIMIT_LOGIN_ACCOUNT_WINDOW"),
            )
        )
    return buckets


def is_login_path(path: str) -> bool:
    try:
        match = resolve(path)
    except Resolver404:
        return False
    view_class = getattr(match.func, "view_class", None)
    return view_class is not None and issubclass(view_class, TokenObtainPairView)


# --- Responses ---------------------------------------------------------------------------------------------


def add_rate_limit_headers(response: HttpResponse, decision: Decision) -> None:
    state = decision.reported
    response["RateLimit-Limit"] = str(state.bucket.limit)
    response["RateLimit-Remaining"] = str(state.remaining)
    response["RateLimit-Reset"] = str(state.reset)


def rate_limited_response(request: HttpRequest, decision: Decision) -> HttpResponse:
    scope = decision.reported.bucket.scope
    retry_after = decision.retry_after
    response = problem_response(
        status_code=429,
        code="rate_limited",
        detail=f"Too many requests for this {scope}; retry after {retry_after} seconds.",
        request=request,
        scope=scope,
    )
    response["Retry-After"] = str(retry_after)
    add_rate_limit_headers(response, decision)
    return response


class RateLimitMiddleware:
    """Placed right after TenantSelectionMiddleware, which has identified `request.tenant` by then."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        tenant = getattr(request, "tenant", None)
        if tenant is not None:
            return self._limited(request, tenant_request_buckets(request, tenant), refund_success=False)
        if request.method == "POST" and is_login_path(request.path_info):
            return self._limited(request, login_buckets(request), refund_success=True)
        return self.get_response(request)

    def _limited(self, request: HttpRequest, buckets: list[Bucket], *, refund_success: bool) -> HttpResponse:
        decision = limiter.hit(buckets)
        if decision is None:  # Redis unavailable: serve, unlimited and without headers (logged, counted)
            return self.get_response(request)
        if not decision.allowed:
            return rate_limited_response(request, decision)
        response = self.get_response(request)
        if refund_success:
            if response.status_code == 200:
                limiter.refund(decision)
            return response  # login answers show no quota: it would only guide a guesser
        add_rate_limit_headers(response, decision)
        return response
