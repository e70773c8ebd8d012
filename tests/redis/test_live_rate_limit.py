"""Exactness against a live server: gunicorn with several worker processes, real Redis, concurrent clients.

Alpha's members fire three times the tenant limit at once; exactly the limit is accepted. Meanwhile in
beta one member fires three times the per-user limit (exactly that limit is accepted) and another member
is not refused at all: one tenant's traffic never spends another's budget.
"""

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest
import redis
import requests

from tests.live import gunicorn
from tests.redis.conftest import LiveMember, delete_matching
from tests.redis.live import redis_url_with_db

# django_db: makes pytest-django set up the test database even when only live tests are selected; the
# tests themselves write nothing (their members are committed by the module fixture).
pytestmark = [pytest.mark.live_server, pytest.mark.django_db]

TENANT_LIMIT = 30
USER_LIMIT = 12
WINDOW = 30  # seconds; the whole burst takes a small fraction of it
LIVE_REDIS_DB = 10


@dataclass(frozen=True)
class Outcome:
    who: str
    status: int
    headers: dict[str, str]
    code: str | None


def fire(base_url: str, who: str, member: LiveMember, count: int) -> list[Outcome]:
    outcomes = []
    with requests.Session() as session:
        session.headers.update(member.headers)
        for _ in range(count):
            response = session.get(f"{base_url}/api/v1/members/", params={"page_size": 1}, timeout=30)
            code = response.json().get("code") if response.status_code >= 400 else None
            outcomes.append(Outcome(who, response.status_code, dict(response.headers), code))
    return outcomes


def test_accepted_requests_equal_the_limit_exactly(live_members: dict[str, list[LiveMember]]) -> None:
    redis_url = redis_url_with_db(LIVE_REDIS_DB)
    client = redis.Redis.from_url(redis_url)
    delete_matching(client, "tp:rl:*")  # this database is the test run's own
    limits = {
        "RATE_LIMIT_REQUESTS": str(TENANT_LIMIT),
        "RATE_LIMIT_WINDOW": str(WINDOW),
        "RATE_LIMIT_USER_REQUESTS": str(USER_LIMIT),
        "RATE_LIMIT_USER_WINDOW": str(WINDOW),
    }
    alpha, beta = live_members["alpha"], live_members["beta"]
    # Alpha: 3 x 30 = 90 requests, 3 clients per member. Users could take 3 x 12 = 36: the tenant binds.
    jobs = [("alpha", member, 10) for member in alpha[:3] for _ in range(3)]
    # Beta: one member fires 3 x 12 = 36 (its own limit binds), another fires 5.
    jobs += [("beta-runaway", beta[0], 12) for _ in range(3)]
    jobs += [("beta-other", beta[1], 5)]

    with gunicorn(redis_url=redis_url, env=limits, workers=3) as server:
        with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
            futures = [pool.submit(fire, server.url, who, member, count) for who, member, count in jobs]
            outcomes = [outcome for future in futures for outcome in future.result()]
        log = server.log_tail()
    client.close()

    by_who = {
        who: Counter(o.status for o in outcomes if o.who == who)
        for who in ("alpha", "beta-runaway", "beta-other")
    }
    assert by_who["alpha"] == {200: TENANT_LIMIT, 429: 3 * TENANT_LIMIT - TENANT_LIMIT}, (by_who, log)
    assert by_who["beta-runaway"] == {200: USER_LIMIT, 429: 3 * USER_LIMIT - USER_LIMIT}, (by_who, log)
    assert by_who["beta-other"] == {200: 5}, by_who

    for outcome in outcomes:
        for name in ("RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"):
            assert name in outcome.headers, outcome
        if outcome.status == 429:
            assert outcome.code == "rate_limited"
            assert 1 <= int(outcome.headers["Retry-After"]) <= WINDOW
            assert outcome.headers["RateLimit-Remaining"] == "0"
    refused_scopes = {(o.who, o.headers["RateLimit-Limit"]) for o in outcomes if o.status == 429}
    assert refused_scopes == {("alpha", str(TENANT_LIMIT)), ("beta-runaway", str(USER_LIMIT))}
